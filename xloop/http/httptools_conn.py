"""The httptools (llhttp) adapter: callbacks in, events out.

llhttp refuses by itself what the h11 adapter checks in raw bytes (control characters,
bare LF and obs-fold in a head; malformed chunk lines and trailers), so this adapter adds
only the checks of :mod:`xloop.http.head` and the body limit of a chunked body.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Final

import httptools

from .events import END_OF_MESSAGE, Body, Event, ProtocolError, Request
from .head import (
    METHODS,
    Limits,
    check_head,
    check_target,
    method_status_from_line,
    status_for_version,
    version_status_from_line,
)
from .response import HTTPConnection, connection_tokens

__all__ = ["HttptoolsConnection"]

_SPECIAL: Final = frozenset(
    (
        b"host",
        b"content-length",
        b"transfer-encoding",
        b"expect",
        b"upgrade",
        b"x-forwarded-for",
        b"x-forwarded-proto",
    )
)
_LINE_PREFIX: Final = re.compile(rb"[\x21-\x7e ]*(?:\r?\n.*)?", re.DOTALL).fullmatch
_VERSION_ERRORS: Final = ("Invalid HTTP version", "Invalid major version", "Invalid minor version")
#: ``#`` as an int: ``int in bytes`` is a memchr, while ``bytes in bytes`` first tries its
#: argument as an int, and the TypeError raised and cleared inside costs ten times more.
_HASH: Final = ord("#")
_SLASH: Final = ord("/")
#: What follows the target in an HTTP/1.1 request line (a request line ends with CR LF).
_HTTP11: Final = b" HTTP/1.1\r"
_HTTP11_SIZE: Final = len(_HTTP11)
#: ``_headers`` between a head and the next: never appended to (on_header takes a field
#: only inside a head, which on_message_begin starts with a list of its own).
_NO_HEADERS: Final[list[tuple[bytes, bytes]]] = []


class _Refuse(Exception):
    """Raised from a parser callback to stop parsing with a status."""

    def __init__(self, error: ProtocolError) -> None:
        super().__init__(error.reason)
        self.error = error


class HttptoolsConnection(HTTPConnection):
    """:class:`xloop.http.base.HTTPConnection` on httptools."""

    __deletable__ = ("_parser",)  # release(): a compiled build's native class allows it
    __slots__ = (
        "_began",
        "_began_message",
        "_blocked",
        "_body_left",
        "_chunked",
        "_completed_here",
        "_ended",
        "_expect",
        "_failed",
        "_forwarded",
        "_framing",
        "_has_body",
        "_head_bytes",
        "_headers",
        "_held",
        "_held_bytes",
        "_hosts",
        "_in_head",
        "_limits",
        "_max_count",
        "_max_fields",
        "_max_head",
        "_max_line",
        "_out",
        "_parser",
        "_pending_method_error",
        "_piece",
        "_prefix",
        "_prefix_valid",
        "_special",
        "_upgrade",
        "_upgrade_data",
        "_url",
        "_websocket",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__()
        self._limits = limits = limits or Limits()
        # Read on every head (two attribute loads each through _limits).
        self._max_line = limits.max_request_line
        self._max_fields = limits.max_header_bytes
        self._max_count = limits.max_header_count
        self._max_head = limits.max_head
        self._parser = httptools.HttpRequestParser(self)
        self._out: list[Event] = []
        self._held: deque[Event] | None = None  # events behind a pipelined request's end
        self._held_bytes = 0
        self._blocked = False  # True from a released EndOfMessage to start_next_cycle()
        self._failed = False
        self._in_head = True  # between messages or inside a head
        self._head_bytes = 0
        self._began = False
        self._began_message = False
        self._prefix = b""
        self._prefix_valid = True
        self._completed_here = False  # a request ended in this read
        self._ended = False  # ... in the piece being parsed (see _feed)
        self._pending_method_error = False
        self._has_body = False
        self._framing = False
        self._chunked = False
        self._upgrade = False
        self._websocket = False
        self._upgrade_data = b""
        self._forwarded = False
        self._hosts = 0
        self._special = False  # a field that sets one of the flags above, in this head
        self._piece = 0  # the size of the piece being parsed (see on_headers_complete)
        self._url = b""
        self._headers: list[tuple[bytes, bytes]] = []
        self._expect = False
        self._body_left: int | None = None  # of a chunked body under a limit

    # -- receiving -------------------------------------------------------------------------

    @property
    def buffered(self) -> int:
        return self._held_bytes

    @property
    def head_pending(self) -> bool:
        return self._in_head and self._began_message

    @property
    def reusable(self) -> bool:
        # llhttp between messages: a new parser would start the next one the same way.
        return (
            self.keep_alive
            and not self._failed
            and not self._blocked
            and self._held is None
            and not self._began_message
            and not self._pending_method_error
        )

    def release(self) -> None:
        # The parser calls back into this object: a cycle only the collector would free.
        del self._parser

    def receive_data(self, data: bytes) -> list[Event]:
        out = self._out = []
        if self._failed:
            if self._pending_method_error:  # (failed too, until classified)
                self._classify_method_error(data)
            return out
        if not data:
            # EOF. A request cut short is refused like h11 does; between requests it is
            # simply the end.
            if not self._in_head or self._began_message:
                self._fail(ProtocolError(400, "connection closed in the middle of a request"))
            self._failed = True
            return out
        self._completed_here = False
        if not self._began_message:
            # This read starts a new head: keep (a reference to) its start, so that an
            # error's verdict (400/501/505) does not depend on how reads were split.
            self._prefix = data
            self._prefix_valid = True
        elif self._prefix_valid and len(self._prefix) < 512:
            self._prefix = self._prefix[:512] + data[:512]
        step = self._max_head
        if len(data) <= step:
            self._feed(data, data, 0)
        else:
            # A read longer than a head may be (the selector loop and rloop read up to
            # 256 KiB): fed in pieces of at most max_head, so that a head begun behind a
            # request that ended in the same read is counted from the next piece on.
            for start in range(0, len(data), step):
                if not self._feed(data[start : start + step], data, start):
                    break
        return out

    def _feed(self, piece: bytes, data: bytes, offset: int) -> bool:
        """Parse ``piece``, the bytes of the read ``data`` from ``offset`` on, and count
        the bytes of a head it leaves incomplete (431 above the limit); False once the
        connection has failed (nothing more is parsed)."""
        self._began = False
        self._ended = False
        self._piece = len(piece)
        try:
            self._parser.feed_data(piece)
        except httptools.HttpParserUpgrade as exc:
            # What follows the head is not HTTP/1.1: the server takes it for a WebSocket
            # (take_upgrade_data), or answers the request as plain HTTP and closes.
            self._failed = True
            self._upgrade_data = data[offset + exc.args[0] :] if exc.args else b""
        except httptools.HttpParserCallbackError as exc:
            context = exc.__context__
            if isinstance(context, _Refuse):
                self._fail(context.error)
            else:  # pragma: no cover - our callbacks raise nothing else
                raise
        except httptools.HttpParserInvalidMethodError:
            # llhttp stops at the first bad byte of the method; whether this is an unknown
            # method (501) or a malformed line (400) shows only once the line is complete.
            self._failed = True
            self._pending_method_error = True
            self._classify_method_error(data, first=True)
        except httptools.HttpParserError as exc:
            reason = str(exc)
            error: ProtocolError | None = None
            if reason in _VERSION_ERRORS:
                error = version_status_from_line(self._line_start(data))
            self._fail(error or ProtocolError(400, f"invalid request: {reason}"))
        else:
            # A head still incomplete after this piece: count its bytes here, all of the
            # piece if the head began in an earlier one or at this one's start (behind
            # nothing but blank lines: no request ended in it). One begun behind a request
            # that ended in this piece is bounded by the piece's size, at most max_head.
            if self._in_head and self._began_message:
                if len(self._headers) > self._max_count:
                    # on_header does not count: a head cut here holds at most one piece's
                    # fields (a complete one is counted by on_headers_complete)
                    self._fail(ProtocolError(431, "too many header fields"))
                elif not (self._began and self._ended):
                    self._head_bytes += len(piece)
                    if self._head_bytes > self._max_head:
                        self._fail(ProtocolError(431, "request head too large"))
        return not self._failed

    def _classify_method_error(self, data: bytes, first: bool = False) -> None:
        """Decide 400 or 501 once the request line is complete (or EOF, or 512 bytes)."""
        if first and not self._prefix_valid:
            self._prefix = data[:512]
            self._prefix_valid = True
        elif not first:
            self._prefix = self._prefix[:512] + data[:512]
        line = self._prefix[:1024]
        if not data or b"\n" in line or len(line) >= 512 or _LINE_PREFIX(line) is None:
            self._pending_method_error = False
            self._emit(method_status_from_line(bytes(line)))

    def _line_start(self, data: bytes) -> bytes:
        """The bytes the failing request line starts with, as well as we know them."""
        if self._prefix_valid and self._prefix:
            return bytes(self._prefix)
        return data

    def start_next_cycle(self) -> list[Event]:
        out = self._out = []
        self._blocked = False
        held = self._held
        if held is None:
            return out
        while held:
            event = held.popleft()
            out.append(event)
            if type(event) is Body:
                self._held_bytes -= len(event.data)
            else:
                self._held_bytes -= 64
            if event is END_OF_MESSAGE:
                self._blocked = True
                break
        if not held:
            self._held = None  # an empty deque keeps a 64-slot block (about 600 bytes)
        return out

    def _emit(self, event: Event) -> None:
        if self._blocked:
            held = self._held
            if held is None:
                held = self._held = deque()
            held.append(event)
            if type(event) is Body:
                self._held_bytes += len(event.data)
            else:
                self._held_bytes += 64
        else:
            self._out.append(event)

    def _fail(self, error: ProtocolError) -> None:
        self._failed = True
        self._emit(error)

    # httptools callbacks

    def on_message_begin(self) -> None:
        # _url is b"", _in_head True and _head_bytes 0 here: on_headers_complete and
        # on_message_complete left them so.
        self._headers = []
        if self._special:  # the last head set a flag: a head with none sets none to reset
            self._special = False
            self._expect = self._has_body = self._framing = self._chunked = False
            self._upgrade = self._websocket = self._forwarded = False
        self._hosts = 0
        self._began = True
        self._began_message = True
        if self._completed_here:
            self._prefix_valid = False  # this head starts mid-read: its offset is unknown

    def on_url(self, url: bytes) -> None:
        if self._url:  # the target came in more than one read
            url = self._url + url
        if len(url) > self._max_line:
            raise _Refuse(ProtocolError(414, "request-target too long"))
        self._url = url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self._in_head:
            return  # a chunked trailer field: not part of the request head
        name = name.lower()
        if value[-1:] <= b" ":  # (b"" too) llhttp keeps the OWS after a value: h11 does not
            value = value.rstrip(b" \t")
        if name in _SPECIAL:
            # Host (in every request: first, and it sets no flag), framing, Expect, Upgrade
            # and the proxy fields; framing is checked in full by check_head.
            if name == b"host":
                self._hosts += 1
            else:
                self._special = True
                if name == b"expect":
                    if value.lower() == b"100-continue":
                        self._expect = True
                elif name == b"content-length":
                    self._has_body = value != b"0"
                    self._framing = True
                elif name == b"transfer-encoding":
                    self._has_body = True
                    self._framing = True
                    self._chunked = True
                elif name == b"upgrade":
                    self._upgrade = True
                    self._websocket = b"websocket" in connection_tokens(value)
                else:
                    self._forwarded = True
        # Counted once per head (on_headers_complete) or per read (_feed), not here.
        self._headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self._parser
        self._in_head = False
        self._head_bytes = 0
        raw_method = parser.get_method()
        url = self._url
        # The common case, with nothing for check_head to find: one Host, no framing field,
        # and fields whose size as check_head counts it (name, value and 4 bytes each) is
        # within the limit, as it is when the head began in this piece (a head begun in an
        # earlier one is counted by check_head itself) and that piece plus 4 bytes per field
        # is.
        count = len(self._headers)
        simple = (
            self._began
            and self._hosts == 1
            and not self._framing
            and count <= self._max_count
            and self._piece + 4 * count <= self._max_fields
        )
        at = len(raw_method) + 1 + len(url)  # (a slice: startswith(x, at) parses a tuple)
        if simple and self._prefix_valid and self._prefix[at : at + _HTTP11_SIZE] == _HTTP11:
            # The read begins with this head: its request line ends in " HTTP/1.1", which
            # costs less to see there than to ask llhttp (get_http_version formats a str).
            version = "1.1"
        else:
            version = parser.get_http_version()
        if not simple or version != "1.1":
            error = status_for_version(version) or check_head(
                url, self._headers, self._limits, version == "1.1"
            )
            if error is not None:
                if version == "0.9" and b" HTTP/0.9" not in self._line_start(b""):
                    # llhttp reports 0.9 for a request line without any version.
                    error = ProtocolError(400, "request line without an HTTP version")
                raise _Refuse(error)
            self._body_left = self._limits.max_body_size if self._chunked else None
        method = METHODS.get(raw_method) or raw_method.decode("ascii")
        # llhttp completes no head with an empty target: url[0] exists.
        if url[0] != _SLASH or _HASH in url or method == "CONNECT":
            error = check_target(method, url)
            if error is not None:
                raise _Refuse(error)
        # The head is good: its start is no longer needed. Keeping a reference to the read
        # it came in would pin that bytes object for the connection's idle life (on the
        # selector loop, what is left of a 256 KiB recv buffer: about 4 KiB of RSS each).
        self._prefix = b""
        self._prefix_valid = False
        keep_alive = parser.should_keep_alive()
        upgrade = False
        if self._upgrade and parser.should_upgrade():
            # Connection: upgrade. Not kept alive: what follows is not HTTP/1.1.
            keep_alive = False
            upgrade = self._websocket and method == "GET" and not self._has_body
        request = Request(
            method,
            url,
            version,
            self._headers,
            keep_alive,
            self._expect and self._has_body and version == "1.1",
            self._forwarded,
            upgrade,
        )
        # The request holds its head now: kept here too, it would stay for the connection's
        # idle life after the request is gone (on_message_begin starts the next one's).
        self._headers = _NO_HEADERS
        self._url = b""
        if self._blocked:
            self._emit(request)
        else:
            self._out.append(request)

    def on_body(self, body: bytes) -> None:
        left = self._body_left
        if left is not None:
            left -= len(body)
            if left < 0:
                raise _Refuse(ProtocolError(413, "request body over the limit"))
            self._body_left = left
        self._emit(Body(body))

    def on_message_complete(self) -> None:
        if self._blocked:
            self._emit(END_OF_MESSAGE)
        else:
            self._out.append(END_OF_MESSAGE)
        self._blocked = True
        self._in_head = True
        self._began_message = False
        self._completed_here = True
        self._ended = True

    def take_upgrade_data(self) -> bytes:
        data, self._upgrade_data = self._upgrade_data, b""
        return data
