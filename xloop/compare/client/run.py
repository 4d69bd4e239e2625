"""One run of the load client: the counters every connection shares, and :func:`measure`."""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence
from typing import Any

from ..histogram import Histogram
from ..workloads import handshake_request
from .connection import BaseConnection, ClientConnection, EchoClientConnection, describe_error
from .framing import Violation
from .websocket import Outgoing, WebSocketClientConnection

Connection = ClientConnection | EchoClientConnection | WebSocketClientConnection

_CONNECT_AT_ONCE = 256
"""Connections opened at once (c10k opens thousands: in waves, not one SYN flood)."""

__all__ = ["ERROR_KINDS", "ClientError", "Run", "measure"]

ERROR_KINDS = ("connect", "read", "write", "timeout", "protocol")


class ClientError(Exception):
    """Nothing could be measured; the message is the one line printed."""


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
        messages: list[Outgoing] | None = None,
        rotate: bool = False,
        ssl: Any = None,
    ) -> None:
        self.host = host
        #: ``--tls-ca``: the client's TLS context (None: plain TCP).
        self.ssl = ssl
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
        self.connections: set[BaseConnection] = set()
        self.last_error = ""
        self.messages = messages
        """websocket: the messages each connection sends in turn;
        ``request`` is then the handshake's request line and Host."""
        self.rotate = rotate
        """c10k: connections wait idle in :attr:`ring` until a request rotates to them."""
        self.ring: list[BaseConnection] = []
        self.ring_at = 0

    def handshake(self, key: bytes) -> bytes:
        """The opening handshake of a WebSocket with ``key``."""
        return handshake_request(self.request.decode("ascii"), key)

    # -- c10k: a few requests rotating over many idle connections --------------------------

    def joined(self, connection: BaseConnection) -> None:
        self.ring.append(connection)

    def left(self, connection: BaseConnection, pending: int) -> None:
        """``connection`` ends; a request it carried goes on on another one."""
        if connection in self.ring:
            self.ring.remove(connection)
        if pending and self.sending:
            self.pass_on(time.perf_counter_ns())

    def pass_on(self, now: int) -> None:
        """Send the next request on the next idle connection of the ring."""
        ring = self.ring
        size = len(ring)
        at = self.ring_at
        for _ in range(size):
            at = at + 1 if at + 1 < size else 0
            connection = ring[at]
            if not connection.pending and not connection.closing:
                self.ring_at = at
                connection.send(now)
                return
        self.error("protocol", "no idle connection left to send on")

    def error(self, kind: str, message: str = "") -> None:
        self.errors[kind] += 1
        if message:
            self.last_error = message

    def new_protocol(self) -> Connection:
        if self.messages is not None:
            return WebSocketClientConnection(self, self.messages)
        return EchoClientConnection(self) if self.tcp else ClientConnection(self)

    async def connect(self) -> Connection:
        """One new connection (sending at once if the run is; a WebSocket once its
        handshake is done); OSError/ClientError if not."""
        loop = asyncio.get_running_loop()
        protocol = self.new_protocol()
        protocol.lost = loop.create_future()
        opened = None
        if isinstance(protocol, WebSocketClientConnection):
            opened = protocol.opened = loop.create_future()
        try:
            await asyncio.wait_for(
                loop.create_connection(
                    lambda: protocol,
                    self.host,
                    self.port,
                    ssl=self.ssl,
                    server_hostname=self.host if self.ssl is not None else None,
                ),
                self.timeout,
            )
            if opened is not None:
                await asyncio.wait_for(opened, self.timeout)
        except asyncio.TimeoutError:
            if protocol.transport is not None:
                protocol.transport.abort()
            raise ClientError(f"timed out after {self.timeout:g} s") from None
        except Violation as exc:
            raise ClientError(str(exc)) from None
        return protocol

    async def slot(self, protocol: BaseConnection | None) -> None:
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
                self.error("connect", describe_error(exc))
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


def _server_cpu(pids: Sequence[int]) -> dict[int, float] | None:
    """CPU seconds (user + system) so far of each process in ``pids`` (a server, or each
    of its workers) and of each process under them, by pid; None if unknown."""
    if not pids:
        return None
    times: dict[int, Any] = {}
    try:
        import psutil

        for pid in pids:
            process = psutil.Process(pid)
            times[pid] = process.cpu_times()
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
    server_pids: Sequence[int] = (),
    start_at: float | None = None,
    messages: list[Outgoing] | None = None,
    hold: int | None = None,
    tls_ca: str | None = None,
) -> dict[str, Any]:
    """One run against ``host:port``; the result object. ClientError if no connection.

    ``start_at`` (a ``time.time()``): begin the measured window then, not ``warmup``
    seconds after connecting, so that several client processes measure the same window.
    ``messages``: WebSocket connections sending these in turn (``request`` is then the
    handshake's request line and Host). ``hold``: open this many connections and keep
    ``connections`` requests in flight rotating over them (c10k).
    """
    loop = asyncio.get_running_loop()
    rotate = hold is not None and hold > connections
    context = None
    if tls_ca is not None:
        from ..tls import client_context

        context = client_context(tls_ca)
    run = Run(
        host, port, request, pipeline=pipeline, timeout=timeout, tcp=tcp,
        messages=messages, rotate=rotate, ssl=context,
    )  # fmt: skip
    in_flight = connections
    if rotate:
        assert hold is not None
        connections = hold

    def unexpected(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        # An exception in a protocol callback: the loop drops that connection (counted
        # as a read error) and calls this. Keep the reason, not a traceback on stderr.
        exc = context.get("exception")
        run.last_error = f"{type(exc).__name__}: {exc}" if exc else str(context.get("message"))

    loop.set_exception_handler(unexpected)
    first: list[BaseConnection | BaseException] = []
    for wave in range(0, connections, _CONNECT_AT_ONCE):
        size = min(_CONNECT_AT_ONCE, connections - wave)
        first += await asyncio.gather(*(run.connect() for _ in range(size)), return_exceptions=True)
    failures = [item for item in first if isinstance(item, BaseException)]
    for failure in failures:
        if not isinstance(failure, (OSError, ClientError)):
            raise failure
        run.error("connect", describe_error(failure))
    if len(failures) == connections:
        raise ClientError(f"cannot connect to {_authority(host, port)}: {run.last_error}")
    watcher = loop.create_task(run.watch())
    slots = [
        loop.create_task(run.slot(None if isinstance(item, BaseException) else item))
        for item in first
    ]
    if rotate:
        now = time.perf_counter_ns()
        for _ in range(min(in_flight, len(run.ring))):
            run.pass_on(now)
    gc.collect()
    gc.disable()  # the hot path makes no cycles; no collector pauses in the window
    try:
        if start_at is not None:
            warmup = max(0.0, start_at - time.time())
        if warmup > 0:
            await asyncio.sleep(warmup)
        server_start = _server_cpu(server_pids)
        cpu_start = time.process_time()
        wall_start = time.perf_counter()
        start = run.snapshot()
        run.histogram.max_ns = 0
        await asyncio.sleep(duration)
        end = run.snapshot()
        window_max = run.histogram.max_ns
        wall_end = time.perf_counter()
        cpu_end = time.process_time()
        server_end = _server_cpu(server_pids)
        run.sending = False
        held = len(run.connections)
        for protocol in list(run.connections):
            if not protocol.pending:
                protocol.end()  # idle (c10k): nothing is due on it
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
        "connections_open": held,
        "last_error": run.last_error or None,
    }


def _authority(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
