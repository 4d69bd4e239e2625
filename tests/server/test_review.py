"""Review tests: edge cases of the connection/ASGI cycle a demanding client or app hits.

Every test runs over real sockets on every loop and parser. Tests named after a bug
assert the correct behaviour; the report that came with this file explains each one.
"""

from __future__ import annotations

import array
import asyncio
import contextvars
import gc
import logging
import queue
import socket
import struct
import threading
from http import HTTPStatus
from typing import Any

import pytest

from xloop.server.cycle import ClientDisconnected

from .apps import echo, hello
from .client import Reader, exchange, get
from .harness import TIMEOUT, UNDER_WINE, WINE_RST_READS_AS_EOF, Backend, RunningServer, serving

Receive = Any
Send = Any
Scope = dict[str, Any]

POST_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


def _errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


def _only_connection(running: RunningServer) -> Any:
    state = running.server.state
    assert state is not None
    (protocol,) = state.connections
    return protocol


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RuntimeError("disconnected")
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _wait_until(predicate: Any, limit: float = TIMEOUT) -> None:
    """Poll a server-side condition from inside the app (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.001)


def _status_when_alone(server: RunningServer) -> int:
    """The status of a GET on a new connection once the server has let go of the earlier
    ones (with limit_concurrency=1 a connection it still holds means a 503: retry a few
    times; a leaked request count means a 503 every time)."""
    status = 0
    for _ in range(50):
        with server.connect() as sock:
            status = exchange(sock, get("/next")).status
        if status != 503:
            break
    return status


def _chunked_body(reader: Reader) -> bytes:
    body = b""
    while True:
        size = int(reader._line().split(b";")[0], 16)
        if not size:
            assert reader._line() == b""
            return body
        body += reader._exact(size)
        assert reader._line() == b""


def _read_until_eof(reader: Reader) -> bytes:
    try:
        while reader._fill():
            pass
    except ConnectionResetError:
        pass
    data = bytes(reader.buffer)
    reader.buffer.clear()
    return data


# -- request targets the scope builder cannot split --------------------------------------------

BAD_TARGETS = [b"http://[/x", b"http://a]/x", b"http://[abc]/x"]


@pytest.mark.parametrize("target", BAD_TARGETS, ids=["open-bracket", "close-bracket", "not-ip"])
def test_review_malformed_absolute_target_gets_400(backend: Backend, target: bytes) -> None:
    """Both parsers accept these targets; ``urlsplit`` raises on them in ``_build_scope``."""
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 400
        assert reader.at_eof()


def test_review_malformed_target_does_not_leak_a_concurrency_slot(backend: Backend) -> None:
    """An attacker must not be able to turn every later request into a 503."""
    with serving(hello, backend, limit_concurrency=1) as server:
        for _ in range(3):
            with server.connect() as sock:
                sock.sendall(b"GET http://[/x HTTP/1.1\r\nHost: t\r\n\r\n")
                _read_until_eof(Reader(sock))
        assert _status_when_alone(server) == 200
        assert server.server.state is not None
        assert server.server.state.active == 0


def test_review_malformed_pipelined_target_does_not_hang(backend: Backend) -> None:
    """Behind a good request, the bad one must be refused, not leave the client waiting."""
    with serving(hello, backend, timeout_keep_alive=1.0) as server, server.connect() as sock:
        sock.settimeout(4.0)
        sock.sendall(get("/ok") + b"GET http://[/x HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().status == 200
        try:
            rest = _read_until_eof(reader)
        except TimeoutError:
            pytest.fail("the connection hangs after a pipelined malformed target")
        assert rest.startswith(b"HTTP/1.1 400 ")


# -- write back-pressure across pipelined requests ---------------------------------------------


def test_review_pipelined_responses_wait_for_the_client_to_read(backend: Backend) -> None:
    """A client that pipelines requests and never reads must not grow the server's memory.

    Each 40-byte request asks for a 1 MiB response sent in one message. ``send`` only
    waits for the transport to drain after a *streamed* chunk, and the next pipelined
    request is started as soon as a response is complete, so every response ends up in
    the transport's buffer. The test waits (bounded) for the app to have been called for
    every request, then reads everything and looks at the largest buffer seen.
    """
    count = 24
    block = b"r" * (1 << 20)
    buffered: list[int] = []
    all_called = threading.Event()
    running: list[RunningServer] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        buffered.append(_only_connection(running[0]).transport.get_write_buffer_size())
        if len(buffered) == count:
            all_called.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": block})

    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sock.sendall(b"".join(get(f"/{i}") for i in range(count)))
        # Without back-pressure this is reached at once; with it, never before reading.
        all_called.wait(3.0)
        reader = Reader(sock)
        bodies = [reader.response().body for _ in range(count)]
    assert bodies == [block] * count
    assert max(buffered) <= 8 * len(block), max(buffered)


# -- work after the response -------------------------------------------------------------------


def test_review_graceful_shutdown_waits_for_work_after_the_response(backend: Backend) -> None:
    """Starlette's BackgroundTasks run inside the app call after the last body message.

    A graceful shutdown must wait for them like it waits for in-flight responses
    (uvicorn: "Waiting for background tasks to complete"), not cancel them.
    """
    outcome: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
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


_REQUEST_VAR: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "review_request", default=None
)


def test_review_context_does_not_leak_into_the_next_pipelined_request(backend: Backend) -> None:
    """Each request's app must start in a fresh context, like a request on its own."""
    seen: list[tuple[str, str | None]] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        seen.append((scope["path"], _REQUEST_VAR.get()))
        _REQUEST_VAR.set(f"user of {scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/a") + get("/b") + get("/c"))
        reader = Reader(sock)
        for _ in range(3):
            assert reader.response().status == 200
    assert seen == [("/a", None), ("/b", None), ("/c", None)]


# -- status and body types ---------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_review_int_enum_status_is_accepted(backend: Backend, streamed: bool) -> None:
    """``HTTPStatus.CREATED`` is an int (Starlette passes through what the user gave it)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": HTTPStatus.CREATED, "headers": []})
        if streamed:
            await send({"type": "http.response.body", "body": b"made", "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": b"made"})

    with serving(app, backend) as server, server.connect() as sock:
        response = exchange(sock, get())
    assert response.status == 201
    assert response.body == b"made"


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_review_wide_memoryview_body_is_framed_by_bytes(backend: Backend, streamed: bool) -> None:
    """A buffer whose items are wider than a byte: ``len()`` counts items, not bytes.

    The response must be framed by its size in bytes (or refused with a 500); a
    Content-Length or chunk size that counts items lets the rest of the body spill into
    the next response on the connection.
    """
    body = memoryview(array.array("H", [0x4141] * 4))  # 8 bytes, len() == 4

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/next":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"next"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if streamed:
            await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        else:
            await send({"type": "http.response.body", "body": body})

    with serving(app, backend) as server, server.connect() as sock:
        sock.settimeout(4.0)
        sock.sendall(get("/") + get("/next"))
        reader = Reader(sock)
        first = reader.response()
        if first.status == 500:
            return
        assert first.body == b"A" * 8
        assert reader.response().body == b"next"


START: dict[str, Any] = {"type": "http.response.start", "status": 200, "headers": []}
END: dict[str, Any] = {"type": "http.response.body", "body": b"ok"}


def _start(**changes: Any) -> dict[str, Any]:
    return {**START, **changes}


def _body(body: Any, more: bool = False) -> dict[str, Any]:
    return {"type": "http.response.body", "body": body, "more_body": more}


INVALID_MESSAGES: list[tuple[str, list[Any]]] = [
    ("status-str", [_start(status="200"), END]),
    ("status-float", [_start(status=200.0), END]),
    ("status-bool", [_start(status=True), END]),
    ("status-101", [_start(status=101), END]),
    ("status-1000", [_start(status=1000), END]),
    ("headers-none", [_start(headers=None), END]),
    ("header-name-str", [_start(headers=[("x", b"y")]), END]),
    ("header-name-space", [_start(headers=[(b"x y", b"z")]), END]),
    ("header-value-str", [_start(headers=[(b"x", "y")]), END]),
    ("header-value-bytearray", [_start(headers=[(b"x", bytearray(b"y"))]), END]),
    ("header-triple", [_start(headers=[(b"x", b"y", b"z")]), END]),
    ("content-length-word", [_start(headers=[(b"content-length", b"two")]), END]),
    ("body-str", [START, _body("text")]),
    ("body-str-streamed", [START, _body("text", more=True), END]),
    ("body-none", [START, _body(None)]),
    ("body-int", [START, _body(5)]),
    ("body-too-short", [_start(headers=[(b"content-length", b"5")]), _body(b"ok")]),
    ("second-start", [START, START, END]),
    ("body-first", [END]),
    ("unknown-type", [START, {"type": "http.response.trailers"}, END]),
    ("no-type", [START, {"body": b"x"}, END]),
    ("not-a-dict", [START, [("type", "http.response.body")], END]),
]


@pytest.mark.parametrize(
    "messages", [m for _, m in INVALID_MESSAGES], ids=[name for name, _ in INVALID_MESSAGES]
)
def test_review_invalid_messages_give_500_and_the_server_goes_on(
    backend: Backend, messages: list[Any]
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/next":
            await hello(scope, receive, send)
            return
        for message in messages:
            await send(message)

    with serving(app, backend, limit_concurrency=1) as server:
        with server.connect() as sock:
            sock.sendall(get() + get("/next"))
            reader = Reader(sock)
            response = reader.response()
            assert response.status == 500
            assert response.header(b"connection") == b"close"
            assert reader.at_eof()
        assert _status_when_alone(server) == 200


@pytest.mark.parametrize(
    "body",
    [bytearray(b"payload"), memoryview(b"payload")],
    ids=["bytearray", "memoryview"],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_review_bytes_like_bodies_and_list_headers_are_accepted(
    backend: Backend, body: Any, streamed: bool
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        headers = [[b"x-list", b"yes"]]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if streamed:
            await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": bytearray()})
        else:
            await send({"type": "http.response.body", "body": body})

    with serving(app, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(get())
            response = reader.response()
            assert response.status == 200
            assert response.header(b"x-list") == b"yes"
            assert response.body == b"payload"


# -- app failures at every stage ---------------------------------------------------------------

STAGES = ["before-receive", "after-receive", "after-start", "mid-stream", "after-response"]


@pytest.mark.parametrize("stage", STAGES)
def test_review_exception_at_each_stage(
    backend: Backend, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/next":
            await echo(scope, receive, send)
            return
        if stage == "before-receive":
            raise ValueError(stage)
        await _read_body(receive)
        if stage == "after-receive":
            raise ValueError(stage)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if stage == "after-start":
            raise ValueError(stage)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        if stage == "mid-stream":
            raise ValueError(stage)
        await send({"type": "http.response.body", "body": b""})
        raise ValueError(stage)

    with serving(app, backend, limit_concurrency=1) as server:
        with server.connect() as sock:
            sock.sendall((POST_HEAD % 4) + b"data")
            reader = Reader(sock)
            if stage == "mid-stream":
                head = reader.head()
                assert head.status == 200
                rest = _read_until_eof(reader)
                assert not rest.endswith(b"0\r\n\r\n"), "a truncated body must not look complete"
            else:
                response = reader.response()
                if stage == "after-response":
                    assert (response.status, response.body) == (200, b"part")
                    sock.sendall(get("/next"))
                    assert reader.response().status == 200  # the connection goes on
                else:
                    assert response.status == 500
                    assert reader.at_eof()
        # limit_concurrency=1: a leaked request count would turn this into a 503.
        assert _status_when_alone(server) == 200
    tracebacks = [r for r in caplog.records if r.exc_info and r.name.startswith("xloop")]
    assert len(tracebacks) == 1


def test_review_failure_mid_stream_does_not_run_the_next_pipelined_request(
    backend: Backend,
) -> None:
    """After a response is cut short the connection closes: what was pipelined behind it
    must not reach the app (a POST would run and its client never learn it did)."""
    ran: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/fail":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            raise ValueError("boom")
        ran.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(
            get("/fail") + b"POST /charge HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"
        )
        reader = Reader(sock)
        assert reader.head().status == 200
        rest = _read_until_eof(reader)
        assert b"done" not in rest
    assert ran == []


def test_review_failure_mid_stream_leaves_no_unhandled_task_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """The cut-short response must not make the server's own bookkeeping raise."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("boom")

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        assert reader.head().status == 200
        _read_until_eof(reader)
    gc.collect()  # a failed task that nobody awaited reports itself when collected
    unexpected = [
        r for r in caplog.records if r.exc_info and "Exception in ASGI application" not in r.msg
    ]
    assert unexpected == [], [r.getMessage() for r in unexpected]


# -- disconnects -------------------------------------------------------------------------------


def _reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the server sees a connection error, not an EOF."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


@pytest.mark.parametrize("started", [False, True], ids=["before-start", "streaming"])
def test_review_app_that_ends_on_disconnect_logs_no_error(
    backend: Backend, started: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """An SSE or long-poll app returns when it receives ``http.disconnect``: that is the
    normal end of such a request, not an error to log (uvicorn logs nothing)."""
    if UNDER_WINE and backend.loop == "selector":
        pytest.skip(WINE_RST_READS_AS_EOF)
    got: queue.Queue[str] = queue.Queue()
    waiting = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await _read_body(receive)
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
    assert _errors(caplog) == []


@pytest.mark.parametrize("how", ["reset", "aborted-upload"])
def test_review_send_after_disconnect_raises_client_disconnected(
    backend: Backend, how: str
) -> None:
    """ASGI 2.4: ``send`` after the client is gone raises an OSError (ClientDisconnected),
    whether the client reset the connection or closed it in the middle of its upload."""
    if UNDER_WINE and backend.loop == "selector" and how == "reset":
        pytest.skip(WINE_RST_READS_AS_EOF)
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


def test_review_long_poll_app_learns_that_the_client_closed(backend: Backend) -> None:
    """A long-poll app waits on ``receive()`` for ``http.disconnect`` before it has anything
    to send. When the client closes its socket the app must be told; otherwise it (and a
    graceful shutdown without a timeout, which waits for it) waits forever."""
    got: queue.Queue[str] = queue.Queue()
    waiting = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await _read_body(receive)
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


def test_review_half_close_after_a_complete_request_gets_the_response(backend: Backend) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        body = await _read_body(receive)
        protocol = _only_connection(running[0])
        await _wait_until(lambda: protocol.eof)  # answer only once the FIN is in
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


def test_review_half_close_after_pipelined_requests_answers_them_all(backend: Backend) -> None:
    """``printf 'GET /a ...GET /b ...' | nc -N``: every complete request gets its answer."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        protocol = _only_connection(running[0])
        await _wait_until(lambda: protocol.eof)
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


# -- flow control ------------------------------------------------------------------------------


def test_review_slow_stream_with_a_pipelined_burst_behind_it(backend: Backend) -> None:
    """Reading pauses behind a slow response and resumes after it: no stall, all answered."""
    release = threading.Event()
    count = 200

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        body = await _read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/slow":
            for part in (b"s", b"l", b"o"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, release.wait, TIMEOUT)
        await send({"type": "http.response.body", "body": body or scope["path"].encode()})

    burst = b"".join(
        get(f"/{i}") if i % 2 else POST_HEAD % 1000 + bytes([65 + i % 26]) * 1000
        for i in range(count)
    )
    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/slow"))
        reader = Reader(sock)
        assert reader.head().status == 200
        sender = threading.Thread(target=sock.sendall, args=(burst,))
        sender.start()
        release.set()
        assert _chunked_body(reader) == b"slo/slow"
        bodies = [reader.response().body for _ in range(count)]
        sender.join(TIMEOUT)
    assert bodies == [
        f"/{i}".encode() if i % 2 else bytes([65 + i % 26]) * 1000 for i in range(count)
    ]


def test_review_large_body_read_slowly_is_not_buffered_whole(backend: Backend) -> None:
    """While the app does not read, the server stops reading: what it holds stays bounded,
    and reading resumes as the app reads (no stall)."""
    size = 8 << 20
    held: list[int] = []
    running: list[RunningServer] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        protocol = _only_connection(running[0])
        total = 0
        while True:
            await _wait_until(lambda: protocol.read_paused or protocol.cycle.body_received)
            message = await receive()
            held.append(len(message["body"]))
            total += len(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % total})

    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sender = threading.Thread(target=sock.sendall, args=(POST_HEAD % size + b"b" * size,))
        sender.start()
        response = Reader(sock).response()
        sender.join(TIMEOUT)
    assert response.body == b"%d" % size
    assert max(held) <= (1 << 20), max(held)


# -- answering before the body -----------------------------------------------------------------


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_review_early_answer_closes_as_announced(backend: Backend, framing: str) -> None:
    """The app answers before the body is in: ``Connection: close``, then the close; what
    the client sends after (more body, another request) never reaches the app."""
    paths: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        paths.append(scope["path"])
        await send({"type": "http.response.start", "status": 413, "headers": []})
        await send({"type": "http.response.body", "body": b"too large"})

    if framing == "chunked":
        head, rest = CHUNKED_HEAD + b"5\r\nhello\r\n", b"0\r\n\r\n"
    else:
        head, rest = POST_HEAD % 10 + b"hello", b"world"
    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(head)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 413
        assert response.header(b"connection") == b"close"
        assert response.body == b"too large"
        try:
            sock.sendall(rest + get("/smuggled"))
        except OSError:
            pass
        assert _read_until_eof(reader) == b""
    assert paths == ["/"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_review_unread_complete_body_keeps_the_connection(backend: Backend, framing: str) -> None:
    body = CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n\r\n" if framing == "chunked" else POST_HEAD % 5
    if framing != "chunked":
        body += b"hello"
    with serving(hello, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(body + get())
        first, second = reader.response(), reader.response()
    assert first.header(b"connection") is None
    assert first.body == second.body == b"Hello, world!"


# -- Expect: 100-continue ----------------------------------------------------------------------


def test_review_expect_continue_with_a_chunked_body(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        assert reader.head().status == 100
        sock.sendall(b"3\r\nabc\r\n0\r\n\r\n")
        response = reader.response()
        assert response.body == b"abc"
        sock.sendall(get("/again"))
        assert reader.response().header(b"x-path") == b"/again"


def test_review_expect_continue_body_sent_without_waiting(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        sock.sendall(head + b"hello" + get("/next"))
        assert reader.response().body == b"hello"
        assert reader.response().header(b"x-path") == b"/next"


def test_review_expect_continue_when_the_app_starts_the_response_first(backend: Backend) -> None:
    """The head is held until the first body message, so nothing has gone out when the app
    asks for the body: the 100 must still be sent, or a client waiting for it stalls."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = await _read_body(receive)
        await send({"type": "http.response.body", "body": body})

    with serving(app, backend) as server, server.connect() as sock:
        sock.settimeout(3.0)
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        try:
            interim = reader.head()
        except TimeoutError:
            pytest.fail("neither 100 Continue nor a response: the client waits forever")
        assert interim.status == 100
        sock.sendall(b"hello")
        assert reader.response().body == b"hello"


# -- timers ------------------------------------------------------------------------------------


def test_review_keep_alive_timer_spares_a_busy_connection(backend: Backend) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(0.5)  # the app's own work: longer than the keep-alive timeout
        await send({"type": "http.response.body", "body": b"b"})

    with serving(app, backend, timeout_keep_alive=0.1) as server, server.connect() as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(get())
            assert reader.response().body == b"ab"
        assert reader.at_eof()  # idle afterwards: closed by the timer


@pytest.mark.parametrize("when", ["first", "after-a-request"])
def test_review_slowloris_is_closed_by_the_idle_timer(backend: Backend, when: str) -> None:
    """A head that trickles in never makes the connection busy: the request-header timer,
    counted from accept or from the end of the previous response, answers 408 and closes."""
    with (
        serving(echo, backend, timeout_keep_alive=60, timeout_request_header=0.2) as server,
        server.connect() as sock,
    ):
        reader = Reader(sock)
        if when == "after-a-request":
            sock.sendall(get())
            assert reader.response().status == 200
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        sock.sendall(b"a")
        assert reader.response().status == 408
        assert reader.at_eof()


# -- framing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_review_no_body_statuses(backend: Backend, status: int, streamed: bool) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": status, "headers": []})
        if streamed:
            await send({"type": "http.response.body", "body": b"", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serving(app, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(get() + b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get())
        for _ in range(3):
            response = reader.response()
            assert response.status == status
            assert response.header(b"transfer-encoding") is None
            assert response.header(b"content-length") is None
        sock.sendall(get())
        assert reader.response().status == status


def test_review_head_of_a_streamed_response(backend: Backend) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"stream", "more_body": True})
        await send({"type": "http.response.body", "body": b"ed"})

    with serving(app, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get())
        head = reader.response(head_request=True)
        assert head.status == 200
        assert head.header(b"connection") is None
        assert reader.response().body == b"streamed"


def test_review_connection_close_from_the_app(backend: Backend) -> None:
    paths: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        paths.append(scope["path"])
        headers = [(b"Connection", b"Close")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"bye", "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/a") + get("/b"))
        reader = Reader(sock)
        response = reader.response()
        assert response.body == b"bye"
        assert [v.lower() for v in response.header_list(b"connection")] == [b"close"]
        assert reader.at_eof()
    assert paths == ["/a"]


@pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keep-alive"])
def test_review_http10_client(backend: Backend, keep_alive: bool) -> None:
    extra = b"Connection: keep-alive\r\n" if keep_alive else b""
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(b"POST /p HTTP/1.0\r\nContent-Length: 3\r\n" + extra + b"\r\nabc")
        reader = Reader(sock)
        response = reader.response()
        assert response.body == b"abc"
        assert response.header(b"transfer-encoding") is None
        if response.header(b"connection") == b"keep-alive":
            sock.sendall(b"GET /q HTTP/1.0\r\n\r\n")
            assert reader.response().header(b"x-path") == b"/q"
        assert reader.at_eof()


# -- shutdown and lifespan ---------------------------------------------------------------------


def test_review_graceful_shutdown_while_streaming(backend: Backend) -> None:
    release = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
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
        body = _read_until_eof(reader)
        server.join()
    assert body == b"1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n"


def test_review_lifespan_state_is_a_copy_per_request(backend: Backend) -> None:
    seen: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
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


# -- framing of what the client sends ----------------------------------------------------------


def test_review_http10_chunked_request_closes_the_connection(backend: Backend) -> None:
    """RFC 9112 section 6.1: Transfer-Encoding in an HTTP/1.0 request is faulty framing;
    the server must close after it, whatever ``Connection: keep-alive`` says (an HTTP/1.0
    intermediary does not frame it the same way: what follows could be smuggled)."""
    paths: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        paths.append(scope["path"])
        await echo(scope, receive, send)

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(
            b"POST /a HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n"
            b"GET /smuggled HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        )
        sock.settimeout(4.0)
        reader = Reader(sock)
        reader.response()
        try:
            rest = _read_until_eof(reader)
        except TimeoutError:
            rest = b"<still open>"
    assert rest == b""
    assert "/smuggled" not in paths


def test_review_body_that_looks_like_a_head_does_not_fail_the_next_request(
    backend: Backend,
) -> None:
    """A request body is data: text in it that looks like a request head with two
    Content-Length fields must not get the *next* request on the connection refused."""
    fake = b"GET /x HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n"
    with serving(echo, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(POST_HEAD % len(fake) + fake)
        assert reader.response().body == fake
        sock.sendall(b"GET /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\n\r\nq")
        response = reader.response()
    assert response.status == 200
    assert response.body == b"q"


def test_review_connect_request_is_not_blamed_on_the_app(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """Any client can send CONNECT. Whatever the server does with it (refuse it, or let
    the app answer), a plain response from the app must not become a 500 with an ERROR
    log saying the app sent an invalid response."""
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
    assert response.status != 500
    assert _errors(caplog) == []
