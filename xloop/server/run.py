"""Run a server to completion on the chosen loop (``asyncio.Runner(loop_factory=...)``)."""

from __future__ import annotations

from typing import Any

from .. import loops
from ..config import Config
from ..logs import configure_logging
from .server import Server

__all__ = ["run", "run_server"]


def run_server(config: Config, *, install_signal_handlers: bool = True) -> Server:
    """Resolve the loop, run ``config`` until shut down; return the finished server."""
    choice = loops.resolve(config.loop, config.selector)
    server = Server(config)
    loops.run(
        server.serve(install_signal_handlers=install_signal_handlers),
        loop_factory=choice.factory,
    )
    return server


def run(app: Any = None, *, configure_logs: bool = True, **options: Any) -> None:
    """Serve an ASGI app (an object or ``"module:attr"``) like ``xloop serve`` does.

    ``options`` are the :class:`xloop.Config` fields: ``xloop.run(app, port=8080,
    loop="uvloop", http="httptools")``. Blocks until SIGINT/SIGTERM.
    """
    if app is not None:
        options["app"] = app
    config = Config(**options)
    if configure_logs:
        configure_logging(config.log_level, config.access_log)
    run_server(config)
