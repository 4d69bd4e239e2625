"""The asyncio side of one HTTP/1.1 connection, and the ASGI request/response cycle.

Theory of operation
-------------------
``data_received`` feeds the sans-IO connection (h11 or httptools, same interface) and walks
the events it returns. A ``Request`` becomes a :class:`Cycle`: the scope, ``receive`` and
``send``. Body events that arrived in the same read are handed to the cycle *before* the app
starts, so a GET (or a small POST) is complete before the app runs and needs no future.

The app runs as a task; on Python 3.12+ the task starts eagerly, so an app that never
waits (hello world) runs to completion inside ``data_received`` with no trip through the
loop. ``send`` holds the response head until the first body message: when that message is
also the last, head and body go out in one ``transport.write`` with a Content-Length.

A cycle is finished when both its response and its request body are complete. Then the
connection either closes or asks the sans-IO layer for the next pipelined request. If that
happens while we are still inside ``data_received`` (eager app) the next request is taken
by the loop in ``_handle`` rather than by recursion.

Flow control: reading pauses while a request body waits unread above ``HIGH_WATER`` and
while pipelined requests queue behind an unfinished response; ``send`` waits while the
transport says its write buffer is full. The keep-alive timer is armed per connection,
not per request: when it fires it checks how long the connection has really been idle.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import logging
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final, cast
from urllib.parse import unquote_to_bytes, urlsplit

from ..http import END_OF_MESSAGE, Body, Event, ProtocolError, Request, ResponseError
from ..http.response import status_line
from .state import access_logger, error_logger

if TYPE_CHECKING:
    from ..http import HTTPConnection
    from ..types import ASGIApp, Message
    from .state import ServerState

__all__ = ["ClientDisconnected", "Cycle", "HttpProtocol"]

HIGH_WATER: Final = 65536
LINGER_SECONDS: Final = 2.0  # after an error response: how long to drain the client
LINGER_BYTES: Final = 1 << 20  # ... and how much of it
_EAGER: Final = sys.version_info >= (3, 12)
_DISCONNECT: Final = {"type": "http.disconnect"}
_LARGE_BODY: Final = 65536
_INFO = logging.INFO


class ClientDisconnected(OSError):
    """Raised by ``send`` when the client has gone away (ASGI spec 2.4)."""


class HttpProtocol(asyncio.Protocol):
    """One client connection."""

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.loop = loop
        self.conn: HTTPConnection = state.connection_factory()
        self.transport: asyncio.Transport | None = None
        self.cycle: Cycle | None = None
        self.task: asyncio.Task[None] | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int | None] | None = None
        self.scheme = "http"
        self.proxy_trusted = False
        self.closed = False
        self.closing = False
        self.lingering = False
        self._lingered = 0
        self.aborted = False
        self._next_on_resume = False
        self._context = contextvars.copy_context()
        self.eof = False
        self.write_paused = False
        self.read_paused = False
        self._drain_waiter: asyncio.Future[None] | None = None
        self._handling = False
        self._next_pending = False
        self._idle_since: float | None = None
        self._timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        self.state.connections.add(self)
        self.state.total_connections += 1
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.client = (str(peer[0]), int(peer[1]))
        sock = transport.get_extra_info("sockname")
        if isinstance(sock, tuple) and len(sock) >= 2:
            self.server = (str(sock[0]), int(sock[1]))
        elif isinstance(sock, str) and sock:
            self.server = (sock, None)
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        proxy = self.state.proxy
        self.proxy_trusted = proxy is not None and proxy.trusts(
            self.client[0] if self.client else None
        )
        self._go_idle()

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES and self.transport is not None:
                self.transport.close()
            return
        events = self.conn.receive_data(data)
        cycle = self.cycle
        if cycle is not None and cycle.request_complete and not self.read_paused:
            # Pipelined bytes behind a response still being produced: stop reading until
            # it is done, so a client cannot queue an unbounded amount.
            self._pause_reading()
        if events:
            self._handle(events)

    def eof_received(self) -> bool:
        self.eof = True
        if self.lingering:
            return False  # the client is done too: close
        events = self.conn.receive_data(b"")
        if events:
            self._handle(events)
        cycle = self.cycle
        if cycle is None or not cycle.request_complete:
            # Idle, or the request can never be completed: the client is gone.
            if cycle is not None:
                cycle.disconnect()
            self._close()
            return False
        # The client sent its request and closed its side: receive() tells a waiting
        # app (long-poll, SSE) it is gone, while send() can still deliver a response.
        cycle.peer_closed = True
        cycle._wake()
        # A complete request whose response is still being produced: keep the transport
        # half-open so the response can still be written.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        state = self.state
        state.connections.discard(self)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
        task = self.task
        if task is not None and not task.done():
            # The app is still running for a connection that is gone: the server's
            # shutdown waits for it too.
            state.orphans.add(task)
            task.add_done_callback(state.orphans.discard)
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if state.on_connection_lost is not None:
            state.on_connection_lost()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        waiter = self._drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._next_on_resume:
            self._next_on_resume = False
            if self.cycle is None and not self.closed and not self.closing:
                self._next_cycle()

    # -- events ------------------------------------------------------------------------------

    def _handle(self, events: list[Event]) -> None:
        """Walk the events of the sans-IO layer; take the next pipelined request iteratively."""
        if self._handling:  # pragma: no cover - defensive: events are never fed re-entrantly
            raise RuntimeError("re-entrant event handling")
        self._handling = True
        try:
            while True:
                count = len(events)
                index = 0
                while index < count:
                    event = events[index]
                    index += 1
                    kind = type(event)
                    if kind is Request:
                        request: Request = event  # type: ignore[assignment]
                        try:
                            cycle = Cycle(self, request)
                        except ValueError:  # a target urlsplit cannot take apart
                            self._protocol_error(ProtocolError(400, "invalid request-target"))
                            return
                        state = self.state
                        state.active += 1
                        state.total_requests += 1
                        self._idle_since = None
                        self.conn.begin_response(request)
                        self.cycle = cycle
                        previous = self.task
                        if previous is not None and not previous.done():
                            # An app still working after its response (background work):
                            # the server's shutdown waits for it.
                            state.orphans.add(previous)
                            previous.add_done_callback(state.orphans.discard)
                        # Hand the body that came with the head to the cycle before the app
                        # starts, so it sees a complete request when it can.
                        while index < count:
                            following = events[index]
                            if following is END_OF_MESSAGE:
                                cycle.request_complete = True
                            elif type(following) is Body:
                                cycle.feed(following.data)
                            else:
                                break
                            index += 1
                        limit = state.limit_concurrency
                        if limit is not None and (
                            len(state.connections) > limit or state.active > limit
                        ):
                            coro = cycle.run_asgi(_service_unavailable)
                        else:
                            coro = cycle.run_asgi(state.app)
                        if _EAGER:
                            self.task = asyncio.Task(coro, loop=self.loop, eager_start=True)  # type: ignore[call-arg,unused-ignore]
                        else:
                            self.task = self.loop.create_task(coro)
                        if state.limit_max_requests is not None:
                            self._check_max_requests()
                    elif kind is Body:
                        if self.cycle is not None:
                            self.cycle.feed(event.data)  # type: ignore[union-attr]
                    elif event is END_OF_MESSAGE:
                        if self.cycle is not None:
                            self.cycle.end_of_body()
                    else:
                        self._protocol_error(event)  # type: ignore[arg-type]
                        return
                if not self._next_pending or self.closed or self.closing:
                    return
                self._next_pending = False
                events = self._release_next()
                if not events:
                    return
        finally:
            self._handling = False

    def _check_max_requests(self) -> None:
        state = self.state
        limit = state.limit_max_requests
        if limit is not None and state.total_requests >= limit and state.on_max_requests:
            state.on_max_requests()

    def _protocol_error(self, error: ProtocolError) -> None:
        """The client sent bad HTTP: answer with its status (if we still can) and close."""
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
            cycle.mark_complete()
            if cycle.head_written:
                self._close()
                return
        if self.transport is not None and not self.closed:
            self.transport.write(self.conn.error_response(error.status, self.state.defaults))
            if error_logger.isEnabledFor(logging.DEBUG):
                error_logger.debug("bad request from %s: %s", _fmt_client(self.client), error)
        self._linger()

    def _linger(self) -> None:
        """Close after an error response without losing it to a reset.

        Closing a socket with unread bytes from the client makes the kernel send RST,
        which can destroy the error response before the client reads it. So: half-close
        our side once the response is out, read and drop what the client still sends
        (bounded in bytes and time), and close on its EOF.
        """
        transport = self.transport
        if transport is None or self.closed:
            return
        self.closing = True
        if not transport.can_write_eof():
            transport.close()
            return
        self.lingering = True
        transport.write_eof()
        self._resume_reading()
        self.loop.call_later(LINGER_SECONDS, self._abort_linger)

    def _abort_linger(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()

    def cycle_finished(self, cycle: Cycle) -> None:
        """Both the response and the request body of ``cycle`` are complete."""
        if cycle is not self.cycle:
            return
        self.cycle = None
        if self.closed or self.closing:
            return
        if not self.conn.keep_alive or self.state.shutting_down:
            self._close()
            return
        self._go_idle()
        if self._handling:
            self._next_pending = True  # _handle takes it when this returns
            return
        self._next_cycle()

    def _next_cycle(self) -> None:
        """From outside ``_handle``: serve the next pipelined request, if any."""
        events = self._release_next()
        if events:
            # Called from the previous app's task: its context must not leak into the
            # next request's task.
            self._context.copy().run(self._handle, events)

    def _release_next(self) -> list[Event]:
        """The next pipelined request's events; none while the client is not reading
        (so responses cannot pile up in our write buffer), and close once a half-closed
        client has nothing more to be answered."""
        if self.write_paused:
            self._pause_reading()
            self._next_on_resume = True
            return []
        events = self.conn.start_next_cycle()
        if self.read_paused:
            self._resume_reading()
        if not events and self.eof:
            self._close()
        return events

    # -- connection management ---------------------------------------------------------------

    def _go_idle(self) -> None:
        self._idle_since = now = self.loop.time()
        if self._timer is None:
            self._timer = self.loop.call_at(
                now + self.state.timeout_keep_alive, self._on_keep_alive_timer
            )

    def _on_keep_alive_timer(self) -> None:
        self._timer = None
        since = self._idle_since
        if since is None or self.closed:
            return  # busy: re-armed when the connection goes idle again
        deadline = since + self.state.timeout_keep_alive
        if self.loop.time() >= deadline:
            self._close()
        else:
            self._timer = self.loop.call_at(deadline, self._on_keep_alive_timer)

    def shutdown(self) -> None:
        """Graceful shutdown: close now if idle, else after the current response."""
        if self.cycle is None:
            self._close()
        else:
            self.cycle.close_after = True

    def abort(self) -> None:
        """Forced shutdown: drop the connection and cancel the app."""
        self.aborted = True
        if self.transport is not None and not self.closed:
            self.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def _pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = False
            self.transport.resume_reading()

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        while self.write_paused and not self.closed:
            waiter = self._drain_waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._drain_waiter = None

    def write(self, data: bytes) -> None:
        """Write to the transport (no-op once closed)."""
        transport = self.transport
        if transport is not None and not self.closed and not transport.is_closing():
            transport.write(data)


class Cycle:
    """One request and its response, as the ASGI app sees it."""

    __slots__ = (
        "body",
        "body_done",
        "body_size",
        "close_after",
        "conn",
        "continue_sent",
        "disconnected",
        "head_written",
        "headers",
        "peer_closed",
        "protocol",
        "request",
        "request_complete",
        "response_complete",
        "response_started",
        "scope",
        "status",
        "waiter",
    )

    def __init__(self, protocol: HttpProtocol, request: Request) -> None:
        self.protocol = protocol
        self.conn = protocol.conn
        self.request = request
        self.scope = _build_scope(protocol, request)  # noqa: see _build_scope
        self.body: list[bytes] = []
        self.body_size = 0
        self.body_done = False
        self.request_complete = False
        self.response_started = False
        self.response_complete = False
        self.head_written = False
        self.disconnected = False
        self.continue_sent = False
        self.close_after = False
        self.peer_closed = False
        self.status = 0
        self.headers: Any = ()
        self.waiter: asyncio.Future[None] | None = None

    # -- fed by the protocol -----------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.response_complete:
            return  # the app answered without reading: the rest of the body is dropped
        self.body.append(data)
        self.body_size += len(data)
        if self.body_size > HIGH_WATER:
            self.protocol._pause_reading()
        self._wake()

    def end_of_body(self) -> None:
        self.request_complete = True
        self._wake()
        if self.response_complete:
            self.protocol.cycle_finished(self)

    def disconnect(self) -> None:
        self.disconnected = True
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- ASGI --------------------------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if self.disconnected or self.response_complete:
                return dict(_DISCONNECT)
            if self.peer_closed and self.body_done:
                return dict(_DISCONNECT)
            if not self.body_done:
                body = self.body
                if body:
                    data = body[0] if len(body) == 1 else b"".join(body)
                    body.clear()
                    self.body_size = 0
                    complete = self.request_complete
                    self.body_done = complete
                    if self.protocol.read_paused and not complete:
                        self.protocol._resume_reading()
                    return {"type": "http.request", "body": data, "more_body": not complete}
                if self.request_complete:
                    self.body_done = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                if self.request.expect_continue and not self.continue_sent:
                    self.continue_sent = True
                    if not self.head_written:
                        self.protocol.write(self.conn.informational_continue())
            # Wait for more body, or (body delivered) for a disconnect / the response to end.
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = self.protocol.loop.create_future()
            await waiter

    async def send(self, message: Message) -> None:
        kind = message["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected ASGI message 'http.response.start', got {kind!r}")
            if self.disconnected:
                raise ClientDisconnected("client disconnected")
            self.response_started = True
            self.status = message["status"]
            self.headers = message.get("headers", ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"expected ASGI message 'http.response.body', got {kind!r}")
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.response_complete:
            raise RuntimeError("ASGI app sent a body after the response completed")
        body = message.get("body", b"")
        if type(body) is not bytes:
            # bytearray, memoryview (of any item size): framed by their length in bytes.
            body = bytes(memoryview(body))
        more = message.get("more_body", False)
        conn = self.conn
        protocol = self.protocol
        if not self.head_written:
            close = self.close_after or not self.request_complete
            defaults = protocol.state.defaults
            if not more:
                # The whole response in one message: one write, framed by Content-Length.
                data = conn.response_whole(self.status, self.headers, defaults, body, close)
                self.head_written = True
                self._complete(data)
                return
            head = conn.response_head(self.status, self.headers, defaults, None, close)
            framed = conn.response_body(body)
            # Nothing is written until the first message is known to be valid.
            self.head_written = True
            if len(framed) > _LARGE_BODY:
                protocol.write(head)
                data = framed
            else:
                data = head + framed
        else:
            data = conn.response_body(body)
            if not more:
                data += conn.response_end()
                self._complete(data)
                return
        if data:
            protocol.write(data)
        if protocol.write_paused:
            await protocol.drain()

    def mark_complete(self) -> None:
        """Count the response finished (once), whatever ended it."""
        if not self.response_complete:
            self.response_complete = True
            self.protocol.state.active -= 1

    def _complete(self, data: bytes) -> None:
        """The last bytes of the response: count it finished, then write them."""
        self.mark_complete()
        protocol = self.protocol
        state = protocol.state
        transport = protocol.transport
        if transport is not None and not protocol.closed:  # the per-request write: direct
            transport.write(data)
        if state.access_log and access_logger.isEnabledFor(_INFO):
            request = self.request
            access_logger.info(
                '%s - "%s %s HTTP/%s" %d %s',
                _fmt_client(self.scope["client"]),
                request.method,
                request.target.decode("latin-1"),
                request.http_version,
                self.status,
                status_line(self.status)[13:-2].decode("latin-1"),
            )
        self._wake()
        if self.request_complete or protocol.closed:
            protocol.cycle_finished(self)
        else:
            # Answered before the body was read: the head said "connection: close".
            protocol._close()

    async def run_asgi(self, app: ASGIApp) -> None:
        try:
            result: object = await app(self.scope, self.receive, self.send)  # type: ignore[func-returns-value]
        except ClientDisconnected:
            if not self.response_complete:
                self._abandon()
            return
        except BaseException as exc:
            self._app_failed(exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return
        if result is not None:
            error_logger.error("ASGI callable returned a value other than None: %r", result)
        if not self.response_complete:
            if self.disconnected or self.peer_closed:
                pass  # the client left; the app ending there is no error
            elif not self.response_started:
                error_logger.error("ASGI callable returned without starting a response")
            else:
                error_logger.error("ASGI callable returned without completing the response")
            self._abandon()

    def _app_failed(self, exc: BaseException) -> None:
        protocol = self.protocol
        if isinstance(exc, asyncio.CancelledError) and (protocol.aborted or protocol.closed):
            self.mark_complete()
            return
        if self.response_complete:
            error_logger.error("Exception in ASGI application after the response", exc_info=exc)
            return
        if isinstance(exc, ResponseError):
            error_logger.error("Invalid response from the ASGI application: %s", exc)
        else:
            error_logger.error("Exception in ASGI application", exc_info=exc)
        self._abandon()

    def _abandon(self) -> None:
        """The response cannot be completed: 500 if nothing went out yet, else close."""
        protocol = self.protocol
        if not self.head_written and not self.disconnected and not self.peer_closed:
            self.status = 500
            protocol.write(self.conn.error_response(500, protocol.state.defaults))
        self.mark_complete()
        self._wake()
        protocol._close()
        protocol.cycle_finished(self)


def _fmt_client(client: Any) -> str:
    if not client:
        return "-"
    return f"{client[0]}:{client[1]}"


def _build_scope(protocol: HttpProtocol, request: Request) -> dict[str, Any]:
    state = protocol.state
    target = request.target
    if target[:1] == b"/":
        raw_path, _, query = target.partition(b"?")
    elif target == b"*":
        raw_path, query = b"*", b""
    else:  # absolute-form (RFC 9112 section 3.2.2)
        parts = urlsplit(target)
        _check_bracketed_host(parts.netloc)
        raw_path = parts.path or b"/"
        query = parts.query
    if raw_path.isascii() and b"%" not in raw_path:
        path = raw_path.decode("ascii")
    else:
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    root_path = state.root_path
    if root_path:
        path = root_path + path
        raw_path = state.root_path_bytes + raw_path
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": request.http_version,
        "server": protocol.server,
        "client": protocol.client,
        "scheme": protocol.scheme,
        "method": request.method,
        "root_path": root_path,
        "path": path,
        "raw_path": raw_path,
        "query_string": query,
        "headers": request.headers,
        "state": state.lifespan_state.copy(),
    }
    if request.forwarded and protocol.proxy_trusted and state.proxy is not None:
        _apply_proxy_headers(scope, request.headers, state.proxy.client_from)
    return scope


def _check_bracketed_host(netloc: bytes) -> None:
    """An IP-literal host must be a valid IPv6 address (ValueError otherwise).

    urlsplit checks this itself from Python 3.11 on; this makes 3.10 refuse alike.
    """
    host = netloc.rpartition(b"@")[2]
    if b"[" not in host and b"]" not in host:
        return
    end = host.find(b"]")
    if not host.startswith(b"[") or end < 0:
        raise ValueError("invalid IP-literal host")
    ipaddress.IPv6Address(host[1:end].decode("ascii"))


def _apply_proxy_headers(
    scope: dict[str, Any],
    headers: list[tuple[bytes, bytes]],
    client_from: Callable[[bytes], str | None],
) -> None:
    for name, value in headers:
        if name == b"x-forwarded-proto":
            proto = value.decode("latin-1").split(",")[0].strip().lower()
            if proto in ("http", "https", "ws", "wss"):
                scope["scheme"] = proto
        elif name == b"x-forwarded-for":
            host = client_from(value)
            if host is not None:
                scope["client"] = (host, 0)


async def _service_unavailable(scope: Any, receive: Any, send: Any) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable"})
