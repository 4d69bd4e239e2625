"""Malformed and oversized requests: one table of (bytes, status), answered alike by both adapters.

A head error must come out as exactly one :class:`ProtocolError` with the table's status and
never a :class:`Request`. A body error may follow the Request (and some Body) but must never
be followed by END_OF_MESSAGE. After an error the connection yields nothing more.
"""

from __future__ import annotations

from itertools import repeat
from typing import TYPE_CHECKING

import pytest

from xloop.http import (
    END_OF_MESSAGE,
    Body,
    Limits,
    ProtocolError,
    Request,
    httptools_available,
)

from ._support import (
    ADAPTERS,
    LIMITS,
    available,
    make,
    requests_of,
    respond,
    split_in_two,
    summarize,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from xloop.http import Event, HTTPConnection

    from ._support import Summary

    Factory = Callable[[], HTTPConnection]

GOOD = b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n"


def _head(*lines: bytes, start: bytes = b"GET / HTTP/1.1") -> bytes:
    return b"\r\n".join((start, *lines)) + b"\r\n\r\n"


def _post(*lines: bytes, body: bytes = b"") -> bytes:
    return _head(b"Host: a", *lines, start=b"POST / HTTP/1.1") + body


def _header_size(name: bytes, value: bytes) -> int:
    """How ``check_head`` counts a field: name, value and 4 bytes of framing."""
    return len(name) + len(value) + 4


#: Control characters a field value must not hold (HTAB is allowed).
_CONTROLS = [c for c in (*range(0x20), 0x7F) if c != 0x09]

#: Request lines whose target does not fit the method (RFC 9112 section 3.2), and the status.
_TARGETS = [
    ("fragment-origin-form", b"GET /a#b HTTP/1.1", 400),
    ("fragment-empty", b"GET /# HTTP/1.1", 400),
    ("fragment-absolute-form", b"GET http://a/b#c HTTP/1.1", 400),
    ("fragment-asterisk", b"OPTIONS *#a HTTP/1.1", 400),
    ("absolute-form-ftp", b"GET ftp://a/b HTTP/1.1", 400),
    ("absolute-form-no-slashes", b"GET http:b HTTP/1.1", 400),
    ("absolute-form-empty-authority", b"GET http:///b HTTP/1.1", 400),
    ("absolute-form-port-only", b"GET http://:80/b HTTP/1.1", 400),
    ("absolute-form-userinfo-only", b"GET http://u@/b HTTP/1.1", 400),
    ("absolute-form-bad-port", b"GET http://a:b/c HTTP/1.1", 400),
    ("absolute-form-open-bracket", b"GET http://[/x HTTP/1.1", 400),
    ("absolute-form-stray-bracket", b"GET http://a]/x HTTP/1.1", 400),
    ("authority-form-get", b"GET example.com:443 HTTP/1.1", 400),
    ("authority-form-post", b"POST example.com:443 HTTP/1.1", 400),
    ("asterisk-form-get", b"GET * HTTP/1.1", 400),
    ("asterisk-form-post", b"POST * HTTP/1.1", 400),
    ("asterisk-form-head", b"HEAD * HTTP/1.1", 400),
    ("asterisk-and-more", b"OPTIONS *x HTTP/1.1", 400),
    ("asterisk-then-path", b"OPTIONS */ HTTP/1.1", 400),
    ("relative-path", b"GET a/b HTTP/1.1", 400),
    ("query-only", b"GET ?a HTTP/1.1", 400),
    # CONNECT is refused whatever its target: tunnels are not served (RFC 9110 section 9.3.6).
    ("connect-authority-form", b"CONNECT example.com:443 HTTP/1.1", 501),
    ("connect-origin-form", b"CONNECT / HTTP/1.1", 501),
    ("connect-asterisk", b"CONNECT * HTTP/1.1", 501),
    ("connect-absolute-form", b"CONNECT http://a/ HTTP/1.1", 501),
    ("connect-http-1.0", b"CONNECT example.com:443 HTTP/1.0", 501),
]

# Headers sized to sit exactly on LIMITS.max_header_bytes (host: a counts too).
_BIG_AT_LIMIT = LIMITS.max_header_bytes - _header_size(b"host", b"a") - _header_size(b"x-big", b"")
assert _BIG_AT_LIMIT > 0


HEAD_ERRORS = [
    # request line
    pytest.param(b"garbage\r\n\r\n", 400, id="garbage-line"),
    pytest.param(_head(b"Host: a", start=b"G@T / HTTP/1.1"), 400, id="bad-method-char"),
    pytest.param(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400, id="tls-client-hello"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/1.1 x"), 400, id="extra-word-in-line"),
    pytest.param(_head(b"Host: a", start=b"GET /a b HTTP/1.1"), 400, id="space-in-target"),
    pytest.param(_head(b"Host: a", start=b"GET /a\x00b HTTP/1.1"), 400, id="nul-in-target"),
    pytest.param(_head(b"Host: a", start=b"GET / FOO/1.1"), 400, id="not-http"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/11"), 400, id="version-no-dot"),
    # versions
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/2.0"), 505, id="http-2.0"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/1.2"), 505, id="http-1.2"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/3.0"), 505, id="http-3.0"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/0.9"), 505, id="http-0.9"),
    pytest.param(_head(b"Host: a", start=b"GET / HTTP/4.0"), 505, id="http-4.0"),
    # two faults on one line: the first llhttp meets decides, on both parsers
    pytest.param(_head(b"Host: a", start=b"GET /a b HTTP/4.0"), 400, id="space-in-target-http-4.0"),
    pytest.param(_head(b"Host: a", start=b"GET  / HTTP/4.0"), 505, id="double-space-http-4.0"),
    pytest.param(_head(b"Host: a", start=b"GET http: HTTP/1.2"), 400, id="bad-target-http-1.2"),
    pytest.param(_head(b"Host: a", start=b"GET * HTTP/4.0"), 505, id="asterisk-get-http-4.0"),
    pytest.param(_head(b"Host: a", start=b"CONNECT a#b HTTP/1.1"), 400, id="connect-bad-target"),
    pytest.param(_head(b"Host: a", start=b"CONNECT a:1 HTTP/2.0"), 505, id="connect-http-2.0"),
    pytest.param(
        _head(b"Host: a", b"X: \x01", start=b"GET / HTTP/2.0"), 400, id="ctl-in-value-http-2.0"
    ),
    # Content-Length
    pytest.param(
        _post(b"Content-Length: 5", b"Content-Length: 5", body=b"hello"), 400, id="cl-twice-same"
    ),
    pytest.param(
        _post(b"Content-Length: 5", b"Content-Length: 6", body=b"hello!"), 400, id="cl-twice-diff"
    ),
    pytest.param(_post(b"Content-Length: +5", body=b"hello"), 400, id="cl-plus"),
    pytest.param(_post(b"Content-Length: 5, 5", body=b"hello"), 400, id="cl-list"),
    pytest.param(_post(b"Content-Length: 0x5", body=b"hello"), 400, id="cl-hex"),
    pytest.param(_post(b"Content-Length: -1", body=b"hello"), 400, id="cl-negative"),
    pytest.param(_post(b"Content-Length: 5a", body=b"hello"), 400, id="cl-trailing-junk"),
    pytest.param(_post(b"Content-Length: 1 2", body=b"hello"), 400, id="cl-inner-space"),
    pytest.param(
        _post(b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
        400,
        id="cl-then-te",
    ),
    pytest.param(
        _post(b"Transfer-Encoding: chunked", b"Content-Length: 5", body=b"5\r\nhello\r\n0\r\n\r\n"),
        400,
        id="te-then-cl",
    ),
    # Transfer-Encoding
    pytest.param(_post(b"Transfer-Encoding: gzip"), 501, id="te-gzip"),
    pytest.param(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        400,
        id="te-in-http-1.0",
    ),
    pytest.param(
        b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        400,
        id="te-in-http-1.0-with-host",
    ),
    pytest.param(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 501, id="te-gzip-in-http-1.0"
    ),
    pytest.param(
        _post(b"Transfer-Encoding: gzip, chunked", body=b"5\r\nhello\r\n0\r\n\r\n"),
        501,
        id="te-gzip-chunked",
    ),
    pytest.param(_post(b"Transfer-Encoding: identity"), 501, id="te-identity"),
    # header fields
    pytest.param(_head(b"Host: a", b"Bad Name: x"), 400, id="space-in-name"),
    pytest.param(_head(b"Host: a", b"X : y"), 400, id="space-before-colon"),
    pytest.param(_head(b"Host: a", b": y"), 400, id="empty-name"),
    pytest.param(_head(b"Host: a", b"X"), 400, id="no-colon"),
    pytest.param(_head(b" Host: a"), 400, id="leading-space-first-field"),
    pytest.param(_head(b"Host: a", b"X: a\x00b"), 400, id="nul-in-value"),
    pytest.param(_head(b"Host: a", b"X: a\rb"), 400, id="bare-cr-in-value"),
    pytest.param(_head(b"Host: a", b"X: a\nb"), 400, id="bare-lf-in-value"),
    # field values: every control character but HTAB (RFC 9110 section 5.5)
    *(
        pytest.param(
            _head(b"Host: a", b"X: a" + bytes([c]) + b"b"), 400, id=f"ctl-{c:02x}-in-value"
        )
        for c in _CONTROLS
    ),
    pytest.param(_head(b"Host: a", b"X: \x01a"), 400, id="ctl-starts-value"),
    pytest.param(_head(b"Host: a", b"X: a\x7f"), 400, id="del-ends-value"),
    pytest.param(_head(b"X: \x1b[31m", b"Host: a"), 400, id="escape-in-first-field"),
    pytest.param(_head(b"Host: a\x01"), 400, id="ctl-in-host"),
    pytest.param(_post(b"Content-Length: 3\x0b", body=b"abc"), 400, id="ctl-in-content-length"),
    # line ends and folding (RFC 9112 sections 2.2 and 5.2): llhttp refuses them, so does h11's path
    pytest.param(b"GET / HTTP/1.1\nHost: a\n\n", 400, id="bare-lf-line-ends"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400, id="bare-lf-after-field"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\n", 400, id="bare-lf-ends-head"),
    pytest.param(_head(b"Host: a", b"X: a", b" folded"), 400, id="obs-fold"),
    pytest.param(_head(b"Host: a", b"X: a", b"\tfolded"), 400, id="obs-fold-tab"),
    # request-target forms (RFC 9112 section 3.2)
    *(
        pytest.param(_head(b"Host: a", start=line), status, id=name)
        for name, line, status in _TARGETS
    ),
    # Host (RFC 9112 section 3.2: MUST answer 400)
    pytest.param(_head(), 400, id="no-host-1.1"),
    pytest.param(_head(b"Host: a", b"Host: b"), 400, id="two-hosts"),
    # limits
    pytest.param(
        _head(b"Host: a", start=b"GET /" + b"a" * LIMITS.max_request_line + b" HTTP/1.1"),
        414,
        id="target-over-limit",
    ),
    pytest.param(
        _head(b"Host: a", b"X-Big: " + b"v" * (_BIG_AT_LIMIT + 1)), 431, id="headers-over-limit"
    ),
    pytest.param(
        _head(b"Host: a", *(b"X-%d: v" % i for i in range(LIMITS.max_header_count))),
        431,
        id="too-many-headers",
    ),
]

_CHUNKED = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

BODY_ERRORS = [
    pytest.param(_CHUNKED + b"5\r\nhelloXX0\r\n\r\n", 400, id="data-then-junk"),
    pytest.param(_CHUNKED + b"5\r\nhello\n0\r\n\r\n", 400, id="data-then-bare-lf"),
    pytest.param(_CHUNKED + b"5\r\nhello0\r\n\r\n", 400, id="data-then-next-size"),
    pytest.param(_CHUNKED + b"3\r\nhello\r\n0\r\n\r\n", 400, id="data-longer-than-size"),
    pytest.param(_CHUNKED + b"0x5\r\nhello\r\n0\r\n\r\n", 400, id="size-0x5"),
    pytest.param(_CHUNKED + b" 5\r\nhello\r\n0\r\n\r\n", 400, id="size-leading-space"),
    pytest.param(_CHUNKED + b"+5\r\nhello\r\n0\r\n\r\n", 400, id="size-plus"),
    pytest.param(_CHUNKED + b"-5\r\nhello\r\n0\r\n\r\n", 400, id="size-minus"),
    pytest.param(_CHUNKED + b"5 ;\r\nhello\r\n0\r\n\r\n", 400, id="size-space-semicolon"),
    pytest.param(_CHUNKED + b"5 ;a\r\nhello\r\n0\r\n\r\n", 400, id="size-space-ext"),
    pytest.param(_CHUNKED + b"5\t;a\r\nhello\r\n0\r\n\r\n", 400, id="size-tab-ext"),
    pytest.param(_CHUNKED + b"zz\r\nhello\r\n0\r\n\r\n", 400, id="size-not-hex"),
    pytest.param(_CHUNKED + b"\r\nhello\r\n0\r\n\r\n", 400, id="size-empty"),
    pytest.param(_CHUNKED + b"5\nhello\r\n0\r\n\r\n", 400, id="size-bare-lf"),
    # chunk lines h11 accepts and llhttp refuses: refused on both paths
    pytest.param(_CHUNKED + b"5 \r\nhello\r\n0\r\n\r\n", 400, id="size-trailing-space"),
    pytest.param(_CHUNKED + b"5\t\r\nhello\r\n0\r\n\r\n", 400, id="size-trailing-tab"),
    pytest.param(_CHUNKED + b"5\r\r\nhello\r\n0\r\n\r\n", 400, id="size-cr-cr-lf"),
    pytest.param(_CHUNKED + b"5;a\rb\r\nhello\r\n0\r\n\r\n", 400, id="ext-bare-cr"),
    pytest.param(_CHUNKED + b"5;a\r\r\nhello\r\n0\r\n\r\n", 400, id="ext-cr-cr-lf"),
    pytest.param(_CHUNKED + b"5;\r\nhello\r\n0\r\n\r\n", 400, id="ext-empty"),
    pytest.param(_CHUNKED + b"5;;\r\nhello\r\n0\r\n\r\n", 400, id="ext-two-empty"),
    pytest.param(_CHUNKED + b"5;a;\r\nhello\r\n0\r\n\r\n", 400, id="ext-trailing-semicolon"),
    pytest.param(_CHUNKED + b"5;a \r\nhello\r\n0\r\n\r\n", 400, id="ext-trailing-space"),
    pytest.param(_CHUNKED + b"5;a =b\r\nhello\r\n0\r\n\r\n", 400, id="ext-space-before-equals"),
    pytest.param(_CHUNKED + b"5;a= b\r\nhello\r\n0\r\n\r\n", 400, id="ext-space-after-equals"),
    pytest.param(_CHUNKED + b"5;a==b\r\nhello\r\n0\r\n\r\n", 400, id="ext-double-equals"),
    pytest.param(_CHUNKED + b"5;a=b c\r\nhello\r\n0\r\n\r\n", 400, id="ext-space-in-value"),
    pytest.param(_CHUNKED + b"5;a\x01\r\nhello\r\n0\r\n\r\n", 400, id="ext-ctl-in-name"),
    pytest.param(_CHUNKED + b"5;a=\x7f\r\nhello\r\n0\r\n\r\n", 400, id="ext-del-in-value"),
    pytest.param(_CHUNKED + b'5;a="b\x01"\r\nhello\r\n0\r\n\r\n', 400, id="ext-ctl-in-quotes"),
    pytest.param(_CHUNKED + b'5;a="b\\\x01"\r\nhello\r\n0\r\n\r\n', 400, id="ext-bad-quoted-pair"),
    pytest.param(_CHUNKED + b'5;a="b"c\r\nhello\r\n0\r\n\r\n', 400, id="ext-token-after-quotes"),
    pytest.param(_CHUNKED + b'5;a="b\r\nhello\r\n0\r\n\r\n', 400, id="ext-unclosed-quote"),
    pytest.param(_CHUNKED + b"5;a=b\x80\r\nhello\r\n0\r\n\r\n", 400, id="ext-obs-text-in-token"),
    pytest.param(
        _CHUNKED + b"1" + b"0" * 16 + b"\r\nhello\r\n0\r\n\r\n", 400, id="size-over-64-bits"
    ),
    pytest.param(_CHUNKED + b"f" * 20 + b"\r\nhello\r\n0\r\n\r\n", 400, id="size-20-digits"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0 \r\n\r\n", 400, id="last-size-trailing-space"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0;\r\n\r\n", 400, id="last-ext-empty"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\n\n", 400, id="end-bare-lf"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\n\rX", 400, id="end-bare-cr"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT: 1\n\r\n", 400, id="trailer-bare-lf"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT: 1\r\n 2\r\n\r\n", 400, id="trailer-obs-fold"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT: a\x01b\r\n\r\n", 400, id="trailer-ctl"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT: a\x7f\r\n\r\n", 400, id="trailer-del"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT : 1\r\n\r\n", 400, id="trailer-space-colon"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\n T: 1\r\n\r\n", 400, id="trailer-leading-space"),
    pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\nT\r\n\r\n", 400, id="trailer-no-colon"),
    # framing fields in the trailer section (RFC 9110 section 6.5.1): llhttp refuses them
    *(
        pytest.param(_CHUNKED + b"5\r\nhello\r\n0\r\n" + field + b"\r\n\r\n", 400, id=name)
        for name, field in [
            ("trailer-content-length", b"Content-Length: 5"),
            ("trailer-content-length-empty", b"content-length:"),
            ("trailer-content-length-bad", b"Content-Length: x"),
            ("trailer-te-chunked", b"Transfer-Encoding: chunked"),
            ("trailer-te-gzip", b"TRANSFER-ENCODING: gzip"),
        ]
    ),
]


def _assert_head_error(events: list[Event], status: int) -> None:
    assert requests_of(events) == [], f"a Request escaped: {events}"
    assert summarize(events) == [("error", status)], events


def _assert_body_error(events: list[Event], status: int) -> None:
    assert END_OF_MESSAGE not in events, f"END_OF_MESSAGE for a broken body: {events}"
    assert events, "no events at all"
    error = events[-1]
    assert isinstance(error, ProtocolError), events
    assert error.status == status, events
    head = events[:-1]
    assert head, "a body error comes after its Request"
    assert isinstance(head[0], Request)
    assert all(isinstance(event, Body) for event in head[1:]), events


def _bytewise(conn: HTTPConnection, raw: bytes) -> list[Event]:
    events: list[Event] = []
    for index in range(len(raw)):
        events += conn.receive_data(raw[index : index + 1])
    return events


def _assert_silent_after_error(conn: HTTPConnection) -> None:
    assert conn.receive_data(GOOD) == []
    assert conn.receive_data(b"garbage\r\n\r\n") == []
    assert conn.start_next_cycle() == []
    assert conn.receive_data(b"") == []


# -- the table --------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "status"), HEAD_ERRORS)
def test_head_error(conn_factory: Factory, raw: bytes, status: int) -> None:
    conn = conn_factory()
    _assert_head_error(conn.receive_data(raw), status)
    _assert_silent_after_error(conn)


@pytest.mark.parametrize(("raw", "status"), HEAD_ERRORS)
def test_head_error_fed_byte_by_byte(conn_factory: Factory, raw: bytes, status: int) -> None:
    conn = conn_factory()
    _assert_head_error(_bytewise(conn, raw), status)
    _assert_silent_after_error(conn)


@pytest.mark.parametrize(("raw", "status"), HEAD_ERRORS)
def test_head_error_at_every_split(conn_factory: Factory, raw: bytes, status: int) -> None:
    for cut, events in split_in_two(conn_factory, raw):
        assert requests_of(events) == [], f"a Request escaped when cut at {cut}: {events}"
        assert summarize(events) == [("error", status)], f"cut at {cut}: {events}"


@pytest.mark.parametrize(("raw", "status"), HEAD_ERRORS)
def test_head_error_followed_by_good_request_in_same_read(
    conn_factory: Factory, raw: bytes, status: int
) -> None:
    """Nothing can be smuggled behind a refused head."""
    conn = conn_factory()
    _assert_head_error(conn.receive_data(raw + GOOD + GOOD), status)


@pytest.mark.parametrize(("raw", "status"), BODY_ERRORS)
def test_body_error(conn_factory: Factory, raw: bytes, status: int) -> None:
    conn = conn_factory()
    _assert_body_error(conn.receive_data(raw), status)
    _assert_silent_after_error(conn)


@pytest.mark.parametrize(("raw", "status"), BODY_ERRORS)
def test_body_error_fed_byte_by_byte(conn_factory: Factory, raw: bytes, status: int) -> None:
    conn = conn_factory()
    _assert_body_error(_bytewise(conn, raw), status)
    _assert_silent_after_error(conn)


@pytest.mark.parametrize(("raw", "status"), BODY_ERRORS)
def test_body_error_at_every_split(conn_factory: Factory, raw: bytes, status: int) -> None:
    for _cut, events in split_in_two(conn_factory, raw):
        _assert_body_error(events, status)


@pytest.mark.parametrize(("raw", "status"), BODY_ERRORS)
def test_body_error_smuggles_nothing(conn_factory: Factory, raw: bytes, status: int) -> None:
    conn = conn_factory()
    events = conn.receive_data(raw + GOOD)
    _assert_body_error(events, status)
    assert len(requests_of(events)) == 1


def test_error_in_second_pipelined_body_after_first_cycle(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(GOOD + _CHUNKED + b"5\r\nhelloXX")
    assert summarize(events)[1:] == [("end",)]
    assert isinstance(events[0], Request)
    respond(conn, events[0])
    _assert_body_error(conn.start_next_cycle(), 400)


# -- boundaries: just inside the limits is fine ----------------------------------------------


def test_target_at_limit_accepted(conn_factory: Factory) -> None:
    target = b"/" + b"a" * (LIMITS.max_request_line - 1)
    events = conn_factory().receive_data(_head(b"Host: a", start=b"GET " + target + b" HTTP/1.1"))
    assert [request.target for request in requests_of(events)] == [target]


def test_headers_at_limit_accepted(conn_factory: Factory) -> None:
    events = conn_factory().receive_data(_head(b"Host: a", b"X-Big: " + b"v" * _BIG_AT_LIMIT))
    assert len(requests_of(events)) == 1, events
    assert events[-1] is END_OF_MESSAGE


def test_header_count_at_limit_accepted(conn_factory: Factory) -> None:
    lines = [b"X-%d: v" % i for i in range(LIMITS.max_header_count - 1)]
    events = conn_factory().receive_data(_head(b"Host: a", *lines))
    requests = requests_of(events)
    assert len(requests) == 1, events
    assert len(requests[0].headers) == LIMITS.max_header_count


def test_http10_without_host_accepted(conn_factory: Factory) -> None:
    events = conn_factory().receive_data(b"GET / HTTP/1.0\r\n\r\n")
    assert len(requests_of(events)) == 1, events


# -- streamed oversize input: refused early, never buffered without bound ---------------------


def _endless(prefix: bytes, unit: bytes) -> Iterator[bytes]:
    yield prefix
    yield from repeat(unit)


def _feed_until_error(
    conn: HTTPConnection, stream: Iterator[bytes], piece: int, limits: Limits
) -> tuple[list[Event], int]:
    """Feed ``piece``-byte reads from an endless stream until events come out."""
    pending = b""
    fed = 0
    cap = 50 * limits.max_head
    while fed < cap:
        while len(pending) < piece:
            pending += next(stream)
        data, pending = pending[:piece], pending[piece:]
        fed += len(data)
        events = conn.receive_data(data)
        assert conn.buffered <= 2 * limits.max_head + piece, "unbounded buffering"
        if events:
            return events, fed
    pytest.fail(f"no event after {fed} bytes of an endless head")


@pytest.mark.parametrize("piece", [1, 16, 1000])
@pytest.mark.parametrize(
    ("prefix", "unit", "status"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nX-Big: ", b"v", 431, id="one-huge-header"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", b"X: v\r\n", 431, id="endless-headers"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", b"X-Empty:\r\n", 431, id="empty-headers"),
        pytest.param(b"GET /", b"a", 414, id="endless-target"),
    ],
)
def test_endless_head_refused_early(
    adapter: str, prefix: bytes, unit: bytes, status: int, piece: int
) -> None:
    conn = make(adapter, LIMITS)
    events, fed = _feed_until_error(conn, _endless(prefix, unit), piece, LIMITS)
    assert summarize(events) == [("error", status)], events
    assert fed <= LIMITS.max_head + 2 * piece, f"refused only after {fed} bytes"


@pytest.mark.parametrize("piece", [7, 512])
def test_long_target_streamed_is_414_with_default_limits(adapter: str, piece: int) -> None:
    """A target a few times the limit, fed like a socket would, is 414 (not 431, not 400)."""
    limits = Limits()
    raw = b"GET /" + b"a" * (limits.max_head * 2) + b" HTTP/1.1\r\nHost: a\r\n\r\n"
    conn = make(adapter, limits)
    events: list[Event] = []
    fed = 0
    for start in range(0, len(raw), piece):
        events = conn.receive_data(raw[start : start + piece])
        fed += piece
        if events:
            break
    assert summarize(events) == [("error", 414)], events
    assert fed <= limits.max_head + 2 * piece


@pytest.mark.parametrize("piece", [1, 64])
def test_headers_over_limit_streamed(adapter: str, piece: int) -> None:
    """Over max_header_bytes but under max_head: refused when the head completes."""
    raw = _head(b"Host: a", b"X-Big: " + b"v" * (_BIG_AT_LIMIT + 1))
    assert len(raw) < LIMITS.max_head
    conn = make(adapter, LIMITS)
    events: list[Event] = []
    for start in range(0, len(raw), piece):
        events += conn.receive_data(raw[start : start + piece])
    assert summarize(events) == [("error", 431)]


@pytest.mark.parametrize("cut", [1, 2, 3])
def test_headers_over_limit_behind_a_request_in_the_same_read(adapter: str, cut: int) -> None:
    """A head begun behind a request that ended in the same read and completed in a later
    one: its fields are counted whole, wherever the reads split it."""
    big = _head(b"Host: a", b"X-Big: " + b"v" * (_BIG_AT_LIMIT + 1))
    raw = GOOD + big
    split = len(GOOD) + len(big) * cut // 4
    conn = make(adapter, LIMITS)
    events = conn.receive_data(raw[:split])
    assert [event[0] for event in summarize(events)] == ["request", "end"]
    events += conn.receive_data(raw[split:])
    assert isinstance(events[0], Request)
    respond(conn, events[0])
    assert summarize(conn.start_next_cycle()) == [("error", 431)]


# -- where the adapters must not differ -------------------------------------------------------

DISPUTED = [
    pytest.param(b"GET /\r\n\r\n", id="http-0.9-simple-request"),
    pytest.param(_head(b"Host: a", b"X: v \t"), id="trailing-ows-in-value"),
    pytest.param(_head(b"Host: a", b"Connection: closed"), id="connection-closed-token"),
    pytest.param(_CHUNKED + b"5;a=\r\nhello\r\n0\r\n\r\n", id="chunk-ext-empty-value"),
    pytest.param(
        b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
        id="expect-in-http-1.0",
    ),
    # Controls: well-formed requests the adapters must see identically.
    pytest.param(_post(b"Content-Length: 3", body=b"abc") + GOOD, id="control-length"),
    pytest.param(_CHUNKED + b"3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n" + GOOD, id="control-chunked"),
]

# RFC 9112 lets a recipient be strict or lenient here (methods it does not know, repeated
# or listed chunked codings, ...). h11 and llhttp choose differently;
# what must hold for both is safety: a refusal with a 4xx/5xx, or at most as many requests
# as the bytes really hold, so nothing is smuggled.
LENIENT = [
    pytest.param(_head(b"Host: a", start=b"FOO / HTTP/1.1"), id="unknown-method"),
    pytest.param(_head(b"Host: a", start=b"get / HTTP/1.1"), id="lowercase-method"),
    pytest.param(_head(b"Host: a", start=b"GET  / HTTP/1.1"), id="double-space-in-line"),
    pytest.param(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", id="h2-preface"),
    pytest.param(
        _post(b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        id="te-chunked-twice",
    ),
    pytest.param(_post(b"Transfer-Encoding: chunked, chunked", body=b"0\r\n\r\n"), id="te-list"),
    pytest.param(_post(b"Transfer-Encoding: Chunked", body=b"0\r\n\r\n"), id="te-capitalised"),
    # h11 refuses a chunk size of more than 20 hex digits, leading zeros included; llhttp
    # takes any number of leading zeros. The one chunk-line difference left: h11 is the
    # stricter one, and the httptools path would need its own scan of every chunk line.
    pytest.param(_CHUNKED + b"0" * 20 + b"5\r\nhello\r\n0\r\n\r\n", id="chunk-size-zeros"),
    # Upgrades are not spoken: llhttp stops at the head (a body after it is not delivered
    # and the connection closes after the response); h11 serves it as plain HTTP.
    pytest.param(
        _post(b"Content-Length: 3", b"Connection: upgrade", b"Upgrade: websocket", body=b"abc"),
        id="upgrade-with-body",
    ),
    pytest.param(
        _head(b"Host: a", b"Connection: upgrade", b"Upgrade: websocket") + GOOD,
        id="upgrade-then-pipelined",
    ),
]

_LENIENT_MAX_REQUESTS = {"upgrade-then-pipelined": 2}


@pytest.mark.parametrize("raw", LENIENT)
def test_leniency_is_safe(adapter: str, raw: bytes, request: pytest.FixtureRequest) -> None:
    case = request.node.callspec.id.split("-", 1)[1]
    conn = make(adapter, Limits())
    events = conn.receive_data(raw)
    while events and events[-1] is END_OF_MESSAGE:
        respond(conn, requests_of(events)[-1])
        if not conn.keep_alive:
            break
        more = conn.start_next_cycle()
        if not more:
            break
        events = events + more
    errors = [event for event in events if isinstance(event, ProtocolError)]
    assert all(400 <= error.status < 600 for error in errors)
    assert len(requests_of(events)) <= _LENIENT_MAX_REQUESTS.get(case, 1)


@pytest.mark.skipif(not httptools_available(), reason="httptools not installed")
@pytest.mark.parametrize("raw", DISPUTED)
def test_adapters_agree(raw: bytes) -> None:
    """Whichever parser runs, a request is answered the same way (head.py's promise)."""
    outcomes: dict[str, list[Summary]] = {}
    for name in (name for name in ADAPTERS if available(name)):
        conn = make(name, Limits())
        events = conn.receive_data(raw)
        outcome = summarize(events)
        if events and events[-1] is END_OF_MESSAGE:
            respond(conn, requests_of(events)[-1])
            if conn.keep_alive:
                outcome += summarize(conn.start_next_cycle())
        outcomes[name] = outcome
    assert len({repr(outcome) for outcome in outcomes.values()}) == 1, outcomes


@pytest.mark.parametrize("raw", DISPUTED)
def test_verdict_independent_of_read_sizes(adapter: str, raw: bytes) -> None:
    """Each adapter on its own: whole or byte by byte, the same events (bodies merged)."""
    whole = summarize(make(adapter, Limits()).receive_data(raw))
    bytewise = summarize(_bytewise(make(adapter, Limits()), raw))
    assert bytewise == whole
