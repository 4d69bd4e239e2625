"""xloop's own transport and listener on the selector loop (:mod:`xloop.server.transport`),
over real sockets on 127.0.0.1, with a recording protocol: reading, writing past the
high-water mark and back, closing, aborting, half-closes, errors, and accepting."""

from __future__ import annotations

import array
import asyncio
import errno
import importlib
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from xloop import loops
from xloop.loops.serving import own_transport
from xloop.server.transport import (
    HIGH_WATER,
    LARGE_READ_SIZE,
    READ_SIZE,
    SelectorListener,
    SocketTransport,
)

pytestmark = pytest.mark.skipif(
    loops.IS_WINDOWS, reason="the Windows selector loop is capped by select(): never used there"
)

TIMEOUT = 10.0


class Recorder(asyncio.Protocol):
    """Records every call a transport makes; ``lost`` is set by ``connection_lost``."""

    def __init__(self, keep_open: bool = False, fail_on: bytes | None = None) -> None:
        self.events: list[tuple[str, Any]] = []
        self.data = bytearray()
        self.sizes: list[int] = []  # of each data_received
        self.keep_open = keep_open
        self.fail_on = fail_on
        self.transport: SocketTransport | None = None
        self.lost = asyncio.get_running_loop().create_future()
        self.got = asyncio.Event()
        self.eof = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, SocketTransport)
        self.transport = transport
        self.events.append(("made", None))

    def data_received(self, data: bytes) -> None:
        if self.fail_on is not None and self.fail_on in data:
            raise ValueError("the protocol failed")
        self.data += data
        self.sizes.append(len(data))
        self.got.set()

    def eof_received(self) -> bool:
        self.events.append(("eof", None))
        self.eof.set()
        return self.keep_open

    def pause_writing(self) -> None:
        self.events.append(("pause_writing", None))

    def resume_writing(self) -> None:
        self.events.append(("resume_writing", None))

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(("lost", exc))
        self.lost.set_result(exc)

    def count(self, name: str) -> int:
        return sum(1 for event, _ in self.events if event == name)


async def _pair(
    protocol: Recorder, *, sndbuf: int | None = None, rcvbuf: int | None = None
) -> tuple[SocketTransport, socket.socket]:
    """A transport on one end of a connected TCP pair; the other end, blocking, returned."""
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server_side, address = listener.accept()
    listener.close()
    if sndbuf is not None:  # (a small send buffer: a large write cannot go at once)
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    if rcvbuf is not None:  # (room for what a test queues while reading is paused)
        server_side.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    server_side.setblocking(False)
    transport = SocketTransport(asyncio.get_running_loop(), server_side, protocol, address)
    transport.start()
    client.settimeout(TIMEOUT)
    return transport, client


def run(test: Callable[[], Awaitable[None]]) -> None:
    loop = asyncio.SelectorEventLoop()
    assert own_transport(loop)
    try:
        loop.run_until_complete(asyncio.wait_for(test(), TIMEOUT))
    finally:
        loop.close()


def _reported(loop: asyncio.AbstractEventLoop) -> list[dict[str, Any]]:
    """What ``loop`` hands its exception handler from now on."""
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    return reported


def _read_all(client: socket.socket) -> bytes:
    chunks = []
    while chunk := client.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def test_reads_reach_the_protocol_and_writes_the_peer() -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, client = await _pair(protocol)
        client.sendall(b"hello")
        await asyncio.wait_for(protocol.got.wait(), TIMEOUT)
        assert bytes(protocol.data) == b"hello"
        transport.write(b"world")
        transport.write(bytearray(b"!"))
        transport.write(memoryview(b"?"))
        transport.write(b"")  # nothing
        assert _read_exactly(client, 7) == b"world!?"
        assert transport.get_extra_info("peername") == client.getsockname()
        assert transport.get_extra_info("sockname") == client.getpeername()
        assert isinstance(transport.get_extra_info("socket"), socket.socket)
        assert transport.get_extra_info("sslcontext") is None
        assert transport.get_extra_info("nothing", "default") == "default"
        assert transport.get_protocol() is protocol
        transport.close()
        assert transport.is_closing()
        assert await protocol.lost is None
        assert transport.get_extra_info("socket") is None
        client.close()

    run(test)


def test_a_write_the_socket_cannot_take_is_buffered_with_flow_control() -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, client = await _pair(protocol, sndbuf=4096)
        chunk = b"x" * 65536
        sent = 0
        while transport.get_write_buffer_size() <= HIGH_WATER:
            transport.write(chunk)
            sent += len(chunk)
        assert protocol.count("pause_writing") == 1  # once, however often it is passed
        transport.write(chunk)
        sent += len(chunk)
        assert protocol.count("pause_writing") == 1
        assert transport.get_write_buffer_limits() == (HIGH_WATER // 4, HIGH_WATER)
        loop = asyncio.get_running_loop()
        received = await loop.run_in_executor(None, _read_exactly, client, sent)
        assert received == b"x" * sent
        transport.close()
        assert await protocol.lost is None  # (once the buffer is empty)
        assert transport.get_write_buffer_size() == 0
        assert protocol.count("resume_writing") == 1
        client.close()

    run(test)


def _read_exactly(client: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = client.recv(1 << 20)
        assert chunk, "the transport closed early"
        data += chunk
    return bytes(data)


def test_close_sends_what_is_buffered_first_and_abort_drops_it() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        for how in ("close", "abort"):
            protocol = Recorder()
            transport, client = await _pair(protocol, sndbuf=4096)
            payload = b"y" * 1_000_000
            transport.write(payload)
            assert transport.get_write_buffer_size() > 0
            getattr(transport, how)()
            transport.write(b"after")  # closing: kept for close (before lost), else dropped
            received = await loop.run_in_executor(None, _read_all_quiet, client)
            if how == "close":
                assert received == payload + b"after"
                assert await protocol.lost is None
            else:
                assert len(received) < len(payload) + 5
                assert await protocol.lost is None
            assert protocol.count("lost") == 1
            transport.close()
            transport.abort()  # once lost, nothing more happens
            await asyncio.sleep(0)
            assert protocol.count("lost") == 1
            client.close()

    run(test)


def _read_all_quiet(client: socket.socket) -> bytes:
    try:
        return _read_all(client)
    except ConnectionResetError:
        return b""


@pytest.mark.parametrize("keep_open", [False, True], ids=["closes", "keeps-open"])
def test_the_peers_eof_closes_unless_the_protocol_keeps_it_open(keep_open: bool) -> None:
    async def test() -> None:
        protocol = Recorder(keep_open=keep_open)
        transport, client = await _pair(protocol)
        client.shutdown(socket.SHUT_WR)
        if keep_open:
            await protocol.eof.wait()
            assert not transport.is_closing()
            transport.write(b"still here")
            assert client.recv(100) == b"still here"
            transport.write_eof()
            transport.write_eof()  # once
            assert client.recv(100) == b""  # our half-close
            transport.close()
        assert await protocol.lost is None
        assert protocol.count("eof") == 1
        client.close()

    run(test)


def test_write_eof_waits_for_the_buffer_and_forbids_more_writes() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        protocol = Recorder()
        transport, client = await _pair(protocol, sndbuf=4096)
        assert transport.can_write_eof()
        payload = b"z" * 1_000_000
        transport.write(payload)
        transport.write_eof()
        with pytest.raises(RuntimeError, match="write_eof"):
            transport.write(b"more")
        assert await loop.run_in_executor(None, _read_all, client) == payload
        transport.close()
        assert await protocol.lost is None
        client.close()

    run(test)


def test_reading_pauses_and_resumes() -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, client = await _pair(protocol)
        assert transport.is_reading()
        transport.pause_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        client.sendall(b"held")
        for _ in range(20):
            await asyncio.sleep(0)
        assert protocol.data == b""
        transport.resume_reading()
        transport.resume_reading()
        await asyncio.wait_for(protocol.got.wait(), TIMEOUT)
        assert bytes(protocol.data) == b"held"
        transport.close()
        assert not transport.is_reading()
        transport.resume_reading()  # closing: stays off
        assert await protocol.lost is None
        client.close()

    run(test)


async def _queued(transport: SocketTransport, total: int) -> None:
    """Until ``total`` bytes wait in the transport's socket (FIONREAD), the loop running."""
    fcntl = importlib.import_module("fcntl")  # POSIX only, as this module
    termios = importlib.import_module("termios")
    sock = transport.get_extra_info("socket")
    waiting = array.array("i", [0])
    while True:
        fcntl.ioctl(sock.fileno(), termios.FIONREAD, waiting)
        if waiting[0] >= total:
            return
        await asyncio.sleep(0)  # (the whole test is under run()'s timeout)


def test_a_read_that_fills_the_buffer_makes_the_next_reads_larger() -> None:
    """A body arriving fills READ_SIZE: the reads after take up to LARGE_READ_SIZE, until
    one reads less than READ_SIZE (a request head, a body's end), which brings the size back.
    Each batch is queued while reading is paused, so each recv finds all of it."""

    async def batch(protocol: Recorder, client: socket.socket, size: int) -> None:
        transport = protocol.transport
        assert transport is not None
        protocol.sizes.clear()
        protocol.data.clear()
        transport.pause_reading()
        client.sendall(b"x" * size)
        await _queued(transport, size)
        transport.resume_reading()
        while len(protocol.data) < size:
            protocol.got.clear()
            await protocol.got.wait()

    async def test() -> None:
        assert LARGE_READ_SIZE > 100_000 > READ_SIZE
        protocol = Recorder()
        transport, client = await _pair(protocol, rcvbuf=1 << 20)
        await batch(protocol, client, READ_SIZE + 100_000)
        assert protocol.sizes == [READ_SIZE, 100_000]  # the second read was a large one
        await batch(protocol, client, 100_000)
        assert protocol.sizes == [100_000]  # still large: that read was above READ_SIZE
        await batch(protocol, client, 1000)
        assert protocol.sizes == [1000]
        await batch(protocol, client, READ_SIZE + 100)
        assert protocol.sizes == [READ_SIZE, 100]  # back to READ_SIZE after the short read
        transport.close()
        assert await protocol.lost is None
        client.close()

    run(test)


def test_a_reset_ends_the_connection_quietly() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        protocol = Recorder()
        transport, client = await _pair(protocol)
        _reset(client)
        exc = await protocol.lost
        assert isinstance(exc, ConnectionResetError)
        assert transport.is_closing()
        transport.write(b"dropped")  # lost: dropped, no error
        assert reported == []

    run(test)


def test_a_protocol_that_raises_is_reported_and_its_connection_ends() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        protocol = Recorder(fail_on=b"boom")
        transport, client = await _pair(protocol)
        client.sendall(b"boom")
        exc = await protocol.lost
        assert isinstance(exc, ValueError)
        assert len(reported) == 1
        assert "data_received" in reported[0]["message"]
        assert reported[0]["transport"] is transport
        assert client.recv(10) == b""
        client.close()

    run(test)


def test_write_buffer_limits() -> None:
    async def test() -> None:
        protocol = Recorder()
        transport, client = await _pair(protocol)
        transport.set_write_buffer_limits(high=100)
        assert transport.get_write_buffer_limits() == (25, 100)
        transport.set_write_buffer_limits(low=10)
        assert transport.get_write_buffer_limits() == (10, 40)
        transport.set_write_buffer_limits()
        assert transport.get_write_buffer_limits() == (HIGH_WATER // 4, HIGH_WATER)
        with pytest.raises(ValueError, match="must be >="):
            transport.set_write_buffer_limits(high=1, low=2)
        transport.close()
        await protocol.lost
        client.close()

    run(test)


class FailingListener(socket.socket):
    """A listening socket whose first ``accept`` fails with ``errno``, then accepts."""

    failures = 0

    def __init__(self, bound: socket.socket, error: int) -> None:
        super().__init__(bound.family, bound.type, bound.proto, bound.detach())
        self.error = error
        self.failed = asyncio.Event()

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures == 0:
            self.failures += 1
            self.failed.set()
            raise OSError(self.error, "simulated")
        return super().accept()


@pytest.mark.parametrize("error", [errno.EMFILE, errno.EPERM], ids=["EMFILE", "EPERM"])
def test_the_listener_accepts_and_survives_an_accept_failure(
    error: int, caplog: pytest.LogCaptureFixture
) -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        made: list[Recorder] = []
        accepted = asyncio.Event()

        def factory() -> Recorder:
            made.append(Recorder())
            accepted.set()
            return made[-1]

        listening = FailingListener(socket.create_server(("127.0.0.1", 0)), error)
        listener = SelectorListener(loop, factory, [listening], 16)
        address = listening.getsockname()
        client = await loop.run_in_executor(None, socket.create_connection, address)
        await accepted.wait()  # (EMFILE: after the listener's pause of a second)
        if error == errno.EMFILE:
            assert "accept() failed" in caplog.text
        else:
            assert reported
            assert reported[0]["message"] == "accept() failed"
        client.sendall(b"ping")
        await asyncio.wait_for(made[0].got.wait(), TIMEOUT)
        listener.close()
        listener.close()
        await listener.wait_closed()
        assert listening.fileno() == -1
        assert made[0].transport is not None
        made[0].transport.close()
        await made[0].lost
        client.close()

    run(test)


class Raising(Recorder):
    """Raises from ``eof_received``, ``pause_writing`` and ``resume_writing``."""

    def eof_received(self) -> bool:
        super().eof_received()
        raise ValueError("eof_received failed")

    def pause_writing(self) -> None:
        super().pause_writing()
        raise ValueError("pause_writing failed")

    def resume_writing(self) -> None:
        super().resume_writing()
        raise ValueError("resume_writing failed")


def test_a_protocol_raising_in_eof_or_flow_control_is_reported() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        protocol = Raising()
        transport, client = await _pair(protocol)
        transport.set_write_buffer_limits(high=0)  # anything buffered pauses, empty resumes
        transport.write(b"x" * 10_000_000)  # more than the socket takes at once
        assert protocol.count("pause_writing") == 1
        await loop.run_in_executor(None, _read_exactly, client, 10_000_000)
        client.shutdown(socket.SHUT_WR)
        exc = await protocol.lost
        assert isinstance(exc, ValueError)
        assert str(exc) == "eof_received failed"
        assert protocol.count("resume_writing") == 1
        messages = [context["message"] for context in reported]
        assert messages == [
            "protocol.pause_writing() failed",
            "protocol.resume_writing() failed",
            "Fatal error: protocol.eof_received() call failed.",
        ]
        client.close()

    run(test)


def _reset(client: socket.socket) -> None:
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    client.close()


@pytest.mark.parametrize("buffered", [False, True], ids=["write", "buffered-write"])
def test_a_write_to_a_reset_connection_ends_it_quietly(buffered: bool) -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        protocol = Recorder()
        transport, client = await _pair(protocol, sndbuf=4096)
        transport.pause_reading()  # the reset is found by a send, not by a read
        if buffered:
            transport.write(b"w" * 1_000_000)
            assert transport.get_write_buffer_size() > 0
        _reset(client)
        if not buffered:
            transport.write(b"after the reset")  # send() fails at once
        exc = await protocol.lost
        assert isinstance(exc, OSError)
        assert reported == []

    run(test)


class RefusingProtocol(Recorder):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        raise ValueError("connection_made failed")


def test_a_protocol_that_fails_to_start_is_reported_and_its_connection_closed() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        reported = _reported(loop)
        made: list[Recorder] = []

        def factory() -> Recorder:
            made.append(RefusingProtocol())
            return made[-1]

        listening = socket.create_server(("127.0.0.1", 0))
        listener = SelectorListener(loop, factory, [listening], 16)
        client = await loop.run_in_executor(None, socket.create_connection, listening.getsockname())
        client.settimeout(TIMEOUT)
        assert await loop.run_in_executor(None, client.recv, 10) == b""  # closed by the server
        assert len(made) == 1
        assert isinstance(await made[0].lost, ValueError)
        assert [context["message"] for context in reported] == [
            "Fatal error: protocol.connection_made() call failed."
        ]
        listener.close()
        client.close()

    run(test)


def test_closing_the_listener_during_its_pause_after_emfile_cancels_the_pause() -> None:
    async def test() -> None:
        loop = asyncio.get_running_loop()
        listening = FailingListener(socket.create_server(("127.0.0.1", 0)), errno.EMFILE)
        listener = SelectorListener(loop, Recorder, [listening], 16)
        client = await loop.run_in_executor(None, socket.create_connection, listening.getsockname())
        await listening.failed.wait()  # (the loop's reader ran the failing accept)
        listener.close()
        assert listening.fileno() == -1
        assert listener._retry is None  # (nothing wakes it after close)
        client.close()

    run(test)
