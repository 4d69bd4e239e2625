"""The h11 adapter keeps one h11 connection across the keep-alive requests of a client
connection (``h11_conn._recycled``): what it reads from the kept one is what a new one
reads, and a connection h11 could not go on with is never kept."""

from __future__ import annotations

import pytest

from xloop.http.h11_conn import H11Connection

from ._support import LIMITS, Driver

GET = b"GET /a?b=c HTTP/1.1\r\nHost: h\r\nAccept: */*\r\n\r\n"
POST = b"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
CHUNKED = b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
CONTINUE = b"PUT /u HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"
KEEP_ALIVE_10 = b"GET /old HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
CLOSE = b"GET /last HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"


def _one_by_one(requests: list[bytes]) -> tuple[Driver, list[object]]:
    """Feed each request once the one before was answered; after each, the h11
    connection kept for the next one (None: none kept)."""
    driver = Driver(H11Connection(LIMITS))
    conn = driver.conn
    assert isinstance(conn, H11Connection)
    used: list[object] = []
    for raw in requests:
        driver.feed(raw)
        used.append(conn._conn if conn._conn is not None else conn._spare)
    return driver, used


def _fresh(raw: bytes) -> Driver:
    driver = Driver(H11Connection(LIMITS))
    driver.feed(raw)
    return driver


SEQUENCES = {
    "gets": [GET, GET, GET],
    "bodies": [POST, CHUNKED, POST, GET],
    "100-continue": [CONTINUE, GET, CONTINUE, POST],
}


@pytest.mark.parametrize("requests", list(SEQUENCES.values()), ids=list(SEQUENCES))
def test_the_kept_connection_reads_each_request_as_a_new_one_would(
    requests: list[bytes],
) -> None:
    driver, used = _one_by_one(requests)
    assert driver.error is None
    assert not driver.closed
    assert len(driver.exchanges) == len(requests)
    expected = [_fresh(raw).outcome()[0] for raw in requests]
    assert driver.outcome() == expected
    assert used[0] is not None
    assert len({id(conn) for conn in used}) == 1, "one h11 connection for every request"


def test_a_pipelined_request_is_read_after_the_kept_one() -> None:
    driver = Driver(H11Connection(LIMITS))
    driver.feed(GET)
    driver.feed(CONTINUE + GET + POST)
    assert driver.error is None
    assert [exchange.request.method for exchange in driver.exchanges] == [
        "GET",
        "PUT",
        "GET",
        "POST",
    ]
    assert all(exchange.complete for exchange in driver.exchanges)


def test_an_upgrade_request_h11_waits_to_switch_on_is_not_kept() -> None:
    """h11 holds such a connection until the server accepts or declines the switch: the
    next request is read by a new one."""
    driver, used = _one_by_one([UPGRADE, GET])
    assert driver.error is None
    assert [exchange.request.target for exchange in driver.exchanges] == [b"/ws", b"/a?b=c"]
    assert used[0] is None
    assert used[1] is not None


def test_an_http_1_0_keep_alive_request_is_read_by_a_new_connection_each_time() -> None:
    """h11 ends an HTTP/1.0 connection after one request (it has no HTTP/1.0 keep-alive);
    the adapter keeps such a connection open itself, with a new h11 one per request."""
    requests = [KEEP_ALIVE_10, KEEP_ALIVE_10, GET]
    driver, used = _one_by_one(requests)
    assert driver.error is None
    assert driver.outcome() == [_fresh(raw).outcome()[0] for raw in requests]
    assert used[:2] == [None, None]  # nothing kept after them
    assert used[2] is not None  # (after the HTTP/1.1 one)


def test_a_connection_that_ends_keeps_nothing() -> None:
    driver, _ = _one_by_one([GET, CLOSE])
    conn = driver.conn
    assert isinstance(conn, H11Connection)
    assert driver.closed
    assert not conn.keep_alive


def test_a_kept_connection_still_refuses_a_bad_request() -> None:
    driver, used = _one_by_one([GET, b"GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n"])
    assert driver.error is not None
    assert driver.error.status == 400
    assert used[0] is used[1]
