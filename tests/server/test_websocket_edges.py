"""WebSocket edges over real sockets, on every loop and parser here, with each engine: ASGI
messages out of place, what the app returns, the access log, pings with no timeout, a
client that reads late, a message that comes after the app's close, and shutdown meeting
a WebSocket in its handshake or an app that ignores it."""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from typing import Any

import pytest
from websockets.frames import Opcode

from ..ws._support import CLOSE, TEXT, close_payload, frame
from .harness import TIMEOUT, Backend, needs, only_connection, serving, wait_until
from .test_websocket import ENGINES, Echo, _http_answer, client, errors, upgrade_request
from .wsclient import RawWebSocket

Scope = dict[str, Any]
ACCEPT = {"type": "websocket.accept"}


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    """Each WebSocket engine installed here."""
    result: str = request.param
    return result


class Gate:
    """An asyncio event on the server's loop that the test thread opens."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.reached = threading.Event()

    async def wait(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.reached.set()
        await self.event.wait()

    def open(self) -> None:
        assert self.reached.wait(TIMEOUT)
        assert self.loop is not None
        self.loop.call_soon_threadsafe(self.event.set)


# -- ASGI messages out of place ----------------------------------------------------------------

#: (the app's messages after websocket.connect, what the client gets, what is logged)
OUT_OF_PLACE: dict[str, tuple[list[dict[str, Any]], int, str]] = {
    "accept-twice": (
        [ACCEPT, ACCEPT],
        1011,
        "expected ASGI message 'websocket.send' or 'websocket.close', got 'websocket.accept'",
    ),
    "send-without-data": (
        [ACCEPT, {"type": "websocket.send"}],
        1011,
        "ASGI message 'websocket.send' needs 'bytes' or 'text'",
    ),
    "close-code-999": (
        [ACCEPT, {"type": "websocket.close", "code": 999}],
        1011,
        "Invalid message from the ASGI application: invalid WebSocket close code 999",
    ),
    "send-before-accept": (
        [{"type": "websocket.send", "text": "x"}],
        500,
        "expected ASGI message 'websocket.accept', 'websocket.close' or "
        "'websocket.http.response.start', got 'websocket.send'",
    ),
    "send-in-a-denial": (
        [
            {"type": "websocket.http.response.start", "status": 401, "headers": []},
            {"type": "websocket.send", "text": "x"},
        ],
        500,
        "expected ASGI message 'websocket.http.response.body', got 'websocket.send'",
    ),
}


@pytest.mark.parametrize("case", list(OUT_OF_PLACE))
def test_a_message_out_of_place_fails_the_app_and_the_client_is_told(
    backend: Backend, engine: str, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    messages, answer, logged = OUT_OF_PLACE[case]

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        for message in messages:
            await send(message)

    with serving(app, backend, ws=engine) as server:
        if answer == 500:  # before accept: an HTTP answer
            response, eof = _http_answer(server, upgrade_request())
            assert (response.status, eof) == (500, True)
        else:
            with RawWebSocket(server.port) as ws:
                ws.handshake()
                assert ws.close_frame() == (answer, "")
                ws.wait_eof()
    (record,) = errors(caplog)
    if record.exc_info is None:
        assert record.getMessage() == logged
    else:
        assert record.getMessage() == "Exception in ASGI application"
        assert str(record.exc_info[1]) == logged


def test_bytes_like_messages_are_sent_as_binary(backend: Backend, engine: str) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send(ACCEPT)
        await send({"type": "websocket.send", "bytes": bytearray(b"array")})
        await send({"type": "websocket.send", "bytes": memoryview(b"-view-")[1:5]})

    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.handshake()
        assert ws.next_message() == b"array"
        assert ws.next_message() == b"view"
        assert ws.close_frame() == (1000, "")


# -- what the app returns ----------------------------------------------------------------------


def test_a_value_returned_by_the_app_is_an_error_and_the_websocket_closes(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send(ACCEPT)
        return 42

    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.handshake()
        assert ws.close_frame() == (1000, "")
        ws.wait_eof()
    assert [r.getMessage() for r in errors(caplog)] == [
        "ASGI callable returned a value other than None: 42"
    ]


def test_an_app_that_returns_in_the_middle_of_a_denial_is_an_error(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send({"type": "websocket.http.response.start", "status": 401, "headers": []})

    with serving(app, backend, ws=engine) as server, server.connect() as sock:
        sock.sendall(upgrade_request())
        while sock.recv(65536):  # the server ends the connection
            pass
    assert [r.getMessage() for r in errors(caplog)] == [
        "ASGI callable returned without completing the response"
    ]


# -- the access log ----------------------------------------------------------------------------


def test_the_access_log_has_a_line_per_handshake(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="xloop.access")

    async def refuse(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        if scope["path"] == "/no":
            await send({"type": "websocket.close"})
            return
        await send(ACCEPT)
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message["text"]})

    with serving(refuse, backend, ws=engine, log_level="info") as server:
        with client(server, "/chat?room=1") as ws:
            ws.send("a")
            assert ws.recv(timeout=TIMEOUT) == "a"
        response, _ = _http_answer(server, upgrade_request("/no"))
        assert response.status == 403
    lines = [r.getMessage() for r in caplog.records if r.name == "xloop.access"]
    assert len(lines) == 2, lines
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - "WebSocket /chat\?room=1" 101', lines[0]), lines
    assert re.fullmatch(r'127\.0\.0\.1:\d+ - "WebSocket /no" 403', lines[1]), lines


# -- pings, reading, closing -------------------------------------------------------------------


def test_without_a_ping_timeout_unanswered_pings_go_on(backend: Backend, engine: str) -> None:
    with (
        serving(Echo(), backend, ws=engine, ws_ping_interval=0.01, ws_ping_timeout=0) as server,
        RawWebSocket(server.port) as ws,
    ):
        ws.answer_pings = False
        ws.handshake()
        for _ in range(3):
            ping = ws.next_frame()
            assert ping is not None
            assert ping.opcode is Opcode.PING
        ws.send("still here")
        assert ws.next_message() == "still here"


def test_a_client_that_reads_late_gets_every_message(backend: Backend, engine: str) -> None:
    """The app's sends wait while the server's write buffer is full, and go on once the
    client reads: every message arrives, in order."""
    count, size = 64, 262144  # beyond what the sockets' buffers hold

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send(ACCEPT)
        for n in range(count):
            await send({"type": "websocket.send", "bytes": bytes([n]) * size})
        await send({"type": "websocket.send", "text": "done"})

    options: dict[str, Any] = {
        "ws": engine,
        "ws_per_message_deflate": False,
        "timeout_send": TIMEOUT,
    }
    with serving(app, backend, **options) as server, RawWebSocket(server.port) as ws:
        ws.handshake()
        websocket = only_connection(server)
        wait_until(lambda: websocket.write_paused)  # the app waits on the drain
        for n in range(count):
            assert ws.next_message() == bytes([n]) * size
        assert ws.next_message() == "done"
        assert ws.close_frame() == (1000, "")


def test_a_message_after_the_apps_close_is_dropped(backend: Backend, engine: str) -> None:
    gate = Gate()
    after: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send(ACCEPT)
        assert (await receive())["text"] == "a"
        await send({"type": "websocket.close", "code": 4000})
        await gate.wait()
        after.append(await receive())

    with serving(app, backend, ws=engine) as server, RawWebSocket(server.port) as ws:
        ws.answer_pings = False  # nor the close frame: the test sends its own
        ws.handshake()
        ws.send("a")
        assert ws.close_frame() == (4000, "")
        ws.send_raw(frame(TEXT, b"late") + frame(CLOSE, close_payload(4000)))
        ws.wait_eof()
        gate.open()
        wait_until(lambda: bool(after))
    assert after == [{"type": "websocket.disconnect", "code": 4000, "reason": ""}]


# -- shutdown --------------------------------------------------------------------------------


@pytest.mark.parametrize("accepts", [True, False], ids=["accepts", "returns"])
def test_a_websocket_in_its_handshake_at_shutdown(
    backend: Backend, engine: str, accepts: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """Told once accepted: 1012 at once; an app that returns instead gets its 403 without
    an error."""
    needs(backend, "server_close")
    gate = Gate()
    told: list[dict[str, Any]] = []

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await gate.wait()
        if accepts:
            await send(ACCEPT)
            told.append(await receive())

    options: dict[str, Any] = {"ws": engine, "timeout_graceful_shutdown": TIMEOUT}
    with serving(app, backend, **options) as server:
        with RawWebSocket(server.port) as ws:
            responses: list[Any] = []
            shaking = threading.Thread(target=lambda: responses.append(ws.handshake()))
            shaking.start()
            assert gate.reached.wait(TIMEOUT)
            websocket = only_connection(server)
            server.server.request_shutdown()
            wait_until(lambda: websocket._shutdown)  # the WebSocket was told
            gate.open()
            shaking.join(TIMEOUT)
            (response,) = responses
            if accepts:
                assert response.status_code == 101
                assert ws.close_frame() == (1012, "")
            else:
                assert response.status_code == 403
            ws.wait_eof()
        server.join()
    disconnect = {"type": "websocket.disconnect", "code": 1012, "reason": ""}
    assert told == ([disconnect] if accepts else [])
    assert not errors(caplog)


def test_an_app_that_ignores_the_shutdown_is_cancelled_at_its_bound(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    needs(backend, "server_close")
    cancelled = threading.Event()

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            raise RuntimeError("no lifespan")
        await receive()
        await send(ACCEPT)
        try:
            await asyncio.Event().wait()  # never reads its disconnect
        except asyncio.CancelledError:
            cancelled.set()
            raise

    options: dict[str, Any] = {"ws": engine, "timeout_graceful_shutdown": 0.2}
    with serving(app, backend, **options) as server, RawWebSocket(server.port) as ws:
        ws.answer_pings = False  # nor the close frame: the connection stays until the bound
        ws.handshake()
        server.server.request_shutdown()
        assert ws.close_frame() == (1012, "")
        server.join()
        ws.wait_eof()
    assert cancelled.is_set()
    assert not errors(caplog)


def test_a_refused_handshake_says_why_at_debug_level(
    backend: Backend, engine: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="xloop.error")
    with serving(Echo(), backend, ws=engine, log_level="debug") as server:
        response, _ = _http_answer(server, upgrade_request(key="not a key"))
    assert response.status == 400
    said = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert any(
        re.fullmatch(r"bad WebSocket handshake from 127\.0\.0\.1:\d+: .*Sec-WebSocket-Key.*", m)
        for m in said
    ), said
