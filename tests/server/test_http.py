"""HTTP/1.1 behaviour over real sockets, on every loop and parser available."""

from __future__ import annotations

import asyncio
import contextvars
import json
import socket
import threading
from typing import Any

import pytest

from xloop.loops import IS_WINDOWS
from xloop.types import Receive, Scope, Send

from .apps import Recorder, echo, hello, read_body, scope_json
from .client import POST_HEAD, Reader, exchange, get
from .harness import TIMEOUT, Backend, needs, serving


def test_hello_world(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        response = exchange(sock, get())
    assert response.status == 200
    assert response.reason == b"OK"
    assert response.body == b"Hello, world!"
    assert response.header(b"content-length") == b"13"
    assert response.header(b"content-type") == b"text/plain"
    assert response.header(b"server") == b"xloop"
    assert response.header(b"date") is not None
    assert response.header(b"transfer-encoding") is None


def test_keep_alive_serves_many_requests_on_one_connection(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        for number in range(5):
            sock.sendall(get(f"/n{number}"))
            response = reader.response()
            assert response.status == 200
            assert response.header(b"x-path") == f"/n{number}".encode()
            assert response.header(b"connection") is None


def test_pipelined_requests_are_answered_in_order(backend: Backend) -> None:
    body = b"x" * 1000
    burst = (
        get("/a")
        + b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n"
        + body
        + b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        + get("/d")
    )
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(burst)
        reader = Reader(sock)
        responses = [reader.response() for _ in range(4)]
    assert [r.header(b"x-path") for r in responses] == [b"/a", b"/b", b"/c", b"/d"]
    assert [r.body for r in responses] == [b"", body, b"abc", b""]


def test_empty_lines_before_a_request_line_are_ignored(backend: Backend) -> None:
    """RFC 9112 section 2.2: a CRLF before a request line, at the connection's start or
    after a request and its body, is skipped on every parser (h11 alone would say 400)."""
    post = b"POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(b"\r\n" + get("/a") + b"\r\n" + post + b"\r\n\r\n" + get("/c"))
        reader = Reader(sock)
        responses = [reader.response() for _ in range(3)]
        sock.sendall(b"\r\n")
        sock.sendall(get("/d"))
        responses.append(reader.response())
    assert [r.status for r in responses] == [200] * 4
    assert [r.header(b"x-path") for r in responses] == [b"/a", b"/b", b"/c", b"/d"]
    assert responses[1].body == b"ok"


def test_many_pipelined_requests_in_one_write(backend: Backend) -> None:
    count = 300
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(b"".join(get(f"/{i}") for i in range(count)))
        reader = Reader(sock)
        paths = [reader.response().header(b"x-path") for _ in range(count)]
    assert paths == [f"/{i}".encode() for i in range(count)]


async def whole_or_streamed(scope: Scope, receive: Receive, send: Send) -> None:
    """``/stream``: a body in three messages; any other path: one message, no waiting."""
    if scope["type"] != "http":
        return
    path = scope["path"].encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x-path", path)]})
    if scope["path"] == "/stream":
        for part in (b"one ", b"two "):
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b"three"})
    elif scope["path"] == "/big":  # more than the server gathers before writing
        for part in (b"a", b"b", b"c", b"d"):
            await send({"type": "http.response.body", "body": part * 30_000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": path})


def test_responses_to_one_read_keep_their_order_whatever_writes_them(backend: Backend) -> None:
    """Responses an app produced at once (on 3.12+ written a loop turn later, together) go
    out before a streamed response's first chunk and before the close that follows a
    ``Connection: close`` request, all pipelined in one write."""
    close = b"GET /last HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n"
    burst = get("/a") + get("/b") + get("/stream") + get("/c") + get("/big") + get("/d") + close
    with serving(whole_or_streamed, backend) as server, server.connect() as sock:
        sock.sendall(burst)
        reader = Reader(sock)
        responses = [reader.response() for _ in range(7)]
        assert reader.at_eof()
    big = b"".join(part * 30_000 for part in (b"a", b"b", b"c", b"d"))
    bodies = [b"/a", b"/b", b"one two three", b"/c", big, b"/d", b"/last"]
    assert [r.body for r in responses] == bodies
    assert responses[2].header(b"transfer-encoding") == b"chunked"
    assert responses[6].header(b"connection") == b"close"


def test_a_chunk_goes_out_while_the_app_waits(backend: Backend) -> None:
    """Chunks sent one after another go out together, but never wait for the response's
    end: one sent before the app waits (server-sent events, long polls) is written then."""
    sent_first = threading.Event()
    read_first = threading.Event()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        sent_first.set()
        # Waits, without blocking the loop, for the client to have read the first event.
        await asyncio.get_running_loop().run_in_executor(None, read_first.wait, TIMEOUT)
        assert read_first.is_set(), "the first event never reached the client"
        await send({"type": "http.response.body", "body": b"data: 2\n\n"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/events"))
        reader = Reader(sock)
        head = reader.head()
        assert head.header(b"transfer-encoding") == b"chunked"
        assert reader.chunk() == b"data: 1\n\n"
        read_first.set()
        assert reader.chunk() == b"data: 2\n\n"
        assert reader.chunk() == b""
    assert sent_first.is_set()


def test_each_app_runs_as_a_task_of_its_own(backend: Backend) -> None:
    """An app that answers without waiting still runs in an asyncio Task (started eagerly
    on 3.12+): ``current_task()`` names it, one per request, pipelined or not. xloop made
    it, on a loop without a task factory: it is named ``xloop.request``."""
    tasks: list[asyncio.Task[Any] | None] = []
    factories: list[object] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        tasks.append(asyncio.current_task())
        factories.append(asyncio.get_running_loop().get_task_factory())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/a") + get("/b"))
        reader = Reader(sock)
        assert [reader.response().status for _ in range(2)] == [200, 200]
        assert exchange(sock, get("/c")).status == 200
    assert len(tasks) == 3
    assert all(isinstance(task, asyncio.Task) for task in tasks)
    assert len({id(task) for task in tasks}) == 3
    for task, factory in zip(tasks, factories, strict=True):
        assert task is not None
        assert factory is not None or task.get_name() == "xloop.request"


def test_a_task_factory_the_app_sets_makes_its_tasks(backend: Backend) -> None:
    """xloop makes each app's Task itself (no ``loop.create_task`` call), unless the loop
    has a task factory: one the app set in its lifespan startup (instrumentation, context
    propagation) makes every request's task from then on, pipelined or not."""
    made: list[asyncio.Task[Any]] = []
    ran_in: list[asyncio.Task[Any] | None] = []
    unsupported: list[BaseException] = []

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        task = asyncio.Task(coro, loop=loop, **kwargs)
        made.append(task)
        return task

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    try:
                        asyncio.get_running_loop().set_task_factory(factory)
                    except (AttributeError, NotImplementedError) as exc:  # pragma: no cover
                        unsupported.append(exc)
                    await send({"type": "lifespan.startup.complete"})
                else:
                    asyncio.get_running_loop().set_task_factory(None)
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        ran_in.append(asyncio.current_task())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend) as server, server.connect() as sock:
        if unsupported:  # pragma: no cover - every loop here has one
            pytest.skip(f"{backend.id} has no task factory: {unsupported[0]!r}")
        sock.sendall(get("/a") + get("/b"))
        reader = Reader(sock)
        assert [reader.response().status for _ in range(2)] == [200, 200]
        assert exchange(sock, get("/c")).status == 200
        assert len(ran_in) == 3
        assert all(any(task is mine for mine in made) for task in ran_in)


_REQUEST_VAR: contextvars.ContextVar[str | None] = contextvars.ContextVar("request", default=None)


def test_context_does_not_leak_into_the_next_pipelined_request(backend: Backend) -> None:
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


@pytest.mark.parametrize("size", [0, 1, 70_000, 1_000_000])
def test_content_length_body(backend: Backend, size: int) -> None:
    body = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    head = f"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {size}\r\n\r\n".encode()
    with serving(echo, backend) as server, server.connect() as sock:
        response = exchange(sock, head + body)
    assert response.status == 200
    assert response.body == body


def test_chunked_body_in_pieces(backend: Backend) -> None:
    pieces = [b"5\r\nhello\r\n", b"1", b"0\r\n0123456789abcdef\r\n", b"0\r\n", b"\r\n"]
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in pieces:
            sock.sendall(piece)
        response = Reader(sock).response()
    assert response.body == b"hello0123456789abcdef"


def test_body_that_looks_like_a_head_does_not_fail_the_next_request(backend: Backend) -> None:
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


def test_head_has_headers_but_no_body(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n" + get("/"))
        reader = Reader(sock)
        head = reader.response(head_request=True)
        after = reader.response()
    assert head.status == 200
    assert head.header(b"content-length") == b"13"
    assert after.body == b"Hello, world!"  # nothing of the HEAD body leaked in between


def test_connection_close_is_honoured(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(get(extra="Connection: close\r\n"))
        reader = Reader(sock)
        response = reader.response()
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()


def test_http10_closes_unless_keep_alive(backend: Backend) -> None:
    with serving(hello, backend) as server:
        with server.connect() as sock:
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            reader = Reader(sock)
            response = reader.response()
            assert response.body == b"Hello, world!"
            assert reader.at_eof()
        with server.connect() as sock:
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            reader = Reader(sock)
            first = reader.response()
            assert first.body == b"Hello, world!"
            # every parser: h11 reads the request, xloop's writer answers it
            assert first.header(b"connection") == b"keep-alive"
            sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            assert reader.response().body == b"Hello, world!"
            assert reader.at_eof()  # that one did not ask to be kept alive


def test_http10_streaming_response_is_close_delimited(backend: Backend) -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"one", "more_body": True})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"two"})  # type: ignore[operator]

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
        response = Reader(sock).response()
    assert response.header(b"transfer-encoding") is None
    assert response.body == b"onetwo"


@pytest.mark.parametrize("keep_alive", [False, True], ids=["close", "keep-alive"])
def test_http10_post_is_answered_without_chunking(backend: Backend, keep_alive: bool) -> None:
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


def test_streamed_response_is_chunked(backend: Backend) -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        for part in (b"a", b"", b"bc", b"d" * 100_000):
            await send({"type": "http.response.body", "body": part, "more_body": True})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get() + get())
        reader = Reader(sock)
        first, second = reader.response(), reader.response()
    assert first.chunked
    assert first.body == second.body == b"abc" + b"d" * 100_000


def test_large_response_respects_write_flow_control(backend: Backend) -> None:
    """``send`` waits while the transport buffer is full: it never grows without bound."""
    block = bytes(range(256)) * 256  # 64 KiB
    blocks = 256  # 16 MiB: more than the kernel buffers on loopback
    buffered: list[int] = []
    running: list[object] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        server = running[0]
        (protocol,) = server.server.state.connections  # type: ignore[attr-defined]
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        for _ in range(blocks):
            await send({"type": "http.response.body", "body": block, "more_body": True})  # type: ignore[operator]
            buffered.append(protocol.transport.get_write_buffer_size())
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]

    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        response = exchange(sock, get())
    assert response.body == block * blocks
    assert len(buffered) == blocks
    assert max(buffered) <= 8 * len(block), max(buffered)


def test_expect_100_continue_when_the_app_reads(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        interim = reader.head()
        assert interim.status == 100
        sock.sendall(b"hello")
        response = reader.response()
    assert response.status == 200
    assert response.body == b"hello"


def test_expect_100_continue_not_sent_when_the_app_does_not_read(backend: Backend) -> None:
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        response = reader.head()
        assert response.status == 200  # straight to the final response, no 100
        assert response.header(b"connection") == b"close"
        reader.response  # noqa: B018 - the body follows; the connection then closes
        assert reader._exact(13) == b"Hello, world!"
        assert reader.at_eof()


def test_expect_100_continue_with_a_chunked_body(backend: Backend) -> None:
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


def test_expect_100_continue_body_sent_without_waiting(backend: Backend) -> None:
    with serving(echo, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        sock.sendall(head + b"hello" + get("/next"))
        assert reader.response().body == b"hello"
        assert reader.response().header(b"x-path") == b"/next"


def test_expect_100_continue_when_the_app_starts_the_response_first(backend: Backend) -> None:
    """The head is held until the first body message, so nothing has gone out when the app
    asks for the body: the 100 must still be sent, or a client waiting for it stalls."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        body = await read_body(receive)
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


CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_answer_before_the_whole_body_closes_the_connection(backend: Backend, framing: str) -> None:
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
        assert reader.read_until_eof() == b""
    assert paths == ["/"]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_unread_complete_body_keeps_the_connection(backend: Backend, framing: str) -> None:
    body = CHUNKED_HEAD + b"5\r\nhello\r\n0\r\n\r\n" if framing == "chunked" else POST_HEAD % 5
    if framing != "chunked":
        body += b"hello"
    with serving(hello, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(body + get())
        first, second = reader.response(), reader.response()
    assert first.header(b"connection") is None
    assert first.body == second.body == b"Hello, world!"


def test_scope(backend: Backend) -> None:
    target = "/caf%C3%A9/a%2Fb?x=1&y=%20"
    with serving(scope_json, backend, root_path="/mount") as server, server.connect() as sock:
        response = exchange(sock, get(target, extra="X-Custom: Value\r\n"))
        client_port = sock.getsockname()[1]
    scope = json.loads(response.body)
    assert scope["type"] == "http"
    assert scope["asgi"]["version"] == "3.0"
    assert scope["http_version"] == "1.1"
    assert scope["method"] == "GET"
    assert scope["scheme"] == "http"
    assert scope["root_path"] == "/mount"
    assert scope["path"] == "/mount/café/a/b"
    assert scope["raw_path"] == "/mount/caf%C3%A9/a%2Fb"
    assert scope["query_string"] == "x=1&y=%20"
    assert ["x-custom", "Value"] in scope["headers"]
    assert ["host", "test"] in scope["headers"]
    assert scope["client"] == ["127.0.0.1", client_port]
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["state"] == {}


def test_non_ascii_root_path(backend: Backend) -> None:
    with serving(scope_json, backend, root_path="/café") as server, server.connect() as sock:
        scope = json.loads(exchange(sock, get("/x")).body)
    assert scope["root_path"] == "/café"
    assert scope["path"] == "/café/x"
    assert scope["raw_path"] == "/caf%C3%A9/x"


def test_absolute_form_target(backend: Backend) -> None:
    with serving(scope_json, backend) as server, server.connect() as sock:
        response = exchange(sock, b"GET http://example.com/p/q?z=9 HTTP/1.1\r\nHost: e\r\n\r\n")
    scope = json.loads(response.body)
    assert scope["path"] == "/p/q"
    assert scope["query_string"] == "z=9"


def test_proxy_headers_from_a_trusted_peer(backend: Backend) -> None:
    extra = "X-Forwarded-For: 203.0.113.7, 127.0.0.1\r\nX-Forwarded-Proto: https\r\n"
    with serving(scope_json, backend) as server, server.connect() as sock:
        trusted = json.loads(exchange(sock, get(extra=extra)).body)
    with (
        serving(scope_json, backend, forwarded_allow_ips="10.0.0.1") as server,
        server.connect() as sock,
    ):
        untrusted = json.loads(exchange(sock, get(extra=extra)).body)
    assert trusted["client"][0] == "203.0.113.7"
    assert trusted["scheme"] == "https"
    assert untrusted["client"][0] == "127.0.0.1"
    assert untrusted["scheme"] == "http"


def test_extra_and_suppressed_default_headers(backend: Backend) -> None:
    with (
        serving(
            hello,
            backend,
            header=["X-Served-By: test", "Alt-Svc: none"],
            server_header=False,
            date_header=False,
        ) as server,
        server.connect() as sock,
    ):
        response = exchange(sock, get())
    assert response.header(b"x-served-by") == b"test"
    assert response.header(b"alt-svc") == b"none"
    assert response.header(b"server") is None
    assert response.header(b"date") is None


def test_disconnect_reaches_an_app_waiting_for_body(backend: Backend) -> None:
    recorder = Recorder()
    with serving(recorder, backend) as server:
        sock = server.connect()
        sock.sendall(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\nabc")
        first = recorder.messages.get(timeout=10)
        assert first == {"type": "http.request", "body": b"abc", "more_body": True}
        sock.close()
        assert recorder.messages.get(timeout=10) == {"type": "http.disconnect"}


def test_receive_after_the_response_gives_disconnect(backend: Backend) -> None:
    seen: list[dict[str, object]] = []

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        seen.append(await receive())  # type: ignore[operator]
        await send({"type": "http.response.start", "status": 204, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b""})  # type: ignore[operator]
        seen.append(await receive())  # type: ignore[operator]

    with serving(app, backend) as server, server.connect() as sock:
        response = exchange(sock, get())
        assert response.status == 204
        sock.sendall(get())
        assert Reader(sock).response().status == 204
    assert seen[0] == {"type": "http.request", "body": b"", "more_body": False}
    assert seen[1] == {"type": "http.disconnect"}


def test_keep_alive_timeout_closes_idle_connections(backend: Backend) -> None:
    with serving(hello, backend, timeout_keep_alive=0.2) as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(get())
        assert reader.response().status == 200
        assert reader.at_eof()  # closed by the server, within the socket timeout


def test_keep_alive_timeout_spares_a_busy_connection(backend: Backend) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"a", "more_body": True})
        await asyncio.sleep(0.5)  # the app's own work: longer than the keep-alive timeout
        await send({"type": "http.response.body", "body": b"b"})

    with serving(app, backend, timeout_keep_alive=0.1) as server, server.connect() as sock:
        reader = Reader(sock)
        # Both at once: the second is there when the first ends, so the connection is
        # never idle between them, whenever this thread runs again (on a loaded machine
        # a client that sent it after reading the first could be later than the timeout).
        sock.sendall(get() + get())
        for _ in range(2):
            assert reader.response().body == b"ab"
        assert reader.at_eof()  # idle afterwards: closed by the timer


@pytest.mark.parametrize("when", ["first", "after-a-request"])
def test_slowloris_head_is_closed_by_the_idle_timer(backend: Backend, when: str) -> None:
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


@pytest.mark.skipif(
    IS_WINDOWS, reason="--uds needs socket.AF_UNIX, which CPython does not provide on Windows"
)
def test_unix_domain_socket(backend: Backend, tmp_path: object) -> None:
    needs(backend, "unix_sockets")
    import os
    import tempfile

    from xloop import Config

    from .harness import RunningServer

    directory = tempfile.mkdtemp(prefix="xl")
    path = os.path.join(directory, "s.sock")
    config = Config(
        app=hello,
        uds=path,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        log_level="warning",
    )
    running = RunningServer(config).start()
    try:
        family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(10)
            sock.connect(path)
            response = exchange(sock, get())
        assert response.body == b"Hello, world!"
    finally:
        running.stop()
        os.rmdir(directory)
    assert not os.path.exists(path)


def test_long_poll_app_ending_on_a_half_close_logs_no_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import threading

    ended = threading.Event()

    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        while (await receive())["type"] != "http.disconnect":  # type: ignore[operator]
            pass
        ended.set()

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        sock.shutdown(socket.SHUT_WR)
        assert ended.wait(10)
        assert Reader(sock).at_eof()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
