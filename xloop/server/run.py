"""Run a server to completion on the chosen loop (``asyncio.Runner(loop_factory=...)``)."""

from __future__ import annotations

from typing import Any

from .. import loops
from ..config import Config
from ..errors import ConfigError
from .prepare import prepare_environment, prepare_process
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


#: ``uvicorn.run()``'s keyword names for options xloop names otherwise.
UVICORN_NAMES = {
    "reload_dirs": "reload_dir",
    "reload_includes": "reload_include",
    "reload_excludes": "reload_exclude",
    "headers": "header",
    "h11_max_incomplete_event_size": "limit_request_field_size",
}


def _from_uvicorn(options: dict[str, Any]) -> dict[str, Any] | None:
    """Rename uvicorn's keywords in place; return a ``log_config`` given as a dict (applied
    by :func:`run`, as ``Config`` holds a file name)."""
    for name, ours in UVICORN_NAMES.items():
        if name in options:
            value = options.pop(name)
            if name in ("reload_dirs", "reload_includes", "reload_excludes") and isinstance(
                value, str
            ):
                value = [value]
            if name == "headers" and value is not None:
                value = [f"{name}:{text}" for name, text in value]
            if value is not None:
                options[ours] = value
    # Always so in xloop: each request runs in a context of its own.
    options.pop("reset_contextvars", None)
    if options.pop("http2", False):
        raise ConfigError("xloop serves HTTP/1.1 only: http2 is not supported", hint="drop http2")
    if options.pop("ssl_context_factory", None) is not None:
        raise ConfigError(
            "ssl_context_factory is not supported",
            hint="pass ssl_certfile, ssl_keyfile, ssl_ca_certs, ...",
        )
    log_config = options.get("log_config")
    if isinstance(log_config, dict):
        del options["log_config"]
        return log_config
    return None


def run(app: Any = None, *, configure_logs: bool = True, **options: Any) -> None:
    """Serve an ASGI app (an object or ``"module:attr"``) like ``xloop serve`` does.

    ``options`` are the :class:`xloop.Config` fields: ``xloop.run(app, port=8080,
    loop="uvloop", http="httptools")``, or ``uvicorn.run()``'s names for the same options
    (:data:`UVICORN_NAMES`; ``headers`` as ``(name, value)`` pairs, ``log_config`` as a
    dict). Blocks until SIGINT/SIGTERM.
    """
    if app is not None:
        options["app"] = app
    log_dict = _from_uvicorn(options)
    config = Config(**options)
    if configure_logs:
        prepare_process(config)
        if log_dict is not None:
            import logging.config

            log_dict.setdefault("disable_existing_loggers", False)
            logging.config.dictConfig(log_dict)
    else:
        prepare_environment(config)
    if config.workers is not None or config.reload:
        from .supervisor import run_supervisor

        code = run_supervisor(config)
        if code:
            raise SystemExit(code)
        return
    run_server(config)
