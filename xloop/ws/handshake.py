"""The opening handshake checks shared by both engines (RFC 6455 section 4.2).

Both engines validate a handshake request, but not identically; checking it here first
makes the answer to a bad request the same whichever engine runs: 426 with
``Sec-WebSocket-Version: 13`` for a version we do not speak, 400 for anything else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

from ..http.response import status_line, validate_value, validated_name
from .events import HandshakeError, MessageError

if TYPE_CHECKING:
    from ..http import DefaultHeaders, Request

__all__ = [
    "VALID_CLOSE_CODES",
    "Offer",
    "accept_token",
    "check_close",
    "check_request",
    "extension_offers",
    "rejection",
    "subprotocols",
    "switching_protocols",
]

_VERSION: Final = [(b"sec-websocket-version", b"13")]
_TOKEN: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+").fullmatch
_TOKEN_AT: Final = re.compile(r"[-!#$%&'*+.^_`|~0-9a-zA-Z]+").match
#: A quoted-string (RFC 9110 section 5.6.4): qdtext or a quoted-pair.
_QUOTED_AT: Final = re.compile(
    r'"((?:[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]|\\[\t \x21-\x7e\x80-\xff])*)"'
).match
_QUOTED_PAIR: Final = re.compile(r"\\(.)")
_OWS_AT: Final = re.compile(r"[ \t]*").match

#: An extension offered in ``Sec-WebSocket-Extensions``: its name and its parameters
#: (name, value or None), in order.
Offer = tuple[str, list[tuple[str, "str | None"]]]


def check_request(request: Request) -> None:
    """Raise :class:`HandshakeError` unless ``request`` is a valid opening handshake.

    The HTTP layer already established a GET with ``Upgrade: websocket`` and
    ``Connection: upgrade`` and no body.
    """
    versions: list[bytes] = []
    keys: list[bytes] = []
    for name, value in request.headers:
        if name == b"sec-websocket-version":
            versions.append(value)
        elif name == b"sec-websocket-key":
            keys.append(value)
    if request.http_version != "1.1":
        raise HandshakeError(400, "a WebSocket handshake needs HTTP/1.1")
    if versions != [b"13"]:
        raise HandshakeError(426, "unsupported or missing Sec-WebSocket-Version", list(_VERSION))
    if len(keys) != 1:
        raise HandshakeError(400, "missing or repeated Sec-WebSocket-Key")
    try:
        nonce = base64.b64decode(keys[0].strip(b" \t"), validate=True)
    except binascii.Error:
        nonce = b""
    if len(nonce) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key is not 16 bytes in base64")
    extension_offers(request)  # a list that does not parse is a 400 on either engine


def extension_offers(request: Request) -> list[Offer]:
    """The extensions offered in the ``Sec-WebSocket-Extensions`` fields, in order
    (RFC 6455 section 9.1: ``1#extension``, each ``token *( ";" token [ "=" ( token /
    quoted-string ) ] )``, a quoted value a token once unquoted); HandshakeError 400 for a
    field that is no such list."""
    offers: list[Offer] = []
    for name, value in request.headers:
        if name == b"sec-websocket-extensions":
            text = value.decode("latin-1")
            try:
                offers += _extension_list(text)
            except ValueError as exc:
                raise HandshakeError(
                    400, f"invalid Sec-WebSocket-Extensions {text!r}: {exc}"
                ) from None
    return offers


def _extension_list(text: str) -> list[Offer]:
    offers: list[Offer] = []
    end = len(text)
    at = _ows(text, 0)
    while at < end:
        if text[at] == ",":  # an empty element (RFC 9110 section 5.6.1: ignored)
            at = _ows(text, at + 1)
            continue
        name, at = _token(text, at, "an extension name")
        params: list[tuple[str, str | None]] = []
        at = _ows(text, at)
        while at < end and text[at] == ";":
            param, at = _token(text, _ows(text, at + 1), "a parameter name")
            value: str | None = None
            at = _ows(text, at)
            if at < end and text[at] == "=":
                at = _ows(text, at + 1)
                quoted = _QUOTED_AT(text, at)
                if quoted is not None:
                    value = _QUOTED_PAIR.sub(r"\1", quoted.group(1))
                    if _TOKEN(value) is None:
                        raise ValueError(f"the quoted value of {param} is not a token")
                    at = quoted.end()
                else:
                    value, at = _token(text, at, f"a value for {param}")
                at = _ows(text, at)
            params.append((param, value))
        offers.append((name, params))
        if at < end:
            if text[at] != ",":
                raise ValueError(f"unexpected {text[at]!r} at {at}")
            at = _ows(text, at + 1)
    return offers


def _ows(text: str, at: int) -> int:
    match = _OWS_AT(text, at)
    assert match is not None  # zero or more
    return match.end()


def _token(text: str, at: int, what: str) -> tuple[str, int]:
    match = _TOKEN_AT(text, at)
    if match is None:
        raise ValueError(f"expected {what} at {at}")
    return match.group(), match.end()


def subprotocols(request: Request) -> list[str]:
    """The subprotocols offered in ``Sec-WebSocket-Protocol`` fields, in order."""
    offered: list[str] = []
    for name, value in request.headers:
        if name == b"sec-websocket-protocol":
            for item in value.decode("latin-1").split(","):
                token = item.strip(" \t")
                if token:
                    offered.append(token)
    return offered


def switching_protocols(
    accept: str,
    extensions: str | None,
    subprotocol: str | None,
    headers: Sequence[tuple[bytes, bytes]],
) -> bytes:
    """The ``101`` response (for an engine that does not write its own)."""
    parts = [
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n",
        b"sec-websocket-accept: %s\r\n" % accept.encode("ascii"),
    ]
    if extensions:
        parts.append(b"sec-websocket-extensions: %s\r\n" % extensions.encode("ascii"))
    if subprotocol:
        parts.append(b"sec-websocket-protocol: %s\r\n" % checked_subprotocol(subprotocol))
    for name, value in headers:
        validated_name(name)
        validate_value(value)
        parts.append(b"%s: %s\r\n" % (name, value))
    parts.append(b"\r\n")
    return b"".join(parts)


def checked_subprotocol(subprotocol: str) -> bytes:
    """The subprotocol an app accepted, as a header value (MessageError if not a token)."""
    if not isinstance(subprotocol, str) or _TOKEN(subprotocol) is None:
        raise MessageError(f"invalid WebSocket subprotocol {subprotocol!r}")
    return subprotocol.encode("ascii")


def rejection(
    status: int,
    reason: str,
    defaults: DefaultHeaders,
    headers: Sequence[tuple[bytes, bytes]] = (),
) -> bytes:
    """A complete plain-text response refusing a handshake; the connection closes after."""
    body = f"Failed to open a WebSocket connection: {reason}.\n".encode()
    return b"".join(
        (
            status_line(status),
            defaults.block,
            *(b"%s: %s\r\n" % item for item in headers),
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        )
    )


#: Close codes an endpoint may send (RFC 6455 section 7.4; 1004-1006 and 1015 never are).
VALID_CLOSE_CODES: Final = frozenset((1000, 1001, 1002, 1003, *range(1007, 1015)))


def check_close(code: object, reason: object) -> tuple[int, str]:
    """An app's close code and reason, checked (MessageError: not sendable)."""
    if not isinstance(code, int) or isinstance(code, bool):
        raise MessageError(f"invalid WebSocket close code {code!r}")
    if code not in VALID_CLOSE_CODES and not 3000 <= code <= 4999:
        raise MessageError(f"invalid WebSocket close code {code}")
    if reason is None:
        reason = ""
    if not isinstance(reason, str):
        raise MessageError(f"WebSocket close reason must be str, not {type(reason).__name__}")
    if len(reason.encode()) > 123:
        raise MessageError("WebSocket close reason longer than 123 bytes")
    return code, reason


_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_token(key: bytes) -> str:
    """``Sec-WebSocket-Accept`` for a client's ``Sec-WebSocket-Key`` (RFC 6455 section 4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + _GUID).digest()).decode("ascii")
