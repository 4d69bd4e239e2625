"""Follow a chunked request body in the raw bytes and refuse what llhttp refuses.

h11 de-chunks, but it is lenient about the lines around the data: a chunk-size line is
``size(;.*)?OWS CRLF`` (whitespace after the size, a bare CR, spaces or controls in an
extension all pass), sizes up to 20 hex digits (beyond 64 bits), and trailer fields as
loose as its heads (bare LF line ends, obs-fold, control characters). llhttp refuses all
of these. :class:`ChunkedChecker` runs on the h11 and zttp paths (zttp's chunk grammar is
close to llhttp's; the checker also tells it where a body ends), over the same bytes,
so that one input has one verdict whichever parser runs: it checks every line of the
chunked framing to llhttp's grammar (below), stops at the first byte that cannot
continue a valid line (as llhttp does, so an incomplete bad line is refused at once; only
while the line is under 1 KiB), and counts the data against the request body limit.

Grammar (RFC 9112 section 7.1, as llhttp reads it)::

    chunk-line   = 1*HEXDIG *( ";" ext ) CRLF          ; size below 2**64
    ext          = 1*tchar [ "=" value ] / "=" value / ""   ; "" only before another ";"
    value        = *tchar [ DQUOTE *( qdtext / quoted-pair ) DQUOTE ]
    chunk        = chunk-line data CRLF                ; a size of 0 ends the chunks
    trailer-line = 1*tchar ":" *( HTAB / SP / VCHAR / obs-text ) CRLF
                   ; but no Content-Length, nor a Transfer-Encoding with a value
    body         = *chunk last-chunk-line *trailer-line CRLF

Data bytes are skipped by count, so the cost is per line, not per byte of body.
"""

from __future__ import annotations

import re
from typing import Final

from .events import ProtocolError

__all__ = ["ChunkedChecker"]

_TCHAR: Final = rb"[-!#$%&'*+.^_`|~0-9A-Za-z]"
_QDTEXT: Final = rb"[\t \x21\x23-\x5b\x5d-\x7e\x80-\xff]"
_QPAIR_END: Final = rb"[\t \x21-\x7e\x80-\xff]"
_VALUE: Final = rb"%s*(?:\"(?:%s|\\%s)*\")?" % (_TCHAR, _QDTEXT, _QPAIR_END)
# An empty extension passes only when another follows (llhttp: ";;a" yes, ";" CRLF no).
_EXT: Final = rb";(?:%s+(?:=%s)?|=%s|(?=;))" % (_TCHAR, _VALUE, _VALUE)
_FIELD_VALUE: Final = rb"[\t\x20-\x7e\x80-\xff]*"

#: A complete chunk-size line (CRLF included).
_SIZE_LINE: Final = re.compile(rb"([0-9A-Fa-f]+)(?:%s)*\r\n" % _EXT).fullmatch
#: What an incomplete chunk-size line may be so far: digits, then whole extensions, then
#: a CR or the start of one more extension (a value cut anywhere, in its quotes too).
_VALUE_PREFIX: Final = rb"%s*(?:\"(?:%s|\\%s)*\\?)?" % (_TCHAR, _QDTEXT, _QPAIR_END)
_EXT_PREFIX: Final = rb";(?:%s+(?:=%s)?|=%s)?" % (_TCHAR, _VALUE_PREFIX, _VALUE_PREFIX)
_SIZE_PREFIX: Final = re.compile(
    rb"([0-9A-Fa-f]*)|([0-9A-Fa-f]+)(?:%s)*(?:\r|%s)?" % (_EXT, _EXT_PREFIX)
).fullmatch
#: A complete trailer line, or the empty line that ends the body.
_TRAILER_LINE: Final = re.compile(rb"(?:%s+:%s)?\r\n" % (_TCHAR, _FIELD_VALUE)).fullmatch
_TRAILER_PREFIX: Final = re.compile(rb"\r?|%s+(?::%s\r?)?" % (_TCHAR, _FIELD_VALUE)).fullmatch

_MAX_SIZE_DIGITS: Final = 16  # llhttp keeps the size in 64 bits
_PREFIX_CHECKED: Final = 1024  # incomplete lines up to this long are checked as they come

_SIZE: Final = 0  # in a chunk-size line
_DATA: Final = 1  # in chunk data
_DATA_END: Final = 2  # the CRLF after chunk data
_TRAILER: Final = 3  # in the trailer section
_DONE: Final = 4


def _size_error(digits: bytes) -> ProtocolError | None:
    if len(digits) > _MAX_SIZE_DIGITS and len(digits.lstrip(b"0")) > _MAX_SIZE_DIGITS:
        return ProtocolError(400, "chunk size over 64 bits")
    return None


_CONTENT_LENGTH_IN_TRAILER: Final = ProtocolError(400, "Content-Length in the trailer section")
_TRANSFER_ENCODING_IN_TRAILER: Final = ProtocolError(
    400, "Transfer-Encoding in the trailer section"
)


def _framing_trailer(line: bytes) -> ProtocolError | None:
    """A trailer field (complete or not) that would reframe the message.

    llhttp refuses Content-Length as soon as its colon comes, Transfer-Encoding with the
    first byte of its value; an empty Transfer-Encoding only with the byte after its line
    (see ``ChunkedChecker._empty_te``).
    """
    start = line[:18].lower()
    if start.startswith(b"content-length:"):
        return _CONTENT_LENGTH_IN_TRAILER
    if start.startswith(b"transfer-encoding:") and line[18:].strip(b" \t\r\n"):
        return _TRANSFER_ENCODING_IN_TRAILER
    return None


class ChunkedChecker:
    """Check the chunked framing of one request body, fed the raw bytes after its head."""

    __slots__ = ("_empty_te", "_left", "_limit", "_line", "_max_line", "_state", "end")

    def __init__(self, max_body_size: int | None, max_line: int) -> None:
        self._state = _SIZE
        self._line = bytearray()  # the incomplete line so far
        self._left = 0  # data bytes left in this chunk
        #: Data bytes that may still come (None: no limit).
        self._limit = max_body_size
        self._max_line = max_line
        #: The last trailer line was an empty Transfer-Encoding: refused with the next byte.
        self._empty_te = False
        #: Once :attr:`done`: where the body ended in the data of the last ``feed`` (what
        #: follows belongs to the next request).
        self.end = 0

    @property
    def done(self) -> bool:
        """The whole body (trailers and final CRLF included) has been seen."""
        return self._state == _DONE

    def feed(self, data: bytes) -> ProtocolError | None:
        """Follow ``data``; the error for the first bad byte in it, if any.

        Bytes after the end of the body (a pipelined request) are ignored.
        """
        pos = 0
        end = len(data)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._left, end - pos)
                pos += take
                self._left -= take
                if self._limit is not None:
                    self._limit -= take
                    if self._limit < 0:
                        return ProtocolError(413, "request body over the limit")
                if not self._left:
                    self._state = _DATA_END
                continue
            if state == _DONE:
                return None
            if self._empty_te:
                return _TRANSFER_ENCODING_IN_TRAILER
            newline = data.find(b"\n", pos)
            if newline < 0:
                self._line += data[pos:]
                return self._partial()
            if self._line:
                line = bytes(self._line) + data[pos : newline + 1]
                self._line.clear()
            else:
                line = data[pos : newline + 1]
            pos = newline + 1
            error = self._complete(line)
            if error is not None:
                return error
            if self._state == _DONE:
                self.end = pos
                return None
        return None

    def _complete(self, line: bytes) -> ProtocolError | None:
        state = self._state
        if state == _SIZE:
            match = _SIZE_LINE(line)
            if match is None:
                return ProtocolError(400, "malformed chunk-size line")
            digits = match.group(1)
            error = _size_error(digits)
            if error is not None:
                return error
            self._left = int(digits, 16)
            self._state = _DATA if self._left else _TRAILER
        elif state == _DATA_END:
            if line != b"\r\n":
                return ProtocolError(400, "chunk data not followed by CRLF")
            self._state = _SIZE
        elif _TRAILER_LINE(line) is None:
            return ProtocolError(400, "malformed trailer field line")
        elif line == b"\r\n":
            self._state = _DONE
        else:
            error = _framing_trailer(line)
            if error is not None:
                return error
            self._empty_te = line[:18].lower() == b"transfer-encoding:"
        return None

    def _partial(self) -> ProtocolError | None:
        """The incomplete line so far must be able to become a valid one.

        Checked while it is short (a line sent a byte at a time would otherwise cost
        quadratic time); a long one is checked in full when its LF comes.
        """
        line = self._line
        if len(line) > _PREFIX_CHECKED:
            if len(line) > self._max_line:
                # h11 answers so when the line outgrows its buffer; llhttp never buffers it.
                return ProtocolError(431, "chunk-size or trailer line too long")
            return None
        state = self._state
        if state == _SIZE:
            match = _SIZE_PREFIX(line)
            if match is None:
                return ProtocolError(400, "malformed chunk-size line")
            error = _size_error(match.group(2) or match.group(1))
            if error is not None:
                return error
        elif state == _DATA_END:
            if line != b"\r":
                return ProtocolError(400, "chunk data not followed by CRLF")
        elif _TRAILER_PREFIX(line) is None:
            return ProtocolError(400, "malformed trailer field line")
        else:
            return _framing_trailer(bytes(line))
        return None
