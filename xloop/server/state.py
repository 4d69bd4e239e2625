"""What every connection of one server shares: the app, settings, counters, default headers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from email.utils import formatdate
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..http import DefaultHeaders, HTTPConnection, Limits
from .proxy import ProxyHeaders

if TYPE_CHECKING:
    from ..types import ASGIApp
    from .connection import HttpProtocol

__all__ = ["ServerState"]

access_logger = logging.getLogger("xloop.access")
error_logger = logging.getLogger("xloop.error")


class ServerState:
    """Shared by the protocols of one server; built once at startup."""

    def __init__(
        self,
        app: ASGIApp,
        connection_factory: Callable[[], HTTPConnection],
        *,
        limits: Limits,
        root_path: str = "",
        server_header: bool = True,
        date_header: bool = True,
        extra_headers: list[tuple[bytes, bytes]] | None = None,
        access_log: bool = True,
        limit_concurrency: int | None = None,
        limit_max_requests: int | None = None,
        timeout_keep_alive: float = 5.0,
        proxy: ProxyHeaders | None = None,
        lifespan_state: dict[str, Any] | None = None,
        on_max_requests: Callable[[], None] | None = None,
    ) -> None:
        self.app = app
        self.connection_factory = connection_factory
        self.limits = limits
        self.root_path = root_path
        # raw_path is bytes as sent: a non-ASCII root_path goes in percent-encoded.
        self.root_path_bytes = quote(root_path, safe="/:@!$&'()*+,;=-._~").encode("ascii")
        self.access_log = access_log
        self.limit_concurrency = limit_concurrency
        self.limit_max_requests = limit_max_requests
        self.timeout_keep_alive = timeout_keep_alive
        self.proxy = proxy
        self.lifespan_state: dict[str, Any] = lifespan_state if lifespan_state is not None else {}
        self.on_max_requests = on_max_requests
        self.connections: set[HttpProtocol] = set()
        self.orphans: set[asyncio.Task[None]] = set()  # apps still running, connection gone
        self.active = 0  # requests whose response is not complete
        self.total_requests = 0
        self.total_connections = 0
        self.shutting_down = False
        self.on_connection_lost: Callable[[], None] | None = None

        self._server_header = server_header
        self._date_header = date_header
        self._extra = list(extra_headers or [])
        #: The server/date/extra headers; the server refreshes the date every second.
        self.defaults = DefaultHeaders(self._extra)
        self.refresh_defaults(time.time())

    def refresh_defaults(self, now: float) -> None:
        """Rebuild the default headers with the date of ``now``."""
        items: list[tuple[bytes, bytes]] = []
        if self._server_header:
            items.append((b"server", b"xloop"))
        if self._date_header:
            items.append((b"date", formatdate(now, usegmt=True).encode("ascii")))
        items.extend(self._extra)
        self.defaults = DefaultHeaders(items)
