"""One round of ``xloop compare``: one load on one server, by the built-in client (one
process per client CPU, their reports merged) or by wrk or oha."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from . import external
from .histogram import Histogram
from .machine import Pinning
from .model import Round
from .servers import Target
from .settings import Settings
from .workloads import DEFAULT_CONNECTIONS

__all__ = ["builtin_round", "client_cpus", "client_round", "client_workers", "external_round"]

_WORKER_START_S = 1.0
"""Time allowed for several client processes to start and connect before their window."""


def client_round(
    target: Target, settings: Settings, pinning: Pinning, index: int, scratch: Path
) -> tuple[Round, int | None]:
    """Run one load against ``target``: the round, and the responses the client counted."""
    server = target.server
    assert server is not None
    assert server.port is not None
    if not server.alive():
        code = server.proc.returncode
        return Round(index, error=f"server exited with code {code}: {server.failure_line()}"), None
    if target.result.client == "builtin":
        round_, responses = builtin_round(target, settings, pinning, index)
    else:
        round_, responses = external_round(target, settings, pinning, index, scratch), None
    if not server.alive():  # it died under this load: that, not the client's view, is why
        code = server.proc.returncode
        round_.error = f"server exited with code {code}: {server.failure_line()}"
    return round_, responses


def client_workers(settings: Settings, pinning: Pinning, connections: int | None = None) -> int:
    """How many built-in client processes share the load: one per client CPU (at most
    four, at most one per connection in flight); ``settings.client_workers`` when given."""
    if connections is None:
        connections = settings.connections or DEFAULT_CONNECTIONS
    if settings.client_workers:
        return max(1, min(settings.client_workers, connections))
    available = len(pinning.client) if pinning.client else max(1, (os.cpu_count() or 2) - 1)
    return max(1, min(available, 4, connections))


def _share(total: int, workers: int, number: int) -> int:
    """Worker ``number``'s share of ``total``, split as evenly as it goes: 64 over 3
    workers -> 22, 21, 21."""
    return total // workers + (number < total % workers)


def builtin_round(
    target: Target, settings: Settings, pinning: Pinning, index: int
) -> tuple[Round, int | None]:
    server = target.server
    assert server is not None
    assert server.port is not None
    connections = target.result.connections
    workers = client_workers(settings, pinning, connections)
    held = target.result.idle_connections
    commands = []
    # Several workers measure one window: it starts once all have had time to start.
    start_at = time.time() + _WORKER_START_S + settings.warmup if workers > 1 else None
    for number in range(workers):
        share = _share(connections, workers, number)
        command = [
            sys.executable, "-m", "xloop.compare.client",
            "--host", settings.host, "--port", str(server.port),
            "--workload", target.workload.name,
            "--connections", str(share),
            "--duration", f"{settings.duration:g}", "--warmup", f"{settings.warmup:g}",
            "--pipeline", str(settings.pipeline),
            "--timeout", f"{settings.timeout:g}",
        ]  # fmt: skip
        for pid in server.pids:  # each worker's CPU, summed
            command += ["--server-pid", str(pid)]
        if target.tls is not None:
            command += ["--tls-ca", str(target.tls.ca)]
        if settings.path:
            command += ["--path", settings.path]
        if held is not None:  # c10k: the idle ones too
            command += ["--hold", str(share + _share(held, workers, number))]
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
    limits = sorted({str(r["fd_limit"]) for r in reports if r.get("fd_limit")})
    if limits:  # the client could not hold every socket it was asked to
        round_.error = "; ".join(filter(None, [round_.error, *limits]))
    if held is not None:
        open_ = sum(int(r.get("connections_open") or 0) for r in reports)
        if open_ < connections + held and round_.error is None:
            round_.error = f"{open_} of {connections + held} connections open at the end"
    return round_, responses


def client_cpus(
    client: str, settings: Settings, pinning: Pinning, connections: int | None = None
) -> int:
    """How many CPUs a client could keep busy: the built-in one runs one thread per worker,
    wrk one thread per client CPU, oha a thread per CPU it may use."""
    available = len(pinning.client) if pinning.client else os.cpu_count() or 1
    if connections is None:
        connections = settings.connections or DEFAULT_CONNECTIONS
    if client == "builtin":
        return min(client_workers(settings, pinning, connections), available)
    if client == "wrk":  # -t: one thread per client CPU when pinned, else one
        return max(1, min(len(pinning.client) if pinning.client else 1, connections))
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


def external_round(
    target: Target, settings: Settings, pinning: Pinning, index: int, scratch: Path
) -> Round:
    server = target.server
    assert server is not None
    assert server.port is not None
    client = target.result.client
    tool = external.find_tool(client)
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    base = f"{'https' if target.tls is not None else 'http'}://{host}:{server.port}"
    threads = client_cpus("wrk", settings, pinning, target.result.connections)

    def on_start(pid: int) -> None:
        pinning.started(pid, pinning.client)

    def command(seconds: float) -> list[str]:
        if client == "wrk":
            return external.wrk_command(
                tool, base, target.workload, path=settings.path,
                connections=target.result.connections, threads=threads, duration=seconds,
                pipeline=settings.pipeline, scratch=scratch, timeout=settings.timeout,
            )  # fmt: skip
        return external.oha_command(
            tool, base, target.workload, path=settings.path,
            connections=target.result.connections, duration=seconds, scratch=scratch,
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
