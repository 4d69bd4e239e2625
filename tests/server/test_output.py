"""The write side of a connection (:mod:`xloop.server.output`) without sockets: bytes
corked or deferred in one loop turn go out together at its end, and none of them is written
to a transport that was aborted or closed in the meantime (winloop raises on such a write:
a graceful shutdown that times out aborts connections whose chunks are corked)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from xloop.config import Config
from xloop.http import connection_factory
from xloop.server.connection import Connection
from xloop.server.state import ServerState

from .harness import logged_errors


class StrictTransport(asyncio.Transport):
    """A transport that refuses writes once closing, as winloop's does."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.closing:
            raise RuntimeError("Cannot call write() when UVStream is closing")
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def abort(self) -> None:
        self.closing = True
        self.aborted = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 5000), "sockname": ("127.0.0.1", 8000)}.get(name, default)


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """Never called: these tests write through the connection directly."""


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """A loop on which any error a callback raises fails the test."""
    errors: list[dict[str, Any]] = []
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    yield loop
    loop.close()
    assert errors == []


def _connection(
    loop: asyncio.AbstractEventLoop, app: Any = _app
) -> tuple[Connection, StrictTransport]:
    async def make() -> Connection:
        config = Config(app="tests.server.test_output:_app")
        factory = connection_factory("h11", config.limits())
        state = ServerState(config, app, factory, {}, asyncio.Event())
        return Connection(state, loop)

    connection = loop.run_until_complete(make())
    transport = StrictTransport()
    connection.connection_made(transport)
    return connection, transport


def _end_turn(loop: asyncio.AbstractEventLoop) -> None:
    """Run the callbacks scheduled so far (ServerState.flush among them)."""
    loop.run_until_complete(asyncio.sleep(0))


def test_chunks_corked_in_one_turn_go_out_in_one_write(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport = _connection(loop)
    assert connection.write_soon(b"5\r\ntick\n\r\n")
    assert connection.write_soon(b"5\r\ntock\n\r\n")
    assert transport.writes == []
    _end_turn(loop)
    assert transport.writes == [b"5\r\ntick\n\r\n5\r\ntock\n\r\n"]


def test_chunks_corked_before_an_abort_are_dropped(loop: asyncio.AbstractEventLoop) -> None:
    connection, transport = _connection(loop)
    assert connection.write_soon(b"5\r\ntick\n\r\n")
    connection.abort()  # (a graceful shutdown that timed out, in the same turn)
    assert transport.aborted
    _end_turn(loop)  # the flush must not write to the aborted transport
    assert transport.writes == []
    assert not connection.write_soon(b"5\r\ntock\n\r\n")
    assert connection.corked is None


def test_bytes_deferred_before_the_transport_closes_are_dropped(
    loop: asyncio.AbstractEventLoop,
) -> None:
    connection, transport = _connection(loop)
    state = connection.state
    # the last bytes of a response an eager app produced (3.12+), then the transport is
    # closed by something that does not flush first (its peer reset, a timeout's abort)
    loop.call_soon(state.flush)
    state.deferred.append((connection, b"0\r\n\r\n"))
    transport.close()
    _end_turn(loop)
    assert transport.writes == []
    assert state.deferred == []


def test_a_response_that_ends_after_its_transport_began_closing_writes_nothing_more(
    loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    gate = asyncio.Event()
    sent: list[str] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"early", "more_body": True})
        await gate.wait()
        await send({"type": "http.response.body", "body": b"late"})
        sent.append("body")

    connection, transport = _connection(loop, app)
    connection.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    for _ in range(10):  # the head and the first chunk; the app then waits on the gate
        if transport.writes:
            break
        _end_turn(loop)
    assert transport.writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert transport.writes[-1].endswith(b"early\r\n")
    transport.close()  # e.g. reset by its peer, connection_lost not yet called
    gate.set()
    task = connection.task
    assert task is not None
    loop.run_until_complete(task)
    assert sent == ["body"]
    assert not transport.writes[-1].endswith(b"0\r\n\r\n")
    assert not logged_errors(caplog)
