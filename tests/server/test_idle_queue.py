"""The shared idle timer (:mod:`xloop.server.idle`) without sockets: which connection
expires when, stale entries, the move to the longer timeout, re-arming, and parking."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator

import pytest

from xloop.server.idle import PARKED, IdleQueue


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
        self.parked = 0

    def idle_park(self) -> None:
        self.parked += 1

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
    loop: asyncio.AbstractEventLoop,
    keep_alive: float = 5.0,
    header: float = 10.0,
    park_after: float = float("inf"),  # no parking, unless a test asks
) -> tuple[IdleQueue, Clock, list[str]]:
    clock = Clock()
    loop.time = lambda: clock.now  # type: ignore[method-assign]
    return IdleQueue(loop, (keep_alive, header), park_after), clock, []


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


def test_an_earlier_deadline_rearms_the_timer(loop: asyncio.AbstractEventLoop) -> None:
    # A pending head armed the timer for the longer timeout; a connection that goes idle
    # afterwards is due sooner, and the timer moves to it.
    queue, clock, expired = make(loop, keep_alive=5.0, header=60.0)
    a, b = (FakeConnection(name, expired, 5.0, 60.0) for name in "ab")
    idle(queue, a, clock)
    a.head_pending = True
    fire(queue, clock, 105.0)
    assert armed(queue) == 160.0
    clock.now = 106.0
    idle(queue, b, clock)
    assert armed(queue) == 111.0
    fire(queue, clock, 111.0)
    assert expired == ["b"]
    assert armed(queue) == 160.0


def test_an_idle_connection_parks_after_a_while_then_expires(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop, park_after=1.0)
    a, b = (FakeConnection(name, expired, 5.0, 10.0) for name in "ab")
    idle(queue, a, clock)
    assert armed(queue) == 101.0
    clock.now = 100.5
    idle(queue, b, clock)
    fire(queue, clock, 101.0)
    assert (a.parked, b.parked) == (1, 0)
    assert armed(queue) == 101.5
    fire(queue, clock, 101.5)
    assert (a.parked, b.parked) == (1, 1)
    assert len(queue) == 2
    assert armed(queue) == 105.0  # the keep-alive deadline counts from going idle
    fire(queue, clock, 105.0)
    assert expired == ["a"]
    fire(queue, clock, 105.5)
    assert expired == ["a", "b"]
    assert armed(queue) is None
    assert (a.parked, b.parked) == (1, 1)


def test_a_connection_busy_again_in_time_does_not_park(loop: asyncio.AbstractEventLoop) -> None:
    queue, clock, expired = make(loop, park_after=1.0)
    a = FakeConnection("a", expired, 5.0, 10.0)
    for step in range(5):  # a request every half second: never idle for a whole one
        clock.now = 100.0 + step / 2
        idle(queue, a, clock)
        if clock.now >= armed(queue):  # type: ignore[operator]
            fire(queue, clock, clock.now)
    assert a.parked == 0
    assert len(queue) == 1
    a.idle_since = None  # busy: its entry is stale
    fire(queue, clock, 103.0)
    assert a.parked == 0
    assert len(queue) == 0


def test_parked_then_busy_then_idle_again_keeps_the_deadlines_in_order(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop, park_after=1.0)
    a, b = (FakeConnection(name, expired, 5.0, 10.0) for name in "ab")
    idle(queue, a, clock)  # 100: parks at 101, due at 105
    fire(queue, clock, 101.0)
    clock.now = 101.5
    idle(queue, b, clock)  # parks at 102.5, due at 106.5
    a.idle_since = None  # a request at 102 ...
    clock.now = 102.0
    idle(queue, a, clock)  # ... answered at once: idle again, due at 107
    fire(queue, clock, 102.5)
    assert (a.parked, b.parked) == (1, 1)
    fire(queue, clock, 103.0)
    assert a.parked == 2
    assert len(queue) == 2  # a's entry of 100 is gone, not waiting in front of b
    assert armed(queue) == 106.5
    fire(queue, clock, 106.5)
    assert expired == ["b"]
    fire(queue, clock, 107.0)
    assert expired == ["b", "a"]


def test_no_parking_when_the_keep_alive_timeout_is_shorter(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop, keep_alive=0.5, header=10.0, park_after=1.0)
    a = FakeConnection("a", expired, 0.5, 10.0)
    idle(queue, a, clock)
    assert armed(queue) == 100.5
    fire(queue, clock, 100.5)
    assert expired == ["a"]
    assert a.parked == 0


def test_a_head_pending_again_keeps_the_longer_queue_in_order(
    loop: asyncio.AbstractEventLoop,
) -> None:
    queue, clock, expired = make(loop, keep_alive=5.0, header=60.0)
    a, b = (FakeConnection(name, expired, 5.0, 60.0) for name in "ab")
    idle(queue, a, clock)  # 100, part of a head: due at 160
    a.head_pending = True
    clock.now = 102.0
    idle(queue, b, clock)  # 102, part of a head: due at 162
    b.head_pending = True
    fire(queue, clock, 105.0)
    fire(queue, clock, 107.0)
    a.idle_since, a.head_pending = None, False  # a's head came: busy, answered ...
    clock.now = 109.0
    idle(queue, a, clock)  # ... idle again at 109, and part of a next head: due at 169
    a.head_pending = True
    fire(queue, clock, 114.0)
    assert armed(queue) == 162.0  # b's, not a's stale place in front of it
    fire(queue, clock, 162.0)
    assert expired == ["b"]
    fire(queue, clock, 169.0)
    assert expired == ["b", "a"]


def test_without_a_fresh_stage_it_parks_on_the_way_to_the_keep_alive_wait(
    loop: asyncio.AbstractEventLoop,
) -> None:
    # A request-header timeout under PARK_AFTER: no FRESH stage; the connection parks when
    # it moves on to wait for the longer keep-alive timeout.
    queue, clock, expired = make(loop, keep_alive=20.0, header=0.5, park_after=1.0)
    a = FakeConnection("a", expired, 20.0, 0.5)
    idle(queue, a, clock)
    assert armed(queue) == 100.5
    fire(queue, clock, 100.5)
    assert (a.parked, expired) == (1, [])
    assert armed(queue) == 120.0
    fire(queue, clock, 120.0)
    assert expired == ["a"]


def test_a_connection_that_raises_does_not_stop_the_timer(
    loop: asyncio.AbstractEventLoop,
) -> None:
    class Failing(FakeConnection):
        def idle_expired(self) -> None:
            raise RuntimeError("boom")

    queue, clock, expired = make(loop)
    a = Failing("a", expired, 5.0, 10.0)
    b = FakeConnection("b", expired, 5.0, 10.0)
    idle(queue, a, clock)
    clock.now = 102.0
    idle(queue, b, clock)
    with pytest.raises(RuntimeError):
        fire(queue, clock, 105.0)
    assert armed(queue) == 107.0  # b's deadline is still kept
    fire(queue, clock, 107.0)
    assert expired == ["b"]


def test_parked_holds_no_request_and_refuses_what_only_a_request_allows() -> None:
    from xloop.http import Request
    from xloop.http.response import DefaultHeaders

    assert (PARKED.keep_alive, PARKED.buffered, PARKED.head_pending, PARKED.reusable) == (
        True,
        0,
        False,
        True,
    )
    assert PARKED.receive_data(b"") == []  # the client's end: no events, then a close
    assert PARKED.start_next_cycle() == []
    PARKED.release()
    defaults = DefaultHeaders([])
    request = Request("GET", b"/", "1.1", [], keep_alive=True, expect_continue=False)
    refused: list[Callable[[], object]] = [
        lambda: PARKED.receive_data(b"GET"),
        PARKED.take_upgrade_data,
        lambda: PARKED.begin_response(request),
        PARKED.informational_continue,
        lambda: PARKED.response_head(200, [], defaults, 0, False),
        lambda: PARKED.response_whole(200, [], defaults, b"", False),
        lambda: PARKED.response_body(b"x"),
        PARKED.response_end,
        lambda: PARKED.error_response(400, defaults),
    ]
    for call in refused:
        with pytest.raises(RuntimeError):
            call()
