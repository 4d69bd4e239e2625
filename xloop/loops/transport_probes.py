"""Probes of what a loop's TCP transports do, for :mod:`xloop.loops.capabilities`.

Each runs on a fresh loop inside the probing child, like the probes there: it returns what
it saw, raises ``NotImplementedError`` where the loop says it cannot, or another error
(reported as ``failed`` with it).
"""

from __future__ import annotations

import asyncio
from typing import cast

__all__ = ["SocketLeftOpen", "set_protocol", "transport_close"]

#: How long the client waits for the end of the connection.
EOF_WAIT = 2.0


class SocketLeftOpen(Exception):
    """The loop called ``connection_lost`` but kept the socket open."""


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


async def transport_close() -> str:
    """The server answers an accepted connection and closes it: the client reads the
    answer, then the end of the connection."""
    loop = asyncio.get_running_loop()
    lost = loop.create_future()

    class Closing(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast("asyncio.Transport", transport)

        def data_received(self, data: bytes) -> None:
            self.transport.write(b"bye")
            self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            _settle(lost)

    server = await loop.create_server(Closing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(b"hi")
            try:
                data = await asyncio.wait_for(reader.read(), EOF_WAIT)
            except (asyncio.TimeoutError, TimeoutError):
                called = "ran" if lost.done() else "did not run"
                raise SocketLeftOpen(
                    f"connection_lost {called}, but the client saw no end of the connection "
                    f"within {EOF_WAIT:g}s: the socket stayed open"
                ) from None
        finally:
            writer.close()
    finally:
        server.close()
    if data != b"bye":
        raise SocketLeftOpen(f"the client read {data!r} before the end")
    return "the client read the write, then the end of the connection"


async def set_protocol() -> str:
    """An accepted transport changes protocol (what a WebSocket upgrade does): the bytes
    after the change reach the new protocol."""
    loop = asyncio.get_running_loop()
    changed = loop.create_future()
    received = loop.create_future()

    class Second(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            if not received.done():
                received.set_result(data)

    class First(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            try:
                transport.set_protocol(Second())
            except BaseException as exc:
                changed.set_exception(exc)
            else:
                changed.set_result(None)

    server = await loop.create_server(First, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            await changed
            writer.write(b"to the second")
            data = await received
        finally:
            writer.close()
    finally:
        server.close()
    if data != b"to the second":
        raise ValueError(f"the new protocol received {data!r}")
    return "the bytes after set_protocol reach the new protocol"
