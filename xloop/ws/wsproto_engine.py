"""The wsproto engine: its sans-IO ``Connection`` (frames), messages assembled here.

The handshake is not run through wsproto's own h11 round trip: the HTTP layer parsed it,
:mod:`xloop.ws.handshake` checked it (the extension offers parsed with it) and writes the
``101``. permessage-deflate is negotiated here as the websockets engine negotiates it (RFC
7692 section 7: the first acceptable offer; one with an unknown or repeated parameter, or
a value where none belongs, is declined), then handed to wsproto's ``PerMessageDeflate``
in the one form it reads right (its own ``server_extensions_handshake`` reads no quoted
value, takes unknown parameters, and lets a later offer override an earlier one).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.events import Message as WSMessage
from wsproto.events import Pong as WSPong
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode, RsvBits
from wsproto.utilities import LocalProtocolError

from .base import DEFLATE_MEM_LEVEL, DEFLATE_WINDOW_BITS, Settings
from .events import Closed, ConnectionClosed, Event, Message, Pong
from .handshake import Offer, accept_token, extension_offers, subprotocols, switching_protocols

if TYPE_CHECKING:
    from wsproto.frame_protocol import FrameDecoder, FrameProtocol

    from ..http import Request

__all__ = ["WsprotoEngine"]

_OPEN: Final = ConnectionState.OPEN
_REMOTE_CLOSING: Final = ConnectionState.REMOTE_CLOSING
_CLOSED: Final = ConnectionState.CLOSED


class _BoundedDeflate(PerMessageDeflate):
    """permessage-deflate with bounded memory: a small compressor (window and memLevel),
    and no decompression past what the message size limit allows (a compressed bomb
    stops at ``max_size`` + 1 bytes with 1009, not after inflating all of it)."""

    def __init__(self, max_size: int, client_bits: int, server_bits: int) -> None:
        super().__init__(client_max_window_bits=client_bits, server_max_window_bits=server_bits)
        self._max_size = max_size

    def frame_inbound_payload_data(
        self, proto: FrameDecoder | FrameProtocol, data: bytes
    ) -> bytes | CloseReason:
        if not self._inbound_compressed or not self._inbound_is_compressible:
            return data
        assert self._decompressor is not None
        try:
            out = self._decompressor.decompress(bytes(data), self._max_size + 1)
        except zlib.error:
            return CloseReason.INVALID_FRAME_PAYLOAD_DATA
        if self._decompressor.unconsumed_tail:
            return CloseReason.MESSAGE_TOO_BIG
        return out

    def frame_outbound(
        self,
        proto: FrameDecoder | FrameProtocol,
        opcode: Opcode,
        rsv: RsvBits,
        data: bytes,
        fin: bool,
    ) -> tuple[RsvBits, bytes]:
        if self._compressor is None and opcode in (Opcode.TEXT, Opcode.BINARY):
            self._compressor = zlib.compressobj(
                zlib.Z_DEFAULT_COMPRESSION,
                zlib.DEFLATED,
                -int(self.server_max_window_bits),
                DEFLATE_MEM_LEVEL,
            )
        return super().frame_outbound(proto, opcode, rsv, data, fin)


_WINDOW_BITS: Final = frozenset(str(bits) for bits in range(8, 16))
_DEFLATE: Final = "permessage-deflate"


def _deflate(offers: list[Offer], max_size: int) -> tuple[str, _BoundedDeflate] | None:
    """The ``Sec-WebSocket-Extensions`` answer and the extension for the first acceptable
    permessage-deflate offer (None: none is), windows at most DEFLATE_WINDOW_BITS."""
    for name, params in offers:
        if name != _DEFLATE:
            continue
        agreed = _agreed(params)
        if agreed is None:
            continue
        server_takeover, client_takeover, server_bits, client_bits = agreed
        offer = [_DEFLATE, f"server_max_window_bits={server_bits}"]
        if server_takeover:
            offer.append("server_no_context_takeover")
        if client_takeover:
            offer.append("client_no_context_takeover")
        if client_bits is not None:
            offer.append(f"client_max_window_bits={client_bits}")
        # Without client_max_window_bits the client's window is its own: up to 15 bits.
        deflate = _BoundedDeflate(max_size, client_bits or 15, server_bits)
        answer = deflate.accept("; ".join(offer))
        if isinstance(answer, str):
            return (f"{_DEFLATE}; {answer}" if answer else _DEFLATE), deflate
    return None


def _agreed(params: list[tuple[str, str | None]]) -> tuple[bool, bool, int, int | None] | None:
    """One permessage-deflate offer's terms as this server accepts them
    (server_no_context_takeover, client_no_context_takeover, the server's window bits, the
    client's or None), or None to decline it."""
    seen: set[str] = set()
    server_takeover = client_takeover = False
    server_bits: int | None = None
    client_bits: int | None = None
    client_bits_asked = False
    for name, value in params:
        if name in seen:
            return None
        seen.add(name)
        if name == "server_no_context_takeover" and value is None:
            server_takeover = True
        elif name == "client_no_context_takeover" and value is None:
            client_takeover = True
        elif name == "server_max_window_bits" and value in _WINDOW_BITS:
            server_bits = int(value)
        elif name == "client_max_window_bits" and (value is None or value in _WINDOW_BITS):
            client_bits_asked = True
            client_bits = None if value is None else int(value)
        else:
            return None
    server = min(server_bits or DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    if server == 8:
        return None  # zlib compresses with no 8-bit raw window (websockets declines too)
    client = min(client_bits or DEFLATE_WINDOW_BITS, DEFLATE_WINDOW_BITS)
    return server_takeover, client_takeover, server, client if client_bits_asked else None


class WsprotoEngine:
    """:class:`xloop.ws.base.WebSocketEngine` on wsproto's ``Connection``."""

    __slots__ = (
        "_accept",
        "_accepted",
        "_binary",
        "_closed",
        "_connection",
        "_extensions",
        "_failed",
        "_max_size",
        "_out",
        "_reported",
        "_size",
        "_text",
        "subprotocols",
    )

    def __init__(self, request: Request, settings: Settings) -> None:
        key = b""
        for name, value in request.headers:
            if name == b"sec-websocket-key":
                key = value.strip(b" \t")
        self._accept = accept_token(key)
        self._extensions: str | None = None
        extensions: list[Extension] = []
        if settings.per_message_deflate:
            agreed = _deflate(extension_offers(request), settings.max_size)
            if agreed is not None:
                self._extensions, deflate = agreed
                extensions.append(deflate)
        self._connection = Connection(ConnectionType.SERVER, extensions)
        self.subprotocols = subprotocols(request)
        self._max_size = settings.max_size
        self._accepted = False
        self._out: list[bytes] = []
        self._size = 0  # of the message under way
        self._text: list[str] = []
        self._binary: list[bytes] = []
        self._failed = False  # we failed the connection: nothing more is processed
        self._closed: Closed | None = None  # the Closed event to report
        self._reported = False  # ... went out

    @property
    def open(self) -> bool:
        return self._accepted and self._connection.state is _OPEN

    @property
    def closed(self) -> bool:
        return self._failed or self._connection.state is _CLOSED

    def accept(self, subprotocol: str | None, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        data = switching_protocols(self._accept, self._extensions, subprotocol, headers)
        self._accepted = True
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        events: list[Event] = []
        if self._reported:
            return events
        connection = self._connection
        if not self.closed:
            connection.receive_data(data or None)
            for event in connection.events():
                if isinstance(event, (TextMessage, BytesMessage)):
                    message = self._assemble(event)
                    if message is not None:
                        events.append(message)
                    elif self._failed:
                        break  # over max_size: nothing after it is processed
                elif isinstance(event, Ping):
                    if connection.state is _OPEN:
                        self._out.append(connection.send(event.response()))
                elif isinstance(event, WSPong):
                    events.append(Pong(bytes(event.payload)))
                elif isinstance(event, CloseConnection):
                    self._on_close(event)
                    break
        elif not data:
            self._closed = self._closed or Closed(1006)
        if self._closed is not None:
            self._reported = True
            events.append(self._closed)
        return events

    def _assemble(self, event: TextMessage | BytesMessage) -> Message | None:
        """Add a piece of a message; the message once it is finished."""
        data = event.data
        if type(data) is str:
            self._size += len(data) if data.isascii() else len(data.encode())
        else:
            self._size += len(data)
        if self._size > self._max_size:
            self.fail(1009, f"message over {self._max_size} bytes")
            return None
        if type(data) is str:
            if not event.message_finished:
                self._text.append(data)
                return None
            self._size = 0
            if self._text:
                self._text.append(data)
                data, self._text = "".join(self._text), []
            return Message(data)
        binary = bytes(data)  # type: ignore[arg-type]
        if not event.message_finished:
            self._binary.append(binary)
            return None
        self._size = 0
        if self._binary:
            self._binary.append(binary)
            binary, self._binary = b"".join(self._binary), []
        return Message(binary)

    def _on_close(self, event: CloseConnection) -> None:
        connection = self._connection
        state = connection.state
        reason = event.reason or ""
        if state is _REMOTE_CLOSING:
            # The peer's close (1005 when it carried no code): echo it.
            self._out.append(connection.send(event.response()))
            self._closed = Closed(event.code, reason)
        elif state is _OPEN:
            # How wsproto reports a frame it could not parse (1002, 1007, ...): fail.
            self.fail(event.code, reason)
        else:
            # The answer to our close frame, EOF (1006), or garbage while we close.
            self._failed = state is not _CLOSED
            self._closed = Closed(event.code, reason)

    def send_message(self, data: str | bytes) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        event: WSMessage[Any] = (
            TextMessage(data=data) if type(data) is str else BytesMessage(data=data)  # type: ignore[arg-type]
        )
        self._out.append(self._connection.send(event))

    def send_ping(self, payload: bytes) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        self._out.append(self._connection.send(Ping(payload)))

    def close(self, code: int, reason: str) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        self._out.append(self._connection.send(CloseConnection(code, reason)))

    def fail(self, code: int, reason: str) -> None:
        if self.closed:
            return
        self._failed = True
        connection = self._connection
        if connection.state is _OPEN:
            try:
                self._out.append(connection.send(CloseConnection(code, reason)))
            except LocalProtocolError:  # pragma: no cover - OPEN can always send a close
                pass
            self._closed = self._closed or Closed(code, reason)
        else:
            self._closed = self._closed or Closed(1006)

    def data_to_send(self) -> bytes:
        out = self._out
        if not out:
            return b""
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        return data
