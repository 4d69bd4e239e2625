"""The interface both WebSocket engines implement (websockets and wsproto).

Theory of operation
-------------------
The HTTP/1.1 layer parses the upgrade request; the server checks it
(:func:`xloop.ws.handshake.check_request`) and builds an engine for it, which negotiates
the extensions (permessage-deflate) and refuses what it cannot speak with a
:class:`~xloop.ws.events.HandshakeError`. The ASGI app then accepts (:meth:`accept` returns
the ``101`` response) or denies (the server answers with plain HTTP and never calls the
engine again).

After the ``101``, bytes read from the socket go to :meth:`receive_data` (``b""`` at EOF),
which returns whole messages, pongs and finally one :class:`~xloop.ws.events.Closed`.
Everything the engine wants sent, whether asked for (:meth:`send_message`,
:meth:`send_ping`, :meth:`close`, :meth:`fail`) or not (a pong for a ping, the echo of a
close frame, the close frame failing the connection after a protocol error), is collected
and returned by :meth:`data_to_send`. Once :attr:`closed` is true the server sends what is
left and ends the TCP connection.

Limits are the engine's: a message over ``max_size`` closes with 1009, invalid UTF-8 with
1007, a malformed frame with 1002; none of them raises.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from .events import Event

__all__ = ["DEFLATE_MEM_LEVEL", "DEFLATE_WINDOW_BITS", "Settings", "WebSocketEngine"]

#: permessage-deflate's zlib window for what we compress, and what we ask clients to use
#: (2**12 bytes instead of 2**15: about 24 KiB less per connection and direction).
DEFLATE_WINDOW_BITS: Final = 12
#: zlib's memLevel for our compressor (2**(5+9) bytes of state instead of 2**(8+9)).
DEFLATE_MEM_LEVEL: Final = 5


@dataclass(frozen=True)
class Settings:
    """What an engine needs to know from the config."""

    #: Largest incoming message (after decompression), in bytes; 1009 above.
    max_size: int = 16 * 1024 * 1024
    #: Offer permessage-deflate when the client asks for it.
    per_message_deflate: bool = True


class WebSocketEngine(Protocol):
    """One WebSocket connection, server side, without I/O."""

    #: The subprotocols the client offered, in its order (``scope["subprotocols"]``).
    subprotocols: list[str]

    @property
    def open(self) -> bool:
        """Messages can be sent: accepted, and no close frame sent or received."""

    @property
    def closed(self) -> bool:
        """The WebSocket connection is over (closing handshake done, failed, or EOF): the
        server sends :meth:`data_to_send` and ends the TCP connection."""

    def accept(self, subprotocol: str | None, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        """The ``101 Switching Protocols`` response; ``headers`` are added to it (the
        server's defaults, then the app's). ResponseError for a header that is not valid."""

    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the peer (``b""`` at EOF); return the events now complete."""

    def send_message(self, data: str | bytes) -> None:
        """Queue a text (``str``) or binary message; ConnectionClosed unless :attr:`open`."""

    def send_ping(self, payload: bytes) -> None:
        """Queue a ping; ConnectionClosed unless :attr:`open`."""

    def close(self, code: int, reason: str) -> None:
        """Start the closing handshake (the peer answers with its close frame);
        ConnectionClosed unless :attr:`open`."""

    def fail(self, code: int, reason: str) -> None:
        """Fail the connection (RFC 6455 section 7.1.7): send a close frame if none was
        sent, and stop processing input. :attr:`closed` is then true."""

    def data_to_send(self) -> bytes:
        """The bytes queued for the peer since the last call."""
