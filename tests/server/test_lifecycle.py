"""Lifespan, limits and graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from xloop import Config, StartupError

from .apps import Recorder, hello
from .client import Reader, exchange, get
from .harness import TIMEOUT, Backend, RunningServer, needs, serving


class LifespanApp:
    def __init__(self, *, fail_startup: bool = False) -> None:
        self.fail_startup = fail_startup
        self.events: list[str] = []

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                self.events.append(message["type"])
                if message["type"] == "lifespan.startup":
                    if self.fail_startup:
                        await send({"type": "lifespan.startup.failed", "message": "no db"})
                        return
                    scope["state"]["db"] = "connected"
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope["state"]
        body = state["db"].encode()
        state["db"] = "changed by a request"  # a per-request copy: never leaks
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def test_lifespan_runs_and_shares_state(backend: Backend) -> None:
    app = LifespanApp()
    with serving(app, backend, lifespan="on") as server, server.connect() as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(get())
            assert reader.response().body == b"connected"
    assert app.events == ["lifespan.startup", "lifespan.shutdown"]


def test_lifespan_startup_failure_stops_the_server(backend: Backend) -> None:
    config = Config(
        app=LifespanApp(fail_startup=True),
        port=0,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        log_level="critical",
    )
    with pytest.raises(StartupError, match="no db"):
        RunningServer(config).start()


def test_lifespan_auto_serves_an_app_without_lifespan(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xloop")
    with (
        serving(hello, backend, lifespan="auto", log_level="info") as server,
        server.connect() as sock,
    ):
        assert exchange(sock, get()).body == b"Hello, world!"
    lines = [r.getMessage() for r in caplog.records if "lifespan" in r.getMessage()]
    assert len(lines) == 1
    assert "unsupported" in lines[0]
    assert not any(r.exc_info for r in caplog.records)


def test_lifespan_on_with_an_app_without_lifespan_fails(backend: Backend) -> None:
    config = Config(
        app=hello,
        port=0,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        lifespan="on",
        log_level="critical",
    )
    with pytest.raises(StartupError):
        RunningServer(config).start()


def test_lifespan_state_is_copied_for_each_request(backend: Backend) -> None:
    seen: list[object] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    scope["state"]["counter"] = 0
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        state = scope["state"]
        seen.append(state["counter"])
        state["counter"] += 1
        state["added"] = True
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend, lifespan="on") as server, server.connect() as sock:
        sock.sendall(get() + get())
        reader = Reader(sock)
        reader.response()
        reader.response()
    assert seen == [0, 0]


def test_limit_concurrency_answers_503(backend: Backend) -> None:
    recorder = Recorder(read_body=False)
    recorder.wait_for_release = True
    with serving(recorder, backend, limit_concurrency=1) as server, server.connect() as first:
        first.sendall(get())
        assert recorder.started.wait(10)
        with server.connect() as second:
            response = exchange(second, get())
        assert response.status == 503
        assert response.header(b"connection") == b"close"
        recorder.release.set()
        assert Reader(first).response().status == 200


def test_limit_max_requests_shuts_down(backend: Backend) -> None:
    with serving(hello, backend, limit_max_requests=3) as server, server.connect() as sock:
        reader = Reader(sock)
        for _ in range(3):
            sock.sendall(get())
            assert reader.response().status == 200
        server.join()  # the server stops by itself
        assert not server.thread.is_alive()


def test_graceful_shutdown_lets_in_flight_requests_finish(backend: Backend) -> None:
    needs(backend, "server_close")
    recorder = Recorder(read_body=False)
    recorder.wait_for_release = True
    with serving(recorder, backend) as server:
        busy = server.connect()
        idle = server.connect()
        exchange(idle, get("/fast"))  # now an idle keep-alive connection
        recorder.started.clear()
        busy.sendall(get())
        assert recorder.started.wait(10)
        server.server.request_shutdown()
        assert Reader(idle).at_eof()  # idle connections are closed at once
        recorder.release.set()
        reader = Reader(busy)
        response = reader.response()
        assert response.status == 200
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
        server.join()
        busy.close()
        idle.close()


def test_graceful_shutdown_timeout_aborts_stuck_requests(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    started = threading.Event()
    outcome: list[str] = []

    async def stuck(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        started.set()
        try:
            await asyncio.Event().wait()  # never looks at receive(): only the cut ends it
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    with serving(stuck, backend, timeout_graceful_shutdown=0.1) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n")
        assert started.wait(10)
        server.server.request_shutdown()
        server.join()
        assert Reader(sock).at_eof()
    assert outcome == ["cancelled"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_graceful_shutdown_lets_a_streaming_response_finish(backend: Backend) -> None:
    needs(backend, "server_close")
    release = threading.Event()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        if scope["path"] == "/stream":
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, release.wait, TIMEOUT)
        await send({"type": "http.response.body", "body": b"b", "more_body": True})
        await send({"type": "http.response.body", "body": b"c"})

    with serving(app, backend) as server, server.connect() as sock, server.connect() as idle:
        assert exchange(idle, get("/fast")).status == 200
        sock.sendall(get("/stream"))
        reader = Reader(sock)
        assert reader.head().status == 200
        server.server.request_shutdown()
        assert Reader(idle).at_eof()  # the shutdown has begun
        release.set()
        body = reader.read_until_eof()
        server.join()
    assert body == b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"


def test_graceful_shutdown_waits_for_work_after_the_response(backend: Backend) -> None:
    """Starlette's BackgroundTasks run inside the app call after the last body message.

    A graceful shutdown must wait for them like it waits for in-flight responses
    (uvicorn: "Waiting for background tasks to complete"), not cancel them.
    """
    outcome: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"queued"})
        try:
            await asyncio.sleep(1.0)  # the background work itself
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise
        outcome.append("finished")

    with serving(app, backend) as server, server.connect() as sock:
        assert exchange(sock, get()).body == b"queued"
        server.stop()
    assert outcome == ["finished"]
