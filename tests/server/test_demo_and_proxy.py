"""The built-in demo app over real sockets, and the proxy-header trust rules."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from xloop.demo import app as demo
from xloop.server.proxy import ProxyHeaders
from xloop.types import Message, Scope
from xloop.ws import engine_available

from .client import Reader, exchange, get
from .harness import TIMEOUT, Backend, serving

ENGINES = [name for name in ("websockets", "wsproto") if engine_available(name)]


def test_demo_routes(backend: Backend) -> None:
    with serving(demo, backend, lifespan="on") as server, server.connect() as sock:
        reader = Reader(sock)
        sock.sendall(get("/"))
        assert reader.response().body == b"Hello, world!"
        sock.sendall(get("/json"))
        assert json.loads(reader.response().body) == {"message": "Hello, world!"}
        sock.sendall(
            b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Type: text/x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
        )
        echoed = reader.response()
        assert echoed.body == b"abcde"
        assert echoed.header(b"content-type") == b"text/x"
        body = b"u" * 70_000
        sock.sendall(
            b"POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        assert reader.response().body == b"70000"
        sock.sendall(get("/stream?chunks=3&size=4"))
        streamed = reader.response()
        assert streamed.chunked
        assert streamed.body == b"x" * 12
        sock.sendall(get("/stream?chunks=many"))
        assert reader.response().status == 400
        sock.sendall(get("/info?a=1"))
        info = json.loads(reader.response().body)
        assert info["path"] == "/info"
        assert info["query_string"] == "a=1"
        sock.sendall(get("/nowhere"))
        assert reader.response().status == 404
        sock.sendall(b"HEAD /json HTTP/1.1\r\nHost: t\r\n\r\n")
        assert reader.response(head_request=True).header(b"content-length") == b"28"


def test_demo_sleep_awaits_its_timer(backend: Backend) -> None:
    with serving(demo, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        started = time.perf_counter()
        sock.sendall(get("/sleep?ms=50"))
        assert reader.response().body == b"Hello, world!"
        # A timer may end early by its clock's resolution (15.6 ms on Windows), and on libuv
        # (uvloop, winloop) by up to a millisecond more than the loop iteration had run when
        # it was set: libuv counts whole milliseconds, read once per iteration.
        early = max(time.get_clock_info("monotonic").resolution, 0.005)
        assert time.perf_counter() - started >= 0.05 - early
        sock.sendall(get("/sleep?ms=soon"))
        assert reader.response().status == 400


@pytest.mark.parametrize("engine", ENGINES)
def test_demo_websocket_echo_is_counted(backend: Backend, engine: str) -> None:
    with serving(demo, backend, ws=engine) as server:
        with connect(f"ws://127.0.0.1:{server.port}/ws", open_timeout=TIMEOUT) as ws:
            for message in ("text ✓", b"\x00bytes\xff", "", b""):
                ws.send(message)
                assert ws.recv(timeout=TIMEOUT) == message
        with pytest.raises(InvalidStatus) as refused:  # no such WebSocket route: 403
            connect(f"ws://127.0.0.1:{server.port}/other", open_timeout=TIMEOUT)
        assert refused.value.response.status_code == 403
        state = server.server.state
        assert state is not None
        assert state.total_ws_messages == 4  # what the status pipe's stopped event says


def test_demo_websocket_route_as_plain_http_says_why(backend: Backend) -> None:
    with serving(demo, backend, ws="none") as server, server.connect() as sock:
        sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        response = Reader(sock).response()
        assert response.status == 426
        assert b"--ws none" in response.body


def test_demo_refuses_other_scope_types() -> None:
    import asyncio

    async def nothing() -> dict[str, object]:
        return {}

    async def ignore(message: object) -> None:
        return None

    with pytest.raises(RuntimeError, match="serves http and websocket, not 'webtransport'"):
        asyncio.run(demo({"type": "webtransport"}, nothing, ignore))


def call_demo(scope: Scope, incoming: list[Message]) -> list[Message]:
    """Run the demo app on ``scope``: ``receive()`` returns ``incoming`` in order; what it sent."""
    import asyncio

    pending = list(incoming)
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0)

    async def send(message: Message) -> None:
        sent.append(message)

    asyncio.run(demo(scope, receive, send))
    assert pending == [], "the app stopped reading early"
    return sent


def http_scope(method: str, path: str) -> Scope:
    return {"type": "http", "method": method, "path": path, "query_string": b"", "headers": []}


def test_demo_echo_stops_when_the_client_disconnects() -> None:
    sent = call_demo(
        http_scope("POST", "/echo"),
        [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.disconnect"},
        ],
    )
    assert [message["type"] for message in sent] == ["http.response.start", "http.response.body"]
    assert sent[1] == {"type": "http.response.body", "body": b"abc", "more_body": True}


def test_demo_upload_answers_nothing_when_the_client_disconnects() -> None:
    sent = call_demo(
        http_scope("PUT", "/upload"),
        [
            {"type": "http.request", "body": b"abc", "more_body": True},
            {"type": "http.disconnect"},
        ],
    )
    assert sent == []


def test_demo_lifespan_marks_state_and_ignores_unknown_messages() -> None:
    state: dict[str, Any] = {}
    sent = call_demo(
        {"type": "lifespan", "state": state},
        [
            {"type": "lifespan.startup"},
            {"type": "lifespan.something.new"},
            {"type": "lifespan.shutdown"},
        ],
    )
    assert sent == [{"type": "lifespan.startup.complete"}, {"type": "lifespan.shutdown.complete"}]
    assert state == {"demo": True}


@pytest.mark.parametrize(
    ("trusted", "peer", "expected"),
    [
        (["127.0.0.1"], "127.0.0.1", True),
        (["127.0.0.1"], "10.0.0.1", False),
        (["10.0.0.0/8"], "10.1.2.3", True),
        (["10.0.0.0/8"], "192.168.1.1", False),
        (["10.0.0.0/8"], "not-an-ip", False),
        (["*"], "203.0.113.9", True),
        (["/run/proxy.sock"], "/run/proxy.sock", True),
        (["::1"], "::1", True),
        ([" ", "127.0.0.1"], None, False),
    ],
)
def test_proxy_trust(trusted: list[str], peer: str | None, expected: bool) -> None:
    assert ProxyHeaders(trusted).trusts(peer) is expected


@pytest.mark.parametrize(
    ("trusted", "header", "client"),
    [
        (["127.0.0.1"], b"203.0.113.7, 127.0.0.1", "203.0.113.7"),
        (["127.0.0.1", "10.0.0.0/8"], b"198.51.100.1, 10.0.0.5, 127.0.0.1", "198.51.100.1"),
        (["*"], b"198.51.100.1, 10.0.0.5", "198.51.100.1"),
        (["127.0.0.1"], b"127.0.0.1", "127.0.0.1"),
        (["127.0.0.1"], b" , ", None),
    ],
)
def test_proxy_client_is_the_rightmost_untrusted(
    trusted: list[str], header: bytes, client: str | None
) -> None:
    assert ProxyHeaders(trusted).client_from(header) == client


def test_proxy_headers_can_be_switched_off(backend: Backend) -> None:
    from .apps import scope_json

    extra = "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n"
    with serving(scope_json, backend, proxy_headers=False) as server, server.connect() as sock:
        scope = json.loads(exchange(sock, get(extra=extra)).body)
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"
