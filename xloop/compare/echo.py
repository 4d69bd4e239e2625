"""A raw TCP echo server on any loop: the ``echo`` workload of ``xloop compare``.

``python -m xloop.compare.echo --loop uvloop --port 0`` serves the asyncio documentation's
``EchoServerProtocol`` (every ``data_received`` written straight back) on the loop the
shim resolves, with no HTTP above it, so what it sustains is the loop's own ceiling.

It logs like ``xloop serve`` (``loop: ...``, ``xloop serving on tcp://HOST:PORT``) and stops
gracefully on SIGINT/SIGTERM (Ctrl+Break on Windows), logging
``xloop stopped after N bytes on M connections``. ``--status-fd`` reports the same events as
``xloop serve --status-fd`` (:mod:`xloop.status`), with ``bytes`` instead of ``requests``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys

from .. import loops
from ..errors import BindError, XloopError
from ..logs import SERVING, STOPPED, configure_logging
from ..logs import error_logger as logger
from ..server.server import install_shutdown_handlers
from ..status import StatusWriter, loop_fields

__all__ = ["EchoServerProtocol", "main", "serve"]


class _Counters:
    def __init__(self) -> None:
        self.bytes = 0
        self.connections = 0
        self.open: set[asyncio.Transport] = set()


class EchoServerProtocol(asyncio.Protocol):
    """Writes back what it reads, counting the bytes."""

    def __init__(self, counters: _Counters) -> None:
        self.counters = counters
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.counters.connections += 1
        self.counters.open.add(self.transport)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.counters.bytes += len(data)
        self.transport.write(data)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.counters.open.discard(self.transport)


async def serve(host: str, port: int, status: StatusWriter | None = None) -> None:
    """Serve until a shutdown signal; log the address, then the totals (and send them
    to ``status``)."""
    loop = asyncio.get_running_loop()
    counters = _Counters()
    stop = asyncio.Event()
    try:
        server = await loop.create_server(lambda: EchoServerProtocol(counters), host, port)
    except OSError as exc:
        raise BindError(
            f"cannot bind {host}:{port}: {exc.strerror or exc}",
            hint="choose another --port, or 0 for a free one",
        ) from None

    def on_signal(signum: int) -> None:
        logger.info("%s received: shutting down", signal.Signals(signum).name)
        stop.set()

    cleanup = install_shutdown_handlers(loop, on_signal)
    try:
        bound = server.sockets[0].getsockname()
        logger.info("loop: %s", loops.describe(loop))
        address = f"tcp://{host}:{bound[1]}"
        logger.info(SERVING, address)
        if status is not None:
            status.write(
                "ready", pid=os.getpid(), address=address, port=bound[1], **loop_fields(loop)
            )
        await stop.wait()
        server.close()
        for transport in list(counters.open):
            transport.close()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 5.0)
    finally:
        for undo in cleanup:
            with contextlib.suppress(Exception):
                undo()
    logger.info(STOPPED, counters.bytes, "bytes", counters.connections)
    if status is not None:
        status.write("stopped", bytes=counters.bytes, connections=counters.connections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xloop.compare.echo", description="A raw TCP echo server on any loop."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--selector", default="auto")
    parser.add_argument("--status-fd", type=int, default=None, help="see xloop.status")
    args = parser.parse_args(argv)
    configure_logging("info", access_log=False)
    try:
        status = None if args.status_fd is None else StatusWriter.open(args.status_fd)
        choice = loops.resolve(args.loop, args.selector)
        loops.run(serve(args.host, args.port, status), loop_factory=choice.factory)
    except XloopError as exc:
        print(f"xloop echo: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
