"""The websockets engine: its sans-IO ``ServerProtocol``, messages assembled here."""

from __future__ import annotations

import codecs
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final, cast

from websockets.datastructures import Headers
from websockets.exceptions import InvalidHandshake, NegotiationError
from websockets.extensions.base import Extension
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Frame, Opcode
from websockets.http11 import Request as HandshakeRequest
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.typing import BytesLike, ExtensionParameter

from .base import DEFLATE_MEM_LEVEL, DEFLATE_WINDOW_BITS, Settings
from .events import Closed, ConnectionClosed, Event, HandshakeError, Message, Pong
from .handshake import subprotocols, switching_protocols

if TYPE_CHECKING:
    from ..http import Request

__all__ = ["WebsocketsEngine"]

# websockets logs "connection open/closed" at INFO on its logger: ours stays quiet above
# DEBUG (errors in the sans-IO layer reach the server as close codes, not log lines).
_LOGGER: Final = logging.getLogger("xloop.ws.websockets")
_TEXT: Final = Opcode.TEXT
_BINARY: Final = Opcode.BINARY
_CONT: Final = Opcode.CONT
_PONG: Final = Opcode.PONG
_CLOSE: Final = Opcode.CLOSE
_OPEN: Final = State.OPEN
_Decoder = codecs.getincrementaldecoder("utf-8")


class _ServerProtocol(ServerProtocol):
    def recv_frame(self, frame: Frame) -> None:
        if frame.opcode is _CLOSE:
            # RFC 6455 section 5.4: control frames may come between the fragments of a
            # message, a close frame too; websockets fails that with 1002, where the
            # connection closes normally (the partial message is dropped).
            self.current_size = None
        super().recv_frame(frame)


class _DeflateFactory(ServerPerMessageDeflateFactory):
    """permessage-deflate, declining an offer of ``server_max_window_bits=8`` (RFC 7692
    7.1.2.1 lets a server decline an offer): zlib cannot compress with that window.
    websockets 17 declines it itself; websockets 16 (the last for Python 3.10) agreed, and
    zlib's error came out of the handshake."""

    def process_request_params(
        self, params: Sequence[ExtensionParameter], accepted_extensions: Sequence[Extension]
    ) -> tuple[list[ExtensionParameter], PerMessageDeflate]:
        if ("server_max_window_bits", "8") in params:
            raise NegotiationError("unsupported server_max_window_bits = 8")
        return super().process_request_params(params, accepted_extensions)


class WebsocketsEngine:
    """:class:`xloop.ws.base.WebSocketEngine` on websockets' ``ServerProtocol``."""

    __slots__ = (
        "_accept",
        "_accepted",
        "_binary",
        "_decoder",
        "_extensions",
        "_failed",
        "_protocol",
        "_reported",
        "_text",
        "subprotocols",
    )

    def __init__(self, request: Request, settings: Settings) -> None:
        extensions = None
        if settings.per_message_deflate:
            extensions = [
                _DeflateFactory(
                    server_max_window_bits=DEFLATE_WINDOW_BITS,
                    client_max_window_bits=DEFLATE_WINDOW_BITS,
                    compress_settings={"memLevel": DEFLATE_MEM_LEVEL},
                )
            ]
        # The HTTP layer has parsed the handshake: the protocol starts where frames start.
        protocol = self._protocol = _ServerProtocol(
            extensions=extensions, max_size=settings.max_size, state=_OPEN, logger=_LOGGER
        )
        headers = Headers(
            [(name.decode("latin-1"), value.decode("latin-1")) for name, value in request.headers]
        )
        try:
            self._accept, self._extensions, _ = protocol.process_request(
                HandshakeRequest(request.target.decode("latin-1"), headers)
            )
        except InvalidHandshake as exc:
            raise HandshakeError(400, str(exc)) from None
        self.subprotocols = subprotocols(request)
        self._accepted = False
        self._reported = False  # the Closed event went out
        self._failed: tuple[int, str] | None = None  # the code we failed the connection with
        # The fragmented message under way: text decoded as it comes, or binary.
        self._decoder: codecs.IncrementalDecoder | None = None
        self._text: list[str] = []
        self._binary: list[bytes] = []

    @property
    def open(self) -> bool:
        return self._accepted and self._protocol.state is _OPEN

    @property
    def closed(self) -> bool:
        return self._protocol.eof_sent

    def accept(self, subprotocol: str | None, headers: Sequence[tuple[bytes, bytes]]) -> bytes:
        data = switching_protocols(self._accept, self._extensions, subprotocol, headers)
        self._accepted = True
        return data

    def receive_data(self, data: bytes) -> list[Event]:
        if self._reported:
            return []
        protocol = self._protocol
        if data:
            protocol.receive_data(data)
        else:
            protocol.receive_eof()
        events: list[Event] = []
        for frame in cast("list[Frame]", protocol.events_received()):
            opcode = frame.opcode
            if opcode is _BINARY and frame.fin:
                events.append(Message(bytes(frame.data)))
            elif opcode is _TEXT or opcode is _BINARY or opcode is _CONT:
                message = self._assemble(opcode, frame.data, frame.fin)
                if message is not None:
                    events.append(message)
                elif self._failed is not None:
                    break  # invalid UTF-8: nothing after it is processed (RFC 6455 7.1.7)
            elif opcode is _PONG:
                events.append(Pong(bytes(frame.data)))
        if protocol.eof_sent:
            self._reported = True
            events.append(self._closed())
        return events

    def _assemble(self, opcode: Opcode, data: BytesLike, fin: bool) -> Message | None:
        """Add a data frame to the message under way; the message once ``fin``."""
        if opcode is _TEXT:
            self._decoder = _Decoder()
            self._text = []
        elif opcode is _BINARY:
            self._decoder = None
            self._binary = []
        decoder = self._decoder
        if decoder is None:
            self._binary.append(bytes(data))
            if not fin:
                return None
            binary, self._binary = self._binary, []
            return Message(b"".join(binary))
        try:
            self._text.append(decoder.decode(data, fin))
        except UnicodeDecodeError as exc:
            self.fail(1007, f"invalid UTF-8: {exc.reason}")
            return None
        if not fin:
            return None
        text, self._text = self._text, []
        self._decoder = None
        return Message(text[0] if len(text) == 1 else "".join(text))

    def _closed(self) -> Closed:
        if self._failed is not None:
            return Closed(*self._failed)
        protocol = self._protocol
        if protocol.parser_exc is not None:
            sent = protocol.close_sent
            return Closed(sent.code, sent.reason) if sent is not None else Closed(1006)
        received = protocol.close_rcvd
        if received is not None:
            return Closed(received.code, received.reason)
        return Closed(1006)  # the connection ended with no close frame received

    def send_message(self, data: str | bytes) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        if type(data) is str:
            self._protocol.send_text(data.encode())
        else:
            self._protocol.send_binary(data)  # type: ignore[arg-type]

    def send_ping(self, payload: bytes) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        self._protocol.send_ping(payload)

    def close(self, code: int, reason: str) -> None:
        if not self.open:
            raise ConnectionClosed("the WebSocket connection is closed")
        self._protocol.send_close(code, reason)

    def fail(self, code: int, reason: str) -> None:
        protocol = self._protocol
        if protocol.eof_sent:
            return
        if protocol.state is _OPEN:
            self._failed = (code, reason)
        protocol.fail(code, reason)

    def data_to_send(self) -> bytes:
        writes = self._protocol.data_to_send()
        if not writes:
            return b""
        if len(writes) == 1:
            return writes[0]
        return b"".join(writes)
