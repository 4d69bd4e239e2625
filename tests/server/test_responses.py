"""What the server makes of the app's response messages: the types it accepts (an int
enum status, bytes-like bodies, list headers), framing by size in bytes, no-body statuses,
HEAD and ``Connection: close`` from the app, and a 500 for an invalid message."""

from __future__ import annotations

import array
from http import HTTPStatus
from typing import Any

import pytest

from xloop.types import Receive, Scope, Send

from .apps import hello
from .client import Reader, exchange, get
from .harness import Backend, serving, status_when_alone

# -- status and body types ---------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_int_enum_status_is_accepted(backend: Backend, streamed: bool) -> None:
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
def test_wide_memoryview_body_is_framed_by_its_size_in_bytes(
    backend: Backend, streamed: bool
) -> None:
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


# -- invalid messages --------------------------------------------------------------------------

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
def test_invalid_response_messages_give_500_and_the_server_goes_on(
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
        assert status_when_alone(server) == 200


@pytest.mark.parametrize(
    "body",
    [bytearray(b"payload"), memoryview(b"payload")],
    ids=["bytearray", "memoryview"],
)
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_bytes_like_bodies_and_list_headers_are_accepted(
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


# -- framing -----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [204, 304])
@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
def test_no_body_status_has_no_framing_headers(
    backend: Backend, status: int, streamed: bool
) -> None:
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


def test_head_of_a_streamed_response_keeps_the_connection(backend: Backend) -> None:
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


def test_connection_close_from_the_app_ends_the_connection(backend: Backend) -> None:
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
