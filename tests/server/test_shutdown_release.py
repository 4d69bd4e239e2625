"""Graceful shutdown releases long-lived responses: an app waiting in ``receive`` is told
``http.disconnect`` at once; a stream that never looks is cut at the graceful timeout."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from typing import Any

import pytest

from .client import Reader, get
from .harness import TIMEOUT, Backend, RunningServer, logged_errors, needs, serving

Scope = dict[str, Any]

#: Far longer than any test may take: a server that stops proves it was not waiting for it.
FOREVER = 3600.0


def _stream_then_stop(
    server: RunningServer, sock: socket.socket, path: str, streaming: threading.Event
) -> bytes:
    """Open a streaming response, wait until it streams, stop the server; the response's
    body as the client saw it until the close."""
    sock.sendall(get(path))
    assert streaming.wait(TIMEOUT)
    server.server.request_shutdown()
    server.join()
    reader = Reader(sock)
    assert reader.head().status == 200
    return reader.read_until_eof()


class LongPoll:
    """Waits for an event that never comes, watching ``receive`` for a disconnect."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.told: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        while True:
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body"):
                break
        self.waiting.set()
        self.told.append(await receive())  # the long poll: only a disconnect ends it


def test_a_long_poll_is_released_by_shutdown(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    needs(backend, "server_close")
    app = LongPoll()
    with (
        serving(app, backend, timeout_graceful_shutdown=FOREVER) as server,
        server.connect() as sock,
    ):
        sock.sendall(get("/poll"))
        assert app.waiting.wait(TIMEOUT)
        server.server.request_shutdown()
        server.join()
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 503  # the app gave no answer: the server's own
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
    assert app.told == [{"type": "http.disconnect"}]
    assert not logged_errors(caplog)


def test_an_sse_stream_that_watches_for_disconnect_ends_at_shutdown(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    streaming = threading.Event()
    ended: list[str] = []

    async def sse(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )

        async def events() -> None:
            count = 0
            while True:
                await send(
                    {
                        "type": "http.response.body",
                        "body": b"data: %d\n\n" % count,
                        "more_body": True,
                    }
                )
                count += 1
                streaming.set()
                await asyncio.sleep(0.01)

        task = asyncio.ensure_future(events())
        while (await receive())["type"] != "http.disconnect":
            pass
        task.cancel()
        ended.append("disconnect")

    with (
        serving(sse, backend, timeout_graceful_shutdown=FOREVER) as server,
        server.connect() as sock,
    ):
        body = _stream_then_stop(server, sock, "/events", streaming)
        assert b"data: 0\n\n" in body  # the events, then the close
    assert ended == ["disconnect"]
    assert not logged_errors(caplog)


def test_a_streaming_upload_is_released_by_shutdown(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    needs(backend, "server_close")
    reading = threading.Event()
    seen: list[dict[str, Any]] = []

    async def upload(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        while True:
            message = await receive()
            seen.append(message)
            reading.set()
            if message["type"] != "http.request" or not message.get("more_body"):
                return

    with (
        serving(upload, backend, timeout_graceful_shutdown=FOREVER) as server,
        server.connect() as sock,
    ):
        sock.sendall(b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nhalf")
        assert reading.wait(TIMEOUT)
        server.server.request_shutdown()
        server.join()
        response = Reader(sock).response()
        assert response.status == 503
    assert seen[0] == {"type": "http.request", "body": b"half", "more_body": True}
    assert seen[-1] == {"type": "http.disconnect"}
    assert not logged_errors(caplog)


def test_a_finished_body_is_still_delivered_during_shutdown(backend: Backend) -> None:
    """Release only replaces waiting: an app that reads a body already here gets it."""
    needs(backend, "server_close")
    gates: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    started = threading.Event()

    async def late(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        gate = asyncio.Event()
        gates.append((asyncio.get_running_loop(), gate))
        started.set()
        await gate.wait()
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message.get("body", b"?")})

    with (
        serving(late, backend, timeout_graceful_shutdown=FOREVER) as server,
        server.connect() as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        assert started.wait(TIMEOUT)
        server.server.request_shutdown()
        loop, gate = gates[0]
        loop.call_soon_threadsafe(gate.set)
        response = Reader(sock).response()
        server.join()
    assert response.status == 200
    assert response.body == b"hello"
    assert response.header(b"connection") == b"close"


def test_a_stream_that_never_looks_is_cut_at_the_graceful_timeout(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    needs(backend, "server_close")
    streaming = threading.Event()
    outcome: list[str] = []

    async def endless(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        try:
            while True:
                await send({"type": "http.response.body", "body": b"tick\n", "more_body": True})
                streaming.set()
                await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    caplog.set_level(logging.WARNING, logger="xloop")
    with (
        serving(endless, backend, timeout_graceful_shutdown=0.3) as server,
        server.connect() as sock,
    ):
        body = _stream_then_stop(server, sock, "/stream", streaming)
        assert body.startswith(b"5\r\ntick\n")
        assert not body.endswith(b"0\r\n\r\n")  # cut, not completed
    assert outcome == ["cancelled"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "graceful shutdown timed out: aborting 1 connection(s), 1 request(s)" in warnings
    assert not logged_errors(caplog)
