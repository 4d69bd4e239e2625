"""The zttp adapter: zttp (a Zig parser) reads the request; this maps its events and refusals.

zttp refuses by itself most of what llhttp refuses (bare CR or LF line ends, obs-fold,
control characters, Content-Length with Transfer-Encoding, a Content-Length that is not
plain digits), but it reports every refusal as one ``RemoteProtocolError`` with a message
and no status, its limits are fixed (16 KiB a line, 100 fields, 64 KiB of fields) and it
does not show the bytes it holds. So the adapter:

- runs the checks of the other adapters on every head it accepts, in the h11 adapter's
  order (:func:`~xloop.http.head.line_target_status`, the version, :func:`check_head`,
  :func:`check_target`), so an accepted head gets the same status on every parser;
- answers a head zttp refuses with the status the h11 adapter gives the same bytes (that
  adapter's verdicts are llhttp's), or 400 where the h11 path would accept them (zttp is
  the stricter one there); a refusal for size is 414 while the request line is incomplete,
  431 after;
- follows a chunked body with :class:`~xloop.http.chunked.ChunkedChecker` (llhttp's
  grammar of chunk lines and trailers, and the request body limit), as the h11 path does;
- keeps the raw bytes of the head being read, and of what follows a complete request,
  for the head limits, ``head_pending``, ``buffered`` and an upgrade's data (a head ends at
  its first empty line: zttp takes no other line end than CRLF).

Responses are written by :class:`~xloop.http.response.HTTPConnection`, as for httptools.
"""

from __future__ import annotations

import re
from typing import Final

import zttp

from .chunked import ChunkedChecker
from .events import END_OF_MESSAGE, Body, Event, ProtocolError, Request
from .h11_conn import H11Connection
from .head import (
    BLANK,
    METHODS,
    Limits,
    check_head,
    check_target,
    line_target_status,
    status_for_version,
)
from .response import HTTPConnection, connection_tokens

__all__ = ["ZttpConnection"]

_END_OF_HEAD: Final = b"\r\n\r\n"
_SIZE_LIMIT: Final = "message exceeded configured size limit"
#: zttp's longest line (fixed: its ``max_line``); a longer request line is what it refused.
_ZTTP_MAX_LINE: Final = 16 * 1024
_NEED_DATA: Final = zttp.NEED_DATA
_REQUEST: Final = zttp.Request
_DATA: Final = zttp.Data
_END: Final = zttp.EndOfMessage
_SPECIAL: Final = frozenset(
    (
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"connection",
        b"expect",
        b"upgrade",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    )
)
_VERSIONS: Final = {b"1.1": "1.1", b"1.0": "1.0"}
#: What the start of a request line may hold before its LF (llhttp refuses anything else at
#: the first byte; zttp waits for the line end).
_LINE_PREFIX: Final = re.compile(rb"[\x21-\x7e ]*\r?").fullmatch
#: Bytes as ints: ``int in bytes`` is a memchr (see h11_conn).
_LF: Final = ord("\n")
_HASH: Final = ord("#")
_SLASH: Final = ord("/")

# Where the raw bytes received stand (zttp's own state is its own).
_HEAD: Final = 0  # in a head, or after a complete request: the next head's bytes
_LENGTH: Final = 1  # in a body framed by Content-Length
_CHUNKED: Final = 2  # in a chunked body


class ZttpConnection(HTTPConnection):
    """:class:`xloop.http.base.HTTPConnection` on zttp."""

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__()
        self._limits = limits or Limits()
        self._conn = zttp.Connection(zttp.SERVER)
        #: In _HEAD: the head read so far, then what follows a complete request.
        self._raw: bytes | bytearray = b""
        self._state = _HEAD
        self._left = 0  # in _LENGTH: body bytes still to come
        self._chunks: ChunkedChecker | None = None
        self._blocked = False  # from a released END_OF_MESSAGE to start_next_cycle()
        self._failed = False
        self._eof = False
        self._upgrading = False  # the last request asked for an upgrade: parse no more
        #: A head zttp refused, while the h11 adapter has not yet decided its status.
        self._classifier: H11Connection | None = None

    # -- receiving -------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return len(self._raw)

    @property
    def head_pending(self) -> bool:
        raw = self._raw
        return self._state == _HEAD and bool(raw) and bool(raw.lstrip(BLANK))

    @property
    def reusable(self) -> bool:
        # zttp went on to its next cycle with nothing received of it.
        return (
            self.keep_alive
            and not self._failed
            and not self._upgrading
            and not self._eof
            and not self._blocked
            and self._classifier is None
            and self._state == _HEAD
            and not self._raw
        )

    def receive_data(self, data: bytes) -> list[Event]:
        if self._classifier is not None:
            return self._classify(data)
        if self._failed:
            return []
        if not data:
            self._eof = True
            if self._upgrading and self._blocked:
                self._failed = True
                return []
            self._conn.receive_data(data)
            return [] if self._blocked else self._pull([])
        state = self._state
        if state == _HEAD:
            raw = self._raw
            if not raw:
                if data[0] in BLANK:  # empty lines before a request line: dropped
                    data = data.lstrip(BLANK)
                    if not data:
                        return []
                self._raw = data
            else:
                if type(raw) is bytes:
                    raw = self._raw = bytearray(raw)
                raw += data
        elif state == _LENGTH:
            left = self._left
            if len(data) >= left:  # the body ends in this read: back to the next head
                self._raw = data[left:]
                self._state = _HEAD
                self._left = 0
            else:
                self._left = left - len(data)
        else:
            chunks = self._chunks
            assert chunks is not None
            error = chunks.feed(data)
            if error is not None:
                self._failed = True
                return [error]
            if chunks.done:
                self._raw = data[chunks.end :]
                self._state = _HEAD
                self._chunks = None
        if self._upgrading and self._blocked:
            return []  # the bytes belong to the new protocol (take_upgrade_data)
        self._conn.receive_data(data)
        if self._blocked:
            return []
        return self._pull([])

    def start_next_cycle(self) -> list[Event]:
        if self._failed or self._upgrading or self._classifier is not None:
            return []
        self._blocked = False
        raw = self._raw
        if raw and raw[0] in BLANK and self._state == _HEAD:
            # Empty lines after the last message, already given to zttp, which refuses
            # them: a new zttp connection reads on from what follows them.
            raw = self._raw = raw.lstrip(BLANK)
            self._conn = zttp.Connection(zttp.SERVER)
            if raw:
                self._conn.receive_data(bytes(raw))
            if self._eof:
                self._conn.receive_data(b"")
        else:
            self._conn.start_next_cycle()
        return self._pull([])

    def _pull(self, out: list[Event]) -> list[Event]:
        conn = self._conn
        while True:
            try:
                event = conn.next_event()
            except zttp.RemoteProtocolError as exc:
                return self._refused(out, str(exc))
            if event is _NEED_DATA:
                if self._state == _HEAD and self._raw:
                    self._check_partial_head(out)
                return out
            if isinstance(event, _DATA):
                out.append(Body(event.data))
            elif isinstance(event, _REQUEST):
                request = self._request(event)
                out.append(request)
                if type(request) is ProtocolError:
                    self._failed = True
                    return out
                if self._state == _CHUNKED:
                    chunks = self._chunks
                    assert chunks is not None
                    error = chunks.feed(bytes(self._raw))
                    if error is not None:
                        self._failed = True
                        out.append(error)
                        return out
                    if chunks.done:
                        self._raw = self._raw[chunks.end :]
                        self._state = _HEAD
                        self._chunks = None
                    else:
                        self._raw = b""
                if event.end_stream:
                    out.append(END_OF_MESSAGE)
                    self._blocked = True
                    return out
            elif isinstance(event, _END):
                out.append(END_OF_MESSAGE)
                self._blocked = True
                return out
            else:  # CONNECTION_CLOSED: EOF between requests
                self._failed = True
                return out

    def _request(self, event: zttp.Request) -> Request | ProtocolError:
        """Check a head zttp accepted, in the order the h11 adapter does (see its _request)."""
        raw = self._raw
        end = raw.find(_END_OF_HEAD) + 4
        rest = raw[end:]
        method = METHODS.get(event.method) or event.method.decode("ascii")
        target = event.target
        if not target.isascii():
            # zttp takes obs-text in a request-target; a URI is ASCII (llhttp, h11 refuse it).
            return ProtocolError(400, "a byte over 0x7f in the request-target")
        if target[0] != _SLASH or method == "CONNECT":
            error = line_target_status(method, target)
            if error is not None:
                return error
        version = _VERSIONS.get(event.http_version) or event.http_version.decode("ascii")
        fields = event.headers
        headers = (
            [(name.lower(), value) for name, value in fields]
            if isinstance(fields, list)
            else fields.to_list(lowercase_names=True)
        )
        keep_alive = version == "1.1"
        expect = False
        hosts = 0
        length: bytes | None = None
        chunked = False
        forwarded = False
        upgrade = connection_upgrade = websocket = False
        for name, value in headers:
            if name in _SPECIAL:
                if name == b"host":
                    hosts += 1
                elif name == b"content-length":
                    length = value
                elif name == b"transfer-encoding":
                    chunked = True
                elif name == b"connection":
                    tokens = connection_tokens(value)
                    if b"close" in tokens:
                        keep_alive = False
                    elif b"keep-alive" in tokens and version == "1.0":
                        keep_alive = True
                    if b"upgrade" in tokens:
                        connection_upgrade = True
                elif name == b"upgrade":
                    upgrade = True
                    websocket = b"websocket" in connection_tokens(value)
                elif name == b"expect":
                    expect = value.lower() == b"100-continue"
                else:
                    forwarded = True
        limits = self._limits
        if (
            version == "1.1"
            and hosts == 1
            and length is None
            and not chunked
            and end + len(headers) <= limits.max_header_bytes
            and len(headers) <= limits.max_header_count
            and len(target) <= limits.max_request_line
        ):
            error = None  # the common case: nothing for check_head to find
        else:
            error = status_for_version(version) or check_head(
                target, headers, limits, version == "1.1"
            )
        if error is not None:
            return error
        # zttp reads no request line with an empty target: target[0] exists.
        if target[0] != _SLASH or _HASH in target or method == "CONNECT":
            error = check_target(method, target)
            if error is not None:
                return error
        has_body = chunked or (length is not None and length.strip(b" \t") != b"0")
        if upgrade and connection_upgrade:
            # Not kept alive: what follows is not HTTP/1.1 (as llhttp stops at such a head).
            keep_alive = False
            self._upgrading = True
            websocket = websocket and method == "GET" and not has_body
        else:
            websocket = False
        self._raw = rest
        if chunked:
            self._state = _CHUNKED
            self._chunks = ChunkedChecker(limits.max_body_size, limits.max_head)
        elif has_body:
            size = int(length or b"0")
            if len(rest) >= size:
                self._raw = rest[size:]
            else:
                self._raw = b""
                self._state = _LENGTH
                self._left = size - len(rest)
        return Request(
            method,
            target,
            version,
            headers,
            keep_alive,
            expect and has_body and version == "1.1",
            forwarded,
            websocket,
        )

    def _check_partial_head(self, out: list[Event]) -> None:
        """A head still incomplete: refuse it now if it is already too long or not HTTP."""
        raw = self._raw
        limits = self._limits
        line_ended = _LF in raw
        if len(raw) > limits.max_head:
            self._failed = True
            if line_ended:
                out.append(ProtocolError(431, "request head too large"))
            else:
                out.append(ProtocolError(414, "request line too long"))
        elif not line_ended and len(raw) <= 1024 and _LINE_PREFIX(raw) is None:
            self._refused(out, "not an HTTP/1.1 request line")

    def _refused(self, out: list[Event], reason: str) -> list[Event]:
        """zttp refused the request: decide the status (see the module's docstring)."""
        self._failed = True
        if self._state != _HEAD:
            out.append(ProtocolError(400, f"invalid request body: {reason}"))
        elif self._eof:
            out.append(ProtocolError(400, "connection closed in the middle of a request"))
        elif reason == _SIZE_LIMIT:
            line_end = self._raw.find(b"\n")
            if 0 <= line_end < _ZTTP_MAX_LINE:
                out.append(ProtocolError(431, "request head too large"))
            else:
                out.append(ProtocolError(414, "request line too long"))
        else:
            self._classifier = H11Connection(self._limits)
            out += self._classify(bytes(self._raw))
        return out

    def _classify(self, data: bytes) -> list[Event]:
        """Feed the refused head to the h11 adapter until it gives its verdict."""
        classifier = self._classifier
        assert classifier is not None
        for event in classifier.receive_data(data):
            if type(event) is ProtocolError:
                self._classifier = None
                return [event]
            if type(event) is Request:
                break  # the h11 path takes it, zttp does not: the stricter one decides
        else:
            if data:
                return []  # not decided yet
        self._classifier = None
        return [ProtocolError(400, "invalid request: refused by zttp")]

    def take_upgrade_data(self) -> bytes:
        self._failed = True
        data, self._raw = bytes(self._raw), b""
        return data
