"""HTTP/1.1 behaviour over real sockets, on every loop and parser available."""

from __future__ import annotations

import json
import socket

import pytest

from xloop.loops import IS_WINDOWS

from .apps import Recorder, echo, hello, scope_json
from .client import Reader, exchange, get
from .harness import Backend, serving


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


def test_many_pipelined_requests_in_one_write(backend: Backend) -> None:
    count = 300
    with serving(echo, backend) as server, server.connect() as sock:
        sock.sendall(b"".join(get(f"/{i}") for i in range(count)))
        reader = Reader(sock)
        paths = [reader.response().header(b"x-path") for _ in range(count)]
    assert paths == [f"/{i}".encode() for i in range(count)]


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
            if backend.http == "httptools":
                # h11 does not keep HTTP/1.0 connections alive; httptools does.
                assert first.header(b"connection") == b"keep-alive"
                sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                assert reader.response().body == b"Hello, world!"
            else:
                assert reader.at_eof()


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


@pytest.mark.skipif(
    IS_WINDOWS, reason="--uds needs socket.AF_UNIX, which CPython does not provide on Windows"
)
def test_unix_domain_socket(backend: Backend, tmp_path: object) -> None:
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
