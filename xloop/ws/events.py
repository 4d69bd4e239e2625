"""Events the sans-IO WebSocket layer hands to the server, and its errors.

An engine (:class:`xloop.ws.base.WebSocketEngine`) is fed bytes and returns a list of these.
Whole messages only: fragments are assembled (and text decoded) inside the engine, within
``max_size``. Pings are answered inside the engine; a :class:`Closed` is the last event.
"""

from __future__ import annotations

__all__ = [
    "Closed",
    "ConnectionClosed",
    "Event",
    "HandshakeError",
    "Message",
    "MessageError",
    "Pong",
]


class Message:
    """A complete message: ``str`` for a text message, ``bytes`` for a binary one."""

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        self.data = data

    def __repr__(self) -> str:
        kind = "text" if isinstance(self.data, str) else "bytes"
        return f"Message({kind}, {len(self.data)})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Message) and other.data == self.data

    __hash__ = None  # type: ignore[assignment]


class Pong:
    """The peer answered a ping (unsolicited pongs too: the server matches payloads)."""

    __slots__ = ("payload",)

    def __init__(self, payload: bytes) -> None:
        self.payload = payload

    def __repr__(self) -> str:
        return f"Pong({self.payload!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Pong) and other.payload == self.payload

    __hash__ = None  # type: ignore[assignment]


class Closed:
    """The WebSocket connection is closed; nothing is received after this.

    ``code`` and ``reason``: the peer's close frame (1005 when it carried no code), or the
    code this side failed the connection with after a protocol error (1002 bad frame,
    1007 invalid UTF-8, 1009 message too big), or 1006 when the stream ended without a
    close frame. The engine has queued whatever must still be sent (the echo of the
    peer's close, or the failing close frame): the server sends it, then ends the TCP
    connection (RFC 6455 section 7.1.1: the server closes first).
    """

    __slots__ = ("code", "reason")

    def __init__(self, code: int, reason: str = "") -> None:
        self.code = int(code)  # a plain int, not an engine's enum
        self.reason = reason

    def __repr__(self) -> str:
        return f"Closed({self.code}, {self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Closed) and (other.code, other.reason) == (self.code, self.reason)

    __hash__ = None  # type: ignore[assignment]


Event = Message | Pong | Closed


class HandshakeError(Exception):
    """The opening handshake is not acceptable: answer ``status`` (400, 426) and close.

    ``headers`` go into the response (426 says which ``Sec-WebSocket-Version`` we speak).
    """

    def __init__(
        self, status: int, reason: str, headers: list[tuple[bytes, bytes]] | None = None
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or []


class ConnectionClosed(Exception):
    """Sending on a WebSocket connection that is closing or closed (a local error: the
    server turns it into ``ClientDisconnected`` for the app)."""


class MessageError(ValueError):
    """The application's message cannot be sent: a close code or reason, or a subprotocol,
    that the protocol does not allow."""
