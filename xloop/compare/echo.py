"""A raw TCP echo server on any loop: the ``echo`` workload of ``xloop compare``.

``python -m xloop.compare.echo --loop uvloop --port 0`` serves the asyncio documentation's
``EchoServerProtocol`` (every ``data_received`` written straight back) on the loop the
shim resolves, with no HTTP above it, so what it sustains is the loop's own ceiling.

It logs like ``xloop serve`` (``loop: ...``, ``xloop serving on tcp://HOST:PORT``) and stops
gracefully on SIGINT/SIGTERM (Ctrl+Break on Windows), logging
``xloop stopped after N bytes on M connections``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys

from .. import loops
from ..errors import BindError, XloopError
from ..logs import configure_logging
from ..server.server import install_shutdown_handlers

__all__ = ["EchoServerProtocol", "main", "serve"]

logger = logging.getLogger("xloop.error")


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


async def serve(host: str, port: int) -> None:
    """Serve until a shutdown signal; log the address, then the totals."""
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
        logger.info("xloop serving on tcp://%s:%d (press CTRL+C to quit)", host, bound[1])
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
    logger.info(
        "xloop stopped after %d bytes on %d connections", counters.bytes, counters.connections
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m xloop.compare.echo", description="A raw TCP echo server on any loop."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--selector", default="auto")
    args = parser.parse_args(argv)
    configure_logging("info", access_log=False)
    try:
        choice = loops.resolve(args.loop, args.selector)
        loops.run(serve(args.host, args.port), loop_factory=choice.factory)
    except XloopError as exc:
        print(f"xloop echo: error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
