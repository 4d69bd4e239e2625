"""Probes of what a loop's TCP transports (and its ``sock_*`` calls) do, for
:mod:`xloop.loops.capabilities`.

Each runs on a fresh loop inside the probing child, like the probes there: it returns what
it saw, raises ``NotImplementedError`` where the loop says it cannot, or another error
(reported as ``failed`` with it).
"""

from __future__ import annotations

import asyncio
import socket
import struct
from typing import cast

__all__ = [
    "ConnectionsClosedWithServer",
    "NotTold",
    "ReadingNotPaused",
    "SocketLeftOpen",
    "abort",
    "pause_reading",
    "pause_writing",
    "peer_reset",
    "server_close",
    "set_protocol",
    "sock_recv_into",
    "transport_close",
    "write_in_resume_writing",
]

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


async def server_close() -> str:
    """Closing a server stops it accepting, and leaves its open connections alone (a
    graceful shutdown relies on it): the client's next bytes are still answered."""
    loop = asyncio.get_running_loop()
    accepted = loop.create_future()

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast("asyncio.Transport", transport)
            _settle(accepted)

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    server = await loop.create_server(Echo, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await accepted
        server.close()
        writer.write(b"still there?")
        try:
            data = await asyncio.wait_for(reader.read(12), EOF_WAIT)
        except (asyncio.TimeoutError, TimeoutError):
            data = b"(nothing)"
    finally:
        writer.close()
    if data != b"still there?":
        raise ConnectionsClosedWithServer(
            f"after server.close() the open connection answered {data!r}: closing the server "
            "closed its connections"
        )
    return "open connections outlive server.close()"


class ConnectionsClosedWithServer(Exception):
    """``Server.close()`` ended the connections it had accepted."""


class ReadingNotPaused(Exception):
    """``pause_reading`` did not stop ``data_received``."""


#: What the client sends while the server's protocol has paused reading.
PAUSE_BYTES = 4 << 20


async def pause_reading() -> str:
    """A protocol that pauses reading in its first ``data_received`` gets no more data
    until it resumes, and all of it after."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    counts = {"before": 0, "while paused": 0, "after": 0}

    class Pausing(asyncio.Protocol):
        paused = False

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast("asyncio.Transport", transport)

        def data_received(self, data: bytes) -> None:
            if not counts["before"]:
                counts["before"] = len(data)
                self.transport.pause_reading()
                self.paused = True
                loop.call_later(0.2, self.resume)
                return
            counts["while paused" if self.paused else "after"] += len(data)
            if sum(counts.values()) >= PAUSE_BYTES:
                _settle(done)

        def resume(self) -> None:
            self.paused = False
            self.transport.resume_reading()

    server = await loop.create_server(Pausing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"r" * PAUSE_BYTES)
        await done
    finally:
        writer.close()
        server.close()
    if counts["while paused"]:
        raise ReadingNotPaused(
            f"{counts['while paused']} bytes reached data_received after pause_reading "
            f"(first read {counts['before']} bytes)"
        )
    return "no data while paused, all of it after resume_reading"


class NotTold(Exception):
    """The loop did not call the protocol's callback."""


async def peer_reset() -> str:
    """A client that resets its connection (RST) is reported to the protocol:
    ``connection_lost`` runs."""
    loop = asyncio.get_running_loop()
    accepted = loop.create_future()
    lost = loop.create_future()

    class Waiting(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            _settle(accepted)

        def connection_lost(self, exc: Exception | None) -> None:
            _settle(lost)

    server = await loop.create_server(Waiting, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        client = socket.create_connection(("127.0.0.1", port))
        await accepted
        # SO_LINGER with a zero timeout: close() sends RST
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.close()
        try:
            await asyncio.wait_for(lost, EOF_WAIT)
        except (asyncio.TimeoutError, TimeoutError):
            raise NotTold(
                f"connection_lost did not run within {EOF_WAIT:g}s of the client's reset"
            ) from None
    finally:
        server.close()
    return "connection_lost after the client's RST"


#: Bytes the server writes at once to a client that reads nothing.
WRITE_BLOCK = 64 << 10
#: Written at most before pause_writing must have been called.
WRITE_LIMIT = 64 << 20


async def pause_writing() -> str:
    """Writing to a client that reads nothing calls ``pause_writing`` once the buffer is
    over its high-water mark, and the protocol can look at the buffer from there."""
    loop = asyncio.get_running_loop()
    paused = loop.create_future()
    transports: list[asyncio.Transport] = []
    accepted = loop.create_future()

    class Writing(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(cast("asyncio.Transport", transport))
            _settle(accepted)

        def pause_writing(self) -> None:
            # what a server does here: look at the buffer (rloop 0.5 aborts the process)
            sizes.append(transports[0].get_write_buffer_size())
            _settle(paused)

    sizes: list[int] = []
    server = await loop.create_server(Writing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    written = 0
    try:
        await accepted
        transport = transports[0]
        block = b"w" * WRITE_BLOCK
        while not paused.done() and written < WRITE_LIMIT:
            transport.write(block)
            written += len(block)
            await asyncio.sleep(0)
        buffered = transport.get_write_buffer_size()
        transport.abort()
    finally:
        writer.close()
        server.close()
    if not paused.done():
        raise NotTold(f"pause_writing was not called after {written >> 20} MiB written")
    return f"pause_writing after {written >> 10} KiB written, {buffered >> 10} KiB buffered"


async def write_in_resume_writing() -> str:
    """A protocol writes again from inside ``resume_writing`` (a server starting the next
    pipelined response the moment the client has read the last one)."""
    loop = asyncio.get_running_loop()
    paused = loop.create_future()
    resumed = loop.create_future()
    transports: list[asyncio.Transport] = []
    accepted = loop.create_future()

    class Writing(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(cast("asyncio.Transport", transport))
            _settle(accepted)

        def pause_writing(self) -> None:
            _settle(paused)

        def resume_writing(self) -> None:
            if not resumed.done():
                transports[0].write(b"!")
                _settle(resumed)

    server = await loop.create_server(Writing, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    written = 0
    try:
        await accepted
        block = b"w" * WRITE_BLOCK
        while not paused.done() and written < WRITE_LIMIT:
            transports[0].write(block)
            written += len(block)
            await asyncio.sleep(0)
        data = await asyncio.wait_for(reader.readexactly(written + 1), EOF_WAIT * 2)
    finally:
        writer.close()
        server.close()
    if len(data) != written + 1 or not data.endswith(b"!"):
        raise NotTold(f"the client read {len(data)} bytes of {written + 1}")
    return "a write from resume_writing goes out after the buffered bytes"


async def abort() -> str:
    """``abort()`` on a transport whose client reads nothing (its buffer full) ends the
    connection at once: ``connection_lost`` runs (what a server does to a stuck client)."""
    loop = asyncio.get_running_loop()
    paused = loop.create_future()
    lost = loop.create_future()
    transports: list[asyncio.Transport] = []
    accepted = loop.create_future()

    class Stuck(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            transports.append(cast("asyncio.Transport", transport))
            _settle(accepted)

        def pause_writing(self) -> None:
            _settle(paused)

        def connection_lost(self, exc: Exception | None) -> None:
            _settle(lost)

    server = await loop.create_server(Stuck, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        await accepted
        block = b"a" * WRITE_BLOCK
        written = 0
        while not paused.done() and written < WRITE_LIMIT:
            transports[0].write(block)
            written += len(block)
            await asyncio.sleep(0)
        transports[0].abort()
        try:
            await asyncio.wait_for(lost, EOF_WAIT)
        except (asyncio.TimeoutError, TimeoutError):
            raise NotTold(
                f"connection_lost did not run within {EOF_WAIT:g}s of abort() with "
                f"{transports[0].get_write_buffer_size() >> 10} KiB buffered"
            ) from None
    finally:
        writer.close()
        server.close()
    return "connection_lost at once after abort(), the buffer dropped"


async def sock_recv_into() -> str:
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        right.setblocking(False)
        buffer = bytearray(16)
        await loop.sock_sendall(right, b"into")
        size = await loop.sock_recv_into(left, buffer)
    if bytes(buffer[:size]) != b"into":
        raise RuntimeError(f"read {bytes(buffer[:size])!r}")
    return "read into a caller's buffer"
