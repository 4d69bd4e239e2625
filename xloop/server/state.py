"""What every connection of one server shares: the app, the config, counters, default headers.

Built once at startup from the validated :class:`~xloop.config.Config`: settings are read
from it, never given defaults of their own here. The counters and the two events are how
connections tell the server about themselves without calling back into it.
"""

from __future__ import annotations

import asyncio
import contextvars
import operator
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any, Final, Protocol
from urllib.parse import quote

from ..access import AccessFormat
from ..http import DefaultHeaders, HTTPConnection
from ..logs import error_logger
from ..loops import tasks as task_table
from ..ws import Settings, engine_factory
from .eager import EagerStart, eager_start
from .idle import IdleQueue
from .proxy import ProxyHeaders

if TYPE_CHECKING:
    from ..config import Config
    from ..http import Request
    from ..types import ASGIApp
    from ..ws import WebSocketEngine

__all__ = ["HTTP_POOL_SIZE", "OpenConnection", "ServerState"]

#: Spare sans-IO HTTP connections a server keeps (about 1.3 KiB each with httptools): as
#: many as park in one ``PARK_AFTER`` (50 ms) at 20,000 new keep-alive connections a second.
HTTP_POOL_SIZE: Final = 1024


class OpenConnection(Protocol):
    """What the server asks of an open connection when it shuts down."""

    def shutdown(self) -> None:
        """Close now if idle, else once the response under way has ended (a WebSocket:
        start the closing handshake with 1012)."""

    def abort(self) -> None:
        """Drop the connection and cancel its app."""


class Deferring(Protocol):
    """A connection whose response bytes wait in ``ServerState.deferred``."""

    def writable(self) -> asyncio.Transport | None:
        """Its transport, unless closing or closed."""

    def uncork(self) -> None:
        """Write the bytes its ``write_soon`` kept."""


#: What ``BaseEventLoop.get_task_factory`` returns, read without its Python frame.
_TASK_FACTORY: Final = operator.attrgetter("_task_factory")


class ServerState:
    """Shared by the connections of one server."""

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        http_factory: Callable[[], HTTPConnection],
        lifespan_state: dict[str, Any],
        stop_requested: asyncio.Event,
    ) -> None:
        self.config = config
        self.app = app
        #: A new sans-IO HTTP/1.1 connection (h11, httptools or zttp); see take_http.
        self.http_factory = http_factory
        self._http_pool: list[HTTPConnection] = []
        #: The context the server runs in: each pipelined request starts from a copy of it
        #: (one per server, not per connection).
        self.context = contextvars.copy_context()
        self.lifespan_state = lifespan_state
        # Read per request: plain attributes, not lookups through config.
        self.root_path = config.root_path
        # raw_path is bytes as sent: a non-ASCII root_path goes in percent-encoded.
        self.root_path_bytes = quote(config.root_path, safe="/:@!$&'()*+,;=-._~").encode("ascii")
        self.access_log = config.access_log
        self.access_format = AccessFormat(config.access_log_format)
        #: --access-log-format uses duration_ms: each request notes when it started.
        self.access_timed = config.access_log and self.access_format.timed
        self.limit_concurrency = config.limit_concurrency
        self.limit_max_requests = config.limit_max_requests
        self.timeout_keep_alive = config.timeout_keep_alive
        self.timeout_request_header = config.timeout_request_header
        self.timeout_request_body = config.timeout_request_body
        self.timeout_send = config.timeout_send
        self.proxy = ProxyHeaders(config.trusted_proxies()) if config.proxy_headers else None
        #: A new sans-IO WebSocket engine per upgrade request; None: upgrades are plain HTTP.
        self.ws_factory: Callable[[Request], WebSocketEngine] | None = engine_factory(
            config.ws,
            Settings(
                max_size=config.ws_max_size, per_message_deflate=config.ws_per_message_deflate
            ),
        )
        self.ws_max_queue = config.ws_max_queue
        self.ws_ping_interval = config.ws_ping_interval
        self.ws_ping_timeout = config.ws_ping_timeout

        self.connections: set[OpenConnection] = set()
        self.orphans: set[asyncio.Task[None]] = set()  # apps still running, connection gone
        self.active = 0  # requests whose response has not ended (counted by the Cycle)
        self.total_requests = 0
        self.total_connections = 0
        #: WebSocket messages the apps sent (``websocket.send``), for the status pipe.
        self.total_ws_messages = 0
        self.shutting_down = False
        #: The server's own stop request; set from here when ``--limit-max-requests`` is hit.
        self.stop_requested = stop_requested
        #: Set when the last connection closes during shutdown.
        self.all_closed = asyncio.Event()
        self.loop = loop = asyncio.get_running_loop()
        #: Starts apps' tasks eagerly on 3.10 and 3.11 (None: 3.12+, or a loop it cannot).
        self.eager: EagerStart | None = eager_start(loop)
        #: Tasks enter asyncio's table of live tasks without a Python frame (3.10, 3.11,
        #: compiled: :mod:`xloop.loops.tasks`); for the process's life, as it changes no
        #: behaviour.
        task_table.install()
        #: ``loop.time``, read per request: ``time.monotonic`` itself on asyncio's loops,
        #: whose ``time`` returns just that (a Python call fewer a request).
        self.clock: Callable[[], float] = (
            time.monotonic if type(loop).time is asyncio.BaseEventLoop.time else loop.time
        )
        #: ``loop.get_task_factory()`` (an app may set one at any time: read per request):
        #: asyncio's loops keep it in an attribute, read without a Python call.
        self.task_factory: Callable[[asyncio.AbstractEventLoop], object] = (
            _TASK_FACTORY
            if type(loop).get_task_factory is asyncio.BaseEventLoop.get_task_factory
            else type(loop).get_task_factory
        )
        #: The idle connections and the one timer for their deadlines.
        self.idle = IdleQueue(loop, (self.timeout_keep_alive, self.timeout_request_header))
        #: Bytes to write once the loop has run this turn's callbacks (:meth:`flush`, a
        #: loop turn later), in order: the last bytes of responses that apps started
        #: eagerly (``eager``) produced while the loop runs the callbacks of one batch of
        #: reads, so that the responses to a batch go out together; and (``None``) a
        #: connection's corked chunks (``Output.write_soon``). A connection writes them
        #: first before any write or close of its own.
        self.deferred: list[tuple[Deferring, bytes | None]] = []

        # (Any: a compiled build would unbox a typed tuple and box a new one per read.)
        self._server_addresses: dict[object, Any] = {}
        self._extra = config.extra_headers()
        #: The server/date/extra headers; the server refreshes the date every second.
        self.defaults = DefaultHeaders(self._extra)
        self.refresh_defaults(time.time())

    def flush(self) -> None:
        """Write the response bytes deferred since the last flush (see ``deferred``);
        those of a connection lost since then are dropped."""
        deferred = self.deferred
        if deferred:
            self.deferred = []
            for connection, data in deferred:
                if data is None:  # a connection's corked bytes (Output.write_soon)
                    connection.uncork()
                    continue
                transport = connection.writable()  # (aborted or closed since?)
                if transport is not None:
                    transport.write(data)

    def take_http(self) -> HTTPConnection:
        """A sans-IO HTTP connection for the request a client connection begins to read:
        one that a connection gave back between requests, else a new one."""
        pool = self._http_pool
        return pool.pop() if pool else self.http_factory()

    def give_http(self, http: HTTPConnection) -> None:
        """A connection parked (:mod:`~xloop.server.idle`): ``http`` is between requests
        with nothing of a next one, as a new one is. Kept for the next :meth:`take_http`,
        up to ``HTTP_POOL_SIZE``; freed beyond."""
        pool = self._http_pool
        if len(pool) < HTTP_POOL_SIZE:
            pool.append(http)
        else:
            http.release()

    def refresh_defaults(self, now: float) -> None:
        """Rebuild the default headers with the date of ``now``."""
        items: list[tuple[bytes, bytes]] = []
        if self.config.server_header:
            items.append((b"server", b"xloop"))
        if self.config.date_header:
            items.append((b"date", formatdate(now, usegmt=True).encode("ascii")))
        items.extend(self._extra)
        self.defaults = DefaultHeaders(items)

    def server_address(self, sockname: object) -> tuple[str, int | None] | None:
        """The scope's ``server`` for a connection's local socket name: one tuple per
        local address, shared by the connections that came in on it."""
        if not isinstance(sockname, (tuple, str)):
            return None
        known = self._server_addresses.get(sockname)
        if known is None:
            if isinstance(sockname, tuple) and len(sockname) >= 2:
                known = (str(sockname[0]), int(sockname[1]))
            elif isinstance(sockname, str) and sockname:
                known = (sockname, None)
            else:
                return None
            if len(self._server_addresses) < 64:  # a server listens on few addresses
                self._server_addresses[sockname] = known
        return known

    def request_started(self, counted: bool = False) -> None:
        """Count one more request (its cycle counts ``active`` up and down), unless the
        caller has (``counted``), and stop the server at ``--limit-max-requests``."""
        if not counted:
            self.total_requests += 1
        limit = self.limit_max_requests
        if limit is not None and self.total_requests >= limit and not self.stop_requested.is_set():
            error_logger.info("maximum number of requests reached (%s); shutting down", limit)
            self.stop_requested.set()

    def connection_lost(self, connection: OpenConnection) -> None:
        self.connections.discard(connection)
        if not self.connections:
            self.all_closed.set()

    def keep_task(self, task: asyncio.Task[None]) -> None:
        """An app still running without its connection (background work after the
        response, or a gone client): the graceful shutdown waits for it too."""
        self.orphans.add(task)
        task.add_done_callback(self.orphans.discard)
