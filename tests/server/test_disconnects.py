"""Clients that go away (a reset, a close) or half-close: what the app is told, what ``send``
raises, what is logged, and what a half-closed client still gets."""

from __future__ import annotations

import queue
import socket
import struct
import threading

import pytest

from xloop.server.cycle import ClientDisconnected
from xloop.types import Receive, Scope, Send

from .apps import read_body, wait_until
from .client import POST_HEAD, Reader, get
from .harness import (
    TIMEOUT,
    UNDER_WINE,
    WINE_RST_READS_AS_EOF,
    Backend,
    RunningServer,
    logged_errors,
    needs,
    only_connection,
    serving,
)


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the server sees a connection error, not an EOF."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


# -- the client goes away ----------------------------------------------------------------------


@pytest.mark.parametrize("started", [False, True], ids=["before-start", "streaming"])
def test_app_that_ends_on_disconnect_logs_no_error(
    backend: Backend, started: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """An SSE or long-poll app returns when it receives ``http.disconnect``: that is the
    normal end of such a request, not an error to log (uvicorn logs nothing)."""
    needs(backend, "peer_reset")
    if UNDER_WINE and backend.loop == "selector":
        pytest.skip(WINE_RST_READS_AS_EOF)
    got: queue.Queue[str] = queue.Queue()
    waiting = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await read_body(receive)
        if started:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"event", "more_body": True})
        waiting.set()
        await _until_disconnect(receive)
        got.put("disconnect")

    with serving(app, backend) as server:
        sock = server.connect()
        sock.sendall(get())
        if started:
            assert Reader(sock).head().status == 200
        assert waiting.wait(TIMEOUT)
        _reset(sock)
        assert got.get(timeout=TIMEOUT) == "disconnect"
        server.stop()  # waits for the app to be done
    assert logged_errors(caplog) == []


@pytest.mark.parametrize("how", ["reset", "aborted-upload"])
def test_send_after_disconnect_raises_client_disconnected(backend: Backend, how: str) -> None:
    """ASGI 2.4: ``send`` after the client is gone raises an OSError (ClientDisconnected),
    whether the client reset the connection or closed it in the middle of its upload."""
    if UNDER_WINE and backend.loop == "selector" and how == "reset":
        pytest.skip(WINE_RST_READS_AS_EOF)
    if how == "reset":
        needs(backend, "peer_reset")
    outcome: queue.Queue[object] = queue.Queue()
    streaming = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        first = await receive()
        assert first["type"] == "http.request"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first", "more_body": True})
        streaming.set()
        await _until_disconnect(receive)
        try:
            await send({"type": "http.response.body", "body": b"late", "more_body": True})
        except BaseException as exc:
            outcome.put(exc)
            raise
        outcome.put("sent")

    with serving(app, backend) as server:
        sock = server.connect()
        if how == "reset":
            sock.sendall(get())
        else:
            sock.sendall(POST_HEAD % 10 + b"abc")  # 7 bytes of body never come
        assert Reader(sock).head().status == 200
        assert streaming.wait(TIMEOUT)
        if how == "reset":
            _reset(sock)
        else:
            sock.close()
        error = outcome.get(timeout=TIMEOUT)
    assert isinstance(error, ClientDisconnected), repr(error)
    assert isinstance(error, OSError)


def test_long_poll_app_learns_that_the_client_closed(backend: Backend) -> None:
    """A long-poll app waits on ``receive()`` for ``http.disconnect`` before it has anything
    to send. When the client closes its socket the app must be told; otherwise it (and a
    graceful shutdown without a timeout, which waits for it) waits forever."""
    got: queue.Queue[str] = queue.Queue()
    waiting = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await read_body(receive)
        waiting.set()
        await _until_disconnect(receive)
        got.put("disconnect")

    with serving(app, backend, timeout_graceful_shutdown=1.0) as server:
        with server.connect() as sock:
            sock.sendall(get("/poll"))
            assert waiting.wait(TIMEOUT)
        try:
            assert got.get(timeout=5.0) == "disconnect"
        except queue.Empty:
            pytest.fail("the app never received http.disconnect")


# -- half-close --------------------------------------------------------------------------------


def test_half_close_after_a_complete_request_gets_the_response(backend: Backend) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        body = await read_body(receive)
        protocol = only_connection(running[0])
        await wait_until(lambda: protocol.eof)  # answer only once the FIN is in
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body, "more_body": True})
        await send({"type": "http.response.body", "body": b"!"})

    running: list[RunningServer] = []
    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sock.sendall(POST_HEAD % 5 + b"hello")
        sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        assert reader.response().body == b"hello!"
        assert reader.at_eof()


def test_half_close_after_pipelined_requests_answers_them_all(backend: Backend) -> None:
    """``printf 'GET /a ...GET /b ...' | nc -N``: every complete request gets its answer."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        protocol = only_connection(running[0])
        await wait_until(lambda: protocol.eof)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    running: list[RunningServer] = []
    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sock.sendall(get("/a") + get("/b"))
        sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        assert reader.response().body == b"/a"
        assert not reader.at_eof(), "the pipelined /b was dropped"
        assert reader.response().body == b"/b"
        assert reader.at_eof()
