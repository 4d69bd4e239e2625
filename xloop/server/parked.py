"""What a parked connection holds instead of its sans-IO HTTP connection (see
:mod:`xloop.server.idle`).

Only a parked connection reaches it, never a request. It is an
:class:`~xloop.http.base.HTTPConnection` like the adapters, so that the server's calls on a
connection's ``http`` stay direct calls in the compiled build (``platforms/compile.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ..http.base import HTTPConnection

if TYPE_CHECKING:
    from ..http import DefaultHeaders, Event, Request

__all__ = ["PARKED"]


def _no_request() -> NoReturn:
    raise RuntimeError("a parked connection has no request")


class _Parked(HTTPConnection):
    """What a parked connection holds instead of its sans-IO HTTP connection: nothing of
    a request. It is between requests, kept alive, as a new connection is; only the end
    of the stream can reach it (``receive_data(b"")``: no events). Its next bytes take a
    real one first (``ServerState.take_http``)."""

    __slots__ = ()

    def receive_data(self, data: bytes) -> list[Event]:
        if data:
            raise RuntimeError("a parked connection was fed bytes: make its HTTP connection")
        return []

    def start_next_cycle(self) -> list[Event]:
        return []

    @property
    def buffered(self) -> int:
        return 0

    @property
    def head_pending(self) -> bool:
        return False

    @property
    def reusable(self) -> bool:
        return True

    def release(self) -> None:
        pass

    # What only a request allows: a parked connection has none.

    def take_upgrade_data(self) -> bytes:
        _no_request()

    def begin_response(self, request: Request) -> None:
        _no_request()

    def informational_continue(self) -> bytes:
        _no_request()

    def response_head(
        self,
        status: Any,
        headers: Iterable[Any],
        defaults: DefaultHeaders,
        body_length: int | None,
        close: bool,
    ) -> bytes:
        _no_request()

    def response_whole(
        self,
        status: Any,
        headers: Iterable[Any],
        defaults: DefaultHeaders,
        body: bytes,
        close: bool,
    ) -> bytes:
        _no_request()

    def response_body(self, data: bytes) -> bytes:
        _no_request()

    def response_end(self) -> bytes:
        _no_request()

    def error_response(self, status: int, defaults: DefaultHeaders) -> bytes:
        _no_request()


#: The one stand-in every parked connection holds (see the module's docstring).
PARKED: Final[HTTPConnection] = _Parked()
