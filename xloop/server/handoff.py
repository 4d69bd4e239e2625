"""A listener served by a thread that accepts and hands each connection to the loop.

Why: on Windows a socket handle belongs to one I/O completion port. A listening socket
shared by several worker processes cannot be registered with each worker's proactor loop
(the second one fails, cpython#122240, WinError 87), and the selector loop that could share
it is capped by ``select()`` at 512 sockets. So each worker keeps its copy of the listener
out of its loop entirely: a thread waits on it and accepts, and each accepted socket (a new
socket, this process's own) joins the loop through ``loop.connect_accepted_socket``, on
whichever loop the user chose (proactor, winloop, selector, ...). On the selector loop the
thread stops accepting at ``select()``'s cap (:mod:`.capped`) and looks again each second.

The thread waits with ``select()`` on two sockets (the listener and a wake-up pair), never
in a blocking ``accept()``: closing the listener from another thread does not end a blocked
accept everywhere, and ``shutdown()`` would end it for every worker sharing the socket.
Several workers racing for one connection is fine: the listener is non-blocking, and the
loser's ``accept`` finds nothing and waits again.

:class:`AcceptThread` quacks like the :class:`asyncio.Server` that ``create_server`` returns
(``sockets``, ``close()``, ``wait_closed()``), so :class:`~xloop.server.server.Server` treats
both the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import select
import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

from ..logs import error_logger as logger
from .capped import SelectCap

__all__ = ["AcceptThread", "Listener"]


class Listener(Protocol):
    """What the server needs of a listener: :class:`asyncio.Server` or :class:`AcceptThread`
    (both also have ``sockets``)."""

    def close(self) -> None: ...

    async def wait_closed(self) -> None: ...


#: accept() failures that mean "out of descriptors or buffers for now": wait, then go on
#: (asyncio's own accept loop does the same, with the same delay).
ACCEPT_RESOURCE_ERRORS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
ACCEPT_RETRY_DELAY = 1.0


class AcceptThread:
    """Accept on ``sock`` in a thread; serve each connection with ``factory`` on ``loop``."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], asyncio.BaseProtocol],
        sock: socket.socket,
        options: dict[str, Any] | None = None,
        cap: SelectCap | None = None,
    ) -> None:
        self._loop = loop
        #: ``connect_accepted_socket``'s keyword arguments: TLS (``ssl=``, its timeout).
        self._options = options or {}
        self._factory = factory
        #: The loop's select() cap (the selector loop on Windows): the thread accepts no
        #: more while the sockets watched, and those handed over and not yet taken, fill it.
        self._cap = cap
        self._handed = 0  # counted by the thread
        self._taken = 0  # counted on the loop
        self._sock = sock
        self.sockets: tuple[socket.socket, ...] = (sock,)
        sock.setblocking(False)
        self._wake_read, self._wake_write = socket.socketpair()
        self._closing = False
        self._finished: asyncio.Future[None] = loop.create_future()
        self._adopting: set[asyncio.Task[Any]] = set()
        self.accepted = 0
        self.thread = threading.Thread(target=self._run, name="xloop-accept", daemon=True)
        self.thread.start()

    # -- the thread ----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._closing:
                readable, _, _ = select.select([self._sock, self._wake_read], [], [])
                if self._wake_read in readable:
                    break
                self._accept_ready()
        except OSError as exc:  # the listener itself failed: say so once
            if not self._closing:
                logger.error("accepting stopped: %s", exc)
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self._loop.call_soon_threadsafe(self._done)

    def _accept_ready(self) -> None:
        """Accept every connection queued now, then return to waiting."""
        while not self._closing:
            cap = self._cap
            if cap is not None and cap.at_cap(self._handed - self._taken) is not None:
                select.select([self._wake_read], [], [], ACCEPT_RETRY_DELAY)
                return
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return  # none left (or another worker took it)
            except ConnectionAbortedError:
                continue  # the client gave up while queued
            except OSError as exc:
                if exc.errno not in ACCEPT_RESOURCE_ERRORS:
                    raise
                logger.error("accept failed (%s): retrying in %.0f s", exc, ACCEPT_RETRY_DELAY)
                select.select([self._wake_read], [], [], ACCEPT_RETRY_DELAY)
                return
            self._handed += 1
            if cap is not None and cap.refusing:
                cap.accepted(cap.watched(self._handed - self._taken))
            try:
                self._loop.call_soon_threadsafe(self._adopt, conn)
            except RuntimeError:  # the loop closed under us
                conn.close()
                return

    # -- on the loop ---------------------------------------------------------------------

    def _adopt(self, conn: socket.socket) -> None:
        if self._closing:
            self._taken += 1
            conn.close()
            return
        self.accepted += 1
        task = self._loop.create_task(self._connect(conn))
        self._adopting.add(task)
        task.add_done_callback(self._adopting.discard)

    async def _connect(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(self._factory, conn, **self._options)
        except NotImplementedError:  # the loop cannot take a socket accepted elsewhere
            # (before RuntimeError, of which it is a subclass)
            conn.close()
            if not self._closing:
                logger.error(
                    "%s has no connect_accepted_socket: it cannot serve a listener shared "
                    "this way; use another --loop",
                    type(self._loop).__qualname__,
                )
                self.close()
        except (OSError, RuntimeError) as exc:  # the client left before the loop took it
            logger.debug("an accepted connection could not be served: %s", exc)
            conn.close()
        finally:
            self._taken += 1  # watched by the loop now, or closed

    def _done(self) -> None:
        if not self._finished.done():
            self._finished.set_result(None)

    # -- asyncio.Server's interface ------------------------------------------------------

    def close(self) -> None:
        """Stop accepting (connections already handed over go on)."""
        if self._closing:
            return
        self._closing = True
        with contextlib.suppress(OSError):
            self._wake_write.send(b"\0")

    def is_serving(self) -> bool:
        return not self._closing

    async def wait_closed(self) -> None:
        """Once the thread has ended: release the wake-up pair and this copy of the listener
        (the socket stays open in the processes that share it)."""
        await asyncio.shield(self._finished)
        self.thread.join(1.0)  # it has posted its last call: only its return is left
        for sock in (self._wake_read, self._wake_write, self._sock):
            sock.close()
