"""What a parked connection holds instead of its sans-IO HTTP connection (see
:mod:`xloop.server.idle`).

A module of its own so that it stays interpreted in the compiled build
(``platforms/compile.py``), where a native class takes no methods assigned in its body.
Only a parked connection reaches it, never a request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, NoReturn

if TYPE_CHECKING:
    from ..http import Event
    from ..http.base import HTTPConnection

__all__ = ["PARKED"]


class _Parked:
    """What a parked connection holds instead of its sans-IO HTTP connection: nothing of
    a request. It is between requests, kept alive, as a new connection is; only the end
    of the stream can reach it (``receive_data(b"")``: no events). Its next bytes take a
    real one first (``ServerState.take_http``)."""

    __slots__ = ()

    keep_alive = True
    buffered = 0
    head_pending = False
    reusable = True

    def receive_data(self, data: bytes) -> list[Event]:
        if data:
            raise RuntimeError("a parked connection was fed bytes: make its HTTP connection")
        return []

    def start_next_cycle(self) -> list[Event]:
        return []

    def release(self) -> None:
        pass

    def _no_request(self, *args: object, **kwargs: object) -> NoReturn:
        raise RuntimeError("a parked connection has no request")

    # What only a request allows: a parked connection has none.
    take_upgrade_data = begin_response = informational_continue = _no_request
    response_head = response_whole = response_body = response_end = _no_request
    error_response = _no_request


#: The one stand-in every parked connection holds (see the module's docstring).
PARKED: Final[HTTPConnection] = _Parked()
