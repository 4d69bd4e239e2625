"""What only the zttp adapter has: where zttp is stricter than h11 and llhttp, its fixed
limits, and how a head it refuses gets the same status as on the other parsers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xloop.http import Limits, ProtocolError, Request, zttp_available

from ._support import available, make, split_in_two, summarize

if TYPE_CHECKING:
    from xloop.http import Event

pytestmark = pytest.mark.skipif(not zttp_available(), reason="zttp not installed")

_CHUNKED = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"

#: Bytes h11 and llhttp take and zttp refuses (README, "HTTP behaviour"): zttp is the
#: stricter one, never the other way round (tests/http/test_bad_input.py, test_fuzz.py).
STRICTER = [
    pytest.param(b'GET /a"b HTTP/1.1\r\nHost: a\r\n\r\n', [("error", 400)], id="quote-in-target"),
    pytest.param(
        b"GET / HTTP/1.1\r\nHost: a\r\nX: " + b"v" * 20_000 + b"\r\n\r\n",
        [("error", 431)],
        id="field-line-over-16-kib",
    ),
    pytest.param(
        _CHUNKED + b"0" * 16 + b"5\r\nhello\r\n0\r\n\r\n",
        [("request",), ("error", 400)],
        id="chunk-size-17-digits-leading-zeros",
    ),
    pytest.param(
        _CHUNKED + b"0\r\nHost: b\r\n\r\n", [("request",), ("error", 400)], id="host-in-trailer"
    ),
]


def _outcome(name: str, raw: bytes) -> list[tuple[object, ...]]:
    return [item[:1] if item[0] == "request" else item for item in summarize(_feed(name, raw))]


def _feed(name: str, raw: bytes) -> list[Event]:
    return make(name, Limits()).receive_data(raw)


@pytest.mark.parametrize(("raw", "expected"), STRICTER)
def test_stricter_than_the_other_parsers(raw: bytes, expected: list[tuple[object, ...]]) -> None:
    assert _outcome("zttp", raw) == expected
    for cut, events in split_in_two(lambda: make("zttp", Limits()), raw):
        got = [item[:1] if item[0] == "request" else item for item in summarize(events)]
        assert [item for item in got if item[0] != "body"] == expected, cut
    others = [name for name in ("h11", "httptools") if available(name)]
    for name in others:
        assert ("end",) in _outcome(name, raw), name


def test_non_ascii_target_refused_as_elsewhere() -> None:
    """zttp takes obs-text in a request-target; the adapter refuses it, as h11 and llhttp."""
    raw = b"GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"
    assert _outcome("zttp", raw) == [("error", 400)]
    assert _outcome("h11", raw) == [("error", 400)]


@pytest.mark.parametrize(
    ("limits", "raw", "status"),
    [
        pytest.param(
            Limits(max_request_line=32_000),
            b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
            414,
            id="target-over-zttp-line-limit",
        ),
        pytest.param(
            Limits(max_header_count=200),
            b"GET / HTTP/1.1\r\nHost: a\r\n"
            + b"".join(b"X-%d: v\r\n" % i for i in range(150))
            + b"\r\n",
            431,
            id="fields-over-zttp-count-limit",
        ),
    ],
)
def test_zttp_limits_under_configured_ones(limits: Limits, raw: bytes, status: int) -> None:
    """zttp's own limits are fixed: above them the answer is the size status, not 400."""
    events = make("zttp", limits).receive_data(raw)
    assert summarize(events) == [("error", status)]


def test_refused_head_waits_for_the_bytes_that_decide_its_status() -> None:
    """zttp refuses an HTTP/2.0 request line at once; llhttp reads the fields first (a bad
    one makes it 400, else 505), so the adapter answers only when the head is complete."""
    for last, status in [(b"\r\n", 505), (b"X: \x01\r\n\r\n", 400)]:
        conn = make("zttp", Limits())
        assert conn.receive_data(b"GET / HTTP/2.0\r\nHost: a\r\n") == []
        events = conn.receive_data(last)
        assert [type(event) for event in events] == [ProtocolError]
        assert summarize(events) == [("error", status)]
        assert conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n") == []


def test_refused_head_cut_by_eof_is_400() -> None:
    conn = make("zttp", Limits())
    assert conn.receive_data(b"GET / HTTP/2.0\r\nHost: a\r\n") == []
    assert summarize(conn.receive_data(b"")) == [("error", 400)]


def test_header_names_lowercased_from_zttp_header_block() -> None:
    events = make("zttp", Limits()).receive_data(b"GET / HTTP/1.1\r\nHOST: a\r\nX-Y: Z\r\n\r\n")
    request = events[0]
    assert isinstance(request, Request)
    assert request.headers == [(b"host", b"a"), (b"x-y", b"Z")]
