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

Before FIRST, a connection waits ``PARK_AFTER`` (50 ms) in FRESH. Still idle then, and
with nothing of a next request, it parks: it gives its sans-IO HTTP connection (its parser:
about 1.3 KiB with httptools) back to the server (``ServerState.give_http``) and holds
:data:`PARKED` instead; its next bytes take one from the server again (a list pop), made
new only when none is spare. A connection in a busy keep-alive loop does not wait 50 ms
between requests, so this costs it nothing per request; one that does wait holds only its
socket, transport and protocol, as nginx's do. The wait is short because every parser
alive at once is one more in the allocator's pools: parked after a second, the parsers of
the last second's connections were freed behind the longer-lived objects allocated among
them, and the holes they left kept 0.6 KiB of RSS per idle connection (httptools on the
selector loop). FRESH is skipped when the shorter timeout is no longer than ``PARK_AFTER``:
a connection then parks when it moves to SECOND, or not at all.

A connection that goes idle again moves to the end of its queue with its new ``since``;
one that becomes busy stays where it is and is dropped when its turn comes (its
``idle_since`` no longer matches); a closed one leaves every queue at once (``discard``),
so the queues never keep a connection alive.
"""

from __future__ import annotations

import asyncio
from typing import Final, Protocol

from .parked import PARKED

__all__ = ["PARKED", "PARK_AFTER", "IdleConnection", "IdleQueue"]

#: Seconds idle, with nothing of a next request, before a connection parks.
PARK_AFTER: Final = 0.05


class IdleConnection(Protocol):
    """What the queue asks of a connection (:class:`~.connection.Connection`)."""

    @property
    def idle_since(self) -> float | None:
        """When the connection went idle (loop time); None while it is busy."""

    def idle_deadline(self, since: float) -> float:
        """When the idle period that began at ``since`` ends."""

    def idle_expired(self) -> None:
        """Its deadline has passed: close it (408 if part of a head came)."""

    def idle_park(self) -> None:
        """Idle for ``PARK_AFTER``: let go of its parser if it holds nothing of a request."""


class IdleQueue:
    """The idle connections of one server, and the one timer for their deadlines."""

    __slots__ = (
        "_enter",
        "_enter_after",
        "_first",
        "_fresh",
        "_long",
        "_loop",
        "_park",
        "_second",
        "_short",
        "_timer",
        "_timer_at",
    )

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        timeouts: tuple[float, float],
        park_after: float = PARK_AFTER,
    ) -> None:
        self._loop = loop
        self._short = min(timeouts)
        self._long = max(timeouts)
        self._fresh: dict[IdleConnection, float] = {}
        self._first: dict[IdleConnection, float] = {}
        self._second: dict[IdleConnection, float] = {}
        #: FRESH, when connections park before the shorter timeout; else FIRST.
        self._park = park_after < self._short
        self._enter, self._enter_after = (
            (self._fresh, park_after) if self._park else (self._first, self._short)
        )
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0

    def __len__(self) -> int:
        return len(self._fresh) + len(self._first) + len(self._second)

    def add(self, connection: IdleConnection, since: float) -> None:
        """``connection`` went idle at ``since`` (the loop's time now)."""
        queue = self._enter
        queue.pop(connection, None)  # idle again: to the end, in time order
        queue[connection] = since
        due = since + self._enter_after
        timer = self._timer
        if timer is None:
            self._arm(due)
        elif due < self._timer_at:  # armed for a later front (SECOND's, or FIRST's)
            timer.cancel()
            self._arm(due)

    def discard(self, connection: IdleConnection) -> None:
        """``connection`` is closed: forget it."""
        self._fresh.pop(connection, None)
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
        try:
            self._walk(self._loop.time())
        finally:  # whatever a connection's call raised, the timer serves the others again
            self._rearm()

    def _walk(self, now: float) -> None:
        first, second = self._first, self._second
        if self._park:
            for connection, since in _take_due(self._fresh, self._enter_after, now):
                connection.idle_park()
                first.pop(connection, None)  # a stale entry of an earlier idle period
                first[connection] = since  # (so FIRST stays in ``since`` order)
        expired: list[IdleConnection] = []
        for connection, since in _take_due(first, self._short, now):
            if connection.idle_deadline(since) <= now:
                expired.append(connection)
            else:  # the longer timeout applies to it
                if not self._park:  # (no FRESH stage: it parks here, if it can)
                    connection.idle_park()
                second.pop(connection, None)  # (a stale entry: as for FIRST above)
                second[connection] = since
        # Past the longer timeout too: over, whatever came of a head since.
        expired.extend(connection for connection, _ in _take_due(second, self._long, now))
        for connection in expired:
            connection.idle_expired()  # closes it, which discards it: after the walks

    def _rearm(self) -> None:
        first, second = self._first, self._second
        due: float | None = None
        for since in self._fresh.values():
            due = since + self._enter_after
            break
        for since in first.values():
            at = since + self._short
            due = at if due is None or at < due else due
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
