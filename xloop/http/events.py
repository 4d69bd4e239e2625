"""Events the sans-IO HTTP/1.1 layer hands to the server.

A connection object (:class:`xloop.http.base.HTTPConnection`) is fed bytes and returns
a list of these. The events of one request are released at a time: after its
:class:`EndOfMessage` nothing more comes until the server calls ``start_next_cycle()``,
so pipelined requests are answered strictly in order.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "END_OF_MESSAGE",
    "Body",
    "EndOfMessage",
    "Event",
    "ProtocolError",
    "Request",
    "ResponseError",
]


class Request:
    """A complete, validated request head."""

    __slots__ = (
        "expect_continue",
        "forwarded",
        "headers",
        "http_version",
        "keep_alive",
        "method",
        "target",
        "upgrade",
    )

    def __init__(
        self,
        method: str,
        target: bytes,
        http_version: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
        expect_continue: bool,
        forwarded: bool = False,
        upgrade: bool = False,
    ) -> None:
        self.method = method
        #: The request-target exactly as sent (origin-form, absolute-form, ``*``).
        self.target = target
        #: ``"1.1"`` or ``"1.0"``.
        self.http_version = http_version
        #: Header names lowercased, values as sent (ASGI's shape).
        self.headers = headers
        #: Whether the connection may stay open after this request, as far as the
        #: request says (HTTP version and ``Connection`` header).
        self.keep_alive = keep_alive
        #: ``Expect: 100-continue`` was sent with a body still to come.
        self.expect_continue = expect_continue
        #: An ``X-Forwarded-For`` or ``X-Forwarded-Proto`` header is present.
        self.forwarded = forwarded
        #: A WebSocket upgrade: GET, ``Upgrade: websocket``, ``Connection: upgrade``, no
        #: body. What follows its head is not HTTP (``take_upgrade_data``).
        self.upgrade = upgrade

    def __repr__(self) -> str:
        return f"Request({self.method} {self.target!r} HTTP/{self.http_version})"


class Body:
    """A chunk of request body (de-chunked)."""

    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"Body({len(self.data)} bytes)"


class EndOfMessage:
    """The request body is complete."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "EndOfMessage()"


END_OF_MESSAGE: Final = EndOfMessage()


class ProtocolError:
    """The client sent something that is not acceptable HTTP/1.1.

    ``status`` is the response to send (400, 413, 414, 431, 501, 505); the connection
    must be closed afterwards, so nothing can be smuggled behind the bad request.
    """

    __slots__ = ("reason", "status")

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason

    def __repr__(self) -> str:
        return f"ProtocolError({self.status}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ProtocolError)
            and other.status == self.status
            and other.reason == self.reason
        )

    def __hash__(self) -> int:
        return hash((self.status, self.reason))


Event = Request | Body | EndOfMessage | ProtocolError


class ResponseError(Exception):
    """The application's response cannot be sent as valid HTTP/1.1."""
