"""A loop driving select() stops accepting at select()'s cap, and goes on serving.

select() takes at most 512 sockets per set on Windows and only descriptors below 1024
elsewhere; one socket past it and the loop dies (ValueError from select()). Over real
sockets: at the cap, new clients wait in the backlog (a count cap) or are closed (a
descriptor out of range), the held connections are served, one warning says so, and
accepting resumes when there is room again, with no traceback in the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import selectors
import socket
from typing import Any

import pytest

from xloop import Config, loops
from xloop.errors import BindError
from xloop.server import capped, server
from xloop.server.capped import CappedListener, SelectCap, quiet_cap_errors, select_cap
from xloop.server.handoff import AcceptThread
from xloop.server.listener import bind_every

from .apps import hello
from .client import exchange, get
from .harness import TIMEOUT, Backend, backends, logged_errors, serving, wait_until


@pytest.fixture(autouse=True)
def select_backend() -> Backend:
    """The selector loop with ``select()``, once per run that tests it (``XLOOP_TEST_LOOPS``
    may leave it out: the rloop pass, Wine's proactor and winloop passes), with room below
    1024 for the loop's own descriptors (a process that holds more cannot run select())."""
    for backend in backends():
        if backend.loop == "selector" and backend.selector == "select":
            break
    else:
        pytest.skip("the selector loop with select() is not among this run's loops")
    with socket.socket() as probe:
        highest = probe.fileno()
    if not loops.IS_WINDOWS and highest >= 900:
        pytest.skip(f"this process holds descriptors up to {highest}: select() has no room")
    return backend


def _messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == level]


def _no_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    assert not logged_errors(caplog)
    assert not [r for r in caplog.records if r.exc_info]


def test_select_cap_is_only_for_a_selector_loop_driving_select() -> None:
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        cap = select_cap(loop)
        assert cap is not None
        if loops.IS_WINDOWS:
            assert (cap.sockets, cap.below) == (512, None)
        else:
            assert (cap.sockets, cap.below) == (1024, 1024)
    finally:
        loop.close()
    others = [
        getattr(selectors, name, None)
        for name in ("EpollSelector", "KqueueSelector", "PollSelector")
    ]
    for kind in [k for k in others if k is not None]:
        loop = asyncio.SelectorEventLoop(kind())
        try:
            assert select_cap(loop) is None
        finally:
            loop.close()


def _capped_at(monkeypatch: pytest.MonkeyPatch, room: int) -> None:
    """The server's select() cap set so that ``room`` connections fit (a count cap, as on
    Windows), whatever this OS's own."""

    def small(loop: asyncio.AbstractEventLoop) -> SelectCap | None:
        real = select_cap(loop)
        if real is None:
            return None
        # The loop's self-pipe is watched already; the listener will be.
        watched = len(real.selector.get_map()) + 1
        return SelectCap(real.selector, watched + capped.RESERVE + room, None)

    monkeypatch.setattr(server, "select_cap", small)


def test_at_a_count_cap_new_clients_wait_and_are_served_when_room_comes(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, select_backend: Backend
) -> None:
    caplog.set_level(logging.INFO, logger="xloop")
    _capped_at(monkeypatch, room=3)
    with serving(hello, select_backend, log_level="info") as running:
        state = running.server.state
        assert state is not None
        held = [running.connect() for _ in range(3)]
        for sock in held:
            assert exchange(sock, get()).status == 200
        waiting = running.connect()  # complete in the backlog, not accepted
        waiting.sendall(get())
        wait_until(lambda: bool(_messages(caplog, logging.WARNING)))
        (warning,) = _messages(caplog, logging.WARNING)
        assert "not accepting connections for now: select() watches at most" in warning
        other = "--loop proactor or winloop" if loops.IS_WINDOWS else "--selector epoll"
        assert other in warning
        assert len(state.connections) == 3
        for sock in held:  # still served at the cap
            assert exchange(sock, get()).status == 200
        held.pop().close()
        assert waiting.recv(65536).startswith(b"HTTP/1.1 200 ")
        for sock in [*held, waiting]:
            sock.close()
    assert len(_messages(caplog, logging.WARNING)) == 1  # once per episode
    _no_tracebacks(caplog)


def _raise_nofile(wanted: int) -> None:
    resource = pytest.importorskip("resource")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= wanted:
        return
    if hard != resource.RLIM_INFINITY and hard < wanted:
        pytest.skip(f"RLIMIT_NOFILE's hard limit {hard} holds no descriptor past 1024")
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


@pytest.mark.skipif(loops.IS_WINDOWS, reason="POSIX select(): descriptor numbers")
def test_a_connection_past_descriptor_1023_is_closed_and_the_server_lives(
    caplog: pytest.LogCaptureFixture, select_backend: Backend
) -> None:
    """The server shares this process's descriptors: filler descriptors push the next
    accepted connection past 1023, as a busy process's files and clients would."""
    _raise_nofile(1200)
    caplog.set_level(logging.INFO, logger="xloop")
    fillers: list[int] = []
    try:
        with serving(hello, select_backend, log_level="info") as running:
            held = running.connect()
            assert exchange(held, get()).status == 200
            # Fill until the next descriptor is 1023: the client's socket takes it, and the
            # server's end of that connection is 1024.
            while True:
                fd = os.open(os.devnull, os.O_RDONLY)
                if fd < 1023:
                    fillers.append(fd)
                    continue
                os.close(fd)
                cut = socket.create_connection(("127.0.0.1", running.port), timeout=TIMEOUT)
                if cut.fileno() == 1023:
                    break
                # A lower descriptor was freed meanwhile (and the connection was served on
                # it): hold it as a filler too, and try again.
                fillers.append(cut.detach())
            with cut:
                cut.settimeout(TIMEOUT)
                wait_until(lambda: bool(_messages(caplog, logging.WARNING)))
                with contextlib.suppress(ConnectionResetError):
                    assert cut.recv(65536) == b""  # closed unanswered
            (warning,) = _messages(caplog, logging.WARNING)
            assert "select() watches descriptors numbered below 1024 only" in warning
            assert "got descriptor 1024: it was closed" in warning
            assert exchange(held, get()).status == 200  # the held connection is still served
            for fd in fillers:
                os.close(fd)
            fillers.clear()
            with running.connect() as fresh:  # accepted at asyncio's retry, a second on
                assert exchange(fresh, get()).status == 200
            held.close()
        assert any("accepting connections again" in m for m in _messages(caplog, logging.INFO))
    finally:
        for fd in fillers:
            os.close(fd)
    _no_tracebacks(caplog)


def test_a_retry_after_the_listener_closed_is_not_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """asyncio retries the accepts a second after the EMFILE, on a timer no one cancels
    when the server closes: that late retry finds the socket closed, which is no error."""
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    errors: list[dict[str, Any]] = []
    try:
        loop.set_exception_handler(lambda _loop, context: errors.append(context))
        quiet_cap_errors(loop)
        cap = select_cap(loop)
        assert cap is not None
        listener = CappedListener(socket.create_server(("127.0.0.1", 0)), cap)
        listener.close()
        late = asyncio.TimerHandle(0.0, lambda *_: None, (None, listener), loop)
        loop.call_exception_handler({"message": "late", "exception": ValueError(), "handle": late})
        loop.call_exception_handler(
            {"message": "cap", "exception": capped.SelectCapReached("at the cap")}
        )
        assert errors == []
        loop.call_exception_handler({"message": "other", "exception": ValueError()})
        assert [context["message"] for context in errors] == ["other"]
    finally:
        loop.close()


def test_bind_every_binds_each_address_or_says_why_not() -> None:
    (sock,) = bind_every(Config(host="127.0.0.1", port=0))
    with sock:
        assert sock.getsockname()[0] == "127.0.0.1"
        port = sock.getsockname()[1]
        with pytest.raises(BindError, match=f"cannot listen on 127.0.0.1:{port}: "):
            bind_every(Config(host="127.0.0.1", port=port))


def test_the_accept_thread_stops_at_the_cap_and_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A Windows worker's accept thread on the selector loop: the thread asks the loop's
    cap before each accept; at the cap the client waits, and is served when room comes."""
    caplog.set_level(logging.INFO, logger="xloop")
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    held: list[asyncio.Transport] = []

    class Holder(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            assert isinstance(transport, asyncio.Transport)
            held.append(transport)
            transport.write(b"served\n")

    def greeted(client: socket.socket) -> bytes:
        return client.recv(64)

    async def main() -> None:
        real = select_cap(loop)
        assert real is not None
        # Watched: the loop's self-pipe, then each connection the thread hands over (the
        # clients are blocking sockets in other threads): room for two.
        watched = len(real.selector.get_map())
        cap = SelectCap(real.selector, watched + 2 + capped.RESERVE, None)
        listener = AcceptThread(loop, Holder, socket.create_server(("127.0.0.1", 0)), cap=cap)
        port = listener.sockets[0].getsockname()[1]
        clients = []
        try:
            for _ in range(3):
                client = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
                clients.append(client)
            for client in clients[:2]:
                assert await loop.run_in_executor(None, greeted, client) == b"served\n"
            deadline = loop.time() + TIMEOUT
            while not _messages(caplog, logging.WARNING):
                assert loop.time() < deadline, "no warning"
                await asyncio.sleep(0.01)
            (warning,) = _messages(caplog, logging.WARNING)
            assert "select() watches at most" in warning
            assert warning.endswith("has no such cap")
            assert len(held) == 2
            held[0].close()
            assert await loop.run_in_executor(None, greeted, clients[2]) == b"served\n"
        finally:
            for client in clients:
                client.close()
            for transport in held:
                transport.close()
            listener.close()
            await asyncio.wait_for(listener.wait_closed(), TIMEOUT)

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    _no_tracebacks(caplog)
