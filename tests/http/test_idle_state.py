"""Between requests an adapter keeps nothing of the request it released: an idle keep-alive
connection must not hold its last request's head (its headers, its target) for its idle life."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pytest

from xloop.http import END_OF_MESSAGE

from ._support import requests_of, respond

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import HTTPConnection

    Factory = Callable[[], HTTPConnection]


def held_by(conn: HTTPConnection) -> list[object]:
    """What the adapter refers to, and what its lists, tuples and dicts refer to."""
    found: list[object] = []
    for value in gc.get_referents(conn):
        found.append(value)
        if isinstance(value, (list, tuple, dict)):
            found += gc.get_referents(value)
    return found


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b"GET /idle?x=1 HTTP/1.1\r\nHost: a\r\nX-Header: value\r\n\r\n", id="get"),
        pytest.param(
            b"POST /idle HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n",
            id="chunked",
        ),
    ],
)
def test_an_idle_connection_keeps_nothing_of_its_last_request(
    conn_factory: Factory, raw: bytes
) -> None:
    conn = conn_factory()
    events = conn.receive_data(raw)
    assert events[-1] is END_OF_MESSAGE
    (request,) = requests_of(events)
    respond(conn, request)
    assert conn.start_next_cycle() == []
    held = held_by(conn)
    assert not any(item is request.headers for item in held)
    assert not any(item is request.target for item in held)
    assert not any(item is request for item in held)
    # and it serves the next request as before
    (following,) = requests_of(conn.receive_data(b"GET /next HTTP/1.1\r\nHost: b\r\n\r\n"))
    assert (following.target, following.headers) == (b"/next", [(b"host", b"b")])


def test_the_shared_empty_head_stays_empty() -> None:
    pytest.importorskip("httptools")
    from xloop.http import httptools_conn

    conn = httptools_conn.HttptoolsConnection()
    pieces = [b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", b"POST / HTTP/1.1\r\nHost: a\r\n"]
    pieces += [b"Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\nX-T: 1\r\n\r\n"]
    for piece in pieces:
        for event in conn.receive_data(piece):
            if event is END_OF_MESSAGE:
                conn.start_next_cycle()
    assert httptools_conn._NO_HEADERS == []


@pytest.mark.parametrize(
    "reads",
    [
        pytest.param([b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"], id="get"),
        pytest.param([b"GET / HTTP/1.1\r\n", b"Host: a\r\n\r\n"], id="get-split"),
        pytest.param(
            [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", b"abc"],
            id="post-body-in-its-own-read",
        ),
        pytest.param(
            [b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nab", b"c"],
            id="post-body-split",
        ),
        pytest.param(
            [b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", b"0\r\n\r\n"],
            id="chunked",
        ),
        pytest.param([b"GET / HTTP/1.0\r\nHost: a\r\nConnection: keep-alive\r\n\r\n"], id="http10"),
    ],
)
def test_reusable_between_requests_whatever_the_reads(
    conn_factory: Factory, reads: list[bytes]
) -> None:
    # What lets an idle connection park (xloop.server.idle): nothing of a request held.
    conn = conn_factory()
    seen = [conn.reusable]
    events = [event for data in reads for event in conn.receive_data(data)]
    assert events[-1] is END_OF_MESSAGE
    seen.append(conn.reusable)  # a request under way
    (request,) = requests_of(events)
    respond(conn, request)
    assert conn.start_next_cycle() == []
    seen.append(conn.reusable)
    assert seen == [True, False, True]


@pytest.mark.parametrize(
    "after",
    [
        pytest.param(b"G", id="part-of-a-head"),
        pytest.param(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", id="pipelined"),
    ],
)
def test_not_reusable_with_part_of_a_next_request(conn_factory: Factory, after: bytes) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" + after)
    (request, *_) = requests_of(events)
    respond(conn, request)
    conn.start_next_cycle()
    assert not conn.reusable


def test_not_reusable_after_a_close(conn_factory: Factory) -> None:
    conn = conn_factory()
    events = conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
    (request,) = requests_of(events)
    respond(conn, request)
    conn.start_next_cycle()
    assert not conn.reusable
