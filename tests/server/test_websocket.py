"""WebSocket over real sockets, on every loop and parser here, with each engine.

Clients: websockets' sync client where a well-behaved client will do, and
:class:`~tests.server.wsclient.RawWebSocket` (websockets' sans-IO client over a plain
socket) where the test must control what goes on the wire: bad frames, unanswered pings,
a close that never comes.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import threading
import time
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi import WebSocket as FastAPIWebSocket
from fastapi import WebSocketDisconnect as FastAPIDisconnect
from starlette.applications import Starlette
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket
from starlette.websockets import WebSocketDisconnect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import Opcode
from websockets.sync.client import ClientConnection, connect

from xloop.server.cycle import ClientDisconnected
from xloop.ws import engine_available

from ..ws._support import CLOSE, TEXT, close_payload, frame
from .client import Reader
from .harness import TIMEOUT, Backend, RunningServer, needs, serving, wait_until
from .wsclient import RawWebSocket

Scope = dict[str, Any]
ENGINES = [name for name in ("websockets", "wsproto") if engine_available(name)]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each WebSocket engine installed here."""
    result: str = request.param
    return result


def client(server: RunningServer, path: str = "/", **options: Any) -> ClientConnection:
    connection: ClientConnection = connect(
        f"ws://127.0.0.1:{server.port}{path}",
        open_timeout=TIMEOUT,
        close_timeout=TIMEOUT,
        **options,
    )
    return connection


def upgrade_request(path: str = "/", *, key: str | None = None, extra: str = "") -> bytes:
    key = key or base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    ).encode()


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.levelno >= logging.ERROR]


class Echo:
    """Accepts (optionally a subprotocol and headers), echoes, records the scope and the
    disconnect."""

    def __init__(
        self, subprotocol: str | None = None, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        self.subprotocol = subprotocol
        self.headers = headers or []
        self.scopes: list[Scope] = []
        self.disconnects: list[dict[str, Any]] = []
        self.done = threading.Event()
        self.accepted = threading.Event()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            scope["state"]["answer"] = 42
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        self.scopes.append(scope)
        assert (await receive()) == {"type": "websocket.connect"}
        await send(
            {"type": "websocket.accept", "subprotocol": self.subprotocol, "headers": self.headers}
        )
        self.accepted.set()
        try:
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    self.disconnects.append(message)
                    return
                data = {key: message[key] for key in ("text", "bytes") if message.get(key)}
                await send({"type": "websocket.send", **(data or {"text": ""})})
        finally:
            self.done.set()


# -- the happy path ----------------------------------------------------------------------------


def test_echo_and_the_scope(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Echo(subprotocol="v2", headers=[(b"x-accepted", b"yes")])
    with serving(app, backend, ws=engine, root_path="/api", lifespan="on") as server:
        with client(
            server,
            "/chat?room=1",
            subprotocols=["chat", "v2"],
            additional_headers={"X-Test": "1"},
        ) as ws:
            assert ws.subprotocol == "v2"
            assert ws.response is not None
            assert ws.response.headers["x-accepted"] == "yes"
            assert ws.response.headers["server"] == "xloop"
            ws.send("héllo ✓")
            assert ws.recv(timeout=TIMEOUT) == "héllo ✓"
            ws.send(b"\x00\xff" * 50_000)
            assert ws.recv(timeout=TIMEOUT) == b"\x00\xff" * 50_000
        assert app.done.wait(TIMEOUT)
        state = server.server.state
        assert state is not None
        wait_until(lambda: not state.connections)
    (scope,) = app.scopes
    assert scope["type"] == "websocket"
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "ws"
    assert scope["path"] == "/api/chat"
    assert scope["raw_path"] == b"/api/chat"
    assert scope["root_path"] == "/api"
    assert scope["query_string"] == b"room=1"
    assert scope["subprotocols"] == ["chat", "v2"]
    assert scope["extensions"] == {"websocket.http.response": {}}
    assert scope["state"] == {"answer": 42}
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ("127.0.0.1", server.port)
    assert (b"x-test", b"1") in scope["headers"]
    assert "method" not in scope
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 1000, "reason": ""}]
    assert not errors(caplog)


def test_proxy_headers_give_wss_and_the_client(backend: Backend, engine: str) -> None:
    app = Echo()
    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.handshake(headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.1.2.3"})
        ws.send("x")
        assert ws.next_message() == "x"
    (scope,) = app.scopes
    assert scope["scheme"] == "wss"
    assert scope["client"] == ("10.1.2.3", 0)


def test_a_frame_in_the_same_read_as_the_head(backend: Backend, engine: str) -> None:
    """The bytes read behind the upgrade request's head go to the WebSocket."""
    with serving(Echo(), backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        response = ws.handshake(extra=frame(TEXT, b"early bird"))
        assert response.status_code == 101
        assert ws.next_message() == "early bird"


def test_compressed_messages(backend: Backend, engine: str) -> None:
    with (
        serving(Echo(), backend, ws=engine) as server,
        RawWebSocket(server.port, deflate=True) as ws,
    ):
        response = ws.handshake()
        assert "permessage-deflate" in response.headers["sec-websocket-extensions"]
        ws.send("compress me " * 1000)
        assert ws.next_message() == "compress me " * 1000


def test_close_codes_and_reasons_both_ways(backend: Backend, engine: str) -> None:
    app = Echo()
    closing = threading.Event()

    async def closer(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": 4001, "reason": "done ✓"})
        closing.set()
        message = await receive()  # told at once: the app closed it
        assert message == {"type": "websocket.disconnect", "code": 4001, "reason": "done ✓"}

    with serving(app, backend, ws=engine) as server, client(server) as ws:
        ws.close(4000, "bye")
    assert app.done.wait(TIMEOUT)
    assert app.disconnects == [{"type": "websocket.disconnect", "code": 4000, "reason": "bye"}]
    with serving(closer, backend, ws=engine) as server, client(server) as ws:
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=TIMEOUT)
        assert caught.value.rcvd is not None
        assert (caught.value.rcvd.code, caught.value.rcvd.reason) == (4001, "done ✓")
    assert closing.is_set()


def test_an_app_that_returns_after_accept_closes_1000(backend: Backend, engine: str) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": "bye"})

    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.handshake()
        assert ws.next_message() == "bye"
        assert ws.close_frame() == (1000, "")
        ws.wait_eof()


# -- before accept: HTTP answers -------------------------------------------------------------


def _http_answer(server: RunningServer, request: bytes) -> tuple[Any, bool]:
    with server.connect() as sock:
        sock.sendall(request)
        reader = Reader(sock)
        response = reader.response()
        return response, reader.at_eof()


def test_close_before_accept_is_403(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    told: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.close"})
        told.append(await receive())

    with serving(app, backend, ws=engine) as server:
        response, eof = _http_answer(server, upgrade_request())
        assert response.status == 403
        assert eof
        with pytest.raises(InvalidStatus) as caught, client(server):
            pass
        assert caught.value.response.status_code == 403
    assert told[0] == {"type": "websocket.disconnect", "code": 1006, "reason": ""}
    assert not errors(caplog)


def test_returning_without_accepting_is_403_and_an_error(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")

    with serving(app, backend, ws=engine) as server:
        response, eof = _http_answer(server, upgrade_request())
    assert response.status == 403
    assert eof
    assert [r.getMessage() for r in errors(caplog)] == [
        "ASGI callable returned without accepting the WebSocket"
    ]


def test_the_denial_response_extension(backend: Backend, engine: str) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        assert "websocket.http.response" in scope["extensions"]
        await receive()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 401,
                "headers": [(b"www-authenticate", b"Basic"), (b"content-type", b"text/plain")],
            }
        )
        await send({"type": "websocket.http.response.body", "body": b"denied: ", "more_body": True})
        await send({"type": "websocket.http.response.body", "body": b"no"})

    with serving(app, backend, ws=engine) as server:
        response, eof = _http_answer(server, upgrade_request())
        assert response.status == 401
        assert response.header(b"www-authenticate") == b"Basic"
        assert response.body == b"denied: no"
        assert eof
        with pytest.raises(InvalidStatus) as caught, client(server):
            pass
        assert caught.value.response.status_code == 401


def test_an_exception_before_accept_is_500_logged_once(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        raise ValueError("boom")

    with serving(app, backend, ws=engine) as server:
        response, _ = _http_answer(server, upgrade_request())
    assert response.status == 500
    records = errors(caplog)
    assert len(records) == 1
    assert records[0].exc_info is not None


def test_an_exception_after_accept_is_1011_logged_once(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.accept"})
        await receive()
        raise ValueError("boom")

    with serving(app, backend, ws=engine) as server, client(server) as ws:
        ws.send("trigger")
        with pytest.raises(ConnectionClosed) as caught:
            ws.recv(timeout=TIMEOUT)
        assert caught.value.rcvd is not None
        assert caught.value.rcvd.code == 1011
    records = errors(caplog)
    assert len(records) == 1
    assert "Exception in ASGI application" in records[0].getMessage()


@pytest.mark.parametrize(
    ("extra", "key", "status"),
    [
        ("", "not a key", 400),
        ("", base64.b64encode(b"short").decode(), 400),
    ],
)
def test_a_bad_key_is_400(
    backend: Backend,
    engine: str,
    extra: str,
    key: str,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = Echo()
    with serving(app, backend, ws=engine) as server:
        response, eof = _http_answer(server, upgrade_request(key=key, extra=extra))
    assert response.status == status
    assert eof
    assert not app.scopes
    assert not errors(caplog)


def test_another_version_is_426(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Echo()
    request = upgrade_request().replace(b"Version: 13", b"Version: 8")
    with serving(app, backend, ws=engine) as server:
        response, _ = _http_answer(server, request)
    assert response.status == 426
    assert response.header(b"sec-websocket-version") == b"13"
    assert not app.scopes
    assert not errors(caplog)


def test_ws_none_answers_upgrades_as_plain_http(backend: Backend) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"plain"})

    with serving(app, backend, ws="none") as server, server.connect() as sock:
        sock.sendall(upgrade_request())
        response = Reader(sock).response()  # (h11 keeps the connection: no wait for its end)
    assert (response.status, response.body) == (200, b"plain")


# -- after accept: send and receive -----------------------------------------------------------


def test_send_after_the_client_closed_raises_an_oserror(backend: Backend, engine: str) -> None:
    raised: list[BaseException] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.accept"})
        assert (await receive())["type"] == "websocket.disconnect"
        try:
            await send({"type": "websocket.send", "text": "too late"})
        except OSError as exc:
            raised.append(exc)
        finally:
            done.set()

    with serving(app, backend, ws=engine) as server, client(server) as ws:
        ws.close()
        assert done.wait(TIMEOUT)
    assert len(raised) == 1
    assert isinstance(raised[0], ClientDisconnected)


def test_an_oversize_message_is_1009(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    app = Echo()
    with (
        serving(app, backend, ws=engine, ws_max_size=1024) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.handshake()
        ws.send(b"x" * 1024)
        assert ws.next_message() == b"x" * 1024
        ws.send(b"x" * 1025)
        assert ws.close_frame()[0] == 1009
        ws.wait_eof()
    assert app.done.wait(TIMEOUT)
    assert app.disconnects[0]["code"] == 1009
    assert not errors(caplog)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        pytest.param(frame(TEXT, b"\xce\xba\xed\xa0\x80"), 1007, id="invalid-utf8"),
        pytest.param(frame(TEXT, b"unmasked", mask=False), 1002, id="unmasked"),
        pytest.param(frame(0x3, b""), 1002, id="reserved-opcode"),
        pytest.param(frame(CLOSE, close_payload(999)), 1002, id="close-code-999"),
    ],
)
def test_a_peer_protocol_error_closes_with_its_code_and_no_traceback(
    backend: Backend, engine: str, data: bytes, code: int, caplog: pytest.LogCaptureFixture
) -> None:
    app = Echo()
    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.handshake()
        ws.send_raw(data)
        assert ws.close_frame()[0] == code
        ws.wait_eof()
    assert app.done.wait(TIMEOUT)
    assert app.disconnects[0]["code"] == code
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]


def test_an_unanswered_ping_is_1011(backend: Backend, engine: str) -> None:
    app = Echo()
    with (
        serving(app, backend, ws=engine, ws_ping_interval=0.05, ws_ping_timeout=0.2) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.answer_pings = False
        ws.handshake()
        first = ws.next_frame()
        assert first is not None
        assert first.opcode is Opcode.PING
        assert ws.close_frame() == (1011, "keepalive ping timeout")
        ws.wait_eof()
    assert app.done.wait(TIMEOUT)
    assert app.disconnects[0]["code"] == 1011


def test_answered_pings_keep_the_connection(backend: Backend, engine: str) -> None:
    with (
        serving(
            Echo(), backend, ws=engine, ws_ping_interval=0.01, ws_ping_timeout=TIMEOUT
        ) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.handshake()
        for _ in range(3):
            ping = ws.next_frame()
            assert ping is not None
            assert ping.opcode is Opcode.PING
        ws.send("still here")
        assert ws.next_message() == "still here"


def test_unread_messages_pause_reading(backend: Backend, engine: str) -> None:
    """Above --ws-max-queue unread messages the server stops reading; the app reading
    them resumes it, and every message arrives, in order."""
    release = asyncio.Event()
    loops: list[asyncio.AbstractEventLoop] = []
    count = 64
    payload = b"m" * 65536

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        loops.append(asyncio.get_running_loop())
        await receive()
        await send({"type": "websocket.accept"})
        await release.wait()
        got = [await receive() for _ in range(count)]
        assert all(message["bytes"] == payload for message in got)
        await send({"type": "websocket.send", "text": str(len(got))})

    with serving(app, backend, ws=engine, ws_max_queue=2) as server, client(server) as ws:

        def send_all() -> None:
            for _ in range(count):
                ws.send(payload)

        sender = threading.Thread(target=send_all)
        sender.start()
        state = server.server.state
        assert state is not None
        wait_until(lambda: bool(state.connections))
        (websocket,) = state.connections
        wait_until(lambda: getattr(websocket, "read_paused", False))
        assert len(websocket.queue) < count  # type: ignore[attr-defined]
        loops[0].call_soon_threadsafe(release.set)
        assert ws.recv(timeout=TIMEOUT) == str(count)
        sender.join(TIMEOUT)


def test_a_client_that_reads_nothing_is_dropped(backend: Backend, engine: str) -> None:
    """send() waits on the connection's drain; past --timeout-send the client is dropped
    and send raises ClientDisconnected."""
    raised: list[BaseException] = []
    done = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.accept"})
        try:
            for _ in range(100_000):
                await send({"type": "websocket.send", "bytes": b"z" * 262144})
        except OSError as exc:
            raised.append(exc)
        finally:
            done.set()

    with (
        serving(app, backend, ws=engine, timeout_send=0.2, ws_per_message_deflate=False) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.handshake()  # and never read again
        assert done.wait(TIMEOUT)
    assert len(raised) == 1
    assert isinstance(raised[0], ClientDisconnected)


# -- shutdown --------------------------------------------------------------------------------


def test_shutdown_closes_open_websockets_with_1012(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    needs(backend, "server_close")
    app = Echo()
    with serving(app, backend, ws=engine, timeout_graceful_shutdown=TIMEOUT) as server:
        first, second = client(server), client(server)
        with first, second:
            first.send("a")
            assert first.recv(timeout=TIMEOUT) == "a"
            second.send("b")
            assert second.recv(timeout=TIMEOUT) == "b"
            server.server.request_shutdown()
            for ws in (first, second):
                with pytest.raises(ConnectionClosed) as caught:
                    ws.recv(timeout=TIMEOUT)
                assert caught.value.rcvd is not None
                assert caught.value.rcvd.code == 1012
            server.join()
    assert [d["code"] for d in app.disconnects] == [1012, 1012]
    assert not errors(caplog)


def test_shutdown_is_bounded_when_the_client_never_closes(backend: Backend, engine: str) -> None:
    needs(backend, "server_close")
    with (
        serving(Echo(), backend, ws=engine, timeout_graceful_shutdown=0.2) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.answer_pings = False  # ... nor the close frame: nothing is sent back
        ws.handshake()
        ws.send("x")
        assert ws.next_message() == "x"
        started = time.monotonic()
        server.server.request_shutdown()
        assert ws.close_frame()[0] == 1012
        server.join()
        ws.wait_eof()
        assert time.monotonic() - started < TIMEOUT


# -- frameworks ------------------------------------------------------------------------------


def test_a_starlette_websocket_route(backend: Backend, engine: str) -> None:
    async def endpoint(websocket: StarletteWebSocket) -> None:
        await websocket.accept()
        try:
            while True:
                text = await websocket.receive_text()
                await websocket.send_text(f"echo: {text}")
        except WebSocketDisconnect:
            pass

    app = Starlette(routes=[WebSocketRoute("/ws", endpoint)])
    with serving(app, backend, ws=engine) as server, client(server, "/ws") as ws:
        ws.send("hi")
        assert ws.recv(timeout=TIMEOUT) == "echo: hi"


def test_a_fastapi_websocket_route(backend: Backend, engine: str) -> None:
    app = FastAPI()

    # (annotations are resolved in this module's globals: the names are imported above)
    @app.websocket("/items/{item}")
    async def endpoint(websocket: FastAPIWebSocket, item: str) -> None:
        await websocket.accept()
        try:
            while True:
                data = await websocket.receive_json()
                await websocket.send_json({"item": item, "got": data})
        except FastAPIDisconnect:
            pass

    with serving(app, backend, ws=engine) as server, client(server, "/items/7") as ws:
        ws.send('{"n": 1}')
        assert ws.recv(timeout=TIMEOUT) == '{"item":"7","got":{"n":1}}'
