"""What an idle keep-alive connection holds: no sans-IO connection (the server keeps the one
it had for the next connection that sends bytes), the scope's ``server`` tuple shared with
the other connections. Real sockets, every loop and parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from xloop.server.connection import Connection
from xloop.server.state import ServerState

from .apps import hello, scope_json, wait_until
from .client import Reader, exchange, get
from .harness import TIMEOUT, Backend, RunningServer, serving

T = TypeVar("T")


def on_loop(running: RunningServer, function: Callable[[ServerState], T]) -> T:
    """``function(state)`` run on the server's loop, between its callbacks."""
    state = running.server.state
    loop = running.server.loop
    assert state is not None
    assert loop is not None

    async def call() -> T:
        return function(state)

    return asyncio.run_coroutine_threadsafe(call(), loop).result(TIMEOUT)


def until_on_loop(running: RunningServer, predicate: Callable[[ServerState], bool]) -> None:
    """Wait until ``predicate(state)`` holds on the server's loop (bounded)."""
    state = running.server.state
    loop = running.server.loop
    assert state is not None
    assert loop is not None
    future = asyncio.run_coroutine_threadsafe(wait_until(lambda: predicate(state)), loop)
    future.result(TIMEOUT * 2)


def connections(state: ServerState) -> list[Connection]:
    return [c for c in state.connections if isinstance(c, Connection)]


def parsers(state: ServerState) -> list[bool]:
    """For each open HTTP connection: does it hold a sans-IO connection?"""
    return sorted(connection.http is not None for connection in connections(state))


def scope_of(response_body: bytes) -> dict[str, Any]:
    scope: dict[str, Any] = json.loads(response_body)
    return scope


def test_idle_connections_hold_no_parser_and_a_head_begun_keeps_its_own(
    backend: Backend,
) -> None:
    with serving(scope_json, backend) as server, server.connect() as a, server.connect() as b:
        first = scope_of(exchange(a, get("/a", extra="X-Who: a\r\n")).body)
        assert first["path"] == "/a"
        # a answered and idle, b connected and silent: neither holds one.
        assert on_loop(server, parsers) == [False, False]
        assert on_loop(server, lambda state: len(state.spare_http)) == 1

        b.sendall(b"GET /b HTTP/1.1\r\nHost: t\r\nX-Who: b\r\n")  # half a head
        until_on_loop(server, lambda state: parsers(state) == [False, True])
        # a request on a meanwhile does not touch what b began
        second = scope_of(exchange(a, get("/a2", extra="X-Who: a\r\n")).body)
        assert (second["path"], ["x-who", "a"] in second["headers"]) == ("/a2", True)
        b.sendall(b"X-More: b\r\n\r\n")
        last = scope_of(Reader(b).response().body)
        assert last["path"] == "/b"
        assert [name for name, _ in last["headers"]] == ["host", "x-who", "x-more"]
        assert ["x-who", "b"] in last["headers"]

        assert on_loop(server, parsers) == [False, False]
        assert last["server"] == first["server"]
        servers = on_loop(server, lambda state: [c.server for c in connections(state)])
        assert servers[0] is servers[1]  # one tuple per local address


def test_a_parser_given_back_keeps_nothing_of_its_connection(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as a:
        # An HTTP/1.0 HEAD kept alive: what a reused parser must not carry over.
        a.sendall(b"HEAD / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        head = Reader(a).response(head_request=True)
        assert (head.header(b"connection"), head.body) == (b"keep-alive", b"")
        until_on_loop(server, lambda state: parsers(state) == [False])
        spare = on_loop(server, lambda state: list(state.spare_http))
        assert len(spare) == 1

        with server.connect() as b:
            response = exchange(b, get("/"))
            assert response.status == 200
            assert response.body == b"Hello, world!"
            assert response.header(b"content-length") == b"13"
            assert response.header(b"connection") is None
            # b was served by the parser a gave back, and gave it back in turn
            assert on_loop(server, lambda state: state.spare_http) == spare
            assert on_loop(server, lambda state: state.spare_http[0] is spare[0])
