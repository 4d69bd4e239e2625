"""``HTTPConnection.reusable``: a connection between requests that the server hands to another
client connection must read and answer exactly as a new one does, and say it is not
reusable while anything of its client is still in it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xloop.http import END_OF_MESSAGE, ProtocolError, Request

from ._support import DEFAULTS, requests_of, respond, summarize
from .test_bad_input import BODY_ERRORS, HEAD_ERRORS

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import Event, HTTPConnection

    Factory = Callable[[], HTTPConnection]

#: What a connection served before it is reused: each leaves different state behind.
FIRST = {
    "get": b"GET /first?q=1 HTTP/1.1\r\nHost: a\r\nX-Long: " + b"v" * 300 + b"\r\n\r\n",
    "head": b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
    "http10-keep-alive": b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "post": b"POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    "chunked": (
        b"POST /c HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n"
    ),
    "expect": (
        b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\nok"
    ),
    "pipelined-pair": b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
}

#: What the reused connection then reads: good requests of every kind, then the bad ones.
GOOD = [
    pytest.param(b"GET / HTTP/1.1\r\nHost: b\r\n\r\n", id="get"),
    pytest.param(b"GET / HTTP/1.0\r\n\r\n", id="http10"),
    pytest.param(b"HEAD / HTTP/1.1\r\nHost: b\r\n\r\n", id="head"),
    pytest.param(b"POST / HTTP/1.1\r\nHost: b\r\nContent-Length: 3\r\n\r\nabc", id="post"),
    pytest.param(
        b"POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        id="chunked",
    ),
    pytest.param(
        b"GET /ws HTTP/1.1\r\nHost: b\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        id="upgrade",
    ),
    pytest.param(b"GET /a HTTP/1.1\r\nHost: b\r\n\r\nGET /b HTTP/1.1\r\n", id="pipelined-part"),
    pytest.param(b"GET / HTTP/1.1\r\nHost: b\r\nX-Half: ", id="half-head"),
]


def serve_all(conn: HTTPConnection, data: bytes) -> tuple[list[Event], bytes]:
    """Feed ``data`` and answer every complete request, as the server does; the events and
    the bytes written."""
    events = conn.receive_data(data)
    seen: list[Event] = []
    written = b""
    while events:
        seen += events
        if events[-1] is not END_OF_MESSAGE:
            break
        (request,) = requests_of(events)
        if request.expect_continue:
            written += conn.informational_continue()
        written += respond(conn, request, body=b"answer")
        if not conn.keep_alive:
            break
        events = conn.start_next_cycle()
    return seen, written


def used(conn_factory: Factory, first: str) -> HTTPConnection:
    """A connection that served ``first`` and is reusable now."""
    conn = conn_factory()
    served, _ = serve_all(conn, FIRST[first])
    assert served[-1] is END_OF_MESSAGE
    assert conn.reusable, first
    return conn


def test_a_new_connection_is_reusable(conn_factory: Factory) -> None:
    assert conn_factory().reusable


@pytest.mark.parametrize("first", FIRST)
@pytest.mark.parametrize("raw", GOOD)
def test_a_reused_connection_reads_and_answers_as_a_new_one(
    conn_factory: Factory, first: str, raw: bytes
) -> None:
    new_events, new_written = serve_all(conn_factory(), raw)
    reused_events, reused_written = serve_all(used(conn_factory, first), raw)
    assert summarize(reused_events) == summarize(new_events)
    assert reused_written == new_written


@pytest.mark.parametrize("first", ["get", "chunked", "head"])
@pytest.mark.parametrize(("raw", "status"), HEAD_ERRORS + BODY_ERRORS)
def test_a_reused_connection_refuses_as_a_new_one(
    conn_factory: Factory, first: str, raw: bytes, status: int
) -> None:
    new = conn_factory()
    reused = used(conn_factory, first)
    expected = summarize(new.receive_data(raw) + new.receive_data(b""))
    assert summarize(reused.receive_data(raw) + reused.receive_data(b"")) == expected
    assert ("error", status) in expected
    assert reused.error_response(status, DEFAULTS) == new.error_response(status, DEFAULTS)


def test_not_reusable_with_a_pipelined_request_held(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(FIRST["pipelined-pair"] + b"GET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
    respond(conn, requests_of(events)[0])
    assert requests_of(conn.start_next_cycle())[0].target == b"/2"
    assert not conn.reusable  # /3 is held


def test_not_reusable_with_part_of_a_next_head(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(FIRST["get"] + b"GET /next HT")
    respond(conn, requests_of(events)[0])
    assert conn.start_next_cycle() == []
    assert conn.head_pending
    assert not conn.reusable


def test_not_reusable_during_a_request(conn_factory: Factory) -> None:
    conn = conn_factory()
    (request,) = requests_of(
        conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhe")
    )
    assert not conn.reusable  # the body is still coming
    assert conn.receive_data(b"llo")[-1] is END_OF_MESSAGE
    assert not conn.reusable  # its response has not begun
    respond(conn, request)
    assert not conn.reusable  # answered, the next cycle not yet started
    assert conn.start_next_cycle() == []
    assert conn.reusable


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", id="close"),
        pytest.param(b"GET / HTTP/1.0\r\n\r\n", id="http10"),
    ],
)
def test_not_reusable_after_a_last_response(conn_factory: Factory, raw: bytes) -> None:
    conn = conn_factory()
    (request,) = requests_of(conn.receive_data(raw))
    respond(conn, request)
    assert not conn.keep_alive
    assert not conn.reusable


def test_not_reusable_after_an_error(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nBad Name: x\r\n\r\n")
    assert isinstance(events[-1], ProtocolError)
    conn.error_response(events[-1].status, DEFAULTS)
    assert not conn.reusable


def test_not_reusable_after_an_upgrade(conn_factory: Factory) -> None:
    conn = conn_factory()
    (raw,) = (param.values[0] for param in GOOD if param.id == "upgrade")
    assert isinstance(raw, bytes)
    (request,) = [e for e in conn.receive_data(raw + b"\x81\x00") if isinstance(e, Request)]
    assert request.upgrade
    assert conn.take_upgrade_data() == b"\x81\x00"
    assert not conn.reusable


def test_not_reusable_after_the_client_closed(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(FIRST["get"])
    respond(conn, requests_of(events)[0])
    conn.receive_data(b"")
    conn.start_next_cycle()
    assert not conn.reusable
