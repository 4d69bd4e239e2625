"""The asyncio side of one HTTP/1.1 client connection.

Theory of operation
-------------------
``data_received`` feeds the sans-IO connection (``self.http``: h11 or httptools, one
interface) and walks the events it returns. A ``Request`` becomes a
:class:`~xloop.server.cycle.Cycle` (scope, ``receive``, ``send``) whose app runs as a task;
body events that came in the same read are handed to the cycle *before* the app starts, so a
GET (or a small POST) is complete before the app runs. The task is made directly
(``asyncio.Task``, named ``TASK_NAME``) unless the loop has a task factory. On 3.12+ it
starts eagerly (an app that answers without waiting costs no loop turn), as under
``eager_task_factory``; on 3.10 and 3.11 too on asyncio's loops (:mod:`~xloop.server.eager`);
and the response it ends with is deferred: ``ServerState.flush`` writes the responses to one
poll's reads together, a loop turn later, as a scheduled task's go out (written at once:
17.1 ms of server CPU per 1,000 requests on 3.12 and uvloop, against 16.0). Any other
write, a close or an upgrade writes them first.

The cycle talks back through :meth:`pause_reading`, :meth:`resume_reading`, :meth:`write`,
:meth:`drain`, :meth:`close` and :meth:`finished` (its response has ended and its request
body has arrived). :meth:`finished` either closes the connection or goes to
:meth:`_next_request`, the one place a pipelined request starts; the other way there is
when the client reads again (:meth:`resume_writing`). Inside ``data_received`` the next
request is not started by recursion: ``_handle`` takes it in its own loop.

A WebSocket upgrade request (``Request.upgrade``, when an engine is configured) is not a
cycle: :meth:`_upgrade` hands the transport to a :class:`~xloop.server.websocket.WebSocket`
(``transport.set_protocol``) with the bytes read behind the head, and this object is done.

Flow control: reading pauses while a request body waits unread above ``HIGH_WATER`` and
while pipelined requests queue behind an unfinished response; ``send`` waits while the
transport says its write buffer is full.

Timers, each armed per connection (not per request or per read) and checking the real
deadline when it fires: *idle* (from accept or the end of a response: the keep-alive
timeout, or the request-header timeout once part of a head has arrived: 408; idle a while
with nothing of a request, ``self.http`` is let go: ``idle.PARKED``), *body*
(the longest gap while a request body is read and we are not the ones pausing: 408, or a
close once a response started), *send* (armed while the transport's write buffer is full:
a client that reads none of it for ``--timeout-send`` is dropped).
"""

from __future__ import annotations

import asyncio
import logging
import sys
from typing import TYPE_CHECKING, Final, cast

from ..http import END_OF_MESSAGE, Body, Event, ProtocolError, Request
from ..logs import error_logger
from .app_call import run_asgi as run_app
from .cycle import Cycle, CycleConnection, format_client, service_unavailable
from .idle import PARKED
from .quirks import shut_if_left_open
from .websocket import WebSocket

if TYPE_CHECKING:
    from ..http import HTTPConnection
    from .state import ServerState

__all__ = ["Connection"]

LINGER_SECONDS: Final = 2.0  # after an error response: how long to drain the client
LINGER_BYTES: Final = 1 << 20  # ... and how much of it
#: asyncio.Task(eager_start=True); and the app is run by app_call.run_asgi (see there)
_EAGER: Final = sys.version_info >= (3, 12)
#: Every request task's name (3.10 and 3.11 format "Task-<n>" for each: 1,800 instructions)
TASK_NAME: Final = "xloop.request"


class Connection(CycleConnection, asyncio.Protocol):
    """One client connection: an asyncio protocol over a sans-IO HTTP/1.1 connection."""

    __slots__ = (
        "_body_at",
        "_body_timer",
        "_handling",
        "_linger_timer",
        "_lingered",
        "_lingering",
        "_next_on_resume",
        "_next_pending",
        "_send_mark",
        "_send_timer",
        "_upgraded",
        "aborted",
        "client",
        "closed",
        "closing",
        "cycle",
        "deferring",
        "eof",
        "http",
        "idle_since",
        "loop",
        "proxy_trusted",
        "read_paused",
        "scheme",
        "server",
        "state",
        "task",
        "transport",
        "write_paused",
    )

    def __init__(self, state: ServerState, loop: asyncio.AbstractEventLoop) -> None:
        self.state = state
        self.loop = loop
        #: The sans-IO HTTP/1.1 connection; PARKED until the first bytes (see idle_park).
        self.http: HTTPConnection = PARKED
        self.transport: asyncio.Transport | None = None
        self.cycle: Cycle | None = None
        self.task: asyncio.Task[None] | None = None
        self.client: tuple[str, int] | None = None
        self.server: tuple[str, int | None] | None = None
        self.scheme = "http"
        self.proxy_trusted = False
        self.closed = False  # connection_lost has run
        #: We asked the transport to close (or half-closed it after an error response, or
        #: handed it to a WebSocket).
        self.closing = False
        self.aborted = False  # cut by a forced shutdown
        self.eof = False  # the client half-closed its side
        self.write_paused = False
        self.read_paused = False
        self.deferring = False  # an app started eagerly runs: ServerState.deferred
        self.corked: list[bytes] | None = None  # see Output.write_soon
        self._corked_size = 0
        self._lingering = False
        #: Where the transport cannot change protocol (rloop 0.5 raises from
        #: ``set_protocol``): the WebSocket this connection forwards every callback to.
        self._upgraded: WebSocket | None = None
        self._lingered = 0
        self._linger_timer: asyncio.TimerHandle | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        self._handling = False  # inside _handle: the next request waits for its loop
        self._next_pending = False  # ... which then takes it
        self._next_on_resume = False  # the next request waits for the client to read
        #: When the connection went idle (loop time); None while a request is under way.
        self.idle_since: float | None = None
        self._body_at = 0.0  # when request body bytes last arrived
        self._body_timer: asyncio.TimerHandle | None = None
        self._send_mark = 0  # the write buffer's size when the send timer was armed
        self._send_timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        state = self.state
        state.connections.add(self)
        state.total_connections += 1
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            if len(peer) == 2 and type(peer[0]) is str and type(peer[1]) is int:
                self.client = peer  # (host, port) already (IPv4): the loop's own, no copy
            else:
                self.client = (str(peer[0]), int(peer[1]))
        self.server = state.server_address(transport.get_extra_info("sockname"))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
        proxy = state.proxy
        self.proxy_trusted = proxy is not None and proxy.trusts(
            self.client[0] if self.client else None
        )
        self._go_idle()

    def data_received(self, data: bytes) -> None:
        if self._upgraded is not None:
            self._upgraded.data_received(data)
            return
        if self._lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES and self.transport is not None:
                self.transport.close()
            return
        http = self.http
        if http is PARKED:  # the first bytes, or the first after a while idle
            http = self.http = self.state.take_http()
        events = http.receive_data(data)
        cycle = self.cycle
        if cycle is not None and cycle.body_received and not self.read_paused:
            # Pipelined bytes behind an unfinished response: stop reading till it is done.
            self.pause_reading()
        if events:
            self._handle(events)

    def eof_received(self) -> bool:
        if self._upgraded is not None:
            return self._upgraded.eof_received()
        self.eof = True
        if self._lingering:
            return False  # the client is done too: close
        events = self.http.receive_data(b"")
        if events:
            self._handle(events)
        cycle = self.cycle
        if cycle is None or not cycle.body_received:
            # Idle, or the request can never be completed: the client is gone.
            if cycle is not None:
                cycle.disconnect()
            self.close()
            return False
        # A complete request whose response is still being produced: keep the transport
        # half-open so the response can still be written; receive() tells a waiting app
        # (long-poll, SSE) the client is gone.
        cycle.client_half_closed()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self._upgraded is not None:
            self._upgraded.connection_lost(exc)
            self._after_lost()
            return
        self.closed = True
        self.corked = None
        state = self.state
        state.idle.discard(self)
        for timer in (self._linger_timer, self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._linger_timer = self._body_timer = self._send_timer = None
        cycle = self.cycle
        if cycle is not None:
            cycle.disconnect()
        task = self.task
        if task is not None and not task.done():
            state.keep_task(task)  # the app still runs for a connection that is gone
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        state.connection_lost(self)
        self._after_lost()

    def _after_lost(self) -> None:
        transport = self.transport
        if self.client is not None and transport is not None:
            self.loop.call_soon(shut_if_left_open, transport, self.client)
        # Nothing here refers back to the transport: rloop 0.5 closes the socket only when
        # its transport is freed, which a cycle through this object would leave to the gc.
        self.transport = self._upgraded = None

    def pause_writing(self) -> None:
        websocket = self._upgraded
        if websocket is not None:
            # send() waits from now on; the rest (the send timer) a loop turn later (rloop
            # 0.5 aborts on a transport call inside this callback), resume_writing after it
            websocket.write_paused = True
            self.loop.call_soon(websocket.pause_writing)
            return
        self.write_paused = True
        if self._send_timer is None and self.transport is not None:
            # Its buffer's size is read a loop turn later: rloop 0.5 aborts, as above.
            self._send_timer = self.loop.call_later(0, self._arm_send_timer)

    def _arm_send_timer(self) -> None:
        self._send_timer = None
        if self.write_paused and self.transport is not None and not self.closed:
            self._send_mark = self.transport.get_write_buffer_size()
            self._send_timer = self.loop.call_later(self.state.timeout_send, self._on_send_timer)

    def resume_writing(self) -> None:
        if self._upgraded is not None:
            self.loop.call_soon(self._upgraded.resume_writing)
            return
        self.write_paused = False
        if self._send_timer is not None:
            self._send_timer.cancel()
            self._send_timer = None
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        if self._next_on_resume:
            self._next_on_resume = False
            self._next_request()

    # -- what the cycle calls ----------------------------------------------------------------

    def pause_reading(self) -> None:
        if not self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and self.transport is not None and not self.closed:
            self.read_paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        self.closing = True
        if self.state.deferred:
            self.state.flush()
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def finished(self, cycle: Cycle) -> None:
        """``cycle``'s response has ended and its request body has arrived."""
        if cycle is not self.cycle:
            return
        self.cycle = None
        if self.closed or self.closing:
            return
        if not self.http.keep_alive or self.state.shutting_down:
            self.close()
            return
        self.idle_since = now = self.state.clock()  # (_go_idle, inline: once per request)
        self.state.idle.add(self, now)
        self._next_request()

    def app_returned(self, cycle: Cycle) -> None:
        """``cycle``'s app returned: an idle connection keeps no finished task (about 430
        bytes each). A newer cycle's task, started while this one's app still ran, stays."""
        current = self.cycle
        if current is None or current is cycle:
            self.task = None

    # -- requests ----------------------------------------------------------------------------

    def _next_request(self) -> None:
        """The one place the next pipelined request starts (after a finished cycle, or
        when the client reads again)."""
        if self.cycle is not None or self.closed or self.closing:
            return
        if self._handling:
            self._next_pending = True  # _handle's loop takes it when the walk returns
            return
        events = self._take_next()
        if events:
            # Called from the previous app's task: its context must not leak into the
            # next request's task, which starts from the server's.
            self.state.context.copy().run(self._handle, events)

    def _take_next(self) -> list[Event]:
        """The next pipelined request's events; none while the client is not reading
        (so responses cannot pile up in our write buffer), and close once a half-closed
        client has nothing more to be answered."""
        if self.write_paused:
            self.pause_reading()
            self._next_on_resume = True
            return []
        events = self.http.start_next_cycle()
        if self.read_paused:
            self.resume_reading()
        if not events and self.eof:
            self.close()
        return events

    def _handle(self, events: list[Event]) -> None:
        """Walk the events of the sans-IO layer, then any pipelined request behind them."""
        if self._handling:  # pragma: no cover - defensive: events are never fed re-entrantly
            raise RuntimeError("re-entrant event handling")
        self._handling = True
        try:
            while self._walk(events) and self._next_pending:
                self._next_pending = False
                if self.closed or self.closing:
                    return
                events = self._take_next()
                if not events:
                    return
        finally:
            self._handling = False
            self._next_pending = False

    def _walk(self, events: list[Event]) -> bool:
        """Act on ``events``; False when a protocol error ended the connection."""
        count = len(events)
        index = 0
        while index < count:
            event = events[index]
            index += 1
            kind = type(event)
            if kind is Request:
                request: Request = event  # type: ignore[assignment]
                if request.upgrade and self.state.ws_factory is not None and self._upgrade(request):
                    return False  # the connection is a WebSocket's now
                try:
                    cycle = Cycle(self, request)
                except ValueError:  # a target urlsplit cannot take apart
                    self._protocol_error(ProtocolError(400, "invalid request-target"))
                    return False
                state = self.state
                self.idle_since = None
                self.http.begin_response(request)
                self.cycle = cycle
                previous = self.task
                if previous is not None and not previous.done():
                    state.keep_task(previous)  # an app still working after its response
                # Hand the body that came with the head to the cycle before the app
                # starts, so it sees a complete request when it can.
                while index < count:
                    following = events[index]
                    if following is END_OF_MESSAGE:
                        cycle.body_received = True  # end_of_body: nothing waits yet
                    elif type(following) is Body:
                        cycle.feed(following.data)
                    else:
                        break
                    index += 1
                if not cycle.body_received:
                    self._body_at = self.state.clock()
                    if self._body_timer is None:
                        self._body_timer = self.loop.call_at(
                            self._body_at + state.timeout_request_body, self._on_body_timer
                        )
                limit = state.limit_concurrency
                app = state.app
                if limit is not None and (len(state.connections) > limit or state.active > limit):
                    app = service_unavailable
                if _EAGER:
                    coro = run_app(cycle, app, cycle.scope, cycle.receive, cycle.send)
                else:
                    coro = cycle.run_asgi(app)
                loop = self.loop
                factory = state.task_factory(loop)  # the loop's, or one the app set
                eager = state.eager  # (3.10, 3.11)
                if factory is None and not _EAGER and eager is None:
                    task = asyncio.Task(coro, loop=loop, name=TASK_NAME)  # (nothing deferred)
                else:
                    self.deferring = True  # (an eager start's response: see the docstring)
                    try:
                        if factory is not None:
                            task = loop.create_task(coro)
                        elif eager is not None:
                            task = eager.start(coro, TASK_NAME)
                        else:
                            task = asyncio.Task(coro, loop=loop, name=TASK_NAME, eager_start=True)  # type: ignore[call-arg,unused-ignore]
                    finally:
                        self.deferring = False
                if not task.done():  # (a done one: app_returned let go of it)
                    self.task = task
                state.total_requests += 1  # (request_started, inline: after the task is made)
                if state.limit_max_requests is not None:
                    state.request_started(counted=True)
            elif kind is Body:
                if self.cycle is not None:
                    self._body_at = self.state.clock()
                    self.cycle.feed(event.data)  # type: ignore[union-attr]
            elif event is END_OF_MESSAGE:
                if self.cycle is not None:
                    self.cycle.end_of_body()
            else:
                self._protocol_error(event)  # type: ignore[arg-type]
                return False
        return True

    def _upgrade(self, request: Request) -> bool:
        """Hand the transport to a :class:`WebSocket` for the rest of the connection's
        life, with the bytes read behind the request head; False to answer the request as
        plain HTTP instead (above ``--limit-concurrency``: 503)."""
        state = self.state
        limit = state.limit_concurrency
        if limit is not None and (len(state.connections) > limit or state.active > limit):
            return False
        transport = self.transport
        assert transport is not None
        if state.deferred:
            state.flush()
        try:
            websocket = WebSocket(self, request)
        except ValueError:  # a target urlsplit cannot take apart
            self._protocol_error(ProtocolError(400, "invalid request-target"))
            return True
        self.closing = True  # no more HTTP here
        self.idle_since = None
        state.idle.discard(self)
        for timer in (self._body_timer, self._send_timer):
            if timer is not None:
                timer.cancel()
        self._body_timer = self._send_timer = None
        previous = self.task
        if previous is not None and not previous.done():
            state.keep_task(previous)  # an app still working after its response
        state.request_started()
        state.connections.add(websocket)
        state.connections.discard(self)
        try:
            transport.set_protocol(websocket)
        except NotImplementedError:  # this connection forwards to it instead
            self._upgraded = websocket
        websocket.start(self.http.take_upgrade_data())
        return True

    def _protocol_error(self, error: ProtocolError) -> None:
        """The client sent bad HTTP: answer with its status (if we still can) and close."""
        cycle = self.cycle
        if cycle is not None and cycle.client_broke_protocol():
            self.close()  # a response is under way: it cannot be replaced
            return
        if self.transport is not None and not self.closed:
            if self.state.deferred:
                self.state.flush()
            self.transport.write(self.http.error_response(error.status, self.state.defaults))
            if error_logger.isEnabledFor(logging.DEBUG):
                error_logger.debug("bad request from %s: %s", format_client(self.client), error)
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
        self._lingering = True
        transport.write_eof()
        self.resume_reading()
        self._linger_timer = self.loop.call_later(LINGER_SECONDS, self._end_linger)

    def _end_linger(self) -> None:
        self._linger_timer = None
        if self.transport is not None and not self.closed:
            self.transport.close()

    # -- idle connections and shutdown -------------------------------------------------------

    def _go_idle(self) -> None:
        self.idle_since = now = self.state.clock()
        self.state.idle.add(self, now)

    def idle_deadline(self, since: float) -> float:
        """When the idle period begun at ``since`` ends (:class:`~.idle.IdleQueue`)."""
        state = self.state
        if self.http.head_pending:
            return since + state.timeout_request_header
        return since + state.timeout_keep_alive

    def idle_expired(self) -> None:
        """The idle deadline passed: 408 if part of a request head came, else close."""
        if self.closed or self.closing:
            return
        if self.http.head_pending:
            self._protocol_error(ProtocolError(408, "request head not received in time"))
        else:
            self.close()

    def idle_park(self) -> None:
        """Idle a while: let go of the parser when nothing of a next request came (the
        server keeps it for any connection's next request: ``ServerState.give_http``)."""
        http = self.http
        if http is not PARKED and self.cycle is None and not self._next_on_resume and http.reusable:
            self.http = PARKED
            self.state.give_http(http)

    def _on_body_timer(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None or cycle.body_received or self.closed or self.closing:
            return
        now = self.state.clock()
        if self.read_paused:
            self._body_at = now  # we stopped reading, not the client
        deadline = self._body_at + self.state.timeout_request_body
        if now < deadline:
            self._body_timer = self.loop.call_at(deadline, self._on_body_timer)
        else:
            self._protocol_error(ProtocolError(408, "request body not received in time"))

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
        if error_logger.isEnabledFor(logging.DEBUG):
            error_logger.debug(
                "client %s read nothing of its response for %gs: dropped",
                format_client(self.client),
                self.state.timeout_send,
            )
        transport.abort()  # the app's pending send then raises ClientDisconnected

    def shutdown(self) -> None:
        """Graceful shutdown: close now if idle, else after the current response; an app
        waiting in ``receive`` (long-poll, SSE, a streaming upload) is told to stop."""
        if self.cycle is None:
            self.close()
        else:
            self.cycle.shutdown()

    def abort(self) -> None:
        """Forced shutdown: drop the connection and cancel the app."""
        self.aborted = True
        if self.transport is not None and not self.closed:
            self.transport.abort()
        if self.task is not None and not self.task.done():
            self.task.cancel()
