"""The h11 adapter: h11 parses, this maps its events and errors; responses are written
by :class:`~xloop.http.response.HTTPConnection`, as for httptools and zttp (h11's own writer
cost as much as its parser, for the same validated bytes).

h11 accepts some bytes that llhttp refuses; what the adapter checks itself so that both
parsers give one verdict: control characters, bare LF line ends and obs-fold in the raw
head (a few C-speed scans of it), duplicate or listed Content-Length values that h11
folds into one, and the lines of a chunked body (:mod:`xloop.http.chunked`, which also
counts a chunked body against the limit). Faults are reported in the order llhttp meets
them, so that a head with two faults gets one answer too.
"""

from __future__ import annotations

import re
from typing import Final

import h11

from .chunked import ChunkedChecker
from .events import END_OF_MESSAGE, Body, Event, ProtocolError, Request
from .head import (
    BLANK,
    Limits,
    check_head,
    check_target,
    line_target_status,
    status_for_version,
    version_status_from_line,
)
from .response import DefaultHeaders, HTTPConnection, connection_tokens

__all__ = ["H11Connection"]

_CONTENT_LENGTH_LINE: Final = re.compile(rb"(?im)^content-length[ \t]*:[ \t]*([^\r\n]*?)[ \t]*\r?$")
_NEED: Final = (h11.NEED_DATA, h11.PAUSED)
#: Bytes as ints: ``int in bytes`` is a memchr, while ``bytes in bytes`` first tries its
#: argument as an int, and the TypeError raised and cleared inside costs ten times more.
_LF: Final = ord("\n")
_HASH: Final = ord("#")
_SLASH: Final = ord("/")
#: The versions llhttp reads; it refuses any other on the request line (505 there too).
_LLHTTP_VERSIONS: Final = frozenset(("1.1", "1.0", "2.0", "0.9"))
#: In a raw head: a control character but HTAB, CR and LF (h11 refuses a bare CR itself).
#: One character class: a regex with alternatives costs ten times more per byte.
_CONTROL: Final = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]").search


def _recycled(conn: h11.Connection) -> h11.Connection | None:
    """``conn``, which read one whole request of a keep-alive connection, made ready for
    the next one; None if h11 would not go on with it.

    h11 starts a connection's next cycle only once its server side has sent a response,
    which here the response writer wrote without h11. The states a response head and its
    end lead to from there are set (h11's bookkeeping; nothing is serialised), with the
    100-continue wait sending one clears, then h11's own ``start_next_cycle`` runs.
    """
    try:
        cstate = conn._cstate
        states = cstate.states
        if states[h11.CLIENT] is not h11.DONE or not cstate.keep_alive:
            return None  # (an upgrade h11 waits on, HTTP/1.0, Connection: close)
        cstate.pending_switch_proposals.clear()
        states[h11.SERVER] = h11.DONE
    except AttributeError:  # an h11 whose internals differ: a new connection each time
        return None
    conn.client_is_waiting_for_100_continue = False
    conn.start_next_cycle()
    return conn


class H11Connection(HTTPConnection):
    """:class:`xloop.http.base.HTTPConnection` on h11: h11 reads the requests, the base
    class writes the responses."""

    __slots__ = (
        "_chunks",
        "_conn",
        "_failed",
        "_in_body",
        "_limits",
        "_recent",
        "_saw_newline",
        "_spare",
    )

    def __init__(self, limits: Limits | None = None) -> None:
        super().__init__()
        self._limits = limits or Limits()
        #: None between requests when nothing of the next one came: made with its first
        #: bytes (an idle keep-alive connection holds no h11 state, about 1 KiB).
        self._conn: h11.Connection | None = None
        #: The last request's h11 connection, made ready for the next one (_recycled).
        self._spare: h11.Connection | None = None
        self._failed = False
        #: Raw bytes not yet matched to a request head; not kept while a body is read
        #: (refilled from h11's buffer at the end of each message).
        self._recent = bytearray()
        self._in_body = False
        self._saw_newline = False  # in the head being received: the request line ended
        self._chunks: ChunkedChecker | None = None  # the chunked body being received

    def _new_h11(self) -> h11.Connection:
        return h11.Connection(h11.SERVER, max_incomplete_event_size=self._limits.max_head)

    @property
    def buffered(self) -> int:
        return 0 if self._conn is None else len(self._conn.trailing_data[0])

    @property
    def head_pending(self) -> bool:
        conn = self._conn
        return conn is not None and bool(conn.trailing_data[0].strip(b"\r\n"))

    @property
    def reusable(self) -> bool:
        # Between requests with nothing of the next one, h11 holds no connection at all.
        return (
            self.keep_alive
            and not self._failed
            and self._conn is None
            and not self._recent
            and not self._in_body
            and self._chunks is None
        )

    def receive_data(self, data: bytes) -> list[Event]:
        if self._failed:
            return []
        if data:
            if self._chunks is not None:
                error = self._chunks.feed(data)
                if error is not None:
                    self._failed = True
                    return [error]
            if not self._in_body:
                if not self._recent and data[0] in BLANK:
                    # Empty lines before a request line (h11 refuses them): dropped.
                    data = data.lstrip(BLANK)
                    if not data:
                        return []
                if not self._saw_newline and _LF in data:
                    self._saw_newline = True
                self._recent += data
        conn = self._conn
        if conn is None:
            conn = self._spare
            if conn is None:
                conn = self._new_h11()
            else:
                self._spare = None
            self._conn = conn
        conn.receive_data(data)
        return self._pull(conn)

    def start_next_cycle(self) -> list[Event]:
        if self._failed:
            return []
        # h11 parses, the response writer writes: h11's server side never saw the
        # response, so a fresh h11 connection reads on from the bytes the last one held;
        # with none held, this one is kept for the next request (_recycled).
        conn = self._conn
        if conn is None:
            return []
        held, closed = conn.trailing_data
        if not held and not closed:
            self._spare = _recycled(conn)  # the next request's bytes take it
            self._conn = None
            return []
        if held and held[0] in BLANK:  # empty lines after the last message: dropped
            kept = bytes(held).lstrip(BLANK)
            del self._recent[: len(held) - len(kept)]
            self._saw_newline = _LF in self._recent
            held = kept
        if not held and not closed:
            self._conn = None  # the next request's bytes make a new one
            return []
        conn = self._conn = self._new_h11()
        if held:
            conn.receive_data(bytes(held))
        if closed:
            conn.receive_data(b"")
        return self._pull(conn)

    def _pull(self, conn: h11.Connection) -> list[Event]:
        out: list[Event] = []
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._failed = True
                error = None
                if exc.error_status_hint == 400:
                    error = version_status_from_line(bytes(self._recent[:256]))
                elif exc.error_status_hint == 431 and not self._saw_newline:
                    error = ProtocolError(414, "request line too long")
                out.append(error or ProtocolError(exc.error_status_hint, str(exc)))
                return out
            if event in _NEED:
                return out
            event_type = type(event)
            if event_type is h11.Data:
                out.append(Body(bytes(event.data)))  # type: ignore[union-attr]
            elif event_type is h11.EndOfMessage:
                out.append(END_OF_MESSAGE)
                self._chunks = None
                # What h11 still holds is all that can contain the next head.
                buffered = conn.trailing_data[0]
                if self._in_body or len(self._recent) != len(buffered):
                    self._in_body = False
                    self._recent = bytearray(buffered)
                    self._saw_newline = _LF in self._recent
                return out
            elif event_type is h11.Request:
                request = self._request(event, conn)  # type: ignore[arg-type]
                out.append(request)
                if type(request) is ProtocolError:
                    self._failed = True
                    return out
                if self._chunks is not None:
                    # What h11 holds now is the start of the body.
                    error = self._chunks.feed(bytes(conn.trailing_data[0]))
                    if error is not None:
                        self._failed = True
                        out.append(error)
                        return out
            else:  # ConnectionClosed: the server sees EOF itself
                return out

    def _request(self, event: h11.Request, conn: h11.Connection) -> Request | ProtocolError:
        """Check the head h11 parsed, in the order the httptools adapter finds faults.

        First what llhttp refuses while it reads (a target it cannot read, a version it
        does not parse, the raw head's faults, Content-Length repeated or with
        Transfer-Encoding), then the version, check_head and check_target, as
        on_headers_complete does.
        """
        method = event.method.decode("ascii")
        target = event.target
        if target[0] != _SLASH or method == "CONNECT":
            error = line_target_status(method, target)
            if error is not None:
                return error
        version = event.http_version.decode("ascii")
        version_error = status_for_version(version)
        if version_error is not None and version not in _LLHTTP_VERSIONS:
            return version_error
        headers: list[tuple[bytes, bytes]] = list(event.headers)
        keep_alive = version == "1.1"
        expect = False
        has_length = False
        has_body = False
        chunked = False
        forwarded = False
        connection_upgrade = websocket = False
        for name, value in headers:
            if name == b"connection":
                tokens = connection_tokens(value)
                if b"close" in tokens:
                    keep_alive = False
                elif b"keep-alive" in tokens and version == "1.0":
                    keep_alive = True
                if b"upgrade" in tokens:
                    connection_upgrade = True
            elif name == b"upgrade":
                websocket = b"websocket" in connection_tokens(value)
            elif name == b"expect":
                expect = value.lower() == b"100-continue"
            elif name == b"content-length":
                has_length = True
                has_body = value != b"0"
            elif name == b"transfer-encoding":
                has_body = True
                chunked = True
            elif name in {b"x-forwarded-for", b"x-forwarded-proto"}:
                forwarded = True
        start, end = self._head_span(event)
        if has_length and chunked:
            # llhttp refuses it when the second of the two arrives, before the version's turn.
            return ProtocolError(400, "Content-Length together with Transfer-Encoding")
        error = (
            self._check_raw_head(start, end, has_length)
            or version_error
            or check_head(target, headers, self._limits, version == "1.1")
        )
        if error is not None:
            return error
        # h11 reads no request line with an empty target: target[0] exists.
        if target[0] != _SLASH or _HASH in target or method == "CONNECT":
            error = check_target(method, target)
            if error is not None:
                return error
        recent = self._recent
        del recent[:end]
        self._saw_newline = _LF in recent
        if has_body:
            self._in_body = True
            if chunked:
                limits = self._limits
                self._chunks = ChunkedChecker(limits.max_body_size, limits.max_head)
        return Request(
            method,
            target,
            version,
            headers,
            keep_alive,
            expect and has_body and conn.they_are_waiting_for_100_continue,
            forwarded,
            websocket and connection_upgrade and event.method == b"GET" and not has_body,
        )

    def _head_span(self, event: h11.Request) -> tuple[int, int]:
        """Where this request's head lies in the raw bytes seen (h11 merges duplicates)."""
        recent = self._recent
        start = recent.find(event.method + b" " + event.target + b" HTTP/")
        start = max(start, 0)
        # A head that ends in a bare LF may seem to end later, or not at all: the span
        # holds its bare LF either way, and _check_raw_head refuses it.
        end = recent.find(b"\n\r\n", start)
        return start, (len(recent) if end < 0 else end + 3)

    def _check_raw_head(self, start: int, end: int, has_length: bool) -> ProtocolError | None:
        """Check the head's raw bytes for what h11 accepts and llhttp refuses.

        Control characters in a field value, bare LF line ends and obs-fold are refused;
        so is ``Content-Length: 5`` twice, or ``5, 5``, which h11 folds into one.
        """
        recent = self._recent
        if _CONTROL(recent, start, end) is not None:
            return ProtocolError(400, "control character in a header field value")
        if recent.count(b"\n", start, end) != recent.count(b"\r\n", start, end):
            return ProtocolError(400, "bare LF line end in the head")
        if recent.find(b"\n ", start, end) >= 0 or recent.find(b"\n\t", start, end) >= 0:
            return ProtocolError(400, "obs-fold in the head")
        if has_length:
            values = _CONTENT_LENGTH_LINE.findall(recent, start, end)
            if len(values) > 1:
                return ProtocolError(400, "more than one Content-Length header")
            if values and not bytes(values[0]).isdigit():
                return ProtocolError(400, "Content-Length is not a plain decimal number")
        return None

    def take_upgrade_data(self) -> bytes:
        # h11 pauses after an upgrade request: what it holds is the new protocol's.
        self._failed = True
        return b"" if self._conn is None else bytes(self._conn.trailing_data[0])

    # -- sending ---------------------------------------------------------------------------

    def error_response(self, status: int, defaults: DefaultHeaders) -> bytes:
        self._failed = True
        return super().error_response(status, defaults)
