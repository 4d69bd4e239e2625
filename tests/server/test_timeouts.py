"""The request-header, request-body and send timeouts, over real sockets on every backend."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from typing import Any

import pytest

from xloop.server.cycle import ClientDisconnected

from .apps import echo
from .client import Reader, get
from .harness import TIMEOUT, Backend, RunningServer, logged_errors, serving

Scope = dict[str, Any]


def test_a_head_sent_one_line_at_a_time_gets_408_at_the_header_timeout(backend: Backend) -> None:
    """Each line comes well within the keep-alive timeout; the head as a whole does not."""
    with (
        serving(echo, backend, timeout_keep_alive=60, timeout_request_header=0.5) as server,
        server.connect() as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n")
        started = time.monotonic()
        reader = Reader(sock)
        sock.settimeout(0.1)
        lines = 0
        while True:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                sock.sendall(b"X-Line-%d: a\r\n" % lines)  # the trickle
                lines += 1
                assert time.monotonic() - started < TIMEOUT, "no 408"
                continue
            break
        sock.settimeout(TIMEOUT)
        reader.buffer += data
        response = reader.response()
        assert response.status == 408
        assert response.header(b"connection") == b"close"
        assert lines >= 3  # several lines went in before the deadline
        assert reader.at_eof()


def test_an_idle_connection_is_closed_silently_at_the_keep_alive_timeout(
    backend: Backend,
) -> None:
    with (
        serving(echo, backend, timeout_keep_alive=0.2, timeout_request_header=60) as server,
        server.connect() as sock,
    ):
        reader = Reader(sock)
        sock.sendall(get())
        assert reader.response().status == 200
        assert reader.at_eof()  # no 408: no request had begun


class BodyReader:
    """Reads the request body; optionally starts its response first."""

    def __init__(self, respond_first: bool) -> None:
        self.respond_first = respond_first
        self.messages: list[dict[str, Any]] = []
        self.done = threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        try:
            if self.respond_first:
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"started", "more_body": True})
            while True:
                message = await receive()
                self.messages.append(message)
                if message["type"] != "http.request" or not message.get("more_body"):
                    break
            if self.messages[-1]["type"] == "http.request":
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"whole"})
        finally:
            self.done.set()


def test_a_stalled_request_body_gets_408(backend: Backend) -> None:
    app = BodyReader(respond_first=False)
    with serving(app, backend, timeout_request_body=0.3) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 408
        assert reader.at_eof()
        assert app.done.wait(TIMEOUT)
    assert app.messages[-1] == {"type": "http.disconnect"}  # the app was told


def test_a_stalled_request_body_after_the_response_started_closes(backend: Backend) -> None:
    app = BodyReader(respond_first=True)
    with serving(app, backend, timeout_request_body=0.3) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello")
        reader = Reader(sock)
        head = reader.head()
        assert head.status == 200  # the response that had started...
        assert reader.read_until_eof() == b"7\r\nstarted\r\n"  # ... then the close, mid-body
        assert app.done.wait(TIMEOUT)
    assert app.messages[-1] == {"type": "http.disconnect"}


def test_the_body_timer_does_not_count_while_the_app_is_not_reading(backend: Backend) -> None:
    """Reading pauses when the app leaves a large body unread: the client is not slow."""
    gates: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    waiting = threading.Event()

    async def late_reader(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        gate = asyncio.Event()
        gates.append((asyncio.get_running_loop(), gate))
        waiting.set()
        await gate.wait()
        size = 0
        while True:
            message = await receive()
            size += len(message.get("body", b""))
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % size})

    body = b"x" * (4 << 20)
    with (
        serving(late_reader, backend, timeout_request_body=1.0) as server,
        server.connect() as sock,
    ):
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body))
        sender = threading.Thread(target=sock.sendall, args=(body,), daemon=True)
        sender.start()
        assert waiting.wait(TIMEOUT)
        time.sleep(2.5)  # body timeouts come and go while the server holds the body back
        loop, gate = gates[0]
        loop.call_soon_threadsafe(gate.set)
        response = Reader(sock).response()
        sender.join(TIMEOUT)
    assert response.status == 200
    assert response.body == b"%d" % len(body)


def test_a_client_that_does_not_read_is_dropped_and_send_raises(backend: Backend) -> None:
    outcome: list[str] = []
    done = threading.Event()

    async def firehose(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        chunk = b"x" * 65536
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            for _ in range(4096):  # 256 MiB: far more than any socket buffer holds
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            outcome.append("sent everything")
        except ClientDisconnected:
            outcome.append("ClientDisconnected")
        finally:
            done.set()

    with serving(firehose, backend, timeout_send=0.3) as server:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(TIMEOUT)
        sock.connect(("127.0.0.1", server.port))
        with sock:
            sock.sendall(get())
            assert done.wait(TIMEOUT), "the blocked send was never ended"
    assert outcome == ["ClientDisconnected"]


def test_a_slow_reader_that_keeps_reading_is_not_dropped(backend: Backend) -> None:
    """Progress, however slow, re-arms the send timer."""
    size = 1 << 20

    async def big(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(size // 65536):
            await send({"type": "http.response.body", "body": b"y" * 65536, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serving(big, backend, timeout_send=0.2) as server, server.connect() as sock:
        sock.sendall(get())
        got = bytearray()
        deadline = time.monotonic() + TIMEOUT
        while not got.endswith(b"\r\n0\r\n\r\n"):
            time.sleep(0.05)  # a slow client: one 64 KiB read per 50 ms, the pace under test
            data = sock.recv(65536)
            assert data, "dropped while reading"
            got += data
            assert time.monotonic() < deadline, "too slow to finish"
    assert got.count(b"y") == size


def wait_closed(running: RunningServer) -> None:
    """Until the server holds no connection (waited for on its own loop)."""

    async def closed() -> None:
        state = running.server.state
        assert state is not None
        while state.connections:
            state.all_closed.clear()
            if state.connections:
                await state.all_closed.wait()

    loop = running.server.loop
    assert loop is not None
    asyncio.run_coroutine_threadsafe(closed(), loop).result(TIMEOUT)


def test_no_408_follows_an_error_response(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """After an error response the connection lingers to drain the client; the header
    timer, due while it lingers, must not answer a second time."""
    options: dict[str, Any] = {"timeout_keep_alive": 60, "timeout_request_header": 0.1}
    with (
        serving(echo, backend, limit_request_field_size=1024, **options) as server,
        server.connect() as sock,
    ):
        # Refused while the head is still incomplete: it stays "pending" as the timer fires.
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000)
        reader = Reader(sock)
        # httptools refuses a head by its size from its next read on; a first read this
        # large is bounded by its own size and meets the header timer first.
        assert reader.response().status in {431, 408}
        assert reader.at_eof()  # our side is half-closed: the linger reads the client out
        wait_closed(server)  # the linger's own end, long after the header timer was due
    assert not logged_errors(caplog)


def test_a_declared_oversize_body_gets_413_before_the_app_runs(backend: Backend) -> None:
    started: list[str] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        started.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend, limit_request_body=1000) as server, server.connect() as sock:
        sock.sendall(
            b"POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 413  # no 100 Continue first: the body is never asked for
        assert reader.at_eof()
        with server.connect() as other:
            other.sendall(b"POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n")
            other.sendall(b"x" * 1000)
            assert Reader(other).response().status == 200
    assert started == ["/ok"]


def test_a_chunked_body_passing_the_limit_gets_413(backend: Backend) -> None:
    app = BodyReader(respond_first=False)
    with serving(app, backend, limit_request_body=1000) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        sock.sendall(b"200\r\n" + b"x" * 512 + b"\r\n")
        sock.sendall(b"200\r\n" + b"x" * 512 + b"\r\n")  # 1024 bytes now: over
        reader = Reader(sock)
        assert reader.response().status == 413
        assert reader.at_eof()
        assert app.done.wait(TIMEOUT)
    assert app.messages[-1] == {"type": "http.disconnect"}
