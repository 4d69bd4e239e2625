"""The write side of a client connection: writes now, writes gathered until the loop's turn
ends, and waiting for the transport to drain.

A streamed response (``more_body``) is written with :meth:`Output.write_soon`: its chunks
are *corked* (kept in ``corked``) and go out in one write once the callbacks of this loop
turn have run (``ServerState.flush``), or as soon as ``CORK_LIMIT`` bytes wait. An app that
sends its chunks one after another without waiting for anything else costs one system call
per response instead of one per chunk; an app that waits between chunks (server-sent events,
a slow producer) has each chunk written when it waits, as before. The send that waits for
the transport to drain sees what it saw before, at most ``CORK_LIMIT`` later.

Order is kept per connection: a write now (:meth:`Output.write`, a close, an error response,
an upgrade) first writes what is corked or deferred (``ServerState.deferred``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import TYPE_CHECKING, Any, Final, Protocol, cast

if TYPE_CHECKING:
    from .state import ServerState

__all__ = ["CORK_LIMIT", "Draining", "FutureWait", "Output", "drained"]

#: Bytes a connection keeps corked before writing them at once (the transports' default
#: high-water mark): flow control then sees them, and a large chunk is never copied.
CORK_LIMIT: Final = 65536


class Output:
    """Mixed into :class:`~xloop.server.connection.Connection`, which holds the state."""

    __slots__ = ("_corked_size", "corked", "drain_waiter")

    loop: asyncio.AbstractEventLoop
    state: ServerState
    transport: asyncio.Transport | None
    closed: bool
    write_paused: bool
    #: Bytes written with write_soon this loop turn, not yet written; None: none.
    corked: list[bytes] | None
    _corked_size: int
    drain_waiter: asyncio.Future[None] | None

    def writable(self) -> asyncio.Transport | None:
        """The transport while a write can still go out on it; None once it is closing or
        closed: aborted, closed, or reset by the peer before ``connection_lost`` is called.
        Every write checks this first: asyncio and uvloop drop a write to a closing
        transport, winloop raises in the writer (the app's ``send``, or a loop callback)."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return None
        return transport

    def write(self, data: bytes) -> bool:
        """Write to the transport; False (and nothing written) once it is closing or closed,
        e.g. after the peer reset it: a sender that never has to wait learns it here."""
        transport = self.writable()
        if transport is None:
            return False
        if self.state.deferred:  # (this connection's corked or deferred bytes go first)
            self.state.flush()
        transport.write(data)
        return True

    def write_soon(self, data: bytes) -> bool:
        """Write once this loop turn's callbacks have run, with whatever else this
        connection writes until then (see the module's docstring); False as :meth:`write`."""
        if self.writable() is None:
            return False
        corked = self.corked
        if corked is None:
            if len(data) >= CORK_LIMIT:
                return self.write(data)
            self.corked = [data]
            self._corked_size = len(data)
            state = self.state
            deferred = state.deferred
            if not deferred:
                self.loop.call_soon(state.flush)
            deferred.append((self, None))
        else:
            corked.append(data)
            self._corked_size += len(data)
            if self._corked_size >= CORK_LIMIT:
                self.state.flush()  # (in order: bytes deferred before these go first)
        return True

    def uncork(self) -> None:
        """Write what :meth:`write_soon` kept (``ServerState.flush`` calls this)."""
        corked = self.corked
        if corked is not None:
            self.corked = None
            transport = self.writable()  # (aborted or closed since they were corked?)
            if transport is not None:
                transport.write(corked[0] if len(corked) == 1 else b"".join(corked))

    async def drain(self) -> None:
        """Wait while the transport's write buffer is above its high-water mark."""
        await drained(self)


class Draining(Protocol):
    """A connection whose ``send`` waits for its transport to drain."""

    loop: asyncio.AbstractEventLoop
    closed: bool
    write_paused: bool
    #: Set by the connection's ``resume_writing`` (and ``connection_lost``).
    drain_waiter: asyncio.Future[None] | None


async def drained(owner: Draining) -> None:
    """Return once ``owner``'s transport is below its high-water mark, or closed."""
    while owner.write_paused and not owner.closed:
        waiter = owner.drain_waiter = owner.loop.create_future()
        try:
            await FutureWait(waiter)
        finally:
            owner.drain_waiter = None


class FutureWait:
    """``await FutureWait(future)``: ``await future`` for the compiled build's coroutines.

    An exception thrown into a coroutine mypyc compiled (a task's cancellation) is passed on
    to what it awaits as ``throw(type, value, traceback)``, a form CPython 3.12 deprecated
    for futures and coroutines: a ``DeprecationWarning``, which under ``-W error`` (an app's
    test run) is raised instead of the cancellation, so the waiting code never sees it. This
    iterator takes either form and raises the exception where the coroutine waits, as
    ``Future.__await__``'s does; otherwise it is that iterator: it yields the pending future
    to the task (blocking), and returns the done future's result.
    """

    def __init__(self, future: asyncio.Future[Any]) -> None:
        self._future = future

    def __await__(self) -> Generator[Any, None, Any]:
        return cast("Generator[Any, None, Any]", self)  # (it implements that protocol)

    def __next__(self) -> asyncio.Future[Any]:
        future = self._future
        if not future.done():
            future._asyncio_future_blocking = True
            return future
        raise StopIteration(future.result())

    def send(self, value: object) -> asyncio.Future[Any]:
        return self.__next__()

    def throw(self, kind: Any, value: Any = None, traceback: Any = None) -> Any:
        if value is None:
            value = kind() if isinstance(kind, type) else kind
        raise value

    def close(self) -> None:
        pass
