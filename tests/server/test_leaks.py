"""Connections reset by the client in every state leave nothing behind: no connection, cycle,
timer or task of theirs survives, on every backend; closed ones keep no descriptor."""

from __future__ import annotations

import asyncio
import gc
import socket
import struct
from typing import Any

import psutil
import pytest

from xloop.loops import IS_WINDOWS
from xloop.server.connection import Connection
from xloop.server.cycle import Cycle

from .client import Reader, exchange, get
from .harness import TIMEOUT, UNDER_WINE, Backend, RunningServer, needs, serving

Scope = dict[str, Any]

#: Connections reset in each state, in batches (select() on Windows watches at most 512).
PER_STATE = 500
BATCH = 100
STATES = ["before-the-head", "mid-body", "mid-response", "idle"]


async def app(scope: Scope, receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    if scope["path"] == "/big":  # a response larger than the socket buffers hold
        await send({"type": "http.response.start", "status": 200, "headers": []})
        chunk = b"z" * 65536
        while True:  # until the client is gone: send raises ClientDisconnected
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    while True:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body"):
            break
    if message["type"] == "http.request":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def _reset(sock: socket.socket) -> None:
    """Close with RST (SO_LINGER 0), as a crashed or impatient client does."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _bring_to(sock: socket.socket, state: str) -> None:
    reader = Reader(sock)
    if state == "before-the-head":
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Half: ")
    elif state == "mid-body":
        # The 100 Continue proves the app is inside receive(), waiting for the body.
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\nExpect: 100-continue\r\n\r\n"
        )
        assert reader.head().status == 100
        sock.sendall(b"0123456789")
    elif state == "mid-response":
        sock.sendall(get("/big"))
        assert reader.head().status == 200
    else:
        sock.sendall(get())
        assert reader.response().body == b"ok"


async def _inventory(running: RunningServer) -> dict[str, int]:
    """What the server's loop holds, counted on the loop itself."""
    state = running.server.state
    assert state is not None
    loop = asyncio.get_running_loop()
    gc.collect()
    scheduled = getattr(loop, "_scheduled", None)  # the stdlib loops' timer heap
    # The server's own timers are not any connection's: the Date header's tick, and the one
    # timer of every idle connection, which stays armed for the next due after the
    # connections it was armed for are gone (it then finds nothing, and is not re-armed):
    # whether it is pending depends on how long ago the last connection went idle.
    idle_timer = state.idle._on_timer
    timers = (
        -1
        if scheduled is None
        else sum(not h.cancelled() and h._callback != idle_timer for h in scheduled)
    )
    return {
        "connections": len(state.connections),
        "active requests": state.active,
        "orphan tasks": len(state.orphans),
        "tasks": len(asyncio.all_tasks(loop)),
        "timers": timers,
        "Connection objects": sum(isinstance(o, Connection) for o in gc.get_objects()),
        "Cycle objects": sum(isinstance(o, Cycle) for o in gc.get_objects()),
    }


async def _all_closed(running: RunningServer) -> None:
    state = running.server.state
    assert state is not None
    while state.connections or state.orphans:
        state.all_closed.clear()
        if state.connections:
            await asyncio.wait_for(state.all_closed.wait(), TIMEOUT)
        if state.orphans:
            await asyncio.wait_for(asyncio.wait(list(state.orphans)), TIMEOUT)


def _on_loop(running: RunningServer, coro: Any) -> Any:
    loop = running.server.loop
    assert loop is not None
    return asyncio.run_coroutine_threadsafe(coro, loop).result(TIMEOUT * 3)


@pytest.mark.skipif(UNDER_WINE, reason="SO_LINGER resets are read as EOF under Wine")
def test_reset_connections_in_every_state_leave_nothing_behind(backend: Backend) -> None:
    needs(backend, "peer_reset")
    with serving(app, backend, timeout_keep_alive=60, timeout_graceful_shutdown=5) as running:
        # Warm up: whatever the first requests create once is part of the baseline.
        for state in STATES:
            with running.connect() as sock:
                _bring_to(sock, state)
                _reset(sock)
        _on_loop(running, _all_closed(running))
        before = _on_loop(running, _inventory(running))
        assert before["Connection objects"] == before["Cycle objects"] == 0, before

        for state in STATES:
            for _ in range(PER_STATE // BATCH):
                batch = [running.connect() for _ in range(BATCH)]
                for sock in batch:
                    _bring_to(sock, state)
                for sock in batch:
                    _reset(sock)
        _on_loop(running, _all_closed(running))
        after = _on_loop(running, _inventory(running))
        served = running.server.state
        assert served is not None
        assert served.total_connections >= len(STATES) * (PER_STATE + 1)
    assert after == before


#: Connections opened and closed one after the other; a descriptor kept by each is a leak.
CLOSED = 300


@pytest.mark.skipif(IS_WINDOWS, reason="descriptors are counted on Unix (psutil num_fds)")
def test_closed_connections_free_their_descriptors_without_the_gc(backend: Backend) -> None:
    """A closed connection's socket is freed when it closes, not when the cyclic gc next
    runs: rloop 0.5 closes a socket only once its transport is freed, so no reference cycle
    through the connection may keep the transport (rloop itself holds a few, not one each)."""
    process: Any = psutil.Process()  # num_fds: Unix only
    with serving(app, backend) as running:
        for _ in range(3):  # warm up
            with running.connect() as sock:
                assert exchange(sock, get()).status == 200
        _on_loop(running, _all_closed(running))
        gc.collect()
        gc.disable()
        try:
            before = process.num_fds()
            for _ in range(CLOSED):
                with running.connect() as sock:
                    assert exchange(sock, get()).status == 200
            _on_loop(running, _all_closed(running))
            _on_loop(running, asyncio.sleep(0))  # the loop turn after the last connection_lost
            kept = process.num_fds() - before
        finally:
            gc.enable()
    assert kept < CLOSED // 4, f"{kept} descriptors kept by {CLOSED} closed connections"
