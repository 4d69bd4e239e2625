"""What idle keep-alive connections share: the scope's ``server`` tuple (one per local
address), and the context pipelined requests start from (one per server); and what a
connection idle for a while lets go of (its parser: ``server/idle.py``'s parking), which
the server keeps for the next connection's request. Real sockets, every loop and parser."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

from xloop.http import HTTPConnection
from xloop.server.connection import Connection
from xloop.server.idle import PARKED
from xloop.server.state import HTTP_POOL_SIZE, ServerState

from .apps import echo, hello, scope_json
from .client import POST_HEAD, Reader, exchange, get
from .harness import TIMEOUT, Backend, RunningServer, serving, wait_until

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


def connections(state: ServerState) -> list[Connection]:
    return [c for c in state.connections if isinstance(c, Connection)]


def test_connections_on_one_address_share_one_server_tuple(backend: Backend) -> None:
    with serving(scope_json, backend) as server, server.connect() as a, server.connect() as b:
        scopes: list[dict[str, Any]] = [json.loads(exchange(s, get()).body) for s in (a, b)]
        assert scopes[0]["server"] == scopes[1]["server"] == ["127.0.0.1", server.port]
        assert scopes[0]["client"] != scopes[1]["client"]
        servers = on_loop(server, lambda state: [c.server for c in connections(state)])
        assert len(servers) == 2
        assert servers[0] is servers[1]
        clients = on_loop(server, lambda state: sorted(c.client or () for c in connections(state)))
        assert [list(client) for client in clients] == sorted(s["client"] for s in scopes)


def the_connection(running: RunningServer) -> Connection:
    (connection,) = on_loop(running, connections)
    return connection


def park(running: RunningServer) -> bool:
    """What the idle timer does after PARK_AFTER idle, done now: is the connection parked?"""

    def call(state: ServerState) -> bool:
        (connection,) = connections(state)
        connection.idle_park()
        return connection.http is PARKED

    return on_loop(running, call)


def test_a_parked_connection_serves_its_next_requests(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        assert exchange(sock, get()).status == 200
        assert park(server)
        for body in (b"after a park", b"and again"):
            response = exchange(sock, POST_HEAD % len(body) + body)
            assert (response.status, response.body) == (200, body)
        assert the_connection(server).http is not PARKED
        assert park(server)  # idle again: parks again
        sock.sendall(get() + get())  # pipelined, into a parked connection
        reader = Reader(sock)
        assert [reader.response().status for _ in range(2)] == [200, 200]


def test_a_new_connection_holds_no_parser_before_its_first_bytes(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        wait_until(lambda: len(on_loop(server, connections)) == 1)
        assert the_connection(server).http is PARKED
        assert park(server)
        assert exchange(sock, get()).body == b"Hello, world!"


def test_a_parked_parser_serves_the_next_connections_request(backend: Backend) -> None:
    made: list[object] = []

    def count_new(state: ServerState) -> None:
        factory = state.http_factory

        def counted() -> Any:
            made.append(factory())
            return made[-1]

        state.http_factory = counted

    with serving(echo, backend) as server, server.connect() as first:
        assert exchange(first, get()).status == 200
        assert park(server)  # its parser goes back to the server: the next request takes it
        on_loop(server, count_new)
        with server.connect() as second:
            body = b"a spare parser"
            response = exchange(second, POST_HEAD % len(body) + body)
            assert (response.status, response.body) == (200, body)
        assert made == []
        assert exchange(first, get()).status == 200  # and the first connection gets one again


def test_the_server_keeps_spare_parsers_up_to_its_limit(backend: Backend) -> None:
    """Real parsers given back: the server keeps HTTP_POOL_SIZE, hands the last given back
    first, releases the one beyond (httptools': its parser, a reference cycle, let go) and
    makes a new one when none is left."""

    def fill(state: ServerState) -> tuple[list[HTTPConnection], list[HTTPConnection], object]:
        spares = [state.http_factory() for _ in range(HTTP_POOL_SIZE + 1)]
        for spare in spares:
            state.give_http(spare)
        taken = [state.take_http() for _ in range(HTTP_POOL_SIZE)]
        return spares, taken, state.take_http()

    with serving(hello, backend) as server:
        spares, taken, new = on_loop(server, fill)
        assert taken == spares[-2::-1]  # the last given back is the first taken
        assert all(new is not spare for spare in spares)
        if type(spares[-1]).__name__ == "HttptoolsConnection":  # (httptools may be absent)
            assert not hasattr(spares[-1], "_parser")
            assert all(hasattr(spare, "_parser") for spare in spares[:-1])
        with server.connect() as sock:  # no spare left: a new one
            assert exchange(sock, get()).body == b"Hello, world!"


def test_part_of_a_head_is_not_let_go(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        assert exchange(sock, get()).status == 200
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        wait_until(lambda: on_loop(server, lambda state: connections(state)[0].http.head_pending))
        assert not park(server)
        sock.sendall(b"st: test\r\n\r\n")
        assert Reader(sock).response().body == b"Hello, world!"


def test_a_parked_connection_closes_at_the_clients_end(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        assert exchange(sock, get()).status == 200
        assert park(server)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(1024) == b""  # closed: no response, no error
        wait_until(lambda: not on_loop(server, connections))


def test_the_idle_timer_parks_a_connection_and_keeps_its_deadline(backend: Backend) -> None:
    # Real time: parked after PARK_AFTER (50 ms) idle; the keep-alive timeout (3 s) still
    # counts from the end of the response, and closes the parked connection then.
    def parked(state: ServerState) -> bool:
        return any(connection.http is PARKED for connection in connections(state))

    with serving(hello, backend, timeout_keep_alive=3.0) as server, server.connect() as sock:
        assert exchange(sock, get()).status == 200
        answered = time.monotonic()
        wait_until(lambda: on_loop(server, parked))
        sock.settimeout(3.0 + TIMEOUT)
        assert sock.recv(1024) == b""
        assert time.monotonic() - answered > 2.9  # not at the park: at the keep-alive timeout
