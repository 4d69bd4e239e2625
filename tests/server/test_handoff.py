"""The accept-thread listener (Windows workers' way of sharing one socket), on every loop.

A thread accepts on a listener the loop never watches and hands each connection to the
loop with ``connect_accepted_socket``. It is the Windows mechanism, but nothing in it is
Windows-only, so it is proved here on every loop of this OS as well as under Wine.
"""

from __future__ import annotations

import asyncio
import socket
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from xloop import Config, loops
from xloop.server.handoff import AcceptThread
from xloop.server.listener import bind_listener

from .apps import hello
from .client import Reader, get
from .harness import TIMEOUT, Backend, RunningServer, serving

CONNECTIONS = 40
REQUESTS = 3


def _needs_accepted_sockets(backend: Backend) -> None:
    """Skip where the loop itself cannot take a socket accepted elsewhere (rloop 0.5 raises
    NotImplementedError from connect_accepted_socket): asked live, on that loop."""

    async def attempt() -> str | None:
        loop = asyncio.get_running_loop()
        with socket.create_server(("127.0.0.1", 0)) as listener:
            client = socket.create_connection(listener.getsockname())
            accepted, _ = listener.accept()
            try:
                transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, accepted)
            except NotImplementedError:
                accepted.close()
                return f"{type(loop).__qualname__} has no connect_accepted_socket"
            finally:
                client.close()
            transport.close()
            return None

    choice = loops.resolve(backend.loop, backend.selector or "auto")
    why = loops.run(attempt(), loop_factory=choice.factory)
    if why is not None:
        pytest.skip(why)


def _listener() -> socket.socket:
    return bind_listener(Config(host="127.0.0.1", port=0, backlog=256))


def _keep_alive_client(port: int) -> list[int]:
    """One connection, several requests on it: the statuses."""
    statuses = []
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.settimeout(TIMEOUT)
        reader = Reader(sock)
        for number in range(REQUESTS):
            sock.sendall(get(f"/{number}"))
            statuses.append(reader.response().status)
    return statuses


def _accepted(running: RunningServer) -> int:
    (listener,) = running.server.listeners
    assert isinstance(listener, AcceptThread)
    return listener.accepted


def _load(port: int) -> list[int]:
    with ThreadPoolExecutor(CONNECTIONS) as pool:
        results = list(pool.map(_keep_alive_client, [port] * CONNECTIONS))
    return [status for statuses in results for status in statuses]


def test_every_connection_is_served_through_the_accept_thread(backend: Backend) -> None:
    _needs_accepted_sockets(backend)
    sock = _listener()
    port = sock.getsockname()[1]
    options: dict[str, Any] = {"sock": sock, "accept_thread": True}
    with serving(hello, backend, server_options=options) as running:
        assert running.port == port
        statuses = _load(port)
        assert statuses == [200] * (CONNECTIONS * REQUESTS)
        assert _accepted(running) == CONNECTIONS
    assert sock.fileno() == -1  # this copy of the listener was released at shutdown


def test_two_servers_share_one_listener_and_one_leaving_does_not_close_it(
    backend: Backend,
) -> None:
    """Two workers' worth of servers on duplicates of one listening socket: together they
    serve every connection; when one stops, the other still accepts (the shared socket was
    not shut down under it)."""
    _needs_accepted_sockets(backend)
    sock = _listener()
    port = sock.getsockname()[1]
    first = {"sock": sock.dup(), "accept_thread": True}
    second = {"sock": sock.dup(), "accept_thread": True}
    sock.close()
    with (
        serving(hello, backend, server_options=first) as one,
        serving(hello, backend, server_options=second) as two,
    ):
        assert _load(port) == [200] * (CONNECTIONS * REQUESTS)
        assert _accepted(one) + _accepted(two) == CONNECTIONS
        one.stop()
        assert _load(port) == [200] * (CONNECTIONS * REQUESTS)
        assert _accepted(two) >= CONNECTIONS


def test_stopping_ends_the_thread_and_releases_the_listener(backend: Backend) -> None:
    _needs_accepted_sockets(backend)
    sock = _listener()
    port = sock.getsockname()[1]
    with serving(hello, backend, server_options={"sock": sock, "accept_thread": True}) as running:
        listener = running.server.listeners[0]
        assert isinstance(listener, AcceptThread)
        assert listener.is_serving()
        running.stop()
        assert not listener.is_serving()
        assert not listener.thread.is_alive()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT).close()
