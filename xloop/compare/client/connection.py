"""The load client's connections: send a batch of requests, frame what comes back, count it,
send again. One ``data_received`` per read, the completion of a response inlined there."""

from __future__ import annotations

import asyncio
import os
import socket
import time
from time import perf_counter_ns
from typing import Protocol, cast

from ..histogram import LAST, LINEAR, SUB_BITS, Histogram
from .framing import CHUNKED, MAX_HEAD, UNTIL_CLOSE, Violation, parse_head


class Run(Protocol):
    """What a connection uses of the run it belongs to (:class:`.run.Run`)."""

    batch: bytes
    bytes_received: int
    rotate: bool
    connections: set[BaseConnection]
    counts: list[int]
    expect: int
    heads: dict[bytes, tuple[bytes, int, bool]]
    histogram: Histogram
    pipeline: int
    responses: int
    sending: bool
    statuses: dict[bytes, int]
    unanswered: int

    def error(self, kind: str, message: str = "") -> None: ...

    def pass_on(self, now: int) -> None: ...

    def handshake(self, key: bytes) -> bytes: ...

    def joined(self, connection: BaseConnection) -> None: ...

    def left(self, connection: BaseConnection, pending: int) -> None: ...


__all__ = [
    "BaseConnection",
    "ClientConnection",
    "EchoClientConnection",
    "describe_error",
    "set_nodelay",
]

_HEAD_CACHE_SIZE = 4096

# ClientConnection states
_HEAD = 0
_BODY = 1
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_CRLF = 4
_TRAILERS = 5
_UNTIL_CLOSE = 6

_SHIFT_BIAS = SUB_BITS + 1  # histogram bucket: shift = bit_length - _SHIFT_BIAS


def describe_error(exc: BaseException) -> str:
    """``[Errno 111] Connection refused``: the same text from every loop."""
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    return str(exc) or type(exc).__name__  # e.g. a resolver error (negative EAI_* codes)


def set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # pragma: no cover - not a TCP socket
            pass


class BaseConnection:
    """What both protocols share: the run, the batch in flight, the end of a connection."""

    __slots__ = (
        "close_after",
        "closing",
        "lost",
        "pending",
        "reads",
        "run",
        "seen_at",
        "seen_reads",
        "sent_at",
        "transport",
    )

    def __init__(self, run: Run) -> None:
        self.run = run
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] | None = None
        """Done when the connection is gone (:meth:`Run.connect` creates it)."""
        self.pending = 0
        """Responses still due for the batch in flight."""
        self.sent_at = 0
        """When the batch in flight was sent (perf_counter_ns)."""
        self.close_after = False
        """The server closes the connection after the response being read."""
        self.closing = False
        """We end this connection: an error or the end of the run, already accounted."""
        self.reads = 0
        """Reads so far: the progress :meth:`Run.watch` looks for."""
        self.seen_reads = 0
        self.seen_at = time.monotonic()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)
        set_nodelay(transport)
        run = self.run
        run.connections.add(self)
        if not run.sending:
            self.closing = True
            self.transport.close()
        elif run.rotate:
            run.joined(self)  # idle until a request rotates to it
        else:
            self.send(perf_counter_ns())

    def send(self, now: int) -> None:
        """Send the next batch (the connection is open and awaits nothing)."""
        self.pending = self.run.pipeline
        self.sent_at = now
        self.transport.write(self.run.batch)  # type: ignore[union-attr]

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.connections.discard(self)
        if run.rotate:
            run.left(self, self.pending)
        if self.pending:
            # the server closed, or the socket failed, with responses still due
            run.unanswered += self.pending
            if not self.closing:
                kind = "write" if isinstance(exc, BrokenPipeError) else "read"
                reason = "connection closed by the server" if exc is None else describe_error(exc)
                run.error(kind, reason)
            self.pending = 0
        lost = self.lost
        if lost is not None and not lost.done():
            lost.set_result(None)

    def fail(self, kind: str, message: str) -> None:
        """Count an error of ``kind`` and drop the connection (its slot reconnects)."""
        if self.closing:
            return
        run = self.run
        run.error(kind, message)
        self.closing = True
        run.unanswered += self.pending
        if run.rotate:
            run.left(self, self.pending)
        self.pending = 0
        if self.transport is not None:
            self.transport.abort()

    def end(self) -> None:
        """The run is over and nothing is due on this connection: end it (no error)."""
        if not self.closing:
            self._end()

    def _end(self) -> None:
        """The run is over and nothing is due: close (no error)."""
        self.pending = 0
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class ClientConnection(BaseConnection, asyncio.Protocol):
    """One keep-alive HTTP connection: send a batch, frame the responses, send again."""

    __slots__ = (
        "buf",
        "counts",
        "heads",
        "memo",
        "memo_status",
        "remaining",
        "state",
        "status",
        "statuses",
    )

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.counts = run.counts
        self.statuses = run.statuses
        self.heads = run.heads
        self.buf = b""
        """The start of a head (or chunk-size line, CRLF, trailers) not complete yet."""
        self.memo: bytes | None = None
        """A read that was exactly one whole response, and its status (the fast path)."""
        self.memo_status = b""
        self.state = _HEAD
        self.remaining = 0
        """Body or chunk bytes still to skip."""
        self.status = b""
        """The status of the response being read."""

    def eof_received(self) -> bool | None:
        if self.state == _UNTIL_CLOSE and self.pending and not self.closing:
            self.state = _HEAD
            self.close_after = True
            self._complete(0)
        return None  # close

    # -- responses ----------------------------------------------------------------

    def _complete(self, extra: int) -> bool:
        """One response is complete, ``extra`` bytes follow it in this read.

        Counts it and, when the batch is done, sends the next one. False when the
        connection ends here (the server said ``Connection: close``, or the run is over).
        """
        now = perf_counter_ns()
        latency = now - self.sent_at
        if latency < LINEAR:
            self.counts[latency] += 1
        else:
            shift = latency.bit_length() - _SHIFT_BIAS
            index = (shift << SUB_BITS) + (latency >> shift)
            self.counts[index if index < LAST else LAST] += 1
        run = self.run
        histogram = run.histogram
        if latency > histogram.max_ns:  # noqa: PLR1730 - cheaper than max()
            histogram.max_ns = latency
        statuses = self.statuses
        status = self.status
        statuses[status] = statuses.get(status, 0) + 1
        run.responses += 1
        pending = self.pending - 1
        if pending and not self.close_after:
            self.pending = pending
            return True
        return self._batch_done(now, pending, extra)

    def _batch_done(self, now: int, pending: int, extra: int) -> bool:
        """After the last response of a batch, or one that closes: go on, or end."""
        run = self.run
        transport = self.transport
        assert transport is not None
        self.state = _HEAD
        if self.close_after:
            # The server closes after this response: not an error. Its close (or EOF)
            # ends the connection and the slot reconnects; the server closing first
            # leaves TIME_WAIT on its side, so reconnecting often cannot use up the
            # client's ports. Run.watch drops the connection if the close never comes.
            run.unanswered += pending
            self.pending = 0
            self.closing = True
            return False
        if extra:
            raise Violation(f"{extra} bytes nobody asked for")
        if not run.sending:
            self._end()
            return False
        if run.rotate:  # c10k: the next request goes out on the next idle connection
            self.pending = 0
            run.pass_on(now)
            return True
        self.pending = run.pipeline
        self.sent_at = now
        transport.write(run.batch)
        return True

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        run = self.run
        n = len(data)
        run.bytes_received += n
        if self.closing:
            return
        if data == self.memo and self.state == _HEAD and not self.buf:
            # The same bytes as an earlier read that was exactly one whole response (a
            # server repeats itself byte for byte until its Date header changes): the
            # same response again, no need to frame it.
            self.status = self.memo_status
            self._complete(0)
            return
        if self.buf:
            data = self.buf + data
            self.buf = b""
            n = len(data)
        pos = 0
        state = self.state
        try:
            while pos < n:
                if state == _HEAD:
                    pending = self.pending
                    if not pending:
                        raise Violation(f"{n - pos} bytes nobody asked for")
                    end = data.find(b"\r\n\r\n", pos)
                    if end < 0:
                        if n - pos > MAX_HEAD:
                            raise Violation(f"no end of head in {n - pos} bytes")
                        self.buf = data[pos:]
                        break
                    head = data[pos:end]
                    heads = self.heads
                    info = heads.get(head)
                    if info is None:
                        info = parse_head(head)
                        if len(heads) >= _HEAD_CACHE_SIZE:
                            heads.clear()
                        heads[head] = info
                    status, length, close = info
                    start = pos
                    pos = end + 4
                    self.status = status
                    self.close_after = close
                    if length >= 0:
                        if n - pos < length:
                            self.remaining = length - (n - pos)
                            state = _BODY
                            break
                        pos += length
                        # the response is complete: _complete() inlined, the hot path
                        now = perf_counter_ns()
                        latency = now - self.sent_at
                        counts = self.counts
                        if latency < LINEAR:
                            counts[latency] += 1
                        else:
                            shift = latency.bit_length() - _SHIFT_BIAS
                            index = (shift << SUB_BITS) + (latency >> shift)
                            counts[index if index < LAST else LAST] += 1
                        histogram = run.histogram
                        if latency > histogram.max_ns:  # noqa: PLR1730
                            histogram.max_ns = latency
                        statuses = self.statuses
                        statuses[status] = statuses.get(status, 0) + 1
                        run.responses += 1
                        pending -= 1
                        if pending and not close:
                            self.pending = pending
                        else:
                            if not start and pos == n and not close:
                                self.memo = data  # this read was exactly this response
                                self.memo_status = status
                            if not self._batch_done(now, pending, n - pos):
                                return
                    elif length == CHUNKED:
                        state = _CHUNK_SIZE
                    elif length == UNTIL_CLOSE:
                        state = _UNTIL_CLOSE
                        pos = n
                    # INTERIM: the real head follows
                elif state == _BODY:
                    remaining = self.remaining
                    if n - pos < remaining:
                        self.remaining = remaining - (n - pos)
                        break
                    pos += remaining
                    state = _HEAD
                    if not self._complete(n - pos):
                        return
                elif state == _CHUNK_SIZE:
                    eol = data.find(b"\r\n", pos)
                    if eol < 0:
                        if n - pos > MAX_HEAD:
                            raise Violation("chunk-size line too long")
                        self.buf = data[pos:]
                        break
                    line = data[pos:eol].split(b";", 1)[0].strip(b" \t")
                    if not line or line.strip(b"0123456789abcdefABCDEF"):
                        raise Violation(f"bad chunk size {data[pos:eol][:40]!r}")
                    size = int(line, 16)
                    pos = eol + 2
                    if size:
                        self.remaining = size
                        state = _CHUNK_DATA
                    else:
                        state = _TRAILERS
                elif state == _CHUNK_DATA:
                    remaining = self.remaining
                    if n - pos < remaining:
                        self.remaining = remaining - (n - pos)
                        break
                    pos += remaining
                    state = _CHUNK_CRLF
                elif state == _CHUNK_CRLF:
                    if n - pos < 2:
                        self.buf = data[pos:]
                        break
                    if not data.startswith(b"\r\n", pos):
                        raise Violation(f"no CRLF after chunk data: {data[pos : pos + 20]!r}")
                    pos += 2
                    state = _CHUNK_SIZE
                elif state == _TRAILERS:
                    if data.startswith(b"\r\n", pos):
                        pos += 2
                    else:
                        end = data.find(b"\r\n\r\n", pos)
                        if n - pos < 2 or end < 0:
                            if n - pos > MAX_HEAD:
                                raise Violation("trailers too long")
                            self.buf = data[pos:]
                            break
                        pos = end + 4
                    state = _HEAD
                    if not self._complete(n - pos):
                        return
                else:  # _UNTIL_CLOSE: everything is body
                    pos = n
        except (Violation, ValueError) as exc:
            self.fail("protocol", f"malformed response: {exc}")
            return
        self.state = state


class EchoClientConnection(BaseConnection, asyncio.BufferedProtocol):
    """One raw TCP connection: send the message(s), wait for as many bytes back."""

    __slots__ = ("got", "view")

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.view = memoryview(bytearray(256 * 1024))
        self.got = 0

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view

    def buffer_updated(self, nbytes: int) -> None:
        self.reads += 1
        run = self.run
        run.bytes_received += nbytes
        got = self.got + nbytes
        expect = run.expect
        if got < expect:
            self.got = got
            return
        if self.closing:
            return
        if got > expect:
            self.fail("protocol", f"{got} bytes echoed for {expect} sent")
            return
        self.got = 0
        now = perf_counter_ns()
        latency = now - self.sent_at
        pending = self.pending
        if latency < LINEAR:
            run.counts[latency] += pending
        else:
            shift = latency.bit_length() - _SHIFT_BIAS
            index = (shift << SUB_BITS) + (latency >> shift)
            run.counts[index if index < LAST else LAST] += pending
        histogram = run.histogram
        if latency > histogram.max_ns:  # noqa: PLR1730 - cheaper than max()
            histogram.max_ns = latency
        run.responses += pending
        if run.sending:
            self.sent_at = now
            self.transport.write(run.batch)  # type: ignore[union-attr]
        else:
            self._end()

    def eof_received(self) -> bool | None:
        return None  # close
