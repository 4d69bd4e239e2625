"""A head over the limit that comes in one large read is refused at once, alone or behind a
request that ended in the same read: never left to the request-header timeout (the selector
loop and rloop read up to 256 KiB at a time, so a client that sends it all before the
server reads is seen in one read). A read of requests and bodies far larger than the head
limit is no head over it."""

from __future__ import annotations

import pytest

from xloop.http import END_OF_MESSAGE, ProtocolError, Request

from ._support import LIMITS, make, requests_of, respond, summarize

_START = b"GET /big HTTP/1.1\r\nHost: a\r\nX-Big: "


@pytest.mark.parametrize("extra", [1, 2, LIMITS.max_head, 50 * LIMITS.max_head])
def test_head_over_the_limit_in_one_read_is_431(adapter: str, extra: int) -> None:
    conn = make(adapter, LIMITS)
    raw = _START + b"v" * (LIMITS.max_head - len(_START) + extra)
    assert summarize(conn.receive_data(raw)) == [("error", 431)]


def test_head_at_the_limit_in_one_read_waits_for_more(adapter: str) -> None:
    conn = make(adapter, LIMITS)
    assert conn.receive_data(_START + b"v" * (LIMITS.max_head - len(_START))) == []
    assert conn.head_pending


@pytest.mark.parametrize(
    "before",
    [
        pytest.param(b"GET /a HTTP/1.1\r\nHost: a\r\n\r\n", id="get"),
        pytest.param(
            b"POST /a HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s"
            % (5 * LIMITS.max_head, b"u" * (5 * LIMITS.max_head)),
            id="large-body",
        ),
    ],
)
@pytest.mark.parametrize("extra", [3 * LIMITS.max_head, 50 * LIMITS.max_head])
def test_head_over_the_limit_behind_a_request_in_the_same_read_is_431(
    adapter: str, before: bytes, extra: int
) -> None:
    conn = make(adapter, LIMITS)
    events = conn.receive_data(before + _START + b"v" * extra)
    (first,) = requests_of(events)
    assert first.target == b"/a"
    assert events[-1] is END_OF_MESSAGE
    assert not [e for e in events if isinstance(e, ProtocolError)]
    respond(conn, first)
    assert summarize(conn.start_next_cycle()) == [("error", 431)]


@pytest.mark.parametrize("cut", [1, 30, 60])
def test_requests_and_a_large_body_in_one_read_are_no_head_over_the_limit(
    adapter: str, cut: int
) -> None:
    """Bodies of many times the head limit, each followed by a request in the same read, the
    last of them cut ``cut`` bytes into its head and finished in the next read: all served."""
    body = b"u" * (3 * LIMITS.max_head)
    post = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    last = b"GET /last HTTP/1.1\r\nHost: a\r\nX-Fill: " + b"f" * 300 + b"\r\n\r\n"
    raw = post + post + last
    conn = make(adapter, LIMITS)
    events = conn.receive_data(raw[: len(raw) - len(last) + cut])
    served: list[Request] = []
    while True:
        assert not [e for e in events if isinstance(e, ProtocolError)], events
        requests = requests_of(events)
        if not requests:
            break
        served += requests
        if events[-1] is not END_OF_MESSAGE:
            break
        respond(conn, requests[-1])
        events = conn.start_next_cycle()
    assert [r.target for r in served] == [b"/up", b"/up"]
    assert conn.head_pending
    events = conn.receive_data(raw[len(raw) - len(last) + cut :])
    assert [r.target for r in requests_of(events)] == [b"/last"], events
