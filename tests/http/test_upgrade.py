"""Every adapter: the bytes behind an upgrade request's head, and whether a head is pending.

The server takes ``take_upgrade_data()`` as soon as the upgrade request comes out and hands
every later read to the WebSocket, so what it gets is that call's result followed by the
reads not yet fed. That must be exactly the bytes behind the head, however the reads fall.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xloop.http import END_OF_MESSAGE, Request

from ._support import LIMITS, requests_of, respond

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import Event, HTTPConnection

    Factory = Callable[[], HTTPConnection]

_UPGRADE = (
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)
_FRAMES = b"\x81\x85\x01\x02\x03\x04iguhn\x88\x80\x00\x00\x00\x00"
_CHUNKED = (
    b"POST /a HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"3;x=y\r\nabc\r\n0\r\nT: v\r\n\r\n"
)
_LENGTH = b"POST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc"


def _serve_until_upgrade(conn: HTTPConnection, pieces: list[bytes]) -> tuple[Request, bytes]:
    """Feed reads as a server would; at the upgrade, its data and the reads left."""
    current: Request | None = None
    for index, piece in enumerate(pieces):
        events: list[Event] = conn.receive_data(piece)
        while events:
            for event in events:
                if isinstance(event, Request):
                    if event.upgrade:
                        return event, conn.take_upgrade_data() + b"".join(pieces[index + 1 :])
                    current = event
            following: list[Event] = []
            if events[-1] is END_OF_MESSAGE:
                assert current is not None
                respond(conn, current)
                assert conn.keep_alive
                following = conn.start_next_cycle()
            events = following
    pytest.fail("no upgrade request came out")


@pytest.mark.parametrize(
    "before",
    [b"", _CHUNKED, _LENGTH, _CHUNKED + _LENGTH],
    ids=["alone", "chunked", "length", "both"],
)
def test_upgrade_data_at_every_split(conn_factory: Factory, before: bytes) -> None:
    raw = before + _UPGRADE + _FRAMES
    for cut in range(1, len(raw)):
        request, data = _serve_until_upgrade(conn_factory(), [raw[:cut], raw[cut:]])
        assert request.target == b"/ws", cut
        assert data == _FRAMES, f"cut at {cut}: {data!r}"


def test_upgrade_data_behind_a_large_body_in_one_read(conn_factory: Factory) -> None:
    """A read many times the head limit (httptools parses it in pieces): the upgrade's
    data is still exactly what follows its head, to the read's end."""
    body = b"u" * (3 * LIMITS.max_head)
    post = b"POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    frames = _FRAMES * (2 * LIMITS.max_head // len(_FRAMES))
    request, data = _serve_until_upgrade(conn_factory(), [post + _UPGRADE + frames])
    assert request.target == b"/ws"
    assert data == frames


def test_upgrade_data_empty_when_nothing_follows(conn_factory: Factory) -> None:
    request, data = _serve_until_upgrade(conn_factory(), [_UPGRADE])
    assert request.upgrade
    assert data == b""


@pytest.mark.parametrize("cut", [1, 20, len(_UPGRADE) - 1])
def test_head_pending_only_while_part_of_a_head_is_here(conn_factory: Factory, cut: int) -> None:
    conn = conn_factory()
    assert not conn.head_pending
    good = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"
    events = conn.receive_data(good)
    assert events[-1] is END_OF_MESSAGE
    respond(conn, requests_of(events)[0])
    assert conn.start_next_cycle() == []
    assert not conn.head_pending
    conn.receive_data(_UPGRADE[:cut])
    assert conn.head_pending
