"""Bad or suspect requests: the right 4xx/5xx, a closed connection, nothing run behind them.

Requests the parsers refuse never reach the app and log no traceback; request targets only
the scope builder cannot split are refused too; HTTP/1.0 with chunked framing and CONNECT
neither let a request be smuggled nor are blamed on the app.
"""

from __future__ import annotations

import logging

import pytest

from xloop.types import Receive, Scope, Send

from .apps import Recorder, echo, hello
from .client import Reader, get
from .harness import Backend, logged_errors, serving, status_when_alone

HOST = b"Host: t\r\n"

HEAD_ERRORS: list[tuple[str, bytes, int]] = [
    ("garbage", b"GARBAGE\r\n\r\n", 400),
    ("no-version", b"GET /\r\n\r\n", 400),
    ("space-in-header-name", b"GET / HTTP/1.1\r\nHost: t\r\nBad Header: x\r\n\r\n", 400),
    ("nul-in-header-value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x00b\r\n\r\n", 400),
    ("http-2.0", b"GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505),
    ("http-1.2", b"GET / HTTP/1.2\r\nHost: t\r\n\r\n", 505),
    ("http-3.0", b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
    ("http-4.0", b"GET / HTTP/4.0\r\nHost: t\r\n\r\n", 505),
    (
        "duplicate-content-length",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
        400,
    ),
    (
        "conflicting-content-length",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        400,
    ),
    (
        "content-length-list",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5, 5\r\n\r\nhello",
        400,
    ),
    ("content-length-plus", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: +5\r\n\r\nhello", 400),
    ("content-length-hex", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0x5\r\n\r\nhello", 400),
    ("content-length-negative", b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: -1\r\n\r\n", 400),
    (
        "content-length-and-chunked",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "transfer-encoding-gzip",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    ),
    (
        "transfer-encoding-gzip-chunked",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\n\r\n",
        501,
    ),
    ("request-target-too-long", b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 414),
    (
        "header-too-large",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n",
        431,
    ),
    ("fragment-in-target", b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("absolute-form-not-http", b"GET ftp://t/a HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("absolute-form-no-host", b"GET http:///a HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("authority-form-get", b"GET t:443 HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("asterisk-form-get", b"GET * HTTP/1.1\r\nHost: t\r\n\r\n", 400),
    ("connect", b"CONNECT t:443 HTTP/1.1\r\nHost: t:443\r\n\r\n", 501),
    ("control-in-header-value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x01b\r\n\r\n", 400),
    ("del-in-header-value", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\x7f\r\n\r\n", 400),
    ("bare-lf-line-ends", b"GET / HTTP/1.1\nHost: t\n\n", 400),
    ("obs-fold", b"GET / HTTP/1.1\r\nHost: t\r\nX: a\r\n b\r\n\r\n", 400),
    (
        "transfer-encoding-in-http-1.0",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
    ),
    (
        "too-many-headers",
        b"GET / HTTP/1.1\r\nHost: t\r\n"
        + b"".join(b"X-%d: v\r\n" % i for i in range(120))
        + b"\r\n",
        431,
    ),
]

BODY_ERRORS: list[tuple[str, bytes, int]] = [
    (
        "chunk-data-not-crlf",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
        400,
    ),
    (
        "chunk-size-0x",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0x5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk-size-space",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n 5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk-size-trailing-space",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "chunk-extension-bare-cr",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;a\rb\r\nhello\r\n0\r\n\r\n",
        400,
    ),
    (
        "control-in-trailer",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nT: \x01\r\n\r\n",
        400,
    ),
    (
        "chunk-size-plus",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n",
        400,
    ),
]


def _assert_refused(
    raw: bytes, status: int, backend: Backend, caplog: pytest.LogCaptureFixture
) -> Recorder:
    recorder = Recorder()
    caplog.set_level(logging.DEBUG, logger="xloop")
    with serving(recorder, backend) as server, server.connect() as sock:
        sock.sendall(raw)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == status, response
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]
    assert errors == []
    return recorder


@pytest.mark.parametrize(
    ("raw", "status"), [c[1:] for c in HEAD_ERRORS], ids=[c[0] for c in HEAD_ERRORS]
)
def test_bad_head_never_reaches_the_app(
    backend: Backend, raw: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = _assert_refused(raw, status, backend, caplog)
    assert recorder.calls == 0


@pytest.mark.parametrize(
    ("raw", "status"), [c[1:] for c in BODY_ERRORS], ids=[c[0] for c in BODY_ERRORS]
)
def test_bad_body_is_refused(
    backend: Backend, raw: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    recorder = _assert_refused(raw, status, backend, caplog)
    # The app may have seen the head if the body came in a later read, but it never got
    # a body it could take for complete.
    while not recorder.messages.empty():
        message = recorder.messages.get_nowait()
        assert message.get("more_body", False) or message["type"] == "http.disconnect"


def test_nothing_is_smuggled_behind_a_bad_request(backend: Backend) -> None:
    recorder = Recorder()
    smuggle = (
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: t\r\n\r\n"
    )
    with serving(recorder, backend) as server, server.connect() as sock:
        sock.sendall(smuggle)
        reader = Reader(sock)
        assert reader.response().status == 400
        assert reader.at_eof()
    assert recorder.calls == 0


def test_header_split_across_many_reads_is_bounded(backend: Backend) -> None:
    """A head that never ends is refused once it passes the limit, not buffered forever."""
    with (
        serving(Recorder(), backend, limit_request_field_size=4096) as server,
        server.connect() as sock,
    ):
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ")
        reader = Reader(sock)
        for _ in range(200):
            try:
                sock.sendall(b"v" * 1024)
            except (BrokenPipeError, ConnectionResetError):
                break
        assert reader.response().status == 431


@pytest.mark.parametrize("value", [b"a\r\nx-injected: 1", b"a\nb", b"a\x00b"])
def test_response_header_with_cr_lf_nul_is_refused(
    backend: Backend, value: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, object], receive: object, send: object) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-evil", value)]})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"body"})  # type: ignore[operator]

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 500
        assert b"x-evil" not in response.raw_head
        assert b"x-injected" not in response.raw_head
        assert reader.at_eof()


# -- request targets the scope builder cannot split --------------------------------------------

BAD_TARGETS = [b"http://[/x", b"http://a]/x", b"http://[abc]/x"]


@pytest.mark.parametrize("target", BAD_TARGETS, ids=["open-bracket", "close-bracket", "not-ip"])
def test_malformed_absolute_target_gets_400(backend: Backend, target: bytes) -> None:
    """Both parsers accept these targets; ``urlsplit`` raises on them in ``_build_scope``."""
    with serving(hello, backend) as server, server.connect() as sock:
        sock.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 400
        assert reader.at_eof()


def test_malformed_target_does_not_leak_a_concurrency_slot(backend: Backend) -> None:
    """An attacker must not be able to turn every later request into a 503."""
    with serving(hello, backend, limit_concurrency=1) as server:
        for _ in range(3):
            with server.connect() as sock:
                sock.sendall(b"GET http://[/x HTTP/1.1\r\nHost: t\r\n\r\n")
                Reader(sock).read_until_eof()
        assert status_when_alone(server) == 200
        assert server.server.state is not None
        assert server.server.state.active == 0


def test_malformed_target_pipelined_behind_a_good_request_gets_400(backend: Backend) -> None:
    """Behind a good request, the bad one must be refused, not leave the client waiting."""
    with serving(hello, backend, timeout_keep_alive=1.0) as server, server.connect() as sock:
        sock.settimeout(4.0)
        sock.sendall(get("/ok") + b"GET http://[/x HTTP/1.1\r\nHost: t\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().status == 200
        try:
            rest = reader.read_until_eof()
        except TimeoutError:
            pytest.fail("the connection hangs after a pipelined malformed target")
        assert rest.startswith(b"HTTP/1.1 400 ")


# -- requests the parsers accept but must not be taken at their word ---------------------------


def test_http10_chunked_request_closes_the_connection(backend: Backend) -> None:
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
            rest = reader.read_until_eof()
        except TimeoutError:
            rest = b"<still open>"
    assert rest == b""
    assert "/smuggled" not in paths


def test_connect_request_is_not_blamed_on_the_app(
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
    assert logged_errors(caplog) == []
