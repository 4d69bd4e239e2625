"""One timer for every idle connection: the keep-alive and request-head deadlines.

Theory of operation
-------------------
A connection is idle from its start, or from the end of a response, until a request head
is complete. Its deadline is ``since + --timeout-keep-alive`` while nothing of a next head
has come, ``since + --timeout-request-header`` once part of one has. A timer handle per
idle connection would cost 200 to 600 bytes each (uvloop's handles carry a libuv timer),
which is most of what an idle keep-alive connection costs; here they share one.

Two queues, each in ``since`` order (a dict keeps insertion order, and entries go in at
the end in time order): FIRST holds every idle connection, due at ``since`` plus the
shorter timeout; an entry there that is not past its own deadline (the longer timeout
applies to it) moves to SECOND, due at ``since`` plus the longer one. The fronts are the
next due, so one timer, armed for the earlier front, serves both.

A connection that goes idle again moves to the end of FIRST with its new ``since``; one
that becomes busy stays where it is and is dropped when its turn comes (its ``idle_since``
no longer matches); a closed one leaves both queues at once (``discard``), so the queues
never keep a connection alive.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["IdleConnection", "IdleQueue"]


class IdleConnection(Protocol):
    """What the queue asks of a connection (:class:`~.connection.Connection`)."""

    @property
    def idle_since(self) -> float | None:
        """When the connection went idle (loop time); None while it is busy."""

    def idle_deadline(self, since: float) -> float:
        """When the idle period that began at ``since`` ends."""

    def idle_expired(self) -> None:
        """Its deadline has passed: close it (408 if part of a head came)."""


class IdleQueue:
    """The idle connections of one server, and the one timer for their deadlines."""

    __slots__ = ("_first", "_long", "_loop", "_second", "_short", "_timer", "_timer_at")

    def __init__(self, loop: asyncio.AbstractEventLoop, timeouts: tuple[float, float]) -> None:
        self._loop = loop
        self._short = min(timeouts)
        self._long = max(timeouts)
        self._first: dict[IdleConnection, float] = {}
        self._second: dict[IdleConnection, float] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        return len(self._first) + len(self._second)

    def add(self, connection: IdleConnection, since: float) -> None:
        """``connection`` went idle at ``since`` (the loop's time now)."""
        first = self._first
        if connection in first:
            del first[connection]  # idle again: to the end, in time order
        first[connection] = since
        if self._timer is None:
            self._arm(since + self._short)

    def discard(self, connection: IdleConnection) -> None:
        """``connection`` is closed: forget it."""
        self._first.pop(connection, None)
        self._second.pop(connection, None)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, when: float) -> None:
        self._timer_at = when
        self._timer = self._loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        now = self._loop.time()
        first, second = self._first, self._second
        expired: list[IdleConnection] = []
        for connection, since in _take_due(first, self._short, now):
            if connection.idle_deadline(since) <= now:
                expired.append(connection)
            else:  # the longer timeout applies to it
                second[connection] = since
        # Past the longer timeout too: over, whatever came of a head since.
        expired.extend(connection for connection, _ in _take_due(second, self._long, now))
        for connection in expired:
            connection.idle_expired()  # closes it, which discards it: after the walks
        due: float | None = None
        for since in first.values():
            due = since + self._short
            break
        for since in second.values():
            at = since + self._long
            due = at if due is None or at < due else due
            break
        if due is not None and self._timer is None:
            self._arm(due)


def _take_due(
    queue: dict[IdleConnection, float], offset: float, now: float
) -> list[tuple[IdleConnection, float]]:
    """Take the entries due by ``now`` (``since + offset``) off the front of ``queue``,
    leaving out the stale ones (busy since: their ``idle_since`` has changed)."""
    taken: list[tuple[IdleConnection, float]] = []
    for connection, since in queue.items():
        if since + offset > now:
            break
        taken.append((connection, since))
    for connection, _ in taken:
        del queue[connection]
    return [(connection, since) for connection, since in taken if connection.idle_since == since]
