"""``Limits.max_body_size``: 413 for a declared length at the head, for a chunked body as it comes.

A Content-Length over the limit is refused with the head: no Request event, so the app is
never called and no ``100 Continue`` is ever sent. A chunked body is refused by a
ProtocolError(413) as soon as the bytes received pass the limit; the app may have seen
the Request and part of the body (never more than the limit), but never its end.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import pytest

from xloop.http import END_OF_MESSAGE, Body, Limits, ProtocolError, Request, connection_factory

from ._support import LIMITS, requests_of, respond, split_in_two, summarize

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import Event, HTTPConnection

    Factory = Callable[[], HTTPConnection]

LIMIT = 10
GOOD = b"GET /after HTTP/1.1\r\nHost: a\r\n\r\n"


@pytest.fixture
def limited(adapter: str) -> Factory:
    """Connections whose request bodies may hold LIMIT bytes."""
    return connection_factory(adapter, replace(LIMITS, max_body_size=LIMIT))


def _post(*lines: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    head = b"POST /up HTTP/%s\r\nHost: a\r\n" % version
    return head + b"".join(line + b"\r\n" for line in lines) + b"\r\n" + body


def _chunked(*chunks: bytes) -> bytes:
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    return _post(b"Transfer-Encoding: chunked", body=body)


def _body_of(events: list[Event]) -> bytes:
    return b"".join(bytes(event.data) for event in events if isinstance(event, Body))


# -- Content-Length: refused with the head -----------------------------------------------------

OVER_AT_HEAD = [
    pytest.param(_post(b"Content-Length: 11", body=b"x" * 11), id="one-over"),
    pytest.param(_post(b"Content-Length: 11"), id="one-over-no-body-yet"),
    pytest.param(_post(b"Content-Length: 11", b"Expect: 100-continue"), id="expect-100-continue"),
    pytest.param(_post(b"Content-Length: 000011", body=b"x" * 11), id="leading-zeros"),
    pytest.param(_post(b"Content-Length: 1000000000000"), id="huge"),
    pytest.param(_post(b"Content-Length: 18446744073709551615"), id="largest-64-bit"),
    pytest.param(_post(b"Content-Length: 11", body=b"x" * 11, version=b"1.0"), id="http-1.0"),
]


@pytest.mark.parametrize("raw", OVER_AT_HEAD)
def test_content_length_over_limit_is_413_at_the_head(limited: Factory, raw: bytes) -> None:
    for cut, events in split_in_two(limited, raw):
        assert requests_of(events) == [], f"a Request escaped when cut at {cut}: {events}"
        assert summarize(events) == [("error", 413)], f"cut at {cut}: {events}"
    conn = limited()
    assert summarize(conn.receive_data(raw + GOOD)) == [("error", 413)]
    assert conn.receive_data(GOOD) == []


@pytest.mark.parametrize("limit", [None, LIMIT])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(b"18446744073709551616", id="2**64"),
        pytest.param(b"99999999999999999999", id="20-digits-over-64-bits"),
        pytest.param(b"0" * 20 + b"5", id="21-digits-leading-zeros"),
        pytest.param(b"1" + b"0" * 5000, id="more-digits-than-int-takes"),
    ],
)
def test_content_length_out_of_range_is_400(adapter: str, limit: int | None, value: bytes) -> None:
    """Framing the parsers cannot take is a 400 before any limit: h11 takes at most 20
    digits, llhttp values below 2**64; both adapters refuse either excess."""
    factory = connection_factory(adapter, Limits(max_body_size=limit))
    raw = _post(b"Content-Length: " + value)
    for cut, events in split_in_two(factory, raw):
        assert summarize(events) == [("error", 400)], f"cut at {cut}: {events}"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(_post(b"Content-Length: 10", body=b"x" * 10), id="at-limit"),
        pytest.param(_post(b"Content-Length: 0000010", body=b"x" * 10), id="at-limit-zeros"),
        pytest.param(_post(b"Content-Length: 0"), id="empty"),
        pytest.param(_chunked(b"x" * 4, b"y" * 6), id="chunked-at-limit"),
        pytest.param(_chunked(b"x" * 10) + GOOD, id="chunked-at-limit-then-next"),
        pytest.param(
            _post(b"Transfer-Encoding: chunked", body=b"a\r\n0123456789\r\n0\r\nT: " + b"v" * 20)
            + b"\r\n\r\n",
            id="trailers-do-not-count",
        ),
    ],
)
def test_body_at_limit_accepted(limited: Factory, raw: bytes) -> None:
    whole = limited().receive_data(raw)
    assert len(requests_of(whole)) == 1, whole
    assert whole[-1] is END_OF_MESSAGE
    assert len(_body_of(whole)) <= LIMIT
    for cut, events in split_in_two(limited, raw):
        assert summarize(events) == summarize(whole), f"cut at {cut}: {events}"


def test_no_limit_by_default(adapter: str) -> None:
    assert Limits().max_body_size is None
    body = b"z" * 100_000
    conn = connection_factory(adapter, Limits())()
    events = conn.receive_data(_post(b"Content-Length: %d" % len(body), body=body))
    assert _body_of(events) == body
    assert events[-1] is END_OF_MESSAGE
    conn = connection_factory(adapter, Limits())()
    events = conn.receive_data(_chunked(body))
    assert _body_of(events) == body
    assert events[-1] is END_OF_MESSAGE


def test_limit_zero_takes_no_body(adapter: str) -> None:
    factory = connection_factory(adapter, replace(LIMITS, max_body_size=0))
    events = factory().receive_data(_post(b"Content-Length: 0") + GOOD)
    assert summarize(events)[1:] == [("end",)]
    assert summarize(factory().receive_data(_post(b"Content-Length: 1", body=b"x"))) == [
        ("error", 413)
    ]
    events = factory().receive_data(_chunked(b"x"))
    assert isinstance(events[0], Request)
    assert summarize(events[1:]) == [("error", 413)]


# -- chunked: refused as soon as the running total passes the limit ----------------------------

OVER_CHUNKED = [
    pytest.param(_chunked(b"x" * 11), id="one-chunk-one-over"),
    pytest.param(_chunked(b"x" * 6, b"y" * 5), id="second-chunk-passes"),
    pytest.param(_chunked(*[b"z"] * 11), id="eleven-one-byte-chunks"),
    pytest.param(_chunked(b"x" * 10, b"y"), id="at-limit-then-one-more"),
    pytest.param(_chunked(b"x" * 100_000), id="far-over"),
    # The limit counts data bytes in stream order: passing it comes before a bad line later.
    pytest.param(
        _post(b"Transfer-Encoding: chunked", body=b"b\r\n0123456789a\r\n5 \r\nhello\r\n0\r\n\r\n"),
        id="over-before-a-bad-chunk-line",
    ),
]


def _assert_chunked_413(events: list[Event]) -> None:
    assert END_OF_MESSAGE not in events, events
    assert isinstance(events[0], Request), events
    assert all(isinstance(event, Body) for event in events[1:-1]), events
    assert len(_body_of(events)) <= LIMIT, "more body than the limit reached the app"
    error = events[-1]
    assert isinstance(error, ProtocolError), events
    assert error.status == 413


@pytest.mark.parametrize("raw", OVER_CHUNKED)
def test_chunked_body_over_limit_is_413(limited: Factory, raw: bytes) -> None:
    conn = limited()
    _assert_chunked_413(conn.receive_data(raw + GOOD))
    assert conn.receive_data(GOOD) == []
    assert conn.start_next_cycle() == []
    if len(raw) < 1000:
        for _cut, events in split_in_two(limited, raw):
            _assert_chunked_413(events)
        bytewise: list[Event] = []
        conn = limited()
        for index in range(len(raw)):
            bytewise += conn.receive_data(raw[index : index + 1])
        _assert_chunked_413(bytewise)


def test_chunked_413_comes_when_the_limit_is_passed(limited: Factory) -> None:
    """Not at the end of the chunk, nor of the body: with the byte that passes the limit."""
    conn = limited()
    events = conn.receive_data(_post(b"Transfer-Encoding: chunked") + b"64\r\n" + b"x" * LIMIT)
    assert summarize(events)[1:] == [("body", b"x" * LIMIT)]
    assert summarize(conn.receive_data(b"y")) == [("error", 413)]


def test_limit_applies_to_each_pipelined_request(limited: Factory) -> None:
    conn = limited()
    first = _chunked(b"x" * 10)
    events = conn.receive_data(first + _chunked(b"y" * 10) + _chunked(b"z" * 11))
    for expected in (b"x", b"y"):
        assert summarize(events)[1:] == [("body", expected * 10), ("end",)]
        respond(conn, requests_of(events)[0])
        events = conn.start_next_cycle()
    _assert_chunked_413(events)
