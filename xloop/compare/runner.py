"""``xloop compare``: start one server process per configuration, load them in turns, collect.

Each (loop, selector, parser, workload) gets its own ``xloop serve`` process on a free port
(``echo``: its own :mod:`xloop.compare.echo` process), all started up front. Rounds then
alternate between them, A B C A B C ..., each round one load run by a separate client
process, so drift on a shared machine hits every configuration alike. Where the OS allows,
the servers are pinned to one CPU and the client to the others (``--workers N``: a server
with w workers to w CPUs; a row whose workers the machine has no CPUs for is skipped).

Each server reports on a status pipe (:mod:`xloop.status`) when it listens (its port and
loop class) and, once stopped with SIGINT (Ctrl+Break on Windows) after the last round, how
many requests it answered, which is checked against what the built-in client counted
(with ``--workers``, the supervisor's sums over its workers; CPU and memory are measured on
the workers it names).
"""

from __future__ import annotations

import datetime
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from . import plan, rounds, tls
from .fdlimit import raise_fd_limit
from .machine import Pinning, describe_machine, plan_pinning
from .model import Result, ResultFile
from .servers import STARTUP_TIMEOUT, Target, start_servers
from .settings import Settings

__all__ = ["SATURATED_PERCENT", "compare"]

SATURATED_PERCENT = 90.0
"""A client process using this much of a CPU (per CPU it may use) may be setting the pace."""

Progress = Callable[[int, int, str], None]
"""``progress(done, total, what)``: called before each round and once at the end."""


def compare(
    settings: Settings, *, command: str = "", progress: Progress | None = None
) -> ResultFile:
    """Measure every configuration ``settings`` names; raise XloopError for what stops it all
    (a bad option, a server that cannot start). Rows that fail later are kept, marked."""
    plan.check_tools(settings)
    targets = plan.targets(settings)
    pinning = plan_pinning(settings.pin, settings.workers)
    plan.fit_cpus(targets, pinning)
    fd_note = None
    if "c10k" in settings.workloads:  # the servers inherit the limit of this process
        fd_note = raise_fd_limit(settings.c10k_connections + 1)
    total = sum(target.skip is None for target in targets) * settings.rounds
    done = 0
    client_counts: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="xloop-compare-") as scratch_dir:
        scratch = Path(scratch_dir)
        if settings.tls:
            _secure(targets, scratch)
        if progress:
            progress(done, total, f"starting {len(targets)} server(s)")
        with start_servers(targets, settings, pinning):
            for target in targets:
                if target.server is not None:
                    target.result.loop_class = target.server.loop_class
            for index in range(settings.rounds):
                for number, target in enumerate(targets):
                    if not target.measured:
                        continue
                    if progress:
                        progress(
                            done, total, f"round {index + 1}/{settings.rounds}: {_what(target)}"
                        )
                    round_, responses = rounds.client_round(
                        target, settings, pinning, index, scratch
                    )
                    target.result.rounds.append(round_)
                    if responses is not None:
                        client_counts[number] = client_counts.get(number, 0) + responses
                    assert target.server is not None
                    target.server.sample_rss()
                    done += 1
            for target in targets:
                if not target.measured:
                    continue
                assert target.server is not None
                peak = target.server.peak_rss()
                target.result.server_peak_rss_mib = None if peak is None else peak / (1 << 20)
                target.server.stop()
        if progress:
            progress(done, total, "done")
    for number, target in enumerate(targets):
        if fd_note and target.workload.name == "c10k":
            target.result.notes.append(f"servers: {fd_note}")
        finish_row(target, settings, client_counts.get(number), pinning)
    record = _settings_record(settings, pinning)
    record["baseline"] = _ratios([t.result for t in targets], settings)
    return ResultFile(
        machine=describe_machine(),
        settings=record,
        results=[t.result for t in targets] + plan.missing_rows(settings, targets),
        command=command,
        created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    )


def _what(target: Target) -> str:
    return f"{target.result.label} {target.workload.name}"


def finish_row(
    target: Target, settings: Settings, client_responses: int | None, pinning: Pinning
) -> None:
    row = target.result
    server = target.server
    if server is None or target.skip is not None:
        # not measured: skipped (not installed, not supported) or failed (did not start)
        row.status = "skipped" if server is None else "failed"
        if target.skip and target.skip not in row.notes:
            row.notes.append(target.skip)
        return
    row.summarize()
    for round_ in row.rounds:
        if round_.error and round_.error not in row.notes:
            row.notes.append(f"round {round_.index + 1}: {round_.error}")
    if target.ws is not None and server.ws_engine == "none":
        row.notes.insert(
            0,
            f"the server runs without a WebSocket engine (--ws {target.ws}): it answers "
            "upgrade requests as plain HTTP, through the app's http scope",
        )
    for event in server.exits:
        row.notes.append(
            f"worker {event.get('number')} [{event.get('pid')}] exited with code "
            f"{event.get('returncode')} during the run and was replaced: the CPU it used "
            "is not counted"
        )
    unit = "requests"
    if server.counted is not None:
        count, unit = server.counted
        if unit == "bytes":
            count //= target.workload.body_size
        row.server_requests = count
    elif server.name != "xloop":
        row.notes.append(f"count check n/a: {server.name} does not report its count")
    elif server.killed:
        # Not the server's fault where the OS cannot deliver the signal (Ctrl+Break needs a
        # shared console on Windows; Wine does not deliver it): only the check is lost.
        why = (
            f"the OS refused to send {server.stop_signal} ({server.unsent})"
            if server.unsent is not None
            else f"the server did not stop on {server.stop_signal}"
        )
        row.notes.append(
            f"{why} and it was killed: its own request count is unknown, the counts were "
            "not checked"
        )
    elif server.proc.returncode not in (0, None):
        note = f"server exited with code {server.proc.returncode}: {server.failure_line()}"
        if not any(note in line for line in row.notes):
            row.notes.insert(0, note)
        if row.status == "ok":
            row.status = "errors"
    if server.capped is not None:
        # Past select()'s cap the server held fewer connections than the client opened.
        row.notes.insert(0, f"the server stopped accepting: {server.capped}")
        if row.status == "ok":
            row.status = "errors"
    row.client_responses = None if client_responses is None else client_responses + target.primed
    if row.errors or row.non_2xx:
        row.notes.append(f"{row.errors} socket errors, {row.non_2xx} non-2xx responses")
    counted = row.client_responses
    if counted is not None and row.server_requests is not None and counted != row.server_requests:
        answers = "echoes" if unit == "messages" else "responses"
        row.notes.append(
            f"the client counted {counted} {answers}, the server {row.server_requests} {unit}"
        )
        if row.status == "ok":
            row.status = "errors"
    cpus = rounds.client_cpus(row.client, settings, pinning, row.connections)
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
    """Fill each row's ratio; return the baseline loop's name.

    An xloop row is against the baseline loop's xloop row (same parser, workload, client,
    workers).
    Another server's row is against xloop on the same loop, parser, workload and client
    (granian's own parser: xloop's httptools row where compared, else its h11 row); when
    xloop is not compared, against the same server on the baseline loop."""
    names = [row.loop for row in rows]
    baseline = settings.baseline or ("asyncio" if "asyncio" in names else names[0])
    with_xloop = "xloop" in settings.servers
    for row in rows:
        key = (row.workload, row.client, row.workers)
        if row.server != "xloop" and with_xloop:
            candidates = [
                other
                for other in rows
                if other.server == "xloop"
                and other.loop == row.loop
                and (other.workload, other.client, other.workers) == key
            ]
            order = [row.http, "httptools", "h11"]
            candidates.sort(key=lambda other: order.index(other.http) if other.http in order else 3)
            against: str | None = "xloop"
        else:
            candidates = [
                other
                for other in rows
                if other.loop == baseline
                and other.server == row.server
                and other.http == row.http
                and (other.workload, other.client, other.workers) == key
            ]
            against = None
        # the base row with the same selector where there is one (--selector a,b)
        same = [other for other in candidates if other.selector == row.selector]
        base = next(iter(same or candidates), None)
        if base is None or not base.requests_per_second or row.requests_per_second is None:
            continue
        row.baseline = baseline if against is None else f"{against} {base.label}"
        row.ratio = row.requests_per_second / base.requests_per_second
        paired = _paired_ratios(row, base)
        if len(paired) >= 2:
            row.ratio_min, row.ratio_max = min(paired), max(paired)
    return baseline


def _paired_ratios(row: Result, base: Result) -> list[float]:
    """Each round's req/s over ``base``'s in the same round: the rounds alternate between
    rows, so a pair ran close in time, and a slow minute of a shared machine moves both."""
    theirs = {r.index: r.requests_per_second for r in base.rounds if r.requests_per_second}
    return [
        r.requests_per_second / theirs[r.index]
        for r in row.rounds
        if r.requests_per_second is not None and r.index in theirs
    ]


def _secure(targets: list[Target], scratch: Path) -> None:
    """``--tls``: every HTTP and WebSocket row served and loaded over TLS; the raw TCP echo
    has none (its rows say so)."""
    files = tls.make(scratch / "tls")
    for target in targets:
        if target.workload.kind == "tcp":
            if target.skip is None:
                target.skip = "the tcp echo workload has no TLS"
                target.result.status = "skipped"
                target.result.notes.append(target.skip)
            continue
        target.tls = files
        target.result.tls = True


def _settings_record(settings: Settings, pinning: Pinning) -> dict[str, object]:
    record = asdict(settings)
    record["loops"] = settings.loops or plan.default_loops()
    record["http"] = settings.http or plan.default_parsers()
    record["app"] = settings.app or "xloop.demo:app"
    record["duration_s"] = record.pop("duration")
    record["warmup_s"] = record.pop("warmup")
    record["client"] = ",".join(settings.clients)
    record["client_workers"] = rounds.client_workers(settings, pinning)
    record["client_cpus"] = rounds.client_cpus("builtin", settings, pinning)
    record["pinning"] = pinning.description
    record["saturated_percent"] = SATURATED_PERCENT
    record["startup_timeout"] = STARTUP_TIMEOUT
    return record
