"""``xloop compare``: start one server process per configuration, load them in turns, collect.

Each (loop, selector, parser, workload) gets its own ``xloop serve`` process on a free port
(``echo``: its own :mod:`xloop.compare.echo` process), all started up front. Rounds then
alternate between them, A B C A B C ..., each round one load run by a separate client
process, so drift on a shared machine hits every configuration alike. Where the OS allows,
the servers are pinned to one CPU and the client to the others.

Each server reports on a status pipe (:mod:`xloop.status`) when it listens (its port and
loop class) and, once stopped with SIGINT (Ctrl+Break on Windows) after the last round, how
many requests it answered, which is checked against what the built-in client counted.
"""

from __future__ import annotations

import contextlib
import datetime
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil

from .. import loops
from ..errors import AppLoadError, BindError, ConfigError, StartupError, XloopError
from ..http import httptools_available, resolve_http
from ..status import StatusPipe
from . import external
from .histogram import Histogram
from .machine import Pinning, describe_machine, plan_pinning
from .model import Result, ResultFile, Round
from .settings import Settings
from .workloads import WORKLOADS, Workload, request_bytes

__all__ = [
    "SATURATED_PERCENT",
    "STARTUP_TIMEOUT",
    "compare",
    "default_loops",
    "default_parsers",
    "plan_pinning",
]

SATURATED_PERCENT = 90.0
"""A client process using this much of a CPU (per CPU it may use) may be setting the pace."""

STARTUP_TIMEOUT = 30.0
"""Seconds a server may take to listen, and to answer its first request."""

_WORKER_START_S = 1.0
"""Time allowed for several client processes to start and connect before their window."""
_LOG_LINES = 400
_TAIL = 12


def default_loops() -> list[str]:
    """``asyncio`` (this OS's stdlib default) and every other backend available here."""
    native = loops.default_asyncio_backend()
    others = (b for b in loops.available_backends() if b not in ("asyncio", native))
    return ["asyncio", *others]


def default_parsers() -> list[str]:
    return ["h11", "httptools"] if httptools_available() else ["h11"]


@dataclass
class _Target:
    """One row being measured."""

    loop: str
    selector: str  # as requested: auto, epoll, ...
    http: str  # h11, httptools, or tcp
    workload: Workload
    result: Result
    server: _ServerProcess | None = None
    primed: int = 0
    """Requests the server answered before the rounds (see :func:`_prime`)."""


# -- the plan ---------------------------------------------------------------------------------


def _check_tools(settings: Settings) -> None:
    """The external clients are on PATH and can run every workload asked for."""
    for client in settings.clients:
        if client != "builtin":
            external.find_tool(client)
            for name in settings.workloads:
                external.check_workload(client, WORKLOADS[name], settings.pipeline)


def _plan(settings: Settings) -> list[_Target]:
    """Resolve every name (one-line errors for unknown or unavailable ones) into rows."""
    loop_names = settings.loops or default_loops()
    parsers = settings.http or default_parsers()
    for parser in parsers:
        resolve_http(parser)
    if settings.baseline and settings.baseline not in loop_names:
        raise ConfigError(
            f"--baseline {settings.baseline!r} is not one of the loops compared",
            hint=f"choose one of: {', '.join(dict.fromkeys(loop_names))}",
        )
    loop_rows: list[tuple[str, str, str | None, str]] = []  # name, selector, class, backend
    for name in loop_names:
        backend = loops.resolve(name).backend
        selectors = settings.selectors if backend == "selector" else ["auto"]
        for selector in selectors:
            choice = loops.resolve(name, selector)
            loop_rows.append((name, selector, choice.selector, backend))
    if not any(backend == "selector" for *_, backend in loop_rows) and settings.selectors != [
        "auto"
    ]:
        raise ConfigError(
            "--selector applies to the selector loop, and none of --loops is one",
            hint="add selector (or asyncio on Linux/macOS) to --loops",
        )
    targets: list[_Target] = []
    for workload_name in settings.workloads:
        workload = WORKLOADS[workload_name]
        for parser in parsers if workload.kind == "http" else ["tcp"]:
            for (name, selector, selector_class, _backend), client in itertools.product(
                loop_rows, settings.clients
            ):
                row = Result(
                    loop=name,
                    loop_class=None,
                    selector=selector_class,
                    http=parser,
                    workload=workload.name,
                    client=client,
                    connections=settings.connections,
                    pipeline=settings.pipeline,
                    selector_named=selector != "auto",
                )
                targets.append(_Target(name, selector, parser, workload, row))
    return targets


# -- server processes ------------------------------------------------------------------------


class _ServerProcess:
    """One server subprocess: its events come on a status pipe (:mod:`xloop.status`), its
    log is kept by a thread for the tail an error shows."""

    def __init__(
        self,
        target: _Target,
        settings: Settings,
        port: int,
        pinning: Pinning,
    ) -> None:
        self.label = target.result.label
        self.lines: list[str] = []
        self.port: int | None = None
        self.loop_class: str | None = None
        self.rss_samples: list[int] = []
        self.killed = False
        """Killed after a stop request it did not follow in time."""
        self.status = StatusPipe()
        command = [sys.executable, "-m"]
        if target.workload.kind == "tcp":
            command += ["xloop.compare.echo"]
        else:
            command += ["xloop", "serve"]
            if settings.app:
                command.append(settings.app)
            command += ["--http", target.http, "--no-access-log", "--log-level", "info"]
            if settings.app_dir:
                command += ["--app-dir", settings.app_dir]
            if settings.factory:
                command.append("--factory")
        command += ["--host", settings.host, "--port", str(port), "--loop", target.loop]
        if target.selector != "auto":
            command += ["--selector", target.selector]
        command += ["--status-fd", str(self.status.child_fd)]
        self.command = command
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        try:
            self.proc = subprocess.Popen(
                pinning.command(command, pinning.server),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                creationflags=flags,
                **self.status.popen_kwargs(),
            )
        except BaseException:
            self.status.close()
            raise
        self.status.start()
        pinning.started(self.proc.pid, pinning.server)
        self._reader = threading.Thread(target=self._read, name=f"log {self.label}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if len(self.lines) < _LOG_LINES:
                self.lines.append(line)
            else:
                self.lines[_LOG_LINES // 2 :] = [*self.lines[_LOG_LINES // 2 + 1 :], line]
        stream.close()

    def wait_ready(self, timeout: float) -> None:
        """Return once it listens; raise the error a user should see if it cannot."""
        try:
            ready = self.status.wait_for("ready", timeout)
        except TimeoutError:
            self.kill()
            raise StartupError(
                f"the {self.label} server did not start within {timeout:g}s",
                hint=f"its log ends: {self.tail_line()}",
            ) from None
        if ready is not None:
            self.port = ready.get("port")
            self.loop_class = ready.get("loop_class")
            return
        code = self.proc.wait()
        self._reader.join(5)
        error_class: type[XloopError] = {3: AppLoadError, 4: BindError, 2: ConfigError}.get(
            code, StartupError
        )
        raise error_class(
            f"the {self.label} server exited with code {code} before it was ready: "
            f"{self.tail_line()}",
            hint="its log ends:\n" + self.tail(),
        )

    @property
    def counted(self) -> tuple[int, str] | None:
        """What the server said it served when it stopped: (count, "requests" or "bytes")."""
        stopped = self.status.last("stopped")
        if stopped is None:
            return None
        unit = "bytes" if "bytes" in stopped else "requests"
        return int(stopped[unit]), unit

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = _TAIL) -> str:
        return "\n".join(self.lines[-lines:]) or "(no output)"

    def tail_line(self) -> str:
        """The last line that says something (errors print their reason last)."""
        for line in reversed(self.lines):
            if line.strip():
                return line.strip()
        return "(no output)"

    def cpu_seconds(self) -> float | None:
        try:
            times = psutil.Process(self.proc.pid).cpu_times()
        except psutil.Error:
            return None
        return float(times.user + times.system)

    def sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            self.rss_samples.append(int(psutil.Process(self.proc.pid).memory_info().rss))

    def peak_rss(self) -> int | None:
        """The peak resident set size: the kernel's high-water mark where the OS keeps one
        (Linux VmHWM, Windows peak working set), else the largest sample after a round."""
        pid = self.proc.pid
        with contextlib.suppress(OSError, ValueError):
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        with contextlib.suppress(psutil.Error, AttributeError):
            peak = getattr(psutil.Process(pid).memory_info(), "peak_wset", None)
            if peak:
                return int(peak)
        return max(self.rss_samples, default=None)

    @property
    def stop_signal(self) -> str:
        return "Ctrl+Break" if loops.IS_WINDOWS else "SIGINT"

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful stop (SIGINT / Ctrl+Break); kill if it does not finish in time (20 s;
        5 s on Windows, where a process without a shared console never gets Ctrl+Break)."""
        if timeout is None:
            timeout = 5.0 if loops.IS_WINDOWS else 20.0
        if self.proc.poll() is None:
            sig = getattr(signal, "CTRL_BREAK_EVENT", signal.SIGINT)
            with contextlib.suppress(OSError):
                self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.killed = True
        self._reader.join(5)
        self.status.join(5)
        code: int | None = self.proc.returncode
        return code

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def _servers(targets: list[_Target], settings: Settings, pinning: Pinning) -> Iterator[None]:
    started: list[_ServerProcess] = []
    try:
        for index, target in enumerate(targets):
            port = settings.port + index if settings.port else 0
            target.server = _ServerProcess(target, settings, port, pinning)
            started.append(target.server)
        for server in started:
            server.wait_ready(STARTUP_TIMEOUT)
        for target in targets:
            target.primed = _prime(target, settings)
        yield
    finally:
        # Whatever ended the run (an error, Ctrl+C, a second Ctrl+C while stopping), no
        # server outlives it: each is stopped gracefully if it can be, else killed.
        for server in started:
            if server.alive():
                try:
                    server.stop()
                except BaseException:
                    for rest in started:
                        rest.kill()
                    raise


def _prime(target: _Target, settings: Settings) -> int:
    """One exchange on a connection the client then closes, before any measurement.

    A fresh CPython process reading with ``sock.recv(256 KiB)`` (the stdlib selector
    loop's transport) runs at a fraction of its speed until glibc's malloc first frees a
    256 KiB buffer whole, which happens when a connection's peer closes: until then every
    read maps and unmaps (or grows and trims) memory. Every real server meets its first
    closed connection within moments; without this, the stdlib loop's first round would
    measure that start-up state instead of the loop.
    """
    server = target.server
    if server is None or server.port is None:
        return 0
    message = request_bytes(target.workload, settings.host, server.port, settings.path)
    timeout = STARTUP_TIMEOUT
    try:
        with socket.create_connection((settings.host, server.port), timeout=timeout) as sock:
            sock.sendall(message)
            answered = sock.recv(65536)  # the start of the answer is enough: then close
    except OSError as exc:
        answered, why = b"", f"{type(exc).__name__}: {exc}"
    else:
        why = "it closed the connection"
    if not answered:
        raise StartupError(
            f"the {target.result.label} server did not answer its first request: {why}",
            hint=f"its log ends: {server.tail_line()}",
        )
    return 1  # the server counted this request too


# -- one round -------------------------------------------------------------------------------


def _client_round(
    target: _Target, settings: Settings, pinning: Pinning, index: int, scratch: Path
) -> tuple[Round, int | None]:
    """Run one load against ``target``: the round, and the responses the client counted."""
    server = target.server
    assert server is not None
    assert server.port is not None
    if not server.alive():
        code = server.proc.returncode
        return Round(index, error=f"server exited with code {code}: {server.tail_line()}"), None
    if target.result.client == "builtin":
        return _builtin_round(target, settings, pinning, index)
    return _external_round(target, settings, pinning, index, scratch), None


def client_workers(settings: Settings, pinning: Pinning) -> int:
    """How many built-in client processes share the load: one per client CPU (at most
    four, at most one per connection); ``settings.client_workers`` when given."""
    if settings.client_workers:
        return max(1, min(settings.client_workers, settings.connections))
    available = len(pinning.client) if pinning.client else max(1, (os.cpu_count() or 2) - 1)
    return max(1, min(available, 4, settings.connections))


def _builtin_round(
    target: _Target, settings: Settings, pinning: Pinning, index: int
) -> tuple[Round, int | None]:
    server = target.server
    assert server is not None
    assert server.port is not None
    workers = client_workers(settings, pinning)
    commands = []
    # Several workers measure one window: it starts once all have had time to start.
    start_at = time.time() + _WORKER_START_S + settings.warmup if workers > 1 else None
    for number in range(workers):
        # connections split as evenly as they go: 64 over 3 workers -> 22, 21, 21
        share = settings.connections // workers + (number < settings.connections % workers)
        command = [
            sys.executable, "-m", "xloop.compare.client",
            "--host", settings.host, "--port", str(server.port),
            "--workload", target.workload.name,
            "--connections", str(share),
            "--duration", f"{settings.duration:g}", "--warmup", f"{settings.warmup:g}",
            "--pipeline", str(settings.pipeline),
            "--server-pid", str(server.proc.pid),
            "--timeout", f"{settings.timeout:g}",
        ]  # fmt: skip
        if settings.path:
            command += ["--path", settings.path]
        if start_at is not None:
            command += ["--start-at", f"{start_at:.3f}"]
        commands.append(command)
    cpus = _worker_cpus(pinning, workers)
    outcomes, _cpu = external.run_tools(
        [pinning.command(command, cpu) for command, cpu in zip(commands, cpus, strict=True)],
        timeout=_client_limit(settings),
        on_start=lambda pid, number: pinning.started(pid, cpus[number]),
    )
    reports: list[dict[str, Any]] = []
    failure: str | None = None
    for code, stdout, stderr in outcomes:
        try:
            reports.append(json.loads(stdout))
        except ValueError:
            lines = [line for line in stderr.strip().splitlines() if line.strip()]
            reason = lines[-1] if lines else f"the client exited with code {code}"
            failure = failure or reason.removeprefix("xloop compare client: error: ")
    # what the workers that did report counted still goes into the count check
    responses = sum(int(r.get("responses_total", 0)) for r in reports)
    if failure is not None:
        return Round(index, error=failure), responses
    round_ = _merge_reports(index, reports)
    causes = {str(r["last_error"]) for r in reports if r.get("last_error") and r.get("errors")}
    if causes and round_.error is None and round_.errors:
        round_.error = f"{round_.errors} errors, the last: {sorted(causes)[0]}"
    return round_, responses


def client_cpus(client: str, settings: Settings, pinning: Pinning) -> int:
    """How many CPUs a client could keep busy: the built-in one runs one thread per worker,
    wrk one thread per client CPU, oha a thread per CPU it may use."""
    available = len(pinning.client) if pinning.client else os.cpu_count() or 1
    if client == "builtin":
        return min(client_workers(settings, pinning), available)
    if client == "wrk":  # -t: one thread per client CPU when pinned, else one
        return max(1, min(len(pinning.client) if pinning.client else 1, settings.connections))
    return available


def _client_limit(settings: Settings) -> float:
    """How long a client process may run: connecting and draining may each take up to
    ``timeout``, besides the warmup and the measured window."""
    return settings.warmup + settings.duration + 2 * settings.timeout + _WORKER_START_S + 60


def _worker_cpus(pinning: Pinning, workers: int) -> list[tuple[int, ...] | None]:
    """The CPU each client worker is pinned to: one each while they last."""
    if pinning.client is None:
        return [None] * workers
    if workers == 1:
        return [pinning.client]
    return [(pinning.client[n % len(pinning.client)],) for n in range(workers)]


def _merge_reports(index: int, reports: list[dict[str, Any]]) -> Round:
    """One round from the reports of the client workers (run side by side)."""
    histogram = Histogram()
    for report in reports:
        data = (report.get("latency") or {}).get("histogram")
        if data:
            histogram.merge(Histogram.from_dict(data))
    server_cpu = [r["server_cpu_s"] for r in reports if r.get("server_cpu_s") is not None]
    requests = sum(int(r.get("requests", 0)) for r in reports)
    round_ = Round(
        index=index,
        requests=requests,
        requests_per_second=sum(float(r["requests_per_second"]) for r in reports),
        latency_p50_ms=histogram.percentile(50) if histogram.count else None,
        latency_p90_ms=histogram.percentile(90) if histogram.count else None,
        latency_p99_ms=histogram.percentile(99) if histogram.count else None,
        latency_max_ms=histogram.max if histogram.count else None,
        errors=sum(sum(int(v) for v in (r.get("errors") or {}).values()) for r in reports),
        non_2xx=sum(int(r.get("non_2xx", 0)) for r in reports),
        # every worker watched the server over (almost) the same window
        server_cpu_s=sum(server_cpu) / len(server_cpu) if server_cpu else None,
        client_cpu_percent=sum(float(r.get("client_cpu_percent") or 0.0) for r in reports),
    )
    if requests == 0:
        round_.error = "no response completed in the measured window"
    return round_


def _external_round(
    target: _Target, settings: Settings, pinning: Pinning, index: int, scratch: Path
) -> Round:
    server = target.server
    assert server is not None
    assert server.port is not None
    client = target.result.client
    tool = external.find_tool(client)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"http://{host}:{server.port}"
    threads = client_cpus("wrk", settings, pinning)

    def on_start(pid: int) -> None:
        pinning.started(pid, pinning.client)

    def command(seconds: float) -> list[str]:
        if client == "wrk":
            return external.wrk_command(
                tool, base, target.workload, path=settings.path,
                connections=settings.connections, threads=threads, duration=seconds,
                pipeline=settings.pipeline, scratch=scratch, timeout=settings.timeout,
            )  # fmt: skip
        return external.oha_command(
            tool, base, target.workload, path=settings.path,
            connections=settings.connections, duration=seconds, scratch=scratch,
        )  # fmt: skip

    limit = _client_limit(settings)
    if settings.warmup > 0:
        external.run_tool(
            pinning.command(command(settings.warmup), pinning.client),
            timeout=limit,
            on_start=on_start,
        )
    cpu_before = server.cpu_seconds()
    code, stdout, stderr, client_cpu = external.run_tool(
        pinning.command(command(settings.duration), pinning.client),
        timeout=limit,
        on_start=on_start,
    )
    cpu_after = server.cpu_seconds()
    try:
        run = (external.parse_wrk if client == "wrk" else external.parse_oha)(stdout)
    except ValueError as exc:
        detail = stderr.strip().splitlines()[-1:] or [str(exc)]
        return Round(index, error=f"{client} exited with code {code}: {detail[0]}")
    measured = max(1, round(settings.duration)) if client == "wrk" else settings.duration
    round_ = run.as_round()
    round_.index = index
    if cpu_before is not None and cpu_after is not None:
        round_.server_cpu_s = cpu_after - cpu_before
    if client_cpu is not None:
        round_.client_cpu_percent = 100.0 * client_cpu / measured
    if not run.requests:
        round_.error = "no response completed in the measured window"
    return round_


# -- the whole comparison ----------------------------------------------------------------------

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called before each round and once at the end."""


def compare(
    settings: Settings, *, command: str = "", progress: Progress | None = None
) -> ResultFile:
    """Measure every configuration ``settings`` names; raise XloopError for what stops it all
    (a bad option, a server that cannot start). Rows that fail later are kept, marked."""
    _check_tools(settings)
    targets = _plan(settings)
    pinning = plan_pinning(settings.pin)
    total = len(targets) * settings.rounds
    done = 0
    client_counts: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="xloop-compare-") as scratch_dir:
        scratch = Path(scratch_dir)
        if progress:
            progress(done, total, f"starting {len(targets)} server(s)")
        with _servers(targets, settings, pinning):
            for target in targets:
                assert target.server is not None
                target.result.loop_class = target.server.loop_class
            for index in range(settings.rounds):
                for number, target in enumerate(targets):
                    if progress:
                        progress(
                            done, total, f"round {index + 1}/{settings.rounds}: {_what(target)}"
                        )
                    round_, responses = _client_round(target, settings, pinning, index, scratch)
                    target.result.rounds.append(round_)
                    if responses is not None:
                        client_counts[number] = client_counts.get(number, 0) + responses
                    assert target.server is not None
                    target.server.sample_rss()
                    done += 1
            for target in targets:
                assert target.server is not None
                peak = target.server.peak_rss()
                target.result.server_peak_rss_mib = None if peak is None else peak / (1 << 20)
                target.server.stop()
        if progress:
            progress(done, total, "done")
    for number, target in enumerate(targets):
        _finish_row(target, settings, client_counts.get(number), pinning)
    record = _settings_record(settings, pinning)
    record["baseline"] = _ratios([t.result for t in targets], settings)
    return ResultFile(
        machine=describe_machine(),
        settings=record,
        results=[t.result for t in targets],
        command=command,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def _what(target: _Target) -> str:
    return f"{target.result.label} {target.workload.name}"


def _finish_row(
    target: _Target, settings: Settings, client_responses: int | None, pinning: Pinning
) -> None:
    row = target.result
    server = target.server
    assert server is not None
    row.summarize()
    for round_ in row.rounds:
        if round_.error and round_.error not in row.notes:
            row.notes.append(f"round {round_.index + 1}: {round_.error}")
    if server.counted is not None:
        count, unit = server.counted
        if unit == "bytes":
            count //= target.workload.body_size
        row.server_requests = count
    elif server.killed:
        # Not the server's fault where the OS cannot deliver the signal (Ctrl+Break needs a
        # shared console on Windows; Wine does not deliver it): only the check is lost.
        row.notes.append(
            f"the server did not stop on {server.stop_signal} and was killed: "
            "its own request count is unknown, the counts were not checked"
        )
    elif server.proc.returncode not in (0, None):
        row.notes.append(f"server exited with code {server.proc.returncode}: {server.tail_line()}")
        if row.status == "ok":
            row.status = "errors"
    row.client_responses = None if client_responses is None else client_responses + target.primed
    if row.errors or row.non_2xx:
        row.notes.append(f"{row.errors} socket errors, {row.non_2xx} non-2xx responses")
    counted = row.client_responses
    if counted is not None and row.server_requests is not None and counted != row.server_requests:
        row.notes.append(
            f"the client counted {counted} responses, the server {row.server_requests} requests"
        )
        if row.status == "ok":
            row.status = "errors"
    cpus = client_cpus(row.client, settings, pinning)
    limit = SATURATED_PERCENT * cpus
    if row.client_cpu_percent is not None and row.client_cpu_percent >= limit:
        row.client_saturated = True
        note = (
            f"client CPU reached {row.client_cpu_percent:.0f}%: "
            "the client may have set the pace, not the server"
        )
        if row.server_cpu_ms_per_1k:
            # What the server spent per request still shows its own ceiling.
            note += (
                f"; the server spent {row.server_cpu_ms_per_1k:.1f} us CPU per request, "
                f"about {1e6 / row.server_cpu_ms_per_1k:,.0f}/s at 100% of one CPU"
            )
        row.notes.append(note)


def _ratios(rows: list[Result], settings: Settings) -> str:
    """Fill each row's ratio against the baseline loop; return the baseline's name."""
    names = [row.loop for row in rows]
    baseline = settings.baseline or ("asyncio" if "asyncio" in names else names[0])
    for row in rows:
        candidates = [
            other
            for other in rows
            if other.loop == baseline
            and (other.http, other.workload, other.client) == (row.http, row.workload, row.client)
        ]
        # the baseline row with the same selector where there is one (--selector a,b)
        same = [other for other in candidates if other.selector == row.selector]
        base = next(iter(same or candidates), None)
        if base is None or not base.requests_per_second or row.requests_per_second is None:
            continue
        row.baseline = baseline
        row.ratio = row.requests_per_second / base.requests_per_second
    return baseline


def _settings_record(settings: Settings, pinning: Pinning) -> dict[str, object]:
    record = asdict(settings)
    record["loops"] = settings.loops or default_loops()
    record["http"] = settings.http or default_parsers()
    record["app"] = settings.app or "xloop.demo:app"
    record["duration_s"] = record.pop("duration")
    record["warmup_s"] = record.pop("warmup")
    record["client"] = ",".join(settings.clients)
    record["client_workers"] = client_workers(settings, pinning)
    record["client_cpus"] = client_cpus("builtin", settings, pinning)
    record["pinning"] = pinning.description
    record["saturated_percent"] = SATURATED_PERCENT
    record["startup_timeout"] = STARTUP_TIMEOUT
    return record
