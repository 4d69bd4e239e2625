"""Well-formed requests through both adapters: heads, bodies, pipelining, EOF."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xloop.http import END_OF_MESSAGE, Body, ProtocolError, Request

from ._support import Driver, feed_in_pieces, requests_of, respond, split_in_two, summarize

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import Event, HTTPConnection

    Factory = Callable[[], HTTPConnection]


def body_of(events: list[Event]) -> bytes:
    return b"".join(event.data for event in events if isinstance(event, Body))


def only_request(events: list[Event]) -> Request:
    requests = requests_of(events)
    assert len(requests) == 1, events
    return requests[0]


# -- the head ---------------------------------------------------------------------------------


def test_simple_get(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert len(events) == 2, events
    request, end = events
    assert isinstance(request, Request)
    assert end is END_OF_MESSAGE
    assert request.method == "GET"
    assert request.target == b"/"
    assert request.http_version == "1.1"
    assert request.headers == [(b"host", b"example.com")]
    assert request.keep_alive is True
    assert request.expect_continue is False


def test_header_names_lowercased_values_as_sent(conn_factory: Factory) -> None:
    conn = conn_factory()
    raw = (
        b"GET / HTTP/1.1\r\n"
        b"Host: Example.COM\r\n"
        b"X-Mixed-Case: MiXeD Value\r\n"
        b"UPPER: A, b;q=0.5\r\n"
        b"x-dup: first\r\n"
        b"X-Dup: second\r\n"
        b"X-Empty:\r\n"
        b"X-Tab: a\tb\r\n"
        b"X-Latin1: caf\xe9\r\n"
        b"Cookie: a=1; b=2\r\n"
        b"\r\n"
    )
    request = only_request(conn.receive_data(raw))
    assert request.headers == [
        (b"host", b"Example.COM"),
        (b"x-mixed-case", b"MiXeD Value"),
        (b"upper", b"A, b;q=0.5"),
        (b"x-dup", b"first"),
        (b"x-dup", b"second"),
        (b"x-empty", b""),
        (b"x-tab", b"a\tb"),
        (b"x-latin1", b"caf\xe9"),
        (b"cookie", b"a=1; b=2"),
    ]


def test_whitespace_around_header_value_is_not_part_of_it(conn_factory: Factory) -> None:
    """RFC 9112 section 5: leading and trailing OWS is excluded from the field value."""
    conn = conn_factory()
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nX-Pad: \t inner  value \t \r\nX-Lead:    v\r\n\r\n"
    request = only_request(conn.receive_data(raw))
    assert request.headers == [(b"host", b"a"), (b"x-pad", b"inner  value"), (b"x-lead", b"v")]


@pytest.mark.parametrize(
    ("raw", "versions"),
    [
        pytest.param(
            b"GET / HTTP/1.0\r\nHost: a\r\nX-Says: HTTP/1.1\r\n\r\n", ["1.0"], id="1.1-in-a-value"
        ),
        pytest.param(
            b"GET /x HTTP/1.0\r\nX: /x HTTP/1.1\r\n\r\n", ["1.0"], id="target-and-1.1-later"
        ),
        pytest.param(b"\r\nGET / HTTP/1.0\r\nHost: a\r\n\r\n", ["1.0"], id="behind-a-blank-line"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.0\r\nHost: a\r\n\r\n",
            ["1.1", "1.0"],
            id="pipelined-1.1-then-1.0",
        ),
        pytest.param(
            b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            ["1.0", "1.1"],
            id="pipelined-1.0-then-1.1",
        ),
    ],
)
def test_version_wherever_the_head_starts(
    conn_factory: Factory, raw: bytes, versions: list[str]
) -> None:
    """The version is the request line's, whatever else in the read says HTTP/1.1 and
    wherever the head begins in it: in one read, and in two at every cut."""
    for cut in range(len(raw)):  # 0: in one read
        driver = Driver(conn_factory())
        driver.feed_all([raw[:cut], raw[cut:]] if cut else [raw])
        assert driver.error is None, (cut, driver.error)
        assert [e.request.http_version for e in driver.exchanges] == versions, cut


@pytest.mark.parametrize(
    ("line", "method", "target", "version"),
    [
        (b"GET /a/b?c=d&e=%20f HTTP/1.1", "GET", b"/a/b?c=d&e=%20f", "1.1"),
        (b"POST /submit HTTP/1.1", "POST", b"/submit", "1.1"),
        (b"PUT /x HTTP/1.0", "PUT", b"/x", "1.0"),
        (b"DELETE /item/7 HTTP/1.1", "DELETE", b"/item/7", "1.1"),
        (b"PATCH /p HTTP/1.1", "PATCH", b"/p", "1.1"),
        (b"HEAD /h HTTP/1.1", "HEAD", b"/h", "1.1"),
        (b"OPTIONS * HTTP/1.1", "OPTIONS", b"*", "1.1"),
        (b"GET /%E2%82%AC/..%2F HTTP/1.1", "GET", b"/%E2%82%AC/..%2F", "1.1"),
        (b"GET //double//slash HTTP/1.1", "GET", b"//double//slash", "1.1"),
    ],
)
def test_method_target_version(
    conn_factory: Factory, line: bytes, method: str, target: bytes, version: str
) -> None:
    conn = conn_factory()
    events = conn.receive_data(line + b"\r\nHost: a\r\n\r\n")
    request = only_request(events)
    assert (request.method, request.target, request.http_version) == (method, target, version)
    assert events[-1] is END_OF_MESSAGE


@pytest.mark.parametrize(
    "target",
    [
        b"http://example.com/a/../b?x=%20y",
        b"http://example.com:8080/",
        b"https://user@example.org/path;p?q",
        b"HTTP://EXAMPLE.COM?q",
        b"http://[::1]:8000/v6",
    ],
)
def test_absolute_form_target_kept_as_sent(conn_factory: Factory, target: bytes) -> None:
    conn = conn_factory()
    request = only_request(conn.receive_data(b"GET " + target + b" HTTP/1.1\r\nHost: a\r\n\r\n"))
    assert request.target == target


@pytest.mark.parametrize(
    "line",
    [
        # origin-form, for every method
        b"GET /a/b?c=d/e?f HTTP/1.1",
        b"OPTIONS / HTTP/1.1",
        b"DELETE //x HTTP/1.1",
        # absolute-form: http or https (any case) with a host, any method
        b"GET http://a HTTP/1.1",
        b"POST https://a.example:443/x?y HTTP/1.1",
        b"GET HtTpS://A/ HTTP/1.1",
        b"GET http://user:pass@a/ HTTP/1.1",
        b"GET http://a:/ HTTP/1.1",
        b"GET http://a?q HTTP/1.1",
        b"GET http://[::1]:8000/ HTTP/1.1",
        b"GET http://127.0.0.1/ HTTP/1.1",
        b"OPTIONS http://a HTTP/1.1",
        # asterisk-form with OPTIONS
        b"OPTIONS * HTTP/1.1",
        b"OPTIONS * HTTP/1.0",
    ],
)
def test_target_forms_accepted_at_every_split(conn_factory: Factory, line: bytes) -> None:
    """RFC 9112 section 3.2: what each form allows (the refusals are in test_bad_input)."""
    raw = line + b"\r\nHost: a\r\n\r\n"
    method, target, _ = line.split(b" ")
    expected = [("request", method.decode(), target), ("end",)]
    for cut, events in split_in_two(conn_factory, raw):
        got = [entry[:3] for entry in summarize(events)]
        assert got == expected, f"cut at {cut}: {events}"


@pytest.mark.parametrize(
    ("head", "keep_alive"),
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", True, id="1.1"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n", False, id="1.1-close"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: CLOSE\r\n", False, id="1.1-CLOSE"),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, close\r\n",
            False,
            id="1.1-keep-alive-and-close",
        ),
        pytest.param(
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive\r\n", True, id="1.1-keep-alive"
        ),
        pytest.param(b"GET / HTTP/1.0\r\n", False, id="1.0"),
        pytest.param(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n", True, id="1.0-keep-alive"),
        pytest.param(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n", True, id="1.0-Keep-Alive"),
        pytest.param(b"GET / HTTP/1.0\r\nConnection: close\r\n", False, id="1.0-close"),
    ],
)
def test_keep_alive(conn_factory: Factory, head: bytes, keep_alive: bool) -> None:
    conn = conn_factory()
    request = only_request(conn.receive_data(head + b"\r\n"))
    assert request.keep_alive is keep_alive


@pytest.mark.parametrize("value", [b"closed", b"x-close-later", b"keep-alive, enclose"])
def test_connection_close_token_matched_whole(conn_factory: Factory, value: bytes) -> None:
    """``Connection`` is a list of tokens: ``closed`` is not ``close``."""
    conn = conn_factory()
    raw = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: " + value + b"\r\n\r\n"
    assert only_request(conn.receive_data(raw)).keep_alive is True


def test_keep_alive_reflected_in_response(conn_factory: Factory) -> None:
    conn = conn_factory()
    request = only_request(conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
    respond(conn, request)
    assert conn.keep_alive is True
    conn = conn_factory()
    request = only_request(
        conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    )
    respond(conn, request)
    assert conn.keep_alive is False


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_event_field_types(conn_factory: Factory, framing: str) -> None:
    """Exact types: ASGI wants ``bytes`` bodies and headers, not bytearray or memoryview."""
    framing_header = b"Content-Length: 3" if framing == "length" else b"Transfer-Encoding: chunked"
    payload = b"abc" if framing == "length" else b"3\r\nabc\r\n0\r\n\r\n"
    raw = b"POST /x?y=1 HTTP/1.1\r\nHost: a\r\nX-A: b\r\n" + framing_header + b"\r\n\r\n"
    for events in (
        conn_factory().receive_data(raw + payload),
        feed_in_pieces(conn_factory(), raw + payload, 1),
    ):
        request = only_request(events)
        assert type(request.method) is str
        assert type(request.target) is bytes
        assert type(request.http_version) is str
        assert type(request.headers) is list
        for name, value in request.headers:
            assert type(name) is bytes
            assert type(value) is bytes
        bodies = [event for event in events if isinstance(event, Body)]
        assert bodies
        assert [type(body.data) for body in bodies] == [bytes] * len(bodies)


# -- bodies -----------------------------------------------------------------------------------


def test_content_length_body(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(
        b"POST /u HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
    )
    assert isinstance(events[0], Request)
    assert (b"content-length", b"11") in events[0].headers
    assert events[-1] is END_OF_MESSAGE
    assert all(isinstance(event, Body) for event in events[1:-1])
    assert body_of(events) == b"hello world"


def test_content_length_zero_has_no_body(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
    assert summarize(events)[1:] == [("end",)]


def test_body_after_head_in_later_reads(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\n")
    assert summarize(events)[1:] == [], "no END_OF_MESSAGE before the body arrived"
    more = conn.receive_data(b"abc")
    assert body_of(more) == b"abc"
    assert END_OF_MESSAGE not in more
    last = conn.receive_data(b"def")
    assert body_of(last) == b"def"
    assert last[-1] is END_OF_MESSAGE


@pytest.mark.parametrize("split", [1, 2, 3])
def test_large_body_read_is_not_counted_as_the_next_head(conn_factory: Factory, split: int) -> None:
    """A read carrying the end of a body far larger than the head limit (a 1 MiB upload
    read in large pieces) is body, not the start of the next request's head: the next
    request on the connection is served, not refused with 431."""
    conn = conn_factory()
    body = b"u" * 5000  # far above LIMITS.max_head
    head = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(body)
    cut = len(body) // (split + 1)
    events = conn.receive_data(head + body[:cut])
    for start in range(cut, len(body), max(1, (len(body) - cut) // split)):
        events += conn.receive_data(body[start : start + max(1, (len(body) - cut) // split)])
    assert body_of(events) == body
    assert events[-1] is END_OF_MESSAGE
    respond(conn, only_request(events))
    assert conn.start_next_cycle() == []
    second = conn.receive_data(b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
    assert not [e for e in second if isinstance(e, ProtocolError)], second
    assert only_request(second).target == b"/next"


def test_chunked_body_is_dechunked(conn_factory: Factory) -> None:
    conn = conn_factory()
    raw = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n"
        b"1;name=value\r\n \r\n"
        b"A\r\n0123456789\r\n"
        b"a\r\nabcdefghij\r\n"
        b"0\r\n\r\n"
    )
    events = conn.receive_data(raw)
    assert isinstance(events[0], Request)
    assert events[-1] is END_OF_MESSAGE
    assert body_of(events) == b"hello 0123456789abcdefghij"


def test_chunked_body_with_trailers(conn_factory: Factory) -> None:
    conn = conn_factory()
    raw = (
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n0\r\nX-Checksum: 1234\r\n\r\n"
        b"GET /next HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    events = conn.receive_data(raw)
    assert summarize(events)[1:] == [("body", b"abc"), ("end",)]
    request = only_request(events)
    # Trailer fields are not request headers (and a released Request does not change).
    assert request.headers == [(b"host", b"a"), (b"transfer-encoding", b"chunked")]
    respond(conn, request)
    following = conn.start_next_cycle()
    assert only_request(following).target == b"/next"


_CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(b"5\r\nhello\r\n0\r\n\r\n", id="plain"),
        pytest.param(b"5;a\r\nhello\r\n0\r\n\r\n", id="ext-name"),
        pytest.param(b"5;a=b;c=d\r\nhello\r\n0\r\n\r\n", id="ext-two"),
        pytest.param(b"5;a=\r\nhello\r\n0\r\n\r\n", id="ext-empty-value"),
        pytest.param(b"5;=b\r\nhello\r\n0\r\n\r\n", id="ext-empty-name"),
        pytest.param(b"5;;a\r\nhello\r\n0\r\n\r\n", id="ext-empty-then-name"),
        pytest.param(b'5;a="b c;\\"d"\r\nhello\r\n0\r\n\r\n', id="ext-quoted"),
        pytest.param(b'5;a="\t\x80\xff"\r\nhello\r\n0\r\n\r\n', id="ext-quoted-htab-obs-text"),
        pytest.param(b'5;a=b"c"\r\nhello\r\n0\r\n\r\n', id="ext-token-then-quoted"),
        pytest.param(b"5;!#$%&'*+-.^_`|~=x\r\nhello\r\n0\r\n\r\n", id="ext-all-tchars"),
        pytest.param(b"00005\r\nhello\r\n0\r\n\r\n", id="size-leading-zeros"),
        pytest.param(b"2\r\nhe\r\nA\r\nllo0123456\r\n0000\r\n\r\n", id="size-uppercase"),
        pytest.param(b"5\r\nhello\r\n0;last=1\r\n\r\n", id="last-chunk-ext"),
        pytest.param(b"5\r\nhello\r\n0\r\nT: 1\r\nU:\r\n\r\n", id="trailers"),
        pytest.param(b"5\r\nhello\r\n0\r\nT: \t\x80 v \t\r\n\r\n", id="trailer-ows-obs-text"),
    ],
)
def test_chunk_lines_accepted_at_every_split(conn_factory: Factory, chunks: bytes) -> None:
    """What llhttp accepts in chunk-size lines and trailers passes on both paths alike."""
    raw = _CHUNKED_HEAD + chunks
    whole = conn_factory().receive_data(raw)
    assert whole[-1] is END_OF_MESSAGE, whole
    expected = summarize(whole)
    assert expected[1][0] == "body"
    for cut, events in split_in_two(conn_factory, raw):
        assert summarize(events) == expected, f"cut at {cut}: {events}"


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64])
@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_body_split_across_many_reads(conn_factory: Factory, size: int, framing: str) -> None:
    payload = bytes(range(256)) * 3
    if framing == "length":
        raw = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n" % len(payload) + payload
    else:
        pieces = [payload[i : i + 100] for i in range(0, len(payload), 100)]
        raw = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        raw += b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    conn = conn_factory()
    events = feed_in_pieces(conn, raw, size)
    assert len(requests_of(events)) == 1
    assert events.count(END_OF_MESSAGE) == 1
    assert events[-1] is END_OF_MESSAGE
    assert body_of(events) == payload


def test_http10_request_without_length_has_no_body(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"POST / HTTP/1.0\r\n\r\n")
    assert summarize(events)[1:] == [("end",)]


# -- pipelining -------------------------------------------------------------------------------

PIPELINE = (
    b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
    b"POST /two HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"
    b"POST /three HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"2\r\nxy\r\n1\r\nz\r\n0\r\n\r\n"
    b"GET /four HTTP/1.1\r\nHost: a\r\n\r\n"
)


def test_pipelined_requests_released_one_at_a_time(conn_factory: Factory) -> None:
    conn = conn_factory()
    first = conn.receive_data(PIPELINE)
    assert summarize(first) == [
        ("request", "GET", b"/one", "1.1", ((b"host", b"a"),), True, False),
        ("end",),
    ]
    seen: list[tuple[bytes, bytes]] = []
    events = first
    for _ in range(4):
        request = only_request(events)
        assert events[-1] is END_OF_MESSAGE
        seen.append((request.target, body_of(events)))
        respond(conn, request)
        assert conn.keep_alive
        events = conn.start_next_cycle()
    assert events == []
    assert seen == [(b"/one", b""), (b"/two", b"abc"), (b"/three", b"xyz"), (b"/four", b"")]


def test_pipelined_request_held_until_start_next_cycle(conn_factory: Factory) -> None:
    conn = conn_factory()
    first = conn.receive_data(b"GET /one HTTP/1.1\r\nHost: a\r\n\r\n")
    request = only_request(first)
    # The next request arrives while the first response is still being produced.
    assert conn.receive_data(b"GET /two HTTP/1.1\r\nHost: a\r\n\r\n") == []
    assert conn.receive_data(b"POST /three HTTP/1.1\r\nHost: a\r\nContent-") == []
    respond(conn, request)
    second = conn.start_next_cycle()
    assert summarize(second) == [
        ("request", "GET", b"/two", "1.1", ((b"host", b"a"),), True, False),
        ("end",),
    ]
    assert conn.receive_data(b"Length: 2\r\n\r\nok") == []
    respond(conn, only_request(second))
    third = conn.start_next_cycle()
    assert only_request(third).target == b"/three"
    assert body_of(third) == b"ok"
    assert third[-1] is END_OF_MESSAGE


def test_pipelined_body_of_next_request_not_mixed_into_current(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(
        b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n12"
        b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n34"
    )
    assert body_of(events) == b"12"
    respond(conn, only_request(events))
    assert body_of(conn.start_next_cycle()) == b"34"


@pytest.mark.parametrize(
    ("bad", "status"),
    [
        pytest.param(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505, id="version"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n", 400, id="header"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
            400,
            id="content-length",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501, id="coding"
        ),
    ],
)
def test_pipelined_error_released_after_earlier_cycle(
    conn_factory: Factory, bad: bytes, status: int
) -> None:
    conn = conn_factory()
    first = conn.receive_data(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n" + bad)
    assert summarize(first) == [
        ("request", "GET", b"/ok", "1.1", ((b"host", b"a"),), True, False),
        ("end",),
    ]
    respond(conn, only_request(first))
    later = conn.start_next_cycle()
    assert summarize(later) == [("error", status)]


def test_pipelined_error_arriving_during_response_is_held(conn_factory: Factory) -> None:
    conn = conn_factory()
    first = conn.receive_data(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
    assert conn.receive_data(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n") == []
    respond(conn, only_request(first))
    assert summarize(conn.start_next_cycle()) == [("error", 505)]


def test_buffered_counts_only_unreleased_requests(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(
        b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello"
    )
    assert conn.buffered > 0, "the second request is held"
    respond(conn, only_request(events))
    assert body_of(conn.start_next_cycle()) == b"hello"
    assert conn.buffered == 0, "everything received has been released"


# -- empty lines before a request line (RFC 9112 section 2.2) ----------------------------------

_GET_A = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
_GET_B = b"GET /b HTTP/1.1\r\nHost: h\r\n\r\n"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(b"\r\n" + _GET_A, [(b"/a", b"")], id="crlf-first"),
        pytest.param(b"\n\r\n\r\r\n" + _GET_A, [(b"/a", b"")], id="cr-lf-mixed"),
        pytest.param(_GET_A + b"\r\n" + _GET_B, [(b"/a", b""), (b"/b", b"")], id="after-get"),
        pytest.param(
            b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nok\r\n\r\n" + _GET_B,
            [(b"/a", b"ok"), (b"/b", b"")],
            id="after-length-body",
        ),
        pytest.param(
            b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"2\r\nok\r\n0\r\n\r\n\r\n" + _GET_B,
            [(b"/a", b"ok"), (b"/b", b"")],
            id="after-chunked-body",
        ),
    ],
)
def test_empty_lines_before_a_request_line_are_ignored(
    conn_factory: Factory, raw: bytes, expected: list[tuple[bytes, bytes]]
) -> None:
    """As llhttp does, every adapter skips CR and LF where a request line is due, fed whole,
    a byte at a time and cut anywhere in two (h11 itself refuses them with a 400)."""
    feeds = [[raw], [raw[i : i + 1] for i in range(len(raw))]]
    feeds += [[raw[:cut], raw[cut:]] for cut in range(1, len(raw))]
    for pieces in feeds:
        driver = Driver(conn_factory())
        driver.feed_all(pieces)
        assert driver.error is None, (pieces, driver.error)
        seen = [(exchange.request.target, exchange.body) for exchange in driver.exchanges]
        assert seen == expected, pieces
        assert all(exchange.complete for exchange in driver.exchanges), pieces


def test_empty_lines_alone_leave_the_connection_idle(conn_factory: Factory) -> None:
    """Only empty lines: no head is pending, the connection stays reusable (an idle
    keep-alive connection, closed by its timeout), and EOF then is a quiet close."""
    conn = conn_factory()
    assert conn.receive_data(b"\r\n\r\n") == []
    assert not conn.head_pending
    assert conn.reusable
    respond(conn, only_request(conn.receive_data(_GET_A)))
    assert conn.receive_data(b"\r\n") == []
    assert conn.start_next_cycle() == []
    assert not conn.head_pending
    assert conn.reusable
    assert conn.receive_data(b"") == []


def test_a_request_line_after_empty_lines_is_still_checked(conn_factory: Factory) -> None:
    """Skipping empty lines does not skip the checks of the line that follows them."""
    events = conn_factory().receive_data(b"\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nX: a\nb\r\n\r\n")
    assert [event for event in events if isinstance(event, ProtocolError)], events
    assert not requests_of(events)


# -- Expect: 100-continue ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            id="content-length",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
            id="mixed-case",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Expect: 100-continue\r\n\r\n",
            id="chunked",
        ),
    ],
)
def test_expect_continue_flag(conn_factory: Factory, head: bytes) -> None:
    conn = conn_factory()
    events = conn.receive_data(head)
    assert only_request(events).expect_continue is True
    assert END_OF_MESSAGE not in events


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", id="absent"),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: something\r\n\r\n",
            id="other-expectation",
        ),
        pytest.param(
            b"POST / HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n",
            id="http-1.0",  # RFC 9110 section 10.1.1: MUST ignore it in HTTP/1.0
        ),
    ],
)
def test_no_expect_continue(conn_factory: Factory, head: bytes) -> None:
    conn = conn_factory()
    assert only_request(conn.receive_data(head)).expect_continue is False


@pytest.mark.parametrize(
    "head",
    [
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nExpect: 100-continue\r\n\r\n",
            id="content-length-0",
        ),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", id="no-body"),
    ],
)
def test_expect_continue_without_body_to_come(conn_factory: Factory, head: bytes) -> None:
    """``expect_continue``: "sent with a body still to come" (events.py); here none is."""
    conn = conn_factory()
    events = conn.receive_data(head)
    assert events[-1] is END_OF_MESSAGE
    assert only_request(events).expect_continue is False


def test_expect_continue_body_follows_after_100(conn_factory: Factory) -> None:
    conn = conn_factory()
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    request = only_request(conn.receive_data(head))
    conn.begin_response(request)
    assert conn.informational_continue().startswith(b"HTTP/1.1 100")
    events = conn.receive_data(b"abc")
    assert summarize(events) == [("body", b"abc"), ("end",)]


# -- EOF --------------------------------------------------------------------------------------


def test_eof_on_idle_connection(conn_factory: Factory) -> None:
    conn = conn_factory()
    assert conn.receive_data(b"") == []
    assert conn.receive_data(b"") == []


def test_eof_after_complete_request(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert summarize(events)[1:] == [("end",)]
    assert conn.receive_data(b"") == []
    # The half-closed client still gets its response.
    respond(conn, only_request(events))


def test_eof_after_response_between_requests(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    respond(conn, only_request(events))
    assert conn.start_next_cycle() == []
    assert conn.receive_data(b"") == []


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(b"G", id="method"),
        pytest.param(b"GET / HTTP/1.1\r\nHo", id="header-name"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n", id="before-blank-line"),
    ],
)
def test_eof_inside_head_gives_no_request(conn_factory: Factory, partial: bytes) -> None:
    conn = conn_factory()
    assert conn.receive_data(partial) == []
    events = conn.receive_data(b"")
    assert requests_of(events) == []
    assert END_OF_MESSAGE not in events
    assert all(isinstance(e, ProtocolError) and e.status == 400 for e in events), events


@pytest.mark.parametrize(
    "partial",
    [
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc", id="content-length"
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
            id="chunked",
        ),
        pytest.param(
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            id="chunked-mid-chunk",
        ),
    ],
)
def test_eof_inside_body_is_an_error(conn_factory: Factory, partial: bytes) -> None:
    """A body cut short by EOF must be reported, or the app waits for the rest forever."""
    conn = conn_factory()
    events = conn.receive_data(partial)
    assert isinstance(events[0], Request)
    assert END_OF_MESSAGE not in events
    at_eof = conn.receive_data(b"")
    assert END_OF_MESSAGE not in at_eof
    assert summarize(at_eof) == [("error", 400)]


def test_driver_sees_whole_pipeline(conn_factory: Factory) -> None:
    """The test driver itself: all four pipelined requests, bodies intact, fed byte by byte."""
    driver = Driver(conn_factory())
    driver.feed_all([PIPELINE[i : i + 1] for i in range(len(PIPELINE))])
    assert driver.error is None
    assert [(target, body) for _, target, _, _, body, _ in driver.outcome()] == [
        (b"/one", b""),
        (b"/two", b"abc"),
        (b"/three", b"xyz"),
        (b"/four", b""),
    ]
