"""What idle keep-alive connections share: the scope's ``server`` tuple (one per local
address), and the context pipelined requests start from (one per server). Real sockets,
every loop and parser."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, TypeVar

from xloop.server.connection import Connection
from xloop.server.state import ServerState

from .apps import scope_json
from .client import exchange, get
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
