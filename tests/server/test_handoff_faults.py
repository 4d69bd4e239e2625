"""The accept thread's faults: what it does when ``accept`` or the hand-over to the loop fails.

A listener whose ``accept`` raises what the OS can raise there (a client that gave up while
queued, a process out of descriptors, a broken listener), and a loop whose
``connect_accepted_socket`` fails or is missing. The thread is loop-independent code, so
these run on the stdlib loop; the connections are real sockets on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable
from typing import Any

import pytest

from xloop.logs import error_logger
from xloop.server import handoff
from xloop.server.handoff import AcceptThread

from .harness import ONCE_UNDER_WINE, TIMEOUT

pytestmark = ONCE_UNDER_WINE  # the stdlib loop only: once per Wine run


class FlakyListener(socket.socket):
    """A listening socket whose next ``accept`` calls raise the errors queued here."""

    failures: list[OSError]

    def accept(self) -> tuple[socket.socket, Any]:
        if self.failures:
            raise self.failures.pop(0)
        return super().accept()


def flaky_listener(*failures: OSError) -> FlakyListener:
    plain = socket.create_server(("127.0.0.1", 0))
    sock = FlakyListener(plain.family, plain.type, plain.proto, plain.detach())
    sock.failures = list(failures)
    return sock


Logged = Callable[[], list[str]]


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Logged:
    """The error logger's lines so far, ``LEVEL message``."""
    caplog.set_level(logging.DEBUG, logger=error_logger.name)
    return lambda: [
        f"{r.levelname} {r.getMessage()}" for r in caplog.records if r.name == error_logger.name
    ]


class Greeter(asyncio.Protocol):
    """Answers every connection with one line, then closes it."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(b"served\n")
        transport.close()


async def read_greeting(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        return await asyncio.wait_for(reader.read(), TIMEOUT)
    finally:
        writer.close()


async def closed(listener: AcceptThread) -> None:
    listener.close()
    await asyncio.wait_for(listener.wait_closed(), TIMEOUT)
    assert not listener.thread.is_alive()


@pytest.mark.parametrize(
    "failure",
    [
        ConnectionAbortedError(errno.ECONNABORTED, "aborted while queued"),
        OSError(errno.EMFILE, "Too many open files"),
    ],
    ids=["client-gave-up", "out-of-descriptors"],
)
def test_a_failed_accept_is_retried_and_the_client_is_served(
    failure: OSError, logged: Logged, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(handoff, "ACCEPT_RETRY_DELAY", 0.01)
    sock = flaky_listener(failure)
    port = sock.getsockname()[1]

    async def main() -> None:
        listener = AcceptThread(asyncio.get_running_loop(), Greeter, sock)
        try:
            assert await read_greeting(port) == b"served\n"
            assert listener.accepted == 1
        finally:
            await closed(listener)

    asyncio.run(main())
    assert sock.fileno() == -1
    retried = [line for line in logged() if "accept failed" in line]
    if failure.errno == errno.EMFILE:
        assert retried == ["ERROR accept failed ([Errno 24] Too many open files): retrying in 0 s"]
    else:
        assert retried == []  # a client that left is no news


def test_a_broken_listener_stops_the_thread_with_one_error(logged: Logged) -> None:
    sock = flaky_listener(OSError(errno.EINVAL, "Invalid argument"))
    port = sock.getsockname()[1]

    async def main() -> None:
        listener = AcceptThread(asyncio.get_running_loop(), Greeter, sock)
        client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        try:
            # the thread ends on its own: wait_closed returns without close()
            await asyncio.wait_for(asyncio.shield(listener._finished), TIMEOUT)
            assert listener.accepted == 0
        finally:
            client.close()
            await closed(listener)

    asyncio.run(main())
    assert logged() == ["ERROR accepting stopped: [Errno 22] Invalid argument"]


@pytest.mark.parametrize("failure", [OSError, RuntimeError])
def test_a_connection_the_loop_cannot_take_is_closed(
    failure: type[Exception], logged: Logged
) -> None:
    """The client left before the loop took its socket: closed, said at debug level, and
    the listener serves on."""
    sock = flaky_listener()
    port = sock.getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        taken: list[socket.socket] = []
        real = loop.connect_accepted_socket

        async def refuse_once(factory: Any, conn: socket.socket, **options: Any) -> Any:
            if not taken:
                taken.append(conn)
                raise failure("gone")
            return await real(factory, conn, **options)

        loop.connect_accepted_socket = refuse_once  # type: ignore[method-assign,assignment]
        listener = AcceptThread(loop, Greeter, sock)
        try:
            assert await read_greeting(port) == b""  # its socket was closed
            assert taken[0].fileno() == -1
            assert await read_greeting(port) == b"served\n"
            assert listener.is_serving()
        finally:
            await closed(listener)

    asyncio.run(main())
    assert logged() == ["DEBUG an accepted connection could not be served: gone"]


def test_a_loop_without_connect_accepted_socket_stops_accepting(
    logged: Logged,
) -> None:
    sock = flaky_listener()
    port = sock.getsockname()[1]

    async def main() -> None:
        loop = asyncio.get_running_loop()

        async def missing(factory: Any, conn: socket.socket, **options: Any) -> Any:
            raise NotImplementedError

        loop.connect_accepted_socket = missing  # type: ignore[method-assign,assignment]
        listener = AcceptThread(loop, Greeter, sock)
        assert await read_greeting(port) == b""
        await asyncio.wait_for(asyncio.shield(listener._finished), TIMEOUT)
        assert not listener.is_serving()
        await closed(listener)

    asyncio.run(main())
    (line,) = logged()
    assert line.startswith("ERROR ")
    assert "has no connect_accepted_socket: it cannot serve a listener shared" in line
    assert line.endswith("use another --loop")


def test_a_connection_handed_over_after_close_is_closed() -> None:
    sock = flaky_listener()

    async def main() -> None:
        listener = AcceptThread(asyncio.get_running_loop(), Greeter, sock)
        await closed(listener)
        left, right = socket.socketpair()
        with right:
            listener._adopt(left)  # what the thread had posted before it saw the close
            assert left.fileno() == -1
            assert listener.accepted == 0
        listener.close()  # again: nothing more to do

    asyncio.run(main())
