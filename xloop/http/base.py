"""The interface both parser adapters implement (h11 and httptools).

Theory of operation
-------------------
The server feeds every chunk read from the socket to ``receive_data`` and gets back the
events of *one* request at a time (see :mod:`xloop.http.events`). When the response to
that request is complete, ``start_next_cycle`` releases the events of the next pipelined
request that may already be buffered. Reading ``b""`` means the peer closed its side.

A WebSocket upgrade request comes out as a ``Request`` with ``upgrade`` set (checked only
when an ``Upgrade`` header is present: plain requests pay nothing); the server may then
take the bytes that followed its head with ``take_upgrade_data`` and stop speaking HTTP,
or answer it as plain HTTP.

The response goes the other way: ``response_head`` / ``response_body`` / ``response_end``
return the bytes to write; the adapter decides the framing (Content-Length, chunked, or
close-delimited for HTTP/1.0) and whether the connection may be kept alive afterwards.
They raise :class:`ResponseError` when the application's response is not valid HTTP
(a header with CR, LF or NUL, more or less body than declared): such bytes are never
produced, and the server answers 500 or closes the connection.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .events import Event, Request, ResponseError

if TYPE_CHECKING:
    from .response import DefaultHeaders

__all__ = ["HTTPConnection", "ResponseError"]


class HTTPConnection:
    """One HTTP/1.1 connection, server side, without I/O.

    Every adapter subclasses it (the response side through
    :class:`~xloop.http.response.ResponseWriter`), and so does the stand-in a parked
    connection holds. A base class, not a protocol: in the compiled build it is a native
    class, so the server's calls through it are direct C calls (a vtable slot) instead of
    a method looked up by name and its arguments parsed, about 400 instructions each.
    """

    __slots__ = ("keep_alive",)

    def __init__(self) -> None:
        #: After the current response: may the connection serve another request?
        self.keep_alive = True

    @abstractmethod
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the peer (``b""`` at EOF); return the events now ready."""

    @abstractmethod
    def start_next_cycle(self) -> list[Event]:
        """The response is complete: release the next pipelined request's events."""

    @property
    @abstractmethod
    def buffered(self) -> int:
        """Bytes held for requests not yet released (for read flow control)."""

    @property
    @abstractmethod
    def head_pending(self) -> bool:
        """Between requests: part of the next request's head has arrived (its clock is the
        request-header timeout, not the keep-alive one)."""

    @property
    @abstractmethod
    def reusable(self) -> bool:
        """Between requests and as a new one is: kept alive, nothing failed, nothing of a
        next request received or held. An idle connection may then give it back to the
        server, for any connection's next request (see :mod:`xloop.server.idle`)."""

    @abstractmethod
    def release(self) -> None:
        """Given back when the server keeps enough spare ones: break any reference cycle it
        holds (so it is freed at once, not by the cycle collector). It is not used again."""

    @abstractmethod
    def take_upgrade_data(self) -> bytes:
        """After a request with ``upgrade`` set: the bytes received behind its head, which
        belong to the new protocol. The connection parses no more HTTP after it."""

    @abstractmethod
    def begin_response(self, request: Request) -> None:
        """The server starts answering ``request`` (its method and version shape the framing)."""

    @abstractmethod
    def informational_continue(self) -> bytes:
        """The ``100 Continue`` interim response, when the app starts reading the body."""

    @abstractmethod
    def response_head(
        self,
        status: Any,  # the app's, checked here
        headers: Iterable[Any],  # the app's: ASGI allows any two-item iterables
        defaults: DefaultHeaders,
        body_length: int | None,
        close: bool,
    ) -> bytes:
        """Serialize the status line and headers.

        ``defaults`` are the headers the server adds (``server``, ``date``,
        ``--header``). ``body_length`` is the whole body's size when the app sent it in a
        single message and gave no Content-Length. ``close`` forces ``Connection: close``.
        """

    @abstractmethod
    def response_whole(
        self,
        status: Any,  # the app's, checked here
        headers: Iterable[Any],  # the app's: ASGI allows any two-item iterables
        defaults: DefaultHeaders,
        body: bytes,
        close: bool,
    ) -> bytes:
        """Head, body and end at once, for a response whose body came in one message."""

    @abstractmethod
    def response_body(self, data: bytes) -> bytes:
        """Frame a chunk of response body (nothing for HEAD, 204, 304)."""

    @abstractmethod
    def response_end(self) -> bytes:
        """Finish the response (the last chunk, if chunked)."""

    @abstractmethod
    def error_response(self, status: int, defaults: DefaultHeaders) -> bytes:
        """A complete plain-text response for a protocol error, with ``Connection: close``."""
