"""xloop's own socket transport and listener for the asyncio selector loop.

On the stdlib selector loop (epoll, kqueue, poll; not a loop capped by ``select()``, and not
TLS) the server accepts and reads its connections itself: :class:`SelectorListener` accepts
on the listening sockets (``loop.add_reader``) and gives each connection a
:class:`SocketTransport`, whose read callback receives and hands the bytes to the protocol
in one call, and whose ``write`` sends at once when nothing waits. The loop still polls,
and runs the callbacks; what goes is the stdlib transport's Python around each read and
each write (compiled with the request path, this one is C). Everything else is the
transport contract the server's protocols use: write buffering with flow control
(``pause_writing`` above the high-water mark, ``resume_writing`` at the low one),
``pause_reading``/``resume_reading``, ``write_eof``, ``close`` (after the buffer is sent),
``abort``, ``set_protocol`` (a WebSocket upgrade), ``get_extra_info`` (``socket``,
``sockname``, ``peername``), ``connection_lost`` once, from the loop, as asyncio calls it.

Errors are asyncio's: a connection reset or any ``OSError`` on the socket ends the
connection quietly (``connection_lost(exc)``); an exception a protocol raises goes to the
loop's exception handler, and ends the connection.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any, Final

from ..logs import error_logger as logger
from .handoff import ACCEPT_RESOURCE_ERRORS, ACCEPT_RETRY_DELAY

__all__ = ["SelectorListener", "SocketTransport"]

#: Bytes read per ``recv``: a request head, or a body chunk, fits. Below glibc's 128 KiB
#: mmap threshold, so the buffer ``recv`` allocates and shrinks comes from the heap: a GET
#: costs no mmap, munmap and page faults for a 256 KiB buffer it does not fill.
READ_SIZE: Final = 65536
#: Bytes read per ``recv`` after a read filled READ_SIZE (a large body arriving, as
#: asyncio's own 256 KiB reads), until one reads less than READ_SIZE again: a quarter of the
#: reads and of the body messages for an upload (a 1 MiB POST took a quarter less server
#: CPU with h11, a tenth less with httptools; a GET the same).
LARGE_READ_SIZE: Final = 262144
#: The write buffer's default marks (asyncio's: 64 KiB, and a quarter of it).
HIGH_WATER: Final = 65536
_TCP: Final = frozenset({socket.AF_INET, socket.AF_INET6})


class SocketTransport(asyncio.Transport):
    """A connected, non-blocking stream socket on a selector loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        protocol: asyncio.BaseProtocol,
        peername: Any,
    ) -> None:
        super().__init__(None)
        self._loop = loop
        self._sock: socket.socket | None = sock
        self._fd = sock.fileno()
        self._protocol: Any = protocol  # (an asyncio.Protocol: data_received, eof_received)
        self._peername = peername
        #: Bytes a send could not take yet; None: nothing waits (the common case).
        self._buffer: bytearray | None = None
        self._high = HIGH_WATER
        self._low = HIGH_WATER // 4
        self._closing = False  # close() or abort() called, or the connection failed
        self._lost = False  # connection_lost scheduled
        self._eof = False  # write_eof() called
        self._reading = False  # the loop watches for reads
        self._read_paused = False
        self._write_paused = False  # the protocol was told pause_writing
        self._read_size = READ_SIZE

    # -- reading ------------------------------------------------------------------------------

    def start(self) -> None:
        """Tell the protocol, then read (the listener calls this once)."""
        self._protocol.connection_made(self)
        if not self._closing and not self._read_paused:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    def _read_ready(self) -> None:
        sock = self._sock
        if sock is None or self._closing:
            return
        try:
            data = sock.recv(self._read_size)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        if data:
            self._read_size = LARGE_READ_SIZE if len(data) >= READ_SIZE else READ_SIZE
            try:
                self._protocol.data_received(data)
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:
                self._fatal_error(exc, "Fatal error: protocol.data_received() call failed.")
            return
        self._stop_reading()  # EOF: the peer sends no more
        try:
            keep_open = self._protocol.eof_received()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Fatal error: protocol.eof_received() call failed.")
            return
        if not keep_open:
            self.close()

    def _stop_reading(self) -> None:
        if self._reading:
            self._reading = False
            self._loop.remove_reader(self._fd)

    def is_reading(self) -> bool:
        return not self._read_paused and not self._closing

    def pause_reading(self) -> None:
        if self._closing or self._read_paused:
            return
        self._read_paused = True
        self._stop_reading()

    def resume_reading(self) -> None:
        if self._closing or not self._read_paused:
            return
        self._read_paused = False
        if not self._reading:
            self._reading = True
            self._loop.add_reader(self._fd, self._read_ready)

    # -- writing ------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self._eof:
            raise RuntimeError("Cannot call write() after write_eof()")
        sock = self._sock
        if sock is None or self._lost or not data:
            return  # (asyncio drops a write to a lost connection too)
        buffer = self._buffer
        if buffer is None:
            try:
                sent = sock.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError as exc:
                self._force_close(exc)
                return
            if sent == len(data):
                return
            self._buffer = buffer = bytearray(memoryview(data)[sent:])
            self._loop.add_writer(self._fd, self._write_ready)
        else:
            buffer += data
        if not self._write_paused and len(buffer) > self._high:
            self._tell_writing(paused=True)

    def _write_ready(self) -> None:
        sock = self._sock
        buffer = self._buffer
        if sock is None or buffer is None:
            return
        try:
            sent = sock.send(buffer)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as exc:
            self._force_close(exc)
            return
        del buffer[:sent]
        if self._write_paused and len(buffer) <= self._low:
            self._tell_writing(paused=False)
        if buffer:
            return
        self._buffer = None
        self._loop.remove_writer(self._fd)
        if self._closing:
            self._lose(None)
        elif self._eof:
            self._shutdown_write()

    def _tell_writing(self, paused: bool) -> None:
        """Flow control: tell the protocol ``pause_writing`` or ``resume_writing``."""
        self._write_paused = paused
        name = "pause_writing" if paused else "resume_writing"
        try:
            getattr(self._protocol, name)()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            self._report(exc, f"protocol.{name}() failed")

    def get_write_buffer_size(self) -> int:
        buffer = self._buffer
        return 0 if buffer is None else len(buffer)

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return (self._low, self._high)

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        if high is None:
            high = HIGH_WATER if low is None else 4 * low
        if low is None:
            low = high // 4
        if not high >= low >= 0:
            raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
        self._high, self._low = high, low
        if self._protocol is None:  # lost: no one to tell
            return
        size = self.get_write_buffer_size()
        if not self._write_paused and size > high:
            self._tell_writing(paused=True)
        elif self._write_paused and size <= low:
            self._tell_writing(paused=False)

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        if self._closing or self._eof:
            return
        self._eof = True
        if self._buffer is None:
            self._shutdown_write()

    def _shutdown_write(self) -> None:
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError as exc:
                self._force_close(exc)

    # -- closing ------------------------------------------------------------------------------

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Stop reading; once the write buffer is sent, close (``connection_lost(None)``)."""
        if self._closing:
            return
        self._closing = True
        self._stop_reading()
        if self._buffer is None:
            self._lose(None)

    def abort(self) -> None:
        """Close now: what waits in the write buffer is dropped."""
        self._force_close(None)

    def _fatal_error(self, exc: BaseException, message: str) -> None:
        if not isinstance(exc, OSError):
            self._report(exc, message)
        self._force_close(exc)

    def _report(self, exc: BaseException, message: str) -> None:
        self._loop.call_exception_handler(
            {"message": message, "exception": exc, "transport": self, "protocol": self._protocol}
        )

    def _force_close(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        if self._buffer is not None:
            self._buffer = None
            self._loop.remove_writer(self._fd)
        self._closing = True
        self._stop_reading()
        self._lose(exc)

    def _lose(self, exc: BaseException | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._loop.call_soon(self._connection_lost, exc)

    def _connection_lost(self, exc: BaseException | None) -> None:
        try:
            self._protocol.connection_lost(exc)
        finally:
            sock = self._sock
            self._sock = None
            self._protocol = None  # (no cycle left with a protocol that keeps its transport)
            if sock is not None:
                sock.close()

    # -- the rest of the contract -------------------------------------------------------------

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        protocol: asyncio.BaseProtocol = self._protocol
        return protocol

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        sock = self._sock
        if name == "peername":
            return self._peername
        if name == "socket":
            return sock
        if name == "sockname":
            if sock is None:
                return default
            try:
                return sock.getsockname()
            except OSError:
                return default
        return default

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open"
        return f"<xloop SocketTransport fd={self._fd} {state}>"


class SelectorListener:
    """Accept on listening sockets through the loop's selector; serve each connection with
    ``factory`` over a :class:`SocketTransport`. Quacks like the :class:`asyncio.Server`
    that ``create_server`` returns, as far as the server uses one (``sockets``, ``close``,
    ``wait_closed``)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], asyncio.BaseProtocol],
        socks: list[socket.socket],
        backlog: int,
    ) -> None:
        self._loop = loop
        self._factory = factory
        self.sockets: list[socket.socket] = socks
        self._backlog = backlog
        self._closed = False
        self._retry: asyncio.TimerHandle | None = None
        for sock in socks:
            sock.setblocking(False)
        self._watch()

    def _watch(self) -> None:
        self._retry = None
        if not self._closed:
            for sock in self.sockets:
                self._loop.add_reader(sock.fileno(), self._accept, sock)

    def _accept(self, sock: socket.socket) -> None:
        for _ in range(self._backlog):  # (as asyncio: at most a backlog's worth per wake-up)
            try:
                conn, address = sock.accept()
            except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                return
            except OSError as exc:
                if exc.errno in ACCEPT_RESOURCE_ERRORS:
                    logger.error(
                        "accept() failed (%s): accepting again in %.0f s", exc, ACCEPT_RETRY_DELAY
                    )
                    for listening in self.sockets:
                        self._loop.remove_reader(listening.fileno())
                    self._retry = self._loop.call_later(ACCEPT_RETRY_DELAY, self._watch)
                else:
                    self._loop.call_exception_handler(
                        {"message": "accept() failed", "exception": exc, "socket": sock}
                    )
                return
            self._serve(conn, address)

    def _serve(self, conn: socket.socket, address: Any) -> None:
        try:
            conn.setblocking(False)
            if conn.family in _TCP:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = SocketTransport(self._loop, conn, self._factory(), address)
        except OSError:  # the peer is already gone
            conn.close()
            return
        try:
            transport.start()
        except (SystemExit, KeyboardInterrupt):
            raise
        except BaseException as exc:
            transport._fatal_error(exc, "Fatal error: protocol.connection_made() call failed.")

    def close(self) -> None:
        """Stop accepting and close the listening sockets; connections go on."""
        if self._closed:
            return
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for sock in self.sockets:
            if sock.fileno() != -1:
                self._loop.remove_reader(sock.fileno())
                sock.close()

    async def wait_closed(self) -> None:
        """Return at once: :meth:`close` has closed the sockets (the server itself waits
        for its connections)."""
