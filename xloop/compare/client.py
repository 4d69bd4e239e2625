"""The built-in load client of ``xloop compare``: ``python -m xloop.compare.client``.

::

    python -m xloop.compare.client --host H --port P --workload NAME [--path TARGET]
        --connections N --duration S --warmup S [--pipeline K] [--server-pid PID]
        [--loop auto] [--timeout SECONDS]

It opens N keep-alive connections and keeps each one busy: it sends the workload's
request (its bytes built once; ``--pipeline K`` sends K of them in one write), waits for
the response(s), sends again. After ``--warmup`` seconds it measures ``--duration``
seconds, then stops sending and lets the responses still due arrive (bounded by
``--timeout``) so that ``responses_total`` is every response the server sent. It prints
one JSON object on stdout (exit 0), or one line ``xloop compare client: error: ...`` on
stderr (exit 1) when it could not measure at all.

Responses are framed without an HTTP parser (:class:`HttpProtocol`): the head ends at
``\\r\\n\\r\\n``, the status is bytes 9..12, the body is skipped by ``Content-Length`` or by
walking the chunk sizes of ``Transfer-Encoding: chunked``. What a head means is cached by
its bytes, since a server sends the same head again and again (only ``date`` changes,
once a second). ``echo`` (kind ``tcp``) sends the message and waits for as many bytes.

The hot path is one ``data_received`` per read with the completion of a response inlined
(histogram bucket, status count, next write): the client must stay far from being the
bottleneck of what it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import socket
import sys
import time
from collections.abc import Sequence
from time import perf_counter_ns
from typing import Any, NoReturn, cast

from xloop.compare import workloads
from xloop.compare.histogram import LAST, LINEAR, SUB_BITS, Histogram

__all__ = [
    "ERROR_KINDS",
    "ClientError",
    "EchoProtocol",
    "HttpProtocol",
    "Run",
    "main",
    "measure",
    "parse_head",
]

ERROR_KINDS = ("connect", "read", "write", "timeout", "protocol")
PROG = "xloop compare client"

# what a head says about the body that follows (parse_head's second item)
CHUNKED = -1
"""``Transfer-Encoding: chunked``: walk the chunks."""
UNTIL_CLOSE = -2
"""Neither length nor chunked: the body ends when the server closes the connection."""
INTERIM = -3
"""A 1xx head: no body, the real response follows."""

MAX_HEAD = 64 * 1024
"""A head (or a chunk-size line, or trailers) longer than this is a protocol error."""
_HEAD_CACHE_SIZE = 4096

# HttpProtocol states
_HEAD = 0
_BODY = 1
_CHUNK_SIZE = 2
_CHUNK_DATA = 3
_CHUNK_CRLF = 4
_TRAILERS = 5
_UNTIL_CLOSE = 6

_SHIFT_BIAS = SUB_BITS + 1  # histogram bucket: shift = bit_length - _SHIFT_BIAS


class ClientError(Exception):
    """Nothing could be measured; the message is the one line printed."""


class _Violation(Exception):
    """Response bytes that are not what the framing expects."""


def _header_values(lower_head: bytes, name: bytes) -> list[bytes]:
    """Every value of the header ``name`` (lowercase) in a lowercased head."""
    values = []
    key = b"\r\n" + name + b":"
    start = lower_head.find(key)
    while start >= 0:
        begin = start + len(key)
        end = lower_head.find(b"\r\n", begin)
        if end < 0:
            end = len(lower_head)
        values.append(lower_head[begin:end].strip(b" \t"))
        start = lower_head.find(key, end)
    return values


def parse_head(head: bytes) -> tuple[bytes, int, bool]:
    """What a response head (without its final ``\\r\\n\\r\\n``) says.

    Returns ``(status, body, close)``: the three status digits, the body length or
    :data:`CHUNKED`, :data:`UNTIL_CLOSE` or :data:`INTERIM`, and whether the server
    closes the connection after this response. ValueError if it is not a response head.
    """
    if (
        len(head) < 12
        or not head.startswith(b"HTTP/1.")
        or head[8:9] != b" "
        or head[12:13] not in (b" ", b"\r", b"")
    ):
        raise ValueError(f"not an HTTP/1.x status line: {head[:40]!r}")
    status = head[9:12]
    if not status.isdigit():
        raise ValueError(f"bad status {status!r}")
    code = int(status)
    lower = head.lower()
    connection = b",".join(_header_values(lower, b"connection"))
    # HTTP/1.0 closes unless it says keep-alive; HTTP/1.1 keeps alive unless it says close
    close = b"keep-alive" not in connection if head[7:8] == b"0" else b"close" in connection
    if code < 200:
        if code == 101 or code < 100:
            raise ValueError(f"unexpected status {code}")
        return status, INTERIM, False
    if code in (204, 304):
        return status, 0, close
    encodings = _header_values(lower, b"transfer-encoding")
    if encodings:
        last = b",".join(encodings).rsplit(b",", 1)[-1].strip(b" \t")
        if last == b"chunked":
            return status, CHUNKED, close
        return status, UNTIL_CLOSE, True
    lengths = _header_values(lower, b"content-length")
    if lengths:
        values = {value.strip(b" \t") for item in lengths for value in item.split(b",")}
        if len(values) != 1:
            raise ValueError(f"conflicting Content-Length {lengths!r}")
        text = values.pop()
        if not text.isdigit():
            raise ValueError(f"bad Content-Length {text!r}")
        return status, int(text), close
    return status, UNTIL_CLOSE, True


class Run:
    """What every connection of one run shares: the request, the switches, the counters.

    The counters only grow; the measured window is the difference of two
    :meth:`snapshot` calls.
    """

    def __init__(
        self,
        host: str,
        port: int,
        request: bytes,
        *,
        pipeline: int = 1,
        timeout: float = 10.0,
        tcp: bool = False,
    ) -> None:
        self.host = host
        self.port = port
        self.request = request
        self.pipeline = pipeline
        self.batch = request * pipeline
        """What one write sends: ``pipeline`` requests."""
        self.expect = len(self.batch)
        """echo: the bytes that answer a batch."""
        self.timeout = timeout
        self.tcp = tcp
        self.sending = True
        """False once the window is over: connections finish what they await and close."""
        self.responses = 0
        self.bytes_received = 0
        self.reconnects = 0
        """Connections made again after one ended while the run was sending."""
        self.unanswered = 0
        """Requests sent whose responses never came (a connection ended first)."""
        self.statuses: dict[bytes, int] = {}
        self.errors: dict[str, int] = dict.fromkeys(ERROR_KINDS, 0)
        self.histogram = Histogram()
        self.counts = self.histogram.counts
        self.heads: dict[bytes, tuple[bytes, int, bool]] = {}
        self.connections: set[_Connection] = set()
        self.last_error = ""

    def error(self, kind: str, message: str = "") -> None:
        self.errors[kind] += 1
        if message:
            self.last_error = message

    def new_protocol(self) -> HttpProtocol | EchoProtocol:
        return EchoProtocol(self) if self.tcp else HttpProtocol(self)

    async def connect(self) -> HttpProtocol | EchoProtocol:
        """One new connection (sending at once if the run is); OSError/ClientError if not."""
        loop = asyncio.get_running_loop()
        protocol = self.new_protocol()
        protocol.lost = loop.create_future()
        try:
            await asyncio.wait_for(
                loop.create_connection(lambda: protocol, self.host, self.port),
                self.timeout,
            )
        except asyncio.TimeoutError:
            raise ClientError(f"timed out after {self.timeout:g} s") from None
        return protocol

    async def slot(self, protocol: _Connection | None) -> None:
        """Keep one connection going while the run is sending; return when it is over."""
        backoff = 0.001
        while True:
            if protocol is not None:
                assert protocol.lost is not None
                await protocol.lost
                if not self.sending:
                    return
                self.reconnects += 1
            else:
                await asyncio.sleep(backoff)  # a retry delay after a failed connect
                backoff = min(backoff * 2, 0.25)
                if not self.sending:
                    return
            try:
                protocol = await self.connect()
                backoff = 0.001
            except (OSError, ClientError) as exc:
                self.error("connect", _describe(exc))
                protocol = None

    async def watch(self) -> None:
        """Fail every connection that awaits a response and got no byte for ``timeout``."""
        tick = min(1.0, self.timeout / 4)
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for protocol in list(self.connections):
                if protocol.reads != protocol.seen_reads or not (
                    protocol.pending or protocol.close_after
                ):
                    protocol.seen_reads = protocol.reads
                    protocol.seen_at = now
                elif now - protocol.seen_at >= self.timeout:
                    if protocol.pending:
                        protocol.fail("timeout", f"no response for {self.timeout:g} s")
                    elif protocol.transport is not None:
                        protocol.transport.abort()  # "Connection: close", then no close

    def snapshot(self) -> dict[str, Any]:
        return {
            "responses": self.responses,
            "bytes": self.bytes_received,
            "reconnects": self.reconnects,
            "statuses": dict(self.statuses),
            "errors": dict(self.errors),
            "histogram": self.histogram.copy(),
        }


def _describe(exc: BaseException) -> str:
    """``[Errno 111] Connection refused``: the same text from every loop."""
    if isinstance(exc, OSError) and isinstance(exc.errno, int) and exc.errno > 0:
        return f"[Errno {exc.errno}] {os.strerror(exc.errno)}"
    return str(exc) or type(exc).__name__  # e.g. a resolver error (negative EAI_* codes)


def _set_nodelay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except (OSError, AttributeError):  # pragma: no cover - not a TCP socket
            pass


class _Connection:
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
        _set_nodelay(transport)
        run = self.run
        run.connections.add(self)
        if run.sending:
            self.pending = run.pipeline
            self.sent_at = perf_counter_ns()
            self.transport.write(run.batch)
        else:
            self.closing = True
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        run = self.run
        run.connections.discard(self)
        if self.pending:
            # the server closed, or the socket failed, with responses still due
            run.unanswered += self.pending
            if not self.closing:
                kind = "write" if isinstance(exc, BrokenPipeError) else "read"
                reason = _describe(exc) if exc is not None else "connection closed by the server"
                run.error(kind, reason)
            self.pending = 0
        lost = self.lost
        if lost is not None and not lost.done():
            lost.set_result(None)

    def fail(self, kind: str, message: str) -> None:
        """Count an error of ``kind`` and drop the connection (its slot reconnects)."""
        if self.closing:
            return
        self.run.error(kind, message)
        self.closing = True
        self.run.unanswered += self.pending
        self.pending = 0
        if self.transport is not None:
            self.transport.abort()

    def _end(self) -> None:
        """The run is over and nothing is due: close (no error)."""
        self.pending = 0
        self.closing = True
        if self.transport is not None:
            self.transport.close()


class HttpProtocol(_Connection, asyncio.Protocol):
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
            raise _Violation(f"{extra} bytes nobody asked for")
        if run.sending:
            self.pending = run.pipeline
            self.sent_at = now
            transport.write(run.batch)
            return True
        self._end()
        return False

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
                        raise _Violation(f"{n - pos} bytes nobody asked for")
                    end = data.find(b"\r\n\r\n", pos)
                    if end < 0:
                        if n - pos > MAX_HEAD:
                            raise _Violation(f"no end of head in {n - pos} bytes")
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
                            raise _Violation("chunk-size line too long")
                        self.buf = data[pos:]
                        break
                    line = data[pos:eol].split(b";", 1)[0].strip(b" \t")
                    if not line or line.strip(b"0123456789abcdefABCDEF"):
                        raise _Violation(f"bad chunk size {data[pos:eol][:40]!r}")
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
                        raise _Violation(f"no CRLF after chunk data: {data[pos : pos + 20]!r}")
                    pos += 2
                    state = _CHUNK_SIZE
                elif state == _TRAILERS:
                    if data.startswith(b"\r\n", pos):
                        pos += 2
                    else:
                        end = data.find(b"\r\n\r\n", pos)
                        if n - pos < 2 or end < 0:
                            if n - pos > MAX_HEAD:
                                raise _Violation("trailers too long")
                            self.buf = data[pos:]
                            break
                        pos = end + 4
                    state = _HEAD
                    if not self._complete(n - pos):
                        return
                else:  # _UNTIL_CLOSE: everything is body
                    pos = n
        except (_Violation, ValueError) as exc:
            self.fail("protocol", f"malformed response: {exc}")
            return
        self.state = state


class EchoProtocol(_Connection, asyncio.BufferedProtocol):
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


# -- one measurement ------------------------------------------------------------------


def _server_cpu(pid: int | None) -> dict[int, float] | None:
    """CPU seconds (user + system) so far of process ``pid`` and of each process under it
    (the workers of a server that forks them), by pid; None if unknown."""
    if pid is None:
        return None
    try:
        import psutil

        process = psutil.Process(pid)
        times = {pid: process.cpu_times()}
        for child in process.children(recursive=True):
            try:
                times[child.pid] = child.cpu_times()
            except psutil.Error:  # gone meanwhile
                pass
    except Exception:  # psutil missing, no such process, no permission: unknown
        return None
    return {key: float(value.user + value.system) for key, value in times.items()}


def _cpu_between(start: dict[int, float] | None, end: dict[int, float] | None) -> float | None:
    """The CPU seconds the processes of ``end`` used since ``start``."""
    if start is None or end is None:
        return None
    return sum(seconds - start.get(pid, 0.0) for pid, seconds in end.items())


def _window(
    start: dict[str, Any], end: dict[str, Any], max_ns: int
) -> tuple[int, dict[str, int], dict[str, int], Histogram, int, int]:
    statuses = {
        status.decode("ascii"): n - start["statuses"].get(status, 0)
        for status, n in sorted(end["statuses"].items())
        if n - start["statuses"].get(status, 0)
    }
    errors = {kind: end["errors"][kind] - start["errors"][kind] for kind in ERROR_KINDS}
    histogram = end["histogram"].since(start["histogram"], max_ns)
    return (
        end["responses"] - start["responses"],
        statuses,
        errors,
        histogram,
        end["bytes"] - start["bytes"],
        end["reconnects"] - start["reconnects"],
    )


async def measure(
    host: str,
    port: int,
    request: bytes,
    *,
    connections: int,
    duration: float,
    warmup: float,
    pipeline: int = 1,
    timeout: float = 10.0,
    tcp: bool = False,
    server_pid: int | None = None,
    start_at: float | None = None,
) -> dict[str, Any]:
    """One run against ``host:port``; the result object. ClientError if no connection.

    ``start_at`` (a ``time.time()``): begin the measured window then, not ``warmup``
    seconds after connecting, so that several client processes measure the same window.
    """
    loop = asyncio.get_running_loop()
    run = Run(host, port, request, pipeline=pipeline, timeout=timeout, tcp=tcp)

    def unexpected(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # An exception in a protocol callback: the loop drops that connection (counted
        # as a read error) and calls this. Keep the reason, not a traceback on stderr.
        exc = context.get("exception")
        run.last_error = f"{type(exc).__name__}: {exc}" if exc else str(context.get("message"))

    loop.set_exception_handler(unexpected)
    first = await asyncio.gather(
        *(run.connect() for _ in range(connections)), return_exceptions=True
    )
    failures = [item for item in first if isinstance(item, BaseException)]
    for failure in failures:
        if not isinstance(failure, (OSError, ClientError)):
            raise failure
        run.error("connect", _describe(failure))
    if len(failures) == connections:
        raise ClientError(f"cannot connect to {_authority(host, port)}: {run.last_error}")
    watcher = loop.create_task(run.watch())
    slots = [
        loop.create_task(run.slot(None if isinstance(item, BaseException) else item))
        for item in first
    ]
    gc.collect()
    gc.disable()  # the hot path makes no cycles; no collector pauses in the window
    try:
        if start_at is not None:
            warmup = max(0.0, start_at - time.time())
        if warmup > 0:
            await asyncio.sleep(warmup)
        server_start = _server_cpu(server_pid)
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        start = run.snapshot()
        run.histogram.max_ns = 0
        await asyncio.sleep(duration)
        end = run.snapshot()
        window_max = run.histogram.max_ns
        wall_end = time.perf_counter()
        cpu_end = time.process_time()
        server_end = _server_cpu(server_pid)
        run.sending = False
        # let the responses still due arrive, so responses_total is exact
        _, late = await asyncio.wait(slots, timeout=timeout)
        for protocol in list(run.connections):
            protocol.fail("timeout", "no response at the end of the run")
        if late:
            await asyncio.wait(late, timeout=1.0)
    finally:
        gc.enable()
        watcher.cancel()
        for task in slots:
            task.cancel()
        await asyncio.gather(watcher, *slots, return_exceptions=True)

    elapsed = wall_end - wall_start
    requests, statuses, errors, histogram, received, reconnects = _window(start, end, window_max)
    cpu = cpu_end - cpu_start
    non_2xx = sum(n for status, n in statuses.items() if not status.startswith("2"))
    return {
        "requests": requests,
        "warmup_requests": start["responses"],
        "responses_total": run.responses,
        "elapsed_s": elapsed,
        "requests_per_second": requests / elapsed if elapsed > 0 else 0.0,
        "latency": {
            "p50_ms": histogram.percentile(50),
            "p90_ms": histogram.percentile(90),
            "p99_ms": histogram.percentile(99),
            "max_ms": histogram.max,
            "count": histogram.count,
            "histogram": histogram.to_dict(),
        },
        "errors": errors,
        "non_2xx": non_2xx,
        "statuses": statuses,
        "client_cpu_s": cpu,
        "client_cpu_percent": 100.0 * cpu / elapsed if elapsed > 0 else 0.0,
        "client_loop": f"{type(loop).__module__}.{type(loop).__qualname__}",
        "server_cpu_s": _cpu_between(server_start, server_end),
        "bytes_received": received,
        "reconnects": reconnects,
        "unanswered": run.unanswered,
        "last_error": run.last_error or None,
    }


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


# -- command line -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        _fail(message)


def _fail(message: str) -> NoReturn:
    sys.stderr.write(f"{PROG}: error: {message}\n")
    sys.stderr.flush()
    raise SystemExit(1)


def _positive(kind: type[int] | type[float], minimum: float, what: str) -> Any:
    def convert(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid {what}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{text!r}: must be at least {minimum:g}")
        return value

    return convert


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m xloop.compare.client", description="The load client of xloop compare."
    )
    number = "number"
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", required=True, type=_positive(int, 1, "port"))
    parser.add_argument("--workload", required=True, choices=list(workloads.WORKLOADS))
    parser.add_argument("--path", default=None, help="request target (default: the workload's)")
    parser.add_argument("--connections", type=_positive(int, 1, number), default=64)
    parser.add_argument("--duration", type=_positive(float, 0.001, number), default=5.0)
    parser.add_argument("--warmup", type=_positive(float, 0.0, number), default=1.0)
    parser.add_argument("--pipeline", type=_positive(int, 1, number), default=1)
    parser.add_argument("--server-pid", type=_positive(int, 1, "pid"), default=None)
    parser.add_argument("--loop", default="auto")
    parser.add_argument(
        "--start-at",
        type=float,
        default=None,
        help="wall-clock time (time.time()) the measured window starts; the warmup lasts "
        "until then (several client processes measure one window)",
    )
    parser.add_argument("--timeout", type=_positive(float, 0.001, number), default=10.0)
    return parser


def _raise_fd_limit(connections: int) -> None:
    try:
        resource = importlib.import_module("resource")  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (OSError, ValueError):  # pragma: no cover
            pass


def main(argv: Sequence[str] | None = None) -> int:
    """Run the client; 0 with the JSON on stdout, 1 with one error line on stderr."""
    args = _parser().parse_args(argv)
    try:
        from xloop import loops

        choice = loops.resolve(args.loop)
        workload = workloads.get(args.workload)
        request = workloads.request_bytes(workload, args.host, args.port, args.path)
        _raise_fd_limit(args.connections)
        result = loops.run(
            measure(
                args.host,
                args.port,
                request,
                connections=args.connections,
                duration=args.duration,
                warmup=args.warmup,
                pipeline=args.pipeline,
                timeout=args.timeout,
                tcp=workload.kind == "tcp",
                server_pid=args.server_pid,
                start_at=args.start_at,
            ),
            loop_factory=choice.factory,
        )
    except ClientError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted")
    except Exception as exc:
        _fail(f"{type(exc).__name__}: {exc}")
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
