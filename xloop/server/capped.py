"""Listening for a loop that drives ``select()``: stop accepting at its cap, not die at it.

``select()`` watches a bounded set. CPython builds it on Windows with ``FD_SETSIZE = 512``
sockets per set; elsewhere it takes only descriptors numbered below ``FD_SETSIZE = 1024``.
One socket past that and ``select()`` raises ValueError from inside the loop: the loop
stops, with every connection on it. The selector loop runs ``select()`` with ``--loop
selector`` on Windows (its default selector there) and with ``--selector select``
elsewhere.

asyncio's selector loop already knows how to stop accepting for a while: when ``accept()``
fails for want of descriptors (EMFILE), it stops watching the listening socket and tries
again a second later, while new clients wait in the listen backlog. :class:`CappedListener`
is a listening socket whose ``accept()`` fails that way at the cap:

- before accepting, when the sockets the selector watches, plus those accepted and not yet
  registered, would leave fewer than :data:`RESERVE` free (the app's own sockets, a TLS
  handshake in progress): the client waits in the backlog, and nothing is lost;
- after accepting, when the new descriptor's number is out of ``select()``'s range (POSIX:
  the process holds other descriptors, files or its own clients): that connection is closed
  unanswered, as there is no way to watch it.

A Windows worker that shares its listener through an accept thread
(:class:`~xloop.server.handoff.AcceptThread`) asks the same :class:`SelectCap` before each
accept. The server says so once per episode, a warning when it starts refusing and a line
when it accepts again (:func:`quiet_cap_errors` keeps asyncio's traceback for the EMFILE out
of the log), and serves every connection it already holds throughout.
"""

from __future__ import annotations

import asyncio
import errno
import os
import selectors
import socket
import weakref
from typing import Any

from .. import loops
from ..logs import error_logger as logger

__all__ = ["CappedListener", "SelectCap", "SelectCapReached", "quiet_cap_errors", "select_cap"]

#: ``select()``'s bound outside Windows: descriptors numbered below it (glibc, macOS, BSD).
POSIX_FD_SETSIZE = 1024
#: Sockets left free below the cap, for the app's own and for handshakes in flight.
RESERVE = 8


class SelectCapReached(OSError):
    """``accept()`` at the cap: an EMFILE, which asyncio answers by pausing the accepts."""

    def __init__(self, reason: str) -> None:
        super().__init__(errno.EMFILE, reason)


class SelectCap:
    """What one loop's ``select()`` can watch: at most ``sockets`` at once, and (POSIX)
    only descriptors numbered below ``below``; and whether its listeners are refusing now
    (one episode per loop, whichever listener met the cap)."""

    def __init__(self, selector: selectors.BaseSelector, sockets: int, below: int | None) -> None:
        self.selector = selector
        self.sockets = sockets
        self.below = below
        self.refusing = False

    def describe(self) -> str:
        if self.below is not None:
            return f"select() watches descriptors numbered below {self.below} only"
        return f"select() watches at most {self.sockets} sockets"

    def watched(self, in_flight: int) -> int:
        """The sockets the selector watches, and ``in_flight`` it will watch soon."""
        return len(self.selector.get_map()) + in_flight

    def full(self, in_flight: int) -> bool:
        """No room for one more socket besides those :meth:`watched` and the reserve."""
        return self.watched(in_flight) + RESERVE >= self.sockets

    def at_cap(self, in_flight: int) -> SelectCapReached | None:
        """When :meth:`full`: the error to fail an accept with (and the warning, once)."""
        if not self.full(in_flight):
            return None
        return self.refuse(f"{self.describe()}, and {self.watched(in_flight)} are watched")

    def refuse(self, reason: str) -> SelectCapReached:
        """The error to fail an accept with; the warning, once per episode."""
        if not self.refusing:
            self.refusing = True
            other = (
                "--loop proactor or winloop"
                if loops.IS_WINDOWS
                else "--loop uvloop, or --selector epoll/kqueue/poll"
            )
            logger.warning(
                "not accepting connections for now: %s (new clients wait in the listen "
                "backlog; the connections held are served); %s has no such cap",
                reason,
                other,
            )
        return SelectCapReached(reason)

    def accepted(self, watched: int) -> None:
        """A connection was accepted with ``watched`` sockets watched: the end of the
        episode is said once the load is well below the cap, not at each accept at its
        edge."""
        if self.refusing and watched + RESERVE <= self.sockets * 9 // 10:
            self.refusing = False
            logger.info("accepting connections again (%d sockets watched)", watched)


def select_cap(loop: asyncio.AbstractEventLoop) -> SelectCap | None:
    """The cap of ``loop`` if it is a selector loop driving ``select()``; else None (epoll,
    kqueue, poll, the proactor and the library loops have none)."""
    selector = getattr(loop, "_selector", None)
    if not isinstance(loop, asyncio.SelectorEventLoop) or not isinstance(
        selector, selectors.SelectSelector
    ):
        return None
    limit = loops.socket_limit(loop)  # Windows: a count of sockets
    if limit is not None:
        return SelectCap(selector, limit, None)
    return SelectCap(selector, POSIX_FD_SETSIZE, POSIX_FD_SETSIZE)


class CappedListener(socket.socket):
    """A listening socket (taken over from ``sock``) whose ``accept()`` fails with
    :class:`SelectCapReached` at ``cap``; see the module's docstring."""

    def __init__(self, sock: socket.socket, cap: SelectCap) -> None:
        super().__init__(sock.family, sock.type, sock.proto, fileno=sock.detach())
        self.cap = cap
        #: Accepted sockets the selector may not watch yet (registered a loop turn or two
        #: after their accept, and none within one burst of accepts), weakly: counted until
        #: they are watched, closed or gone. Pruned when near the cap, or when the list
        #: has doubled since the last pruning (so a burst costs linear time).
        self._in_flight: list[weakref.ref[socket.socket]] = []
        self._prune_at = 64

    def _prune(self) -> None:
        watching = set(self.cap.selector.get_map())  # the registered descriptors
        kept = []
        for ref in self._in_flight:
            sock = ref()
            if sock is not None and sock.fileno() != -1 and sock.fileno() not in watching:
                kept.append(ref)
        self._in_flight = kept
        self._prune_at = max(64, 2 * len(kept))

    def accept(self) -> tuple[socket.socket, Any]:
        cap = self.cap
        # Without a pruning, the count of those in flight is an upper bound: exact after.
        if len(self._in_flight) >= self._prune_at or cap.full(len(self._in_flight)):
            self._prune()
            refusal = cap.at_cap(len(self._in_flight))
            if refusal is not None:
                raise refusal
        fd, address = self._accept()  # type: ignore[attr-defined]
        if cap.below is not None and fd >= cap.below:
            os.close(fd)
            raise cap.refuse(
                f"{cap.describe()}, and a new connection got descriptor {fd}: it was closed"
            )
        sock = socket.socket(self.family, self.type, self.proto, fileno=fd)
        if socket.getdefaulttimeout() is None and self.gettimeout():
            sock.setblocking(True)  # as socket.accept() does
        self._in_flight.append(weakref.ref(sock))
        if cap.refusing:
            cap.accepted(cap.watched(len(self._in_flight)))
        return sock, address


def quiet_cap_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Keep asyncio's "accept() out of system resource" error, with its traceback, out of
    the log when the EMFILE is the cap's (already said once); every other error goes to
    the handler the loop had."""
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if isinstance(context.get("exception"), SelectCapReached):
            return
        # asyncio's retry of the accepts (a timer a second after the EMFILE) is not
        # cancelled when the server closes: run after it, it finds the socket closed.
        arguments = getattr(context.get("handle"), "_args", None) or ()
        if any(isinstance(a, CappedListener) and a.fileno() == -1 for a in arguments):
            logger.debug("a paused accept's retry came after its socket closed: ignored")
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
