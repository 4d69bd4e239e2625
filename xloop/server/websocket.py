"""One ASGI WebSocket connection: the asyncio protocol after an upgrade, and the ASGI cycle.

Written once for both engines: it sees the sans-IO WebSocket only through
:class:`~xloop.ws.WebSocketEngine`.

Theory of operation
-------------------
:class:`~xloop.server.connection.Connection` parses the upgrade request and hands the
transport over (``transport.set_protocol``) to a :class:`WebSocket`, which from then on
gets the socket's bytes (first those read behind the request head) and replaces the
connection in the server's set of open connections.

Phases, one way only::

    HANDSHAKE --accept--> OPEN --close sent--> CLOSING --Closed--> CLOSED
        |--close / return--> 403 ------------------------------------^
        '--websocket.http.response.start--> DENIAL --last body------^

In HANDSHAKE the app has ``websocket.connect`` and reading is paused. ``accept`` writes
the ``101`` and feeds the engine. Messages queue for ``receive``; above ``--ws-max-queue``
unread ones, reading pauses until the app catches up. The engine's ``Closed`` (the peer's
close, a protocol error, EOF) ends the WebSocket: the app gets ``websocket.disconnect``
with the code, and the server ends TCP first (RFC 6455 section 7.1.1): it half-closes and
waits, bounded, for the client's EOF, so the close frame is not lost to a reset.

Liveness: every ``--ws-ping-interval`` the server pings; no pong within
``--ws-ping-timeout`` fails the connection with 1011. A graceful shutdown sends 1012 and
the server waits for the closing handshakes like for any response under way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections import deque
from typing import TYPE_CHECKING, Any, Final

from ..access import escape
from ..http import ResponseError
from ..logs import access_logger, error_logger
from ..ws import Closed, ConnectionClosed, HandshakeError, Message, MessageError, Pong
from ..ws.handshake import check_close, check_request, rejection
from .cycle import ClientDisconnected, build_scope, format_client
from .output import drained
from .ws_denial import Denial

if TYPE_CHECKING:
    from ..http import Request
    from ..types import ASGIApp
    from ..types import Message as ASGIMessage
    from ..ws import WebSocketEngine
    from .cycle import CycleConnection
    from .state import ServerState

__all__ = ["WebSocket"]

#: After the server ends the WebSocket (half-closed TCP): how long the client has to close
#: its side before the transport is closed anyway.
CLOSE_TIMEOUT: Final = 10.0
_EAGER: Final = sys.version_info >= (3, 12)
_INFO: Final = logging.INFO
_CONNECT: Final = {"type": "websocket.connect"}

HANDSHAKE: Final = "handshake"
DENIAL: Final = "denial"
OPEN: Final = "open"
CLOSING: Final = "closing"
CLOSED: Final = "closed"


class WebSocket(asyncio.Protocol):
    """The rest of a connection's life after a WebSocket upgrade request."""

    def __init__(self, connection: CycleConnection, request: Request) -> None:
        self.state: ServerState = connection.state
        self.loop = connection.loop
        self.transport = connection.transport
        #: The answers in plain HTTP before accept (403, 500, a denial response); released
        #: once accepted.
        self.denial: Denial | None = Denial(connection.http, request)
        self.request = request
        self.client = connection.client
        self.scope: dict[str, Any] = build_scope(connection, request)  # ValueError: bad target
        self.engine: WebSocketEngine | None = None
        self.phase = HANDSHAKE
        self.task: asyncio.Task[None] | None = None
        self.queue: deque[ASGIMessage] = deque()
        self.disconnect: ASGIMessage | None = None  # once set, receive returns it
        self.closed = False  # connection_lost has run
        self.aborted = False
        self.read_paused = connection.read_paused
        self.write_paused = connection.write_paused
        self._pending = b""  # read before accept
        self._waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self._accepted = False
        self._ending = False  # the server ended (or is ending) the TCP connection
        self._shutdown = False
        self._ping_payload: bytes | None = None
        self._ping_timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._send_timer: asyncio.TimerHandle | None = None
        self._send_mark = 0

    # -- start -------------------------------------------------------------------------------

    def start(self, data: bytes) -> None:
        """Check the handshake and run the app; ``data`` came in behind the request head."""
        state = self.state
        request = self.request
        try:
            check_request(request)
            factory = state.ws_factory
            assert factory is not None
            engine = self.engine = factory(request)
        except HandshakeError as exc:
            self._refuse(exc.status, exc.reason, exc.headers)
            return
        scope = self.scope
        scope["type"] = "websocket"
        del scope["method"]
        scheme = scope["scheme"]
        if scheme == "http":
            scope["scheme"] = "ws"
        elif scheme == "https":
            scope["scheme"] = "wss"
        scope["subprotocols"] = engine.subprotocols
        scope["extensions"] = {"websocket.http.response": {}}
        self._pending = data
        self._shutdown = state.shutting_down
        self._pause_reading()  # until the app accepts
        self.queue.append(dict(_CONNECT))
        coro = self.run_asgi(state.app)
        eager = state.eager  # (3.10, 3.11: xloop.server.eager)
        if _EAGER:
            self.task = asyncio.Task(coro, loop=self.loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
        elif eager is not None:
            self.task = eager.start(coro)
        else:
            self.task = self.loop.create_task(coro)

    def _refuse(self, status: int, reason: str, headers: list[tuple[bytes, bytes]]) -> None:
        """A handshake we do not accept: its status, then close."""
        if error_logger.isEnabledFor(logging.DEBUG):
            error_logger.debug(
                "bad WebSocket handshake from %s: %s", format_client(self.client), reason
            )
        self.phase = CLOSED
        self._write(rejection(status, reason, self.state.defaults, headers))
        self._close_transport()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        engine = self.engine
        if engine is None or not self._accepted:
            if self.phase is HANDSHAKE:
                self._pending += data  # the client spoke before the 101: kept for after it
            return
        events = engine.receive_data(data)
        out = engine.data_to_send()
        if out:
            self._write(out)
        if events:
            self._handle(events)
        elif engine.closed:
            self._end()

    def eof_received(self) -> bool:
        engine = self.engine
        if engine is not None and self._accepted:
            events = engine.receive_data(b"")
            if events:
                self._handle(events)
        else:
            self._disconnected(1006, "")
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._ending = True
        for timer in (self._ping_timer, self._close_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._ping_timer = self._close_timer = self._send_timer = None
        self.phase = CLOSED
        self._disconnected(1006, "")
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        task = self.task
        if task is not None and not task.done():
            self.state.keep_task(task)  # the app still runs for a connection that is gone
        self.state.connection_lost(self)

    def pause_writing(self) -> None:
        self.write_paused = True
        transport = self.transport
        if self._send_timer is None and transport is not None:
            self._send_mark = transport.get_write_buffer_size()
            self._send_timer = self.loop.call_later(self.state.timeout_send, self._on_send_timer)

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- events from the engine --------------------------------------------------------------

    def _handle(self, events: list[Any]) -> None:
        queue = self.queue
        for event in events:
            kind = type(event)
            if kind is Message:
                if self.phase is not OPEN:
                    continue  # after the app's close: dropped
                data = event.data
                if type(data) is str:
                    queue.append({"type": "websocket.receive", "text": data})
                else:
                    queue.append({"type": "websocket.receive", "bytes": data})
                if len(queue) >= self.state.ws_max_queue:
                    self._pause_reading()
            elif kind is Pong:
                if self._ping_payload is not None and event.payload == self._ping_payload:
                    self._ping_payload = None
                    self._arm_ping(self.state.ws_ping_interval)
            elif kind is Closed:
                self._disconnected(event.code, event.reason)
                self._end()
        self._wake()

    def _disconnected(self, code: int, reason: str) -> None:
        """The app's ``receive`` says ``websocket.disconnect`` from now on (the first
        code told is the one it keeps)."""
        if self.disconnect is None:
            self.disconnect = {"type": "websocket.disconnect", "code": code, "reason": reason}
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- ASGI --------------------------------------------------------------------------------

    async def receive(self) -> ASGIMessage:
        queue = self.queue
        while True:
            if queue:
                message = queue.popleft()
                if (
                    self.read_paused
                    and len(queue) <= self.state.ws_max_queue // 4
                    and (self.phase is OPEN or self.phase is CLOSING)
                ):
                    self._resume_reading()
                return message
            if self.disconnect is not None:
                return dict(self.disconnect)
            waiter = self._waiter
            if waiter is None or waiter.done():
                waiter = self._waiter = self.loop.create_future()
            await waiter

    async def send(self, message: ASGIMessage) -> None:
        kind = message["type"]
        phase = self.phase
        if phase is OPEN:
            if kind == "websocket.send":
                await self._send_message(message)
            elif kind == "websocket.close":
                code, reason = check_close(message.get("code", 1000), message.get("reason"))
                self._close(code, reason)
            else:
                raise RuntimeError(
                    f"expected ASGI message 'websocket.send' or 'websocket.close', got {kind!r}"
                )
        elif self.closed or self._ending or phase is CLOSING or phase is CLOSED:
            raise ClientDisconnected("the WebSocket connection is closed")
        elif phase is HANDSHAKE:
            if kind == "websocket.accept":
                self._accept(message)
            elif kind == "websocket.close":
                self._deny_403()
            elif kind == "websocket.http.response.start":
                self.phase = DENIAL
                self._denial().start(message)
            else:
                raise RuntimeError(
                    "expected ASGI message 'websocket.accept', 'websocket.close' or "
                    f"'websocket.http.response.start', got {kind!r}"
                )
        elif kind == "websocket.http.response.body":  # DENIAL
            await self._deny_body(message)
        else:
            raise RuntimeError(
                f"expected ASGI message 'websocket.http.response.body', got {kind!r}"
            )

    async def _send_message(self, message: ASGIMessage) -> None:
        engine = self.engine
        assert engine is not None
        data = message.get("bytes")
        if data is None:
            data = message.get("text")
            if type(data) is not str:
                raise RuntimeError("ASGI message 'websocket.send' needs 'bytes' or 'text'")
        elif type(data) is not bytes:
            data = bytes(memoryview(data))
        try:
            engine.send_message(data)
        except ConnectionClosed:
            raise ClientDisconnected("the WebSocket connection is closed") from None
        if not self._write(engine.data_to_send()):
            raise ClientDisconnected("the WebSocket connection is closed")
        self.state.total_ws_messages += 1
        if self.write_paused:
            await self._drain()
            if self.closed:
                raise ClientDisconnected("the WebSocket connection is closed")

    def _accept(self, message: ASGIMessage) -> None:
        engine = self.engine
        assert engine is not None
        headers = list(self.state.defaults.items)
        headers.extend(message.get("headers", ()))
        data = engine.accept(message.get("subprotocol"), headers)  # MessageError/ResponseError
        self._accepted = True
        self.denial = None
        self.phase = OPEN
        self._write(data)
        self._log(101)
        if self._shutdown:
            self._close(1012, "")
            return
        self._arm_ping(self.state.ws_ping_interval)
        pending, self._pending = self._pending, b""
        if pending:
            self.data_received(pending)
        if self.phase is OPEN and len(self.queue) < self.state.ws_max_queue:
            self._resume_reading()

    def _deny_403(self) -> None:
        """A close before accept: HTTP 403 (ASGI spec); a browser may report 1006."""
        self.phase = CLOSED
        self._disconnected(1006, "")
        self._write(self._denial().error(403, self.state.defaults))
        self._log(403)
        self._close_transport()

    async def _deny_body(self, message: ASGIMessage) -> None:
        """The denial response extension: a whole HTTP response instead of the ``101``."""
        denial = self._denial()
        started = denial.started
        data, more = denial.body(message, self.state.defaults)
        if not started:
            self._log(denial.status)
        if not more:
            self.phase = CLOSED
            self._disconnected(1006, "")
        if not self._write(data):
            raise ClientDisconnected("client disconnected")
        if not more:
            self._close_transport()
        elif self.write_paused:
            await self._drain()

    async def run_asgi(self, app: ASGIApp) -> None:
        try:
            result: object = await app(self.scope, self.receive, self.send)  # type: ignore[func-returns-value]
        except ClientDisconnected:
            self._app_done()
            return
        except BaseException as exc:
            self._app_failed(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        if result is not None:
            error_logger.error("ASGI callable returned a value other than None: %r", result)
        if self.phase is HANDSHAKE and not self.closed:
            if not self._shutdown:
                error_logger.error("ASGI callable returned without accepting the WebSocket")
            self._deny_403()
        elif self.phase is DENIAL and not self.closed:
            error_logger.error("ASGI callable returned without completing the response")
            self._app_done()
        else:
            self._app_done()

    def _app_done(self) -> None:
        """The app returned: close a WebSocket it left open (1000), or end what remains."""
        if self.closed:
            return
        if self.phase is OPEN:
            self._close(1000, "")
        elif self.phase is HANDSHAKE:
            self._deny_403()
        elif self.phase is DENIAL:
            self.phase = CLOSED
            self._close_transport()

    def _app_failed(self, exc: BaseException) -> None:
        if isinstance(exc, asyncio.CancelledError) and (self.aborted or self.closed):
            return
        if isinstance(exc, (ResponseError, MessageError)):
            error_logger.error("Invalid message from the ASGI application: %s", exc)
        else:
            error_logger.error("Exception in ASGI application", exc_info=exc)
        if self.closed:
            return
        phase = self.phase
        if phase is HANDSHAKE:
            self.phase = CLOSED
            self._disconnected(1006, "")
            self._write(self._denial().error(500, self.state.defaults))
            self._log(500)
            self._close_transport()
        elif phase is OPEN:
            self._close(1011, "")
        elif phase is DENIAL:
            denial = self._denial()
            if not denial.started:
                self._write(denial.error(500, self.state.defaults))
            self.phase = CLOSED
            self._close_transport()

    # -- closing -----------------------------------------------------------------------------

    def _close(self, code: int, reason: str) -> None:
        """Start the closing handshake with ``code``; the app's ``receive`` says so at once."""
        engine = self.engine
        assert engine is not None
        self.phase = CLOSING
        self._disconnected(code, reason)
        self._cancel_ping()
        try:
            engine.close(code, reason)
        except ConnectionClosed:  # pragma: no cover - OPEN means the engine is open
            pass
        self._write(engine.data_to_send())
        self._resume_reading()  # the client's close frame must get in
        if not self.closed and self._close_timer is None:
            self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._on_close_timer)

    def _fail(self, code: int, reason: str) -> None:
        """Fail the connection (keepalive timeout): close frame, then end TCP."""
        engine = self.engine
        assert engine is not None
        self._disconnected(code, reason)
        engine.fail(code, reason)
        self._write(engine.data_to_send())
        self._end()

    def _end(self) -> None:
        """The WebSocket is over: end TCP, the server first (half-close, then the client's
        EOF or ``CLOSE_TIMEOUT``)."""
        self.phase = CLOSED
        if self._ending or self.closed:
            return
        self._ending = True
        self._cancel_ping()
        transport = self.transport
        if transport is None:  # pragma: no cover
            return
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self._resume_reading()
        if self._close_timer is not None:
            self._close_timer.cancel()
        self._close_timer = self.loop.call_later(CLOSE_TIMEOUT, self._on_close_timer)

    def _on_close_timer(self) -> None:
        self._close_timer = None
        if not self.closed and self.transport is not None:
            self.transport.abort()

    def _close_transport(self) -> None:
        self._ending = True
        if self.transport is not None and not self.closed:
            self.transport.close()

    # -- what the server asks ----------------------------------------------------------------

    def shutdown(self) -> None:
        """Graceful shutdown: 1012 (service restart) to an open WebSocket; one still in
        its handshake gets it right after accept; the server then waits for the closing
        handshake (bounded by ``--timeout-graceful-shutdown``)."""
        self._shutdown = True
        if self.phase is OPEN and not self.closed:
            self._close(1012, "")

    def abort(self) -> None:
        """Forced shutdown: drop the connection and cancel the app."""
        self.aborted = True
        if self.transport is not None and not self.closed:
            self.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    # -- I/O helpers -------------------------------------------------------------------------

    def _denial(self) -> Denial:
        denial = self.denial
        assert denial is not None  # only used before accept
        return denial

    def _write(self, data: bytes) -> bool:
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return False
        if data:
            transport.write(data)
        return True

    async def _drain(self) -> None:
        await drained(self)

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = False
            self.transport.resume_reading()

    def _on_send_timer(self) -> None:
        self._send_timer = None
        transport = self.transport
        if not self.write_paused or transport is None or self.closed:
            return
        size = transport.get_write_buffer_size()
        if size < self._send_mark:  # the client reads, slowly: wait on
            self._send_mark = size
            self._send_timer = self.loop.call_later(self.state.timeout_send, self._on_send_timer)
            return
        transport.abort()  # the app's pending send then raises ClientDisconnected

    # -- keepalive ---------------------------------------------------------------------------

    def _arm_ping(self, delay: float | None) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        if delay and not self.closed:
            self._ping_timer = self.loop.call_later(delay, self._on_ping_timer)

    def _cancel_ping(self) -> None:
        if self._ping_timer is not None:
            self._ping_timer.cancel()
            self._ping_timer = None
        self._ping_payload = None

    def _on_ping_timer(self) -> None:
        self._ping_timer = None
        engine = self.engine
        if self.phase is not OPEN or engine is None or self.closed:
            return
        if self._ping_payload is not None:
            self._fail(1011, "keepalive ping timeout")
            return
        payload = os.urandom(4)
        engine.send_ping(payload)
        self._write(engine.data_to_send())
        timeout = self.state.ws_ping_timeout
        if timeout:
            self._ping_payload = payload
            self._arm_ping(timeout)
        else:
            self._arm_ping(self.state.ws_ping_interval)

    # -- logging -----------------------------------------------------------------------------

    def _log(self, status: int) -> None:
        if self.state.access_log and access_logger.isEnabledFor(_INFO):
            request = self.request
            access_logger.info(
                '%s - "WebSocket %s" %d',
                format_client(self.scope["client"]),
                escape(request.target.decode("latin-1")),
                status,
            )
