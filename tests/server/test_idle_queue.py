"""The shared idle timer (:mod:`xloop.server.idle`) without sockets: which connection
expires when, stale entries, the move to the longer timeout, and re-arming."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from xloop.server.idle import IdleQueue


class Clock:
    def __init__(self) -> None:
        self.now = 100.0


class FakeConnection:
    def __init__(self, name: str, expired: list[str], keep_alive: float, header: float) -> None:
        self.name = name
        self.idle_since: float | None = None
        self.head_pending = False
        self._expired = expired
        self._keep_alive = keep_alive
        self._header = header

    def idle_deadline(self, since: float) -> float:
        return since + (self._header if self.head_pending else self._keep_alive)

    def idle_expired(self) -> None:
        self._expired.append(self.name)


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


def make(
    loop: asyncio.AbstractEventLoop, keep_alive: float = 5.0, header: float = 10.0
) -> tuple[IdleQueue, Clock, list[str]]:
    clock = Clock()
    loop.time = lambda: clock.now  # type: ignore[method-assign]
    return IdleQueue(loop, (keep_alive, header)), clock, []


def idle(queue: IdleQueue, connection: FakeConnection, clock: Clock) -> None:
    connection.idle_since = clock.now
    queue.add(connection, clock.now)


def armed(queue: IdleQueue) -> float | None:
    """When the queue's timer fires next, or None."""
    return None if queue._timer is None else queue._timer_at


def fire(queue: IdleQueue, clock: Clock, at: float) -> None:
    clock.now = at
    queue._on_timer()


def test_expires_in_order_and_rearms_for_the_next(loop: asyncio.AbstractEventLoop) -> None:
    queue, clock, expired = make(loop)
    a, b = (FakeConnection(name, expired, 5.0, 10.0) for name in "ab")
    idle(queue, a, clock)
    assert armed(queue) == 105.0
    clock.now = 102.0
    idle(queue, b, clock)
    fire(queue, clock, 105.0)
    assert expired == ["a"]
    assert armed(queue) == 107.0
    fire(queue, clock, 107.0)
    assert expired == ["a", "b"]
    assert armed(queue) is None
    assert len(queue) == 0  # taken off as they expire


def test_a_busy_connection_is_dropped_and_an_idle_again_one_moves_back(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop)
    a, b = (FakeConnection(name, expired, 5.0, 10.0) for name in "ab")
    idle(queue, a, clock)
    idle(queue, b, clock)
    b.idle_since = None  # a request came: busy, its entry left where it is
    clock.now = 103.0
    idle(queue, a, clock)  # a served a request and is idle again, from 103
    fire(queue, clock, 105.0)
    assert expired == []
    assert len(queue) == 1
    assert armed(queue) == 108.0
    fire(queue, clock, 108.0)
    assert expired == ["a"]


def test_a_pending_head_waits_for_the_longer_timeout(loop: asyncio.AbstractEventLoop) -> None:
    queue, clock, expired = make(loop, keep_alive=5.0, header=10.0)
    a = FakeConnection("a", expired, 5.0, 10.0)
    idle(queue, a, clock)
    a.head_pending = True
    fire(queue, clock, 105.0)
    assert expired == []
    assert armed(queue) == 110.0
    fire(queue, clock, 110.0)
    assert expired == ["a"]


def test_no_pending_head_waits_for_keep_alive_when_it_is_longer(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop, keep_alive=20.0, header=10.0)
    a, b = (FakeConnection(name, expired, 20.0, 10.0) for name in "ab")
    idle(queue, a, clock)
    idle(queue, b, clock)
    b.head_pending = True
    fire(queue, clock, 110.0)
    assert expired == ["b"]
    assert armed(queue) == 120.0
    fire(queue, clock, 120.0)
    assert expired == ["b", "a"]


def test_discard_forgets_and_close_cancels(loop: asyncio.AbstractEventLoop) -> None:
    queue, clock, expired = make(loop)
    a = FakeConnection("a", expired, 5.0, 10.0)
    idle(queue, a, clock)
    a.head_pending = True
    fire(queue, clock, 105.0)  # moved to the second queue
    queue.discard(a)
    assert len(queue) == 0
    queue.close()
    assert armed(queue) is None
    fire(queue, clock, 200.0)
    assert expired == []
