"""One ASGI HTTP request/response cycle: the scope, ``receive`` and ``send``.

Written once for every parser: it sees the sans-IO connection only through
:class:`~xloop.http.HTTPConnection`, and its client connection only through
:class:`CycleConnection` (``pause_reading``, ``resume_reading``, ``write``, ``drain``,
``close``, ``finished`` and the state they keep), the base class of
:class:`~xloop.server.connection.Connection`. Both are base classes, not protocols: in the
compiled build their attributes are then struct fields and their methods direct calls.

Words used once each: the request body is *received* (its last byte arrived) and
*delivered* (the app was handed its last byte); the response has *ended* (sent whole, or
abandoned, or cut: counted once, whatever ended it). A cycle whose body is received and
whose response has ended is *finished*: it tells the connection, which serves the next
request or closes.

``send`` holds the response head until the first body message: when that message is also
the last, head and body go out in one write with a Content-Length.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from abc import abstractmethod
from collections.abc import Awaitable, Callable
from time import perf_counter as _perf_counter
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import unquote_to_bytes, urlsplit

from ..errors import ClientDisconnected
from ..http import HTTPConnection, Request, ResponseError
from ..http.response import status_line
from ..logs import access_logger, error_logger
from .output import FutureWait, Output

if TYPE_CHECKING:
    from ..types import ASGIApp, Message

__all__ = ["ClientDisconnected", "Cycle", "CycleConnection", "format_client", "service_unavailable"]

HIGH_WATER: Final = 65536  # unread request body above which reading pauses
_LARGE_BODY: Final = 65536  # a first body chunk above this is not copied behind the head
_DISCONNECT: Final = {"type": "http.disconnect"}
_PERCENT: Final = 0x25  # an int: bytes-in-bytes first tries, and fails, the int lookup
_INFO: Final = logging.INFO
#: Request-targets seen, split (see split_target): the first _CACHED_TARGETS of at most
#: _CACHED_TARGET_BYTES each (a busy server's paths repeat: "/", "/health", an API's).
_TARGETS: dict[bytes, tuple[str, bytes, bytes]] = {}
_CACHED_TARGETS: Final = 1024
_CACHED_TARGET_BYTES: Final = 128
#: Every key of an HTTP scope, in its order: a copy of a dict of this shape is one memcpy,
#: where a dict built key by key grows twice (3,400 instructions, against 1,000 to copy it
#: and set each value).
_SCOPE: Final[dict[str, Any]] = dict.fromkeys(
    (
        "type",
        "asgi",
        "http_version",
        "server",
        "client",
        "scheme",
        "method",
        "root_path",
        "path",
        "raw_path",
        "query_string",
        "headers",
        "state",
    )
)
_SCOPE["type"] = "http"
_ASGI: Final = {"version": "3.0", "spec_version": "2.4"}


class CycleConnection(Output):
    """A client connection as its cycles use it (:class:`~.connection.Connection` is the one
    kind); the write side is :class:`~.output.Output`'s."""

    __slots__ = ()

    http: HTTPConnection
    client: tuple[str, int] | None
    server: tuple[str, int | None] | None
    scheme: str
    proxy_trusted: bool
    aborted: bool
    read_paused: bool
    deferring: bool

    @abstractmethod
    def pause_reading(self) -> None: ...

    @abstractmethod
    def resume_reading(self) -> None: ...

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def finished(self, cycle: Cycle) -> None:
        """The cycle's response has ended and its request body has arrived."""

    @abstractmethod
    def app_returned(self, cycle: Cycle) -> None:
        """The cycle's app has returned (or raised): its task is ending."""


class Cycle:
    """One request and its response, as the ASGI app sees it."""

    __slots__ = (
        "body",
        "body_delivered",
        "body_received",
        "body_size",
        "close_after",
        "connection",
        "continue_sent",
        "disconnected",
        "half_closed",
        "head_written",
        "headers",
        "http",
        "released",
        "request",
        "response_ended",
        "response_started",
        "scope",
        "sent",
        "started",
        "state",
        "status",
        "waiter",
    )

    def __init__(self, connection: CycleConnection, request: Request) -> None:
        self.connection = connection
        self.http = connection.http
        self.state = state = connection.state
        self.request = request
        self.scope = build_scope(connection, request)  # ValueError: a target we cannot take
        #: Request body chunks not yet received by the app; None: none (a GET makes no list).
        self.body: list[bytes] | None = None
        self.body_size = 0
        self.body_received = False
        self.body_delivered = False
        self.response_started = False
        self.response_ended = False
        self.head_written = False
        self.disconnected = False
        self.half_closed = False
        self.continue_sent = False
        self.close_after = False
        self.released = False
        self.status: Any = 0  # the app's, checked when the head is written
        self.headers: Any = ()
        self.waiter: asyncio.Future[None] | None = None
        self.sent = 0
        """Response body bytes the app sent (the access log's size)."""
        self.started = _perf_counter() if state.access_timed else 0.0
        state.active += 1  # down in _end_response, once

    # -- told by the connection --------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.response_ended:
            return  # the app answered without reading: the rest of the body is dropped
        body = self.body
        if body is None:
            self.body = [data]
        else:
            body.append(data)
        self.body_size += len(data)
        if self.body_size > HIGH_WATER:
            self.connection.pause_reading()
        self._wake()

    def end_of_body(self) -> None:
        self.body_received = True
        self._wake()
        if self.response_ended:
            self.connection.finished(self)

    def disconnect(self) -> None:
        """The client is gone."""
        self.disconnected = True
        self._wake()

    def client_half_closed(self) -> None:
        """The client sent its request and closed its side: ``receive`` says it is gone
        once the body is delivered, while ``send`` can still deliver a response."""
        self.half_closed = True
        self._wake()

    def shutdown(self) -> None:
        """Graceful shutdown: the response says ``connection: close`` if not yet sent, and
        ``receive`` returns ``http.disconnect`` instead of waiting (an app that returns then
        without a response gets a 503 sent for it, with no error logged)."""
        self.close_after = True
        self.released = True
        self._wake()

    def client_broke_protocol(self) -> bool:
        """The client sent bad HTTP mid-request: end this cycle; True if a response head
        already went out (then no error response can replace it)."""
        self.disconnect()
        self._end_response()
        return self.head_written

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- ASGI --------------------------------------------------------------------------------

    async def receive(self) -> Message:
        while True:
            if self.disconnected or self.response_ended:
                return dict(_DISCONNECT)
            if self.half_closed and self.body_delivered:
                return dict(_DISCONNECT)
            if not self.body_delivered:
                body = self.body
                if body:
                    data = body[0] if len(body) == 1 else b"".join(body)
                    self.body = None
                    self.body_size = 0
                    received = self.body_received
                    self.body_delivered = received
                    if not received:
                        self.connection.resume_reading()
                    return {"type": "http.request", "body": data, "more_body": not received}
                if self.body_received:
                    self.body_delivered = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                if self.request.expect_continue and not self.continue_sent:
                    self.continue_sent = True
                    if not self.head_written:
                        self.connection.write(self.http.informational_continue())
            if self.released:
                return dict(_DISCONNECT)  # shutting down: waiting would hold the server
            # Wait for more body, or (body delivered) for a disconnect / the response to end.
            waiter = self.waiter
            if waiter is None or waiter.done():
                waiter = self.waiter = self.connection.loop.create_future()
            await FutureWait(waiter)

    async def send(self, message: Message) -> None:
        # A dict, as apps send, is read as one (compiled: no method call per field); another
        # mapping through a copy (anything else: TypeError, a 500).
        fields: dict[str, Any] = message if type(message) is dict else {**message}
        kind = fields["type"]
        if not self.response_started:
            if kind != "http.response.start":
                raise RuntimeError(f"expected ASGI message 'http.response.start', got {kind!r}")
            if self.disconnected:
                raise ClientDisconnected("client disconnected")
            self.response_started = True
            self.status = fields["status"]
            self.headers = fields.get("headers", ())
            return
        if kind != "http.response.body":
            raise RuntimeError(f"expected ASGI message 'http.response.body', got {kind!r}")
        if self.disconnected:
            raise ClientDisconnected("client disconnected")
        if self.response_ended:
            raise RuntimeError("ASGI app sent a body after the response completed")
        body = fields.get("body", b"")
        if type(body) is not bytes:
            # bytearray, memoryview (of any item size): framed by their length in bytes.
            body = bytes(memoryview(body))
        self.sent += len(body)
        more = fields.get("more_body", False)
        http = self.http
        connection = self.connection
        if not self.head_written:
            close = self.close_after or not self.body_received
            defaults = self.state.defaults
            if not more:
                # The whole response in one message: one write, framed by Content-Length.
                data = http.response_whole(self.status, self.headers, defaults, body, close)
                self.head_written = True
                self._send_last(data)
                return
            head = http.response_head(self.status, self.headers, defaults, None, close)
            framed = http.response_body(body)
            # Nothing is written until the first message is known to be valid.
            self.head_written = True
            if len(framed) > _LARGE_BODY:
                connection.write(head)
                data = framed
            else:
                data = head + framed
        else:
            data = http.response_body(body)
            if not more:
                data += http.response_end()
                self._send_last(data)
                return
        if data and not connection.write_soon(data):
            # The transport closed under a sender that never had to wait (the peer reset
            # it): without this an app streaming in a loop would never yield to learn it.
            raise ClientDisconnected("client disconnected")
        if connection.write_paused:
            await connection.drain()
            if self.disconnected:
                raise ClientDisconnected("client disconnected")

    def _end_response(self) -> None:
        """The response has ended, whatever ended it: count it, once."""
        if not self.response_ended:
            self.response_ended = True
            self.state.active -= 1

    def _send_last(self, data: bytes) -> None:
        """The last bytes of the response: end it, write them, log it, finish."""
        if not self.response_ended:  # (_end_response, inline: once per request)
            self.response_ended = True
            self.state.active -= 1
        connection = self.connection
        # The per-request write, direct; none to a transport closing: Output.writable, inline
        # here (a call costs 0.5% of a pure-Python request's instructions).
        transport = connection.transport
        if transport is not None and not connection.closed and not transport.is_closing():
            if connection.corked is not None:  # after this response's chunks (write_soon)
                connection.write_soon(data)
            elif connection.deferring:  # an app started eagerly: see ServerState.deferred
                deferred = self.state.deferred
                if not deferred:
                    connection.loop.call_soon(self.state.flush)
                deferred.append((connection, data))
            else:
                transport.write(data)
        # Not held through finished(), which may parse the next request: a frame kept by
        # an exception's reference cycle there would hand the transport to the gc (rloop
        # 0.5 cannot free it from another thread's collection).
        del transport
        state = self.state
        if state.access_log and access_logger.isEnabledFor(_INFO):
            status = self.status
            line = state.access_format.line(
                self.scope["client"],
                self.request,
                status,
                status_line(status)[13:-2].decode("latin-1"),
                self.sent,
                _perf_counter() - self.started if self.started else 0.0,
            )
            access_logger.info("%s", line)
        # Most apps never wait in receive: no call then (400-800 instructions a request).
        if self.waiter is not None:
            self._wake()
        if self.body_received or connection.closed:
            connection.finished(self)
        else:
            # Answered before the body arrived: the head said "connection: close".
            connection.close()

    async def run_asgi(self, app: ASGIApp) -> None:
        """Run the app on this cycle (CPython 3.10, 3.11; :func:`.app_call.run_asgi` on
        3.12+, where the compiled build must not await the app itself)."""
        try:
            # (object: what an app returns is checked below; no cast() call per request)
            runner: Callable[..., Awaitable[object]] = app
            result = await runner(self.scope, self.receive, self.send)
        except BaseException as exc:
            if self.app_raised(exc):
                raise
            return
        self.app_done(result)

    def app_raised(self, exc: BaseException) -> bool:
        """The app raised ``exc``: end the response as it can be; True if ``exc`` must
        propagate (KeyboardInterrupt, SystemExit)."""
        if isinstance(exc, ClientDisconnected):
            if not self.response_ended:
                self._abandon()
            self.connection.app_returned(self)
            return False
        self._app_failed(exc)
        self.connection.app_returned(self)
        return isinstance(exc, (KeyboardInterrupt, SystemExit))

    def app_done(self, result: object) -> None:
        """The app returned ``result``: what it left undone is an error, logged."""
        self.connection.app_returned(self)
        if result is not None:
            error_logger.error("ASGI callable returned a value other than None: %r", result)
        if not self.response_ended:
            if self.disconnected or self.half_closed or self.released:
                pass  # the client left, or shutdown told the app to stop: no error
            elif not self.response_started:
                error_logger.error("ASGI callable returned without starting a response")
            else:
                error_logger.error("ASGI callable returned without completing the response")
            self._abandon()

    def _app_failed(self, exc: BaseException) -> None:
        connection = self.connection
        if isinstance(exc, asyncio.CancelledError) and (connection.aborted or connection.closed):
            self._end_response()
            return
        if self.response_ended:
            error_logger.error("Exception in ASGI application after the response", exc_info=exc)
            return
        if isinstance(exc, ResponseError):
            error_logger.error("Invalid response from the ASGI application: %s", exc)
        else:
            error_logger.error("Exception in ASGI application", exc_info=exc)
        self._abandon()

    def _abandon(self) -> None:
        """The response cannot be completed: 500 if nothing went out yet (503 when shutdown
        stopped the app), else close."""
        connection = self.connection
        if not self.head_written and not self.disconnected and not self.half_closed:
            self.status = 503 if self.released else 500
            connection.write(self.http.error_response(self.status, self.state.defaults))
        self._end_response()
        self._wake()
        connection.close()
        connection.finished(self)


def format_client(client: Any) -> str:
    """``host:port`` of a scope's client, ``-`` when unknown."""
    if not client:
        return "-"
    return f"{client[0]}:{client[1]}"


def build_scope(connection: CycleConnection, request: Request) -> dict[str, Any]:
    """The ASGI HTTP scope of ``request``; ValueError for a target urlsplit cannot take."""
    state = connection.state
    target = request.target
    split = _TARGETS.get(target)
    if split is None:
        split = split_target(target)
        if len(target) <= _CACHED_TARGET_BYTES and len(_TARGETS) < _CACHED_TARGETS:
            _TARGETS[target] = split
    path, raw_path, query = split
    root_path = state.root_path
    if root_path:
        path = root_path + path
        raw_path = state.root_path_bytes + raw_path
    scope = _SCOPE.copy()  # (then every value set: see _SCOPE)
    scope["asgi"] = _ASGI.copy()
    scope["http_version"] = request.http_version
    scope["server"] = connection.server
    scope["client"] = connection.client
    scope["scheme"] = connection.scheme
    scope["method"] = request.method
    scope["root_path"] = root_path
    scope["path"] = path
    scope["raw_path"] = raw_path
    scope["query_string"] = query
    scope["headers"] = request.headers
    scope["state"] = state.lifespan_state.copy()
    if request.forwarded and connection.proxy_trusted and state.proxy is not None:
        _apply_proxy_headers(scope, request.headers, state.proxy.client_from)
    return scope


def split_target(target: bytes) -> tuple[str, bytes, bytes]:
    """The scope's ``path``, ``raw_path`` and ``query_string`` of a request-target;
    ValueError for one urlsplit cannot take."""
    if target[:1] == b"/":
        raw_path, _, query = target.partition(b"?")
    elif target == b"*":
        raw_path, query = b"*", b""
    else:  # absolute-form (RFC 9112 section 3.2.2)
        parts = urlsplit(target)
        _check_bracketed_host(parts.netloc)
        raw_path = parts.path or b"/"
        query = parts.query
    if raw_path.isascii() and _PERCENT not in raw_path:
        path = raw_path.decode("ascii")
    else:
        path = unquote_to_bytes(raw_path).decode("utf-8", "replace")
    return path, raw_path, query


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


async def service_unavailable(scope: Any, receive: Any, send: Any) -> None:
    """The app served above ``--limit-concurrency``: 503 and close."""
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": b"Service Unavailable"})
