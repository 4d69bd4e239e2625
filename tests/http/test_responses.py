"""Response serialization of both adapters, checked by parsing the bytes back with an h11 client."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import h11
import pytest

from xloop.http import DefaultHeaders, Request, ResponseError

from ._support import DEFAULTS, parse_response, requests_of

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import HTTPConnection

    Factory = Callable[[], HTTPConnection]

GET_11 = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
GET_10 = b"GET / HTTP/1.0\r\n\r\n"
HEAD_11 = b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"


def start(conn_factory: Factory, raw: bytes = GET_11) -> tuple[HTTPConnection, Request]:
    conn = conn_factory()
    requests = requests_of(conn.receive_data(raw))
    assert len(requests) == 1
    conn.begin_response(requests[0])
    return conn, requests[0]


# -- framing ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [b"", b"x", b"hello world", bytes(range(256)) * 40])
def test_known_length_gives_content_length(conn_factory: Factory, body: bytes) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [(b"content-type", b"text/plain")], DEFAULTS, len(body), False)
    raw += conn.response_body(body) + conn.response_end()
    parsed = parse_response(raw)
    assert parsed.status == 200
    assert parsed.header(b"content-length") == [b"%d" % len(body)]
    assert parsed.header(b"transfer-encoding") == []
    assert parsed.header(b"content-type") == [b"text/plain"]
    assert parsed.body == body
    assert parsed.complete
    assert parsed.trailing == b""
    assert parsed.reusable
    assert conn.keep_alive is True


def test_streaming_http11_is_chunked(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    head = conn.response_head(200, [(b"x-app", b"1")], DEFAULTS, None, False)
    pieces = [b"abc", b"", b"0123456789abcdefg", b"\r\n0\r\n\r\n", bytes(300)]
    framed = [conn.response_body(piece) for piece in pieces]
    assert framed[0] == b"3\r\nabc\r\n"
    assert framed[1] == b"", "an empty piece must not end the chunked body early"
    assert framed[2] == b"11\r\n0123456789abcdefg\r\n"
    assert framed[3] == b"7\r\n\r\n0\r\n\r\n\r\n"
    assert framed[4] == b"12c\r\n" + bytes(300) + b"\r\n"
    end = conn.response_end()
    assert end == b"0\r\n\r\n"
    parsed = parse_response(head + b"".join(framed) + end)
    assert [value.lower() for value in parsed.header(b"transfer-encoding")] == [b"chunked"]
    assert parsed.header(b"content-length") == []
    assert parsed.body == b"".join(pieces)
    assert parsed.complete
    assert parsed.trailing == b""
    assert parsed.reusable
    assert conn.keep_alive is True


def test_streaming_http11_empty_body(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [], DEFAULTS, None, False) + conn.response_end()
    assert raw.endswith(b"\r\n\r\n0\r\n\r\n")
    parsed = parse_response(raw)
    assert parsed.body == b""
    assert parsed.complete
    assert parsed.trailing == b""


@pytest.mark.parametrize("keep_alive_header", [False, True])
def test_streaming_http10_is_close_delimited(
    conn_factory: Factory, keep_alive_header: bool
) -> None:
    raw_request = (
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" if keep_alive_header else GET_10
    )
    conn, _ = start(conn_factory, raw_request)
    head = conn.response_head(200, [], DEFAULTS, None, False)
    body = conn.response_body(b"abc") + conn.response_body(b"def")
    end = conn.response_end()
    assert body == b"abcdef", "no chunk framing for HTTP/1.0"
    assert end == b""
    assert conn.keep_alive is False
    parsed = parse_response(head + body + end, eof=True)
    assert parsed.header(b"transfer-encoding") == []
    assert parsed.header(b"content-length") == []
    assert [value.lower() for value in parsed.header(b"connection")] == [b"close"]
    assert parsed.body == b"abcdef"
    assert parsed.complete
    assert not parsed.reusable


def test_http10_known_length(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory, GET_10)
    raw = conn.response_head(200, [], DEFAULTS, 3, False) + conn.response_body(b"abc")
    raw += conn.response_end()
    parsed = parse_response(raw)
    assert parsed.header(b"content-length") == [b"3"]
    assert parsed.body == b"abc"
    assert parsed.complete
    assert conn.keep_alive is False
    assert not parsed.reusable


@pytest.mark.parametrize("name", [b"content-length", b"Content-Length", b"CONTENT-LENGTH"])
def test_app_content_length_honoured(conn_factory: Factory, name: bytes) -> None:
    conn, _ = start(conn_factory)
    head = conn.response_head(200, [(name, b"6")], DEFAULTS, None, False)
    body = conn.response_body(b"abc") + conn.response_body(b"def")
    end = conn.response_end()
    assert body == b"abcdef"
    assert end == b""
    parsed = parse_response(head + body + end)
    assert parsed.header(b"content-length") == [b"6"]
    assert parsed.header(b"transfer-encoding") == []
    assert parsed.body == b"abcdef"
    assert parsed.trailing == b""
    assert parsed.reusable
    assert conn.keep_alive is True


def test_app_content_length_with_known_length_not_doubled(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [(b"content-length", b"3")], DEFAULTS, 3, False)
    raw += conn.response_body(b"abc") + conn.response_end()
    assert raw.lower().count(b"content-length") == 1
    parsed = parse_response(raw)
    assert parsed.body == b"abc"


def test_app_content_length_too_much_body(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    conn.response_head(200, [(b"content-length", b"3")], DEFAULTS, None, False)
    assert conn.response_body(b"ab") == b"ab"
    with pytest.raises(ResponseError):
        conn.response_body(b"cd")


def test_app_content_length_too_little_body(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    conn.response_head(200, [(b"content-length", b"3")], DEFAULTS, None, False)
    conn.response_body(b"ab")
    with pytest.raises(ResponseError):
        conn.response_end()


def test_app_content_length_disagrees_with_body(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    conn.response_head(200, [(b"content-length", b"5")], DEFAULTS, 3, False)
    conn.response_body(b"abc")
    with pytest.raises(ResponseError):
        conn.response_end()


def test_known_length_too_much_body(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    conn.response_head(200, [], DEFAULTS, 3, False)
    with pytest.raises(ResponseError):
        conn.response_body(b"abcd")


@pytest.mark.parametrize("value", [b"abc", b"-1", b"+3", b"3.0", b""])
def test_invalid_app_content_length(conn_factory: Factory, value: bytes) -> None:
    conn, _ = start(conn_factory)
    with pytest.raises(ResponseError):
        conn.response_head(200, [(b"content-length", value)], DEFAULTS, None, False)


@pytest.mark.parametrize(("raw", "framing"), [(GET_11, [b"chunked"]), (GET_10, [])])
def test_app_transfer_encoding_is_replaced_by_the_servers_framing(
    conn_factory: Factory, raw: bytes, framing: list[bytes]
) -> None:
    """The server frames the body: an app's Transfer-Encoding is dropped, never doubled, and
    an HTTP/1.0 client (which cannot take chunked) gets a close-delimited body."""
    conn, _ = start(conn_factory, raw)
    app_headers = [(b"transfer-encoding", b"chunked"), (b"x-app", b"1")]
    data = conn.response_head(200, app_headers, DEFAULTS, None, False)
    data += conn.response_body(b"abc") + conn.response_end()
    parsed = parse_response(data, eof=not framing)
    assert [value.lower() for value in parsed.header(b"transfer-encoding")] == framing
    assert parsed.header(b"x-app") == [b"1"]
    assert parsed.body == b"abc"
    assert parsed.complete


def test_header_name_cache_stays_bounded() -> None:
    """An app that sends ever new header names does not grow the server's memory."""
    from xloop.http import response

    for number in range(5000):
        assert response.validated_name(b"X-Unique-%d" % number) == b"x-unique-%d" % number
    assert len(response._VALID_NAMES) <= 4096


def test_length_line_cache_stays_bounded_and_right(conn_factory: Factory) -> None:
    """Every size gets its own Content-Length, past the sizes the server keeps formatted."""
    from xloop.http import response

    for size in range(0, 3000, 2):
        conn, _ = start(conn_factory)
        body = b"x" * size
        parsed = parse_response(conn.response_whole(200, [], DEFAULTS, body, False))
        assert parsed.header(b"content-length") == [b"%d" % size]
        assert parsed.body == body
    assert len(response._LENGTH_LINES) <= 1024


def test_app_content_length_values_are_kept_bounded_and_checked_every_time(
    conn_factory: Factory,
) -> None:
    """The Content-Length values an app sent are kept as ints (no regex per response), at
    most 1024 of them; a value kept is still refused when it comes twice, and an invalid
    value is never kept."""
    from xloop.http import response

    for size in range(1500):
        conn, _ = start(conn_factory)
        value = b"%d" % size
        head = conn.response_head(200, [(b"content-length", value)], DEFAULTS, None, False)
        assert parse_response(head + b"x" * size).header(b"content-length") == [value]
        assert conn.response_body(b"x" * size) == b"x" * size
    assert len(response._LENGTH_VALUES) <= 1024
    assert response._LENGTH_VALUES[b"7"] == 7
    conn, _ = start(conn_factory)
    with pytest.raises(ResponseError, match="Content-Length b'7'"):
        conn.response_head(200, [(b"content-length", b"7")] * 2, DEFAULTS, None, False)
    for value in (b"abc", b"-1", b" 7"):
        conn, _ = start(conn_factory)
        with pytest.raises(ResponseError):
            conn.response_head(200, [(b"content-length", value)], DEFAULTS, None, False)
        assert value not in response._LENGTH_VALUES


@pytest.mark.parametrize(
    "headers",
    [
        [[b"content-type", b"text/plain"], [b"content-length", b"3"]],  # lists
        [(b"content-type", b"text/plain"), [b"content-length", b"3"]],  # mixed
        ((b"content-type", b"text/plain"), (b"content-length", b"3")),  # a tuple of tuples
        {b"content-type": b"text/plain", b"content-length": b"3"}.items(),  # a view
    ],
)
def test_any_two_item_iterables_are_headers(conn_factory: Factory, headers: Any) -> None:
    """ASGI allows headers as any iterable of two-item iterables, not only tuples."""
    conn, _ = start(conn_factory)
    parsed = parse_response(conn.response_whole(200, headers, DEFAULTS, b"abc", False))
    conn, _ = start(conn_factory)  # (and an iterator, read once)
    again = conn.response_whole(200, iter(list(headers)), DEFAULTS, b"abc", False)
    assert parse_response(again).header(b"content-length") == [b"3"]
    assert parsed.header(b"content-type") == [b"text/plain"]
    assert parsed.header(b"content-length") == [b"3"]
    assert parsed.body == b"abc"


@pytest.mark.parametrize("header", [(b"x-a",), (b"x-a", b"1", b"2"), [b"x-a", b"1", b"2"]])
def test_a_header_that_is_not_a_pair_is_refused(conn_factory: Factory, header: object) -> None:
    conn, _ = start(conn_factory)
    with pytest.raises(ValueError, match="unpack"):
        conn.response_head(200, [header], DEFAULTS, None, False)


# -- bodiless responses -----------------------------------------------------------------------


@pytest.mark.parametrize("body_length", [None, 0, 10])
def test_head_request_gets_no_body(conn_factory: Factory, body_length: int | None) -> None:
    conn, _ = start(conn_factory, HEAD_11)
    head = conn.response_head(200, [], DEFAULTS, body_length, False)
    body = conn.response_body(b"0123456789")
    end = conn.response_end()
    assert body == b""
    assert end == b""
    assert head.endswith(b"\r\n\r\n")
    parsed = parse_response(head, method=b"HEAD")
    assert parsed.body == b""
    assert parsed.complete
    assert parsed.trailing == b""
    assert parsed.reusable
    assert conn.keep_alive is True
    if body_length:
        assert parsed.header(b"content-length") == [b"%d" % body_length]


def test_head_request_keeps_app_content_length(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory, HEAD_11)
    head = conn.response_head(200, [(b"content-length", b"1234")], DEFAULTS, None, False)
    assert conn.response_body(b"") == b""
    assert conn.response_end() == b""
    parsed = parse_response(head, method=b"HEAD")
    assert parsed.header(b"content-length") == [b"1234"]
    assert parsed.complete
    assert parsed.trailing == b""


@pytest.mark.parametrize("body_length", [None, 0, 5])
@pytest.mark.parametrize("status", [204, 304])
def test_no_body_statuses(conn_factory: Factory, status: int, body_length: int | None) -> None:
    conn, _ = start(conn_factory)
    head = conn.response_head(status, [], DEFAULTS, body_length, False)
    body = conn.response_body(b"hello")
    end = conn.response_end()
    assert body == b""
    assert end == b""
    parsed = parse_response(head + body + end)
    assert parsed.status == status
    assert parsed.header(b"transfer-encoding") == []
    assert parsed.body == b""
    assert parsed.complete
    assert parsed.trailing == b""
    assert parsed.reusable
    assert conn.keep_alive is True
    if status == 204:
        # RFC 9110 section 8.6: MUST NOT send Content-Length in a 204.
        assert parsed.header(b"content-length") == []


# -- connection management --------------------------------------------------------------------


@pytest.mark.parametrize("body_length", [None, 3])
def test_close_flag(conn_factory: Factory, body_length: int | None) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [], DEFAULTS, body_length, True)
    raw += conn.response_body(b"abc") + conn.response_end()
    assert conn.keep_alive is False
    parsed = parse_response(raw, eof=True)
    assert [value.lower() for value in parsed.header(b"connection")] == [b"close"]
    assert parsed.body == b"abc"
    assert parsed.complete
    assert not parsed.reusable


def test_request_connection_close_closes(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    raw = conn.response_head(200, [], DEFAULTS, 0, False) + conn.response_end()
    assert conn.keep_alive is False
    parsed = parse_response(raw)
    assert [value.lower() for value in parsed.header(b"connection")] == [b"close"]


def test_app_connection_close_closes(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [(b"connection", b"close")], DEFAULTS, 0, False)
    raw += conn.response_end()
    assert conn.keep_alive is False
    parsed = parse_response(raw)
    assert not parsed.reusable


def test_several_responses_on_one_connection(conn_factory: Factory) -> None:
    conn = conn_factory()
    client = h11.Connection(h11.CLIENT)
    events = conn.receive_data(GET_11 + HEAD_11 + GET_11)
    cases: list[tuple[bytes, int | None, list[bytes]]] = [
        (b"GET", 5, [b"hello"]),
        (b"HEAD", None, [b"ignored"]),
        (b"GET", None, [b"str", b"eam"]),
    ]
    for method, body_length, pieces in cases:
        requests = requests_of(events)
        assert [request.method.encode() for request in requests] == [method]
        conn.begin_response(requests[0])
        raw = conn.response_head(200, [], DEFAULTS, body_length, False)
        raw += b"".join(conn.response_body(piece) for piece in pieces) + conn.response_end()
        assert conn.keep_alive is True
        client.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"a")]))
        client.send(h11.EndOfMessage())
        client.receive_data(raw)
        received = b""
        while True:
            event = client.next_event()
            if isinstance(event, h11.Data):
                received += bytes(event.data)
            if isinstance(event, h11.EndOfMessage):
                break
            assert event is not h11.NEED_DATA, f"response incomplete: {raw!r}"
        assert received == (b"" if method == b"HEAD" else b"".join(pieces))
        assert client.their_state is h11.DONE
        client.start_next_cycle()
        events = conn.start_next_cycle()
    assert events == []


# -- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [b"a\rb", b"a\nb", b"a\x00b", b"ok\r\nX-Injected: 1", b"\r\n\r\nHTTP/1.1 200 OK", b"end\r"],
)
def test_header_value_with_cr_lf_nul_refused(conn_factory: Factory, value: bytes) -> None:
    conn, _ = start(conn_factory)
    with pytest.raises(ResponseError):
        conn.response_head(200, [(b"x-value", value)], DEFAULTS, 0, False)
    # The server then answers 500 itself: that must still be a well-formed, closing response.
    parsed = parse_response(conn.error_response(500, DEFAULTS))
    assert parsed.status == 500
    assert conn.keep_alive is False


@pytest.mark.parametrize(
    "name", [b"bad name", b"", b"x:y", b"x\r\ny", b"caf\xe9", b"a@b", b"x(y)", b"a\x00"]
)
def test_invalid_header_name_refused(conn_factory: Factory, name: bytes) -> None:
    conn, _ = start(conn_factory)
    with pytest.raises(ResponseError):
        conn.response_head(200, [(name, b"v")], DEFAULTS, 0, False)


@pytest.mark.parametrize("status", [0, 99, 100, 101, 199, 1000])
def test_invalid_status_refused(conn_factory: Factory, status: int) -> None:
    conn, _ = start(conn_factory)
    with pytest.raises(ResponseError):
        conn.response_head(status, [], DEFAULTS, 0, False)


def test_non_bytes_header_refused(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    bad: list[tuple[bytes, bytes]] = [(b"x", "text")]  # type: ignore[list-item]
    with pytest.raises(ResponseError):
        conn.response_head(200, bad, DEFAULTS, 0, False)


@pytest.mark.parametrize("items", [[(b"x", b"a\r\nb")], [(b"bad name", b"v")], [(b"x", b"\x00")]])
def test_default_headers_validated(items: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(ResponseError):
        DefaultHeaders(items)


# -- what the server adds ---------------------------------------------------------------------


def test_default_headers_present(conn_factory: Factory) -> None:
    defaults = DefaultHeaders([(b"server", b"xloop"), (b"x-extra", b"1"), (b"date", b"today")])
    conn, _ = start(conn_factory)
    raw = conn.response_head(200, [(b"x-app", b"yes")], defaults, 0, False) + conn.response_end()
    parsed = parse_response(raw)
    assert parsed.header(b"server") == [b"xloop"]
    assert parsed.header(b"x-extra") == [b"1"]
    assert parsed.header(b"date") == [b"today"]
    assert parsed.header(b"x-app") == [b"yes"]


def test_app_headers_kept_in_order_with_repeats(conn_factory: Factory) -> None:
    conn, _ = start(conn_factory)
    headers = [(b"set-cookie", b"a=1"), (b"X-Order", b"1"), (b"set-cookie", b"b=2")]
    raw = conn.response_head(200, headers, DEFAULTS, 0, False) + conn.response_end()
    parsed = parse_response(raw)
    assert parsed.header(b"set-cookie") == [b"a=1", b"b=2"]
    app = [(name, value) for name, value in parsed.headers if name in (b"set-cookie", b"x-order")]
    assert app == [(b"set-cookie", b"a=1"), (b"x-order", b"1"), (b"set-cookie", b"b=2")]


@pytest.mark.parametrize("status", [200, 201, 299, 400, 404, 418, 500, 599, 600, 999])
def test_status_line(conn_factory: Factory, status: int) -> None:
    conn, _ = start(conn_factory)
    raw = conn.response_head(status, [], DEFAULTS, 0, False) + conn.response_end()
    assert raw.startswith(b"HTTP/1.1 %d " % status)
    assert parse_response(raw).status == status


@pytest.mark.parametrize("status", [400, 413, 414, 431, 500, 501, 505])
def test_error_response(conn_factory: Factory, status: int) -> None:
    conn = conn_factory()
    raw = conn.error_response(status, DEFAULTS)
    assert conn.keep_alive is False
    parsed = parse_response(raw)
    assert parsed.status == status
    assert [value.lower() for value in parsed.header(b"connection")] == [b"close"]
    assert parsed.header(b"server") == [b"xloop"]
    assert parsed.header(b"content-length") == [b"%d" % len(parsed.body)]
    assert parsed.body
    assert parsed.complete
    assert parsed.trailing == b""
    assert not parsed.reusable


def test_error_response_after_protocol_error(conn_factory: Factory) -> None:
    conn = conn_factory()
    (error,) = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")
    assert not isinstance(error, Request)
    raw = conn.error_response(400, DEFAULTS)
    parsed = parse_response(raw)
    assert parsed.status == 400
    assert conn.keep_alive is False


def test_informational_continue(conn_factory: Factory) -> None:
    head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    conn, _ = start(conn_factory, head)
    interim = conn.informational_continue()
    assert interim.startswith(b"HTTP/1.1 100")
    assert interim.endswith(b"\r\n\r\n")
    assert interim.count(b"\r\n\r\n") == 1
    conn.receive_data(b"ok")
    final = conn.response_head(200, [], DEFAULTS, 2, False) + conn.response_body(b"ok")
    final += conn.response_end()
    parsed = parse_response(interim + final)
    assert parsed.informational == [100]
    assert parsed.status == 200
    assert parsed.body == b"ok"
    assert parsed.reusable
