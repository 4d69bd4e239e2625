"""Helpers for the sans-IO WebSocket tests: handshake requests, client frames (valid or
not, crafted byte by byte), and a sans-IO client to read what an engine sends."""

from __future__ import annotations

import base64
import os
import struct
import zlib
from collections.abc import Iterator

from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.protocol import State
from websockets.uri import parse_uri

from xloop.http import Request
from xloop.ws import Settings, WebSocketEngine, engine_available

ENGINES = [name for name in ("websockets", "wsproto") if engine_available(name)]

KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 section 1.3
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def handshake(
    *extra: tuple[bytes, bytes],
    key: bytes | None = KEY,
    version: bytes | None = b"13",
    http_version: str = "1.1",
    target: bytes = b"/chat?room=1",
) -> Request:
    """An upgrade request as the HTTP layer reports it."""
    headers = [
        (b"host", b"example.com"),
        (b"upgrade", b"websocket"),
        (b"connection", b"Upgrade"),
    ]
    if key is not None:
        headers.append((b"sec-websocket-key", key))
    if version is not None:
        headers.append((b"sec-websocket-version", version))
    headers.extend(extra)
    return Request("GET", target, http_version, headers, False, False, False, True)


def engine(name: str, *extra: tuple[bytes, bytes], **settings: object) -> WebSocketEngine:
    """An accepted engine of kind ``name`` (its 101 response dropped)."""
    engine = build(name, *extra, **settings)
    engine.accept(None, [])
    return engine


def build(name: str, *extra: tuple[bytes, bytes], **settings: object) -> WebSocketEngine:
    request = handshake(*extra)
    options = Settings(**settings)  # type: ignore[arg-type]
    if name == "websockets":
        from xloop.ws.websockets_engine import WebsocketsEngine

        return WebsocketsEngine(request, options)
    from xloop.ws.wsproto_engine import WsprotoEngine

    return WsprotoEngine(request, options)


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    mask: bool = True,
    length: int | None = None,
) -> bytes:
    """One frame exactly as given (no validation: bad frames on purpose)."""
    size = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    bit = 0x80 if mask else 0
    if size < 126:
        head += bytes([bit | size])
    elif size < 1 << 16:
        head += bytes([bit | 126]) + struct.pack("!H", size)
    else:
        head += bytes([bit | 127]) + struct.pack("!Q", size)
    if not mask:
        return head + payload
    key = os.urandom(4)
    masked = bytes(byte ^ key[index % 4] for index, byte in enumerate(payload))
    return head + key + masked


def close_payload(code: int, reason: str = "") -> bytes:
    return struct.pack("!H", code) + reason.encode()


def deflate(data: bytes) -> bytes:
    """A permessage-deflate payload (RFC 7692 section 7.2.1)."""
    compressor = zlib.compressobj(wbits=-15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def splits(data: bytes) -> Iterator[list[bytes]]:
    """``data`` in two pieces at every offset, then byte by byte."""
    for index in range(len(data) + 1):
        yield [data[:index], data[index:]]
    yield [data[index : index + 1] for index in range(len(data))]


def server_frames(data: bytes) -> list[Frame]:
    """What a server sent, read by a sans-IO client (pings answered into the void)."""
    client = ClientProtocol(parse_uri("ws://example.com/"), state=State.OPEN, max_size=None)
    client.receive_data(data)
    return [event for event in client.events_received() if isinstance(event, Frame)]


def b64key() -> bytes:
    return base64.b64encode(os.urandom(16))
