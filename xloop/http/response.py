"""Response serialization for HTTP/1.1, one writer for every parser's adapter: the response
side of :class:`HTTPConnection`, which every adapter extends.

Kept deliberately small and allocation-light: a cached status line, one pass over the
application's headers that validates and frames at the same time, and a single ``join``.
"""

from __future__ import annotations

import re
from abc import abstractmethod
from collections.abc import Iterable
from http import HTTPStatus
from typing import Any, Final

from .events import Event, Request, ResponseError

__all__ = [
    "CHUNKED",
    "CLOSE_DELIMITED",
    "CONTENT_LENGTH",
    "NO_BODY",
    "DefaultHeaders",
    "HTTPConnection",
    "checked_status",
    "connection_tokens",
    "error_response",
    "status_line",
]

_TOKEN: Final = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+").fullmatch
_DIGITS: Final = re.compile(rb"[0-9]+").fullmatch
#: CR, LF and NUL as ints: ``int in bytes`` is a memchr, while ``bytes in bytes`` first
#: tries its argument as an int, and the TypeError raised and cleared inside costs ten
#: times more (this runs for every header of every response).
_CR: Final = ord("\r")
_LF: Final = ord("\n")
_NUL: Final = 0

_CONTINUE: Final = b"HTTP/1.1 100 Continue\r\n\r\n"

NO_BODY: Final = 0
CONTENT_LENGTH: Final = 1
CHUNKED: Final = 2
CLOSE_DELIMITED: Final = 3

_STATUS_LINES: dict[int, bytes] = {}
_VALID_NAMES: dict[bytes, bytes] = {}
#: Names (as the app wrote them) already found valid that the server does not act on: a
#: response header named so is copied as it is, after its value's check.
_PLAIN_NAMES: set[bytes] = set()
#: ``content-length: N\r\n`` of the sizes seen (see length_line).
_LENGTH_LINES: dict[int, bytes] = {}
#: Content-Length values apps sent, as the ints they were found valid as (see
#: checked_length): a dict lookup per response instead of a regex match and an ``int()``.
_LENGTH_VALUES: dict[bytes, int] = {}
_SEPARATOR: Final = b": "
_CRLF: Final = b"\r\n"


def status_line(status: int) -> bytes:
    """``HTTP/1.1 200 OK\\r\\n`` for a status code, cached."""
    line = _STATUS_LINES.get(status)
    if line is None:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = ""
        line = f"HTTP/1.1 {status} {phrase}\r\n".encode("latin-1")
        if len(_STATUS_LINES) < 1024:  # pragma: no branch - statuses are 100-999: never full
            _STATUS_LINES[status] = line
    return line


def length_line(length: int) -> bytes:
    """``content-length: N\r\n``, cached for the first 1024 sizes (formatting one costs
    more than the rest of a small response's head)."""
    line = b"content-length: %d\r\n" % length
    if len(_LENGTH_LINES) < 1024:
        _LENGTH_LINES[length] = line
    return line


def checked_length(value: bytes) -> int:
    """A response's Content-Length value (bytes, its CR/LF/NUL checked) as an int, or
    :class:`ResponseError`; the first 1024 values found valid are kept."""
    if _DIGITS(value) is None:
        raise ResponseError(f"invalid response Content-Length {value!r}")
    length = int(value)
    if len(_LENGTH_VALUES) < 1024:
        _LENGTH_VALUES[value] = length
    return length


def checked_status(status: object) -> int:
    """A final status code (200-999) as an int (IntEnums such as HTTPStatus allowed)."""
    if not isinstance(status, int) or isinstance(status, bool) or not 200 <= status <= 999:
        raise ResponseError(f"invalid response status {status!r}")
    return int(status)


def validated_name(name: Any) -> bytes:
    """The lowercased header name, or :class:`ResponseError` if it is not a token."""
    lowered = _VALID_NAMES.get(name)
    if lowered is not None:
        return lowered
    if type(name) is not bytes or _TOKEN(name) is None:
        raise ResponseError(f"invalid response header name {name!r}")
    lowered = name.lower()
    if len(_VALID_NAMES) < 4096:
        _VALID_NAMES[name] = lowered
    return lowered


def validate_value(value: Any) -> None:
    """Refuse header values that could split the response (CR, LF, NUL)."""
    if type(value) is not bytes:
        raise ResponseError(f"response header value must be bytes, not {type(value).__name__}")
    if _CR in value or _LF in value or _NUL in value:
        raise ResponseError(f"response header value contains CR, LF or NUL: {value!r}")


def connection_tokens(value: bytes) -> list[bytes]:
    """The lowercased tokens of a Connection header value."""
    return [token.strip(b" \t") for token in value.lower().split(b",")]


class DefaultHeaders:
    """Headers the server adds to every response, kept as items and as a ready block."""

    __slots__ = ("block", "items")

    def __init__(self, items: Iterable[tuple[bytes, bytes]]) -> None:
        self.items: list[tuple[bytes, bytes]] = []
        for name, value in items:
            validated_name(name)
            validate_value(value)
            self.items.append((name, value))
        self.block = b"".join(b"%s: %s\r\n" % item for item in self.items)


def error_response(status: int, defaults: DefaultHeaders, message: str | None = None) -> bytes:
    """A complete plain-text response that closes the connection."""
    body = (message or status_line(status)[13:-2].decode("latin-1") or str(status)).encode()
    return b"".join(
        (
            status_line(status),
            defaults.block,
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body),
            body,
        )
    )


class HTTPConnection:
    """One HTTP/1.1 connection, server side, without I/O: each parser's adapter reads the
    requests (the abstract receive side), and this class frames the responses, one at a
    time, the same for every parser.

    ``begin_response`` records what the framing depends on; ``response_head``,
    ``response_body`` and ``response_end`` return the bytes to write. The stand-in a parked
    connection holds subclasses it too. A base class, not a protocol: in the compiled build
    it is a native class, so the server's calls through it are direct C calls (a vtable
    slot) instead of a method looked up by name and its arguments parsed.
    """

    __slots__ = (
        "_head_method",
        "_http11",
        "_request_keep_alive",
        "keep_alive",
        "mode",
        "remaining",
    )

    def __init__(self) -> None:
        self.mode = NO_BODY
        self.remaining = 0
        #: After the current response: may the connection serve another request?
        self.keep_alive = True
        self._head_method = False
        self._http11 = True
        self._request_keep_alive = True

    # -- the receive side: each adapter's --------------------------------------------------

    @abstractmethod
    def receive_data(self, data: bytes) -> list[Event]:
        """Feed bytes read from the peer (``b""`` at EOF); return the events now ready."""

    @abstractmethod
    def start_next_cycle(self) -> list[Event]:
        """The response is complete: release the next pipelined request's events."""

    @property
    @abstractmethod
    def buffered(self) -> int:
        """Bytes held for requests not yet released (for read flow control)."""

    @property
    @abstractmethod
    def head_pending(self) -> bool:
        """Between requests: part of the next request's head has arrived (its clock is the
        request-header timeout, not the keep-alive one)."""

    @property
    @abstractmethod
    def reusable(self) -> bool:
        """Between requests and as a new one is: kept alive, nothing failed, nothing of a
        next request received or held. An idle connection may then give it back to the
        server, for any connection's next request (see :mod:`xloop.server.idle`)."""

    @abstractmethod
    def take_upgrade_data(self) -> bytes:
        """After a request with ``upgrade`` set: the bytes received behind its head, which
        belong to the new protocol. The connection parses no more HTTP after it."""

    # -- the response side: written once -------------------------------------------------

    def release(self) -> None:
        """Given back when the server keeps enough spare ones: break any reference cycle it
        holds (so it is freed at once, not by the cycle collector). It is not used again.
        Nothing to break here; an adapter whose parser calls back into it does."""

    def begin_response(self, request: Request) -> None:
        """The server starts answering ``request``: remember what the framing depends on
        (method, version, keep-alive)."""
        self._head_method = request.method == "HEAD"
        self._http11 = request.http_version == "1.1"
        self._request_keep_alive = request.keep_alive

    def informational_continue(self) -> bytes:
        """The interim response to ``Expect: 100-continue``."""
        return _CONTINUE

    def response_head(
        self,
        status: Any,  # the app's, checked here
        headers: Iterable[Any],  # the app's: ASGI allows any two-item iterables
        defaults: DefaultHeaders,
        body_length: int | None,
        close: bool,
    ) -> bytes:
        """Serialize the status line and headers and choose the framing of the body that
        follows. ``defaults`` are the headers the server adds (``server``, ``date``,
        ``--header``); ``body_length`` is the whole body's size when the app sent it in one
        message and gave no Content-Length; ``close`` forces ``Connection: close``."""
        if type(status) is not int or not 200 <= status <= 999:
            status = checked_status(status)
        line = _STATUS_LINES.get(status) or status_line(status)
        parts = [line, defaults.block]
        keep_alive = self._request_keep_alive and not close
        content_length: int | None = None
        connection_close = False
        plain = _PLAIN_NAMES
        for header in headers:
            if type(header) is tuple and len(header) == 2:  # (compiled: no iterator)
                pair: tuple[Any, Any] = header
                name, value = pair
            else:
                name, value = header
            if type(value) is not bytes or _CR in value or _LF in value or _NUL in value:
                validate_value(value)
            if name not in plain:  # new, invalid, or one the server acts on
                lname = validated_name(name)
                if lname == b"content-length":
                    if content_length is not None:
                        raise ResponseError(f"invalid response Content-Length {value!r}")
                    content_length = _LENGTH_VALUES.get(value) or checked_length(value)
                elif lname == b"transfer-encoding":
                    # The server chooses the framing; the app's TE is dropped (an HTTP/1.0
                    # client cannot take chunked anyway).
                    continue
                elif lname == b"connection":
                    if b"close" in connection_tokens(value):
                        connection_close = True
                        keep_alive = False
                elif len(plain) < 4096:
                    plain.add(name)
            parts += (name, _SEPARATOR, value, _CRLF)  # (cheaper than extend, append)

        http11 = self._http11
        if self._head_method or status in {204, 304}:
            mode = NO_BODY
            if content_length is None and body_length and self._head_method:
                parts.append(_LENGTH_LINES.get(body_length) or length_line(body_length))
        elif content_length is not None:
            mode = CONTENT_LENGTH
            self.remaining = content_length
        elif body_length is not None:
            mode = CONTENT_LENGTH
            self.remaining = body_length
            parts.append(_LENGTH_LINES.get(body_length) or length_line(body_length))
        elif http11:
            mode = CHUNKED
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            mode = CLOSE_DELIMITED
            keep_alive = False
        if not keep_alive:
            if not connection_close:
                parts.append(b"connection: close\r\n")
        elif not http11:
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        self.mode = mode
        self.keep_alive = keep_alive
        return b"".join(parts)

    def response_whole(
        self,
        status: Any,  # the app's, checked here
        headers: Iterable[Any],  # the app's: ASGI allows any two-item iterables
        defaults: DefaultHeaders,
        body: bytes,
        close: bool,
    ) -> bytes:
        """Head, body and end of a response whose body came in one message."""
        head = self.response_head(status, headers, defaults, len(body), close)
        mode = self.mode
        self.mode = NO_BODY
        if mode == NO_BODY:
            return head
        if mode != CONTENT_LENGTH:  # pragma: no cover - body_length is given: never chunked
            return head + self.response_body(body) + (b"0\r\n\r\n" if mode == CHUNKED else b"")
        if self.remaining != len(body):
            qualifier = "longer" if len(body) > self.remaining else "shorter"
            raise ResponseError(f"response body {qualifier} than its Content-Length")
        return head + body

    def response_body(self, data: bytes) -> bytes:
        """Frame one chunk of body."""
        mode = self.mode
        if mode == CONTENT_LENGTH:
            self.remaining -= len(data)
            if self.remaining < 0:
                raise ResponseError("response body longer than its Content-Length")
            return data
        if mode == CHUNKED:
            if not data:
                return b""
            return b"%x\r\n%s\r\n" % (len(data), data)
        if mode == CLOSE_DELIMITED:
            return data
        return b""

    def response_end(self) -> bytes:
        """Finish the body."""
        mode = self.mode
        self.mode = NO_BODY
        if mode == CHUNKED:
            return b"0\r\n\r\n"
        if mode == CONTENT_LENGTH and self.remaining:
            raise ResponseError("response body shorter than its Content-Length")
        return b""

    def error_response(self, status: int, defaults: DefaultHeaders) -> bytes:
        """A complete response for a protocol error; the connection closes after it."""
        self.keep_alive = False
        return error_response(status, defaults)
