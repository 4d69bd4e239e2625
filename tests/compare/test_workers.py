"""``xloop compare --workers N``: a row per worker count, each server's CPU and memory summed
over its workers, the supervisor's count checked, rows the CPUs cannot hold skipped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import psutil
import pytest

from xloop.compare import others, rounds
from xloop.compare import plan as planning
from xloop.compare.columns import workers_note
from xloop.compare.machine import Pinning, plan_pinning
from xloop.compare.model import Result, ResultFile
from xloop.compare.plan import Target, default_loops, default_parsers
from xloop.compare.runner import compare
from xloop.compare.servers import ServerProcess, start_servers

from ..cli._support import run_cli
from .test_compare import assert_clean, short

pytestmark = pytest.mark.timeout(180)

UNPINNED = "each server's workers and the client share the CPUs unpinned"


def _rss(pids: list[int]) -> int:
    return sum(int(psutil.Process(pid).memory_info().rss) for pid in pids)


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        times = psutil.Process(pid).cpu_times()
        total += times.user + times.system
    return total


def test_a_row_per_worker_count_on_every_loop_and_parser_here() -> None:
    loop_names, parsers = default_loops(), default_parsers()
    result = compare(short(workers=2, loops=loop_names, http=parsers))
    rows = result.results
    assert len(rows) == 2 * len(loop_names) * len(parsers)
    by_key = {(row.loop, row.http, row.workers): row for row in rows}
    for loop in loop_names:
        for parser in parsers:
            for workers in (1, 2):
                row = by_key[(loop, parser, workers)]
                assert row.label.endswith(f"/{parser} x{workers}")
                # the supervisor's count, summed over its workers, is the client's
                assert_clean(row)
                assert row.server_cpu_ms_per_1k
                assert row.server_peak_rss_mib
                # against the baseline loop with as many workers
                assert row.baseline == "asyncio"
                base = by_key[("asyncio", parser, workers)]
                assert row.ratio == pytest.approx(
                    (row.requests_per_second or 0) / (base.requests_per_second or 1)
                )
    assert result.settings["workers"] == 2
    assert result.settings["pinning"] == f"none (--no-pin): {UNPINNED}"


def test_a_servers_cpu_and_memory_are_its_workers_summed(tmp_path: Path) -> None:
    settings = short(workers=2, loops=["asyncio"], http=["h11"])
    pinning = plan_pinning(False, 2)
    targets = planning.targets(settings)
    planning.fit_cpus(targets, pinning)
    assert [target.result.workers for target in targets] == [1, 2]
    with start_servers(targets, settings, pinning):
        for target in targets:
            server = target.server
            assert isinstance(server, ServerProcess)
            workers = server.status.last("ready")
            assert workers is not None
            pids = server.pids
            # the workers the supervisor named, its own children; not the supervisor
            assert sorted(pids) == sorted(workers["workers"])
            assert len(pids) == len(set(pids)) == target.result.workers
            children = {child.pid for child in psutil.Process(server.proc.pid).children()}
            assert set(pids) <= children
            assert server.proc.pid not in pids
            round_, responses = rounds.client_round(target, settings, pinning, 0, tmp_path)
            assert round_.error is None, round_.error
            assert responses
            assert round_.server_cpu_s is not None
            before = _cpu(pids)
            measured = server.cpu_seconds()
            after = _cpu(pids)
            assert measured is not None
            assert before <= measured <= after
            rss = _rss(pids)
            server.sample_rss()
            peak = server.peak_rss()
            assert peak is not None
            assert peak >= rss  # every worker's peak, summed
    # the supervisors stopped with the sums over their workers
    for target in targets:
        assert target.server is not None
        counted = target.server.counted
        assert counted is not None
        assert counted[1] == "requests"
        assert counted[0] >= target.primed


def test_rows_the_cpus_cannot_hold_are_skipped_saying_so() -> None:
    settings = short(workers=3, loops=["asyncio"], http=["h11"], workloads=["plaintext", "echo"])
    two = Pinning((0,), (1,), "test")
    with_two = planning.targets(settings)
    planning.fit_cpus(with_two, two)
    rows = [target.result for target in with_two]
    # the echo server is one process: one row
    assert [(row.workload, row.workers, row.status) for row in rows] == [
        ("plaintext", 1, "ok"),
        ("plaintext", 2, "skipped"),
        ("plaintext", 3, "skipped"),
        ("echo", None, "ok"),
    ]
    assert rows[2].notes == [
        "needs 3 CPUs for the server besides the client's; this machine has 2 "
        "(--no-pin runs it, the workers and the client sharing the CPUs)"
    ]
    four = Pinning((0, 1), (2, 3), "test")
    assert four.server_for(2) == (0, 1)
    assert four.server_for(1) == four.server_for(None) == (0,)
    with_four = planning.targets(settings)
    planning.fit_cpus(with_four, four)
    assert [target.result.status for target in with_four] == ["ok", "ok", "skipped", "ok"]
    assert with_four[2].skip == (
        "needs 3 CPUs for the server besides the client's; this machine has 4 "
        "(--no-pin runs it, the workers and the client sharing the CPUs)"
    )
    # unpinned: every row runs
    unpinned = plan_pinning(False, 3)
    assert unpinned.description == f"none (--no-pin): {UNPINNED}"
    every = planning.targets(settings)
    planning.fit_cpus(every, unpinned)
    assert all(target.skip is None for target in every)
    # without --workers: the rows and the pinning of before
    assert plan_pinning(False) == Pinning(None, None, "none (--no-pin)")
    plain = planning.targets(short(loops=["asyncio"], http=["h11"]))
    planning.fit_cpus(plain, two)
    assert [(t.result.workers, t.result.label) for t in plain] == [(None, "asyncio/h11")]


def test_pinned_here_each_row_runs_on_its_own_cpus_or_is_skipped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinning = plan_pinning(True, 2)
    seen: dict[int | None, list[list[int]]] = {}
    real_round = rounds.client_round

    def spy(target: Target, *args: object, **kwargs: object) -> object:
        assert target.server is not None
        affinity: list[list[int]] = [
            getattr(psutil.Process(pid), "cpu_affinity", list)() for pid in target.server.pids
        ]
        seen[target.result.workers] = affinity
        return real_round(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rounds, "client_round", spy)
    result = compare(short(workers=2, loops=["asyncio"], http=["h11"], pin=True))
    one, two = result.results
    assert_clean(one)
    if pinning.server is None:  # no affinity API, or one CPU: unpinned, both run
        assert UNPINNED in result.settings["pinning"]
        assert_clean(two)
        return
    assert seen[1] == [list(pinning.server[:1])]
    if len(pinning.server) >= 2:
        assert_clean(two)
        assert seen[2] == [list(pinning.server[:2])] * 2
        return
    # too few CPUs for two workers besides the client's (2 CPUs here)
    cpus = len(pinning.server) + len(pinning.client or ())
    assert two.status == "skipped"
    assert two.notes == [
        f"needs 2 CPUs for the server besides the client's; this machine has {cpus} "
        "(--no-pin runs it, the workers and the client sharing the CPUs)"
    ]
    assert two.requests_per_second is None
    assert 2 not in seen


def test_the_json_keeps_the_workers_and_report_reads_it(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    args = ["compare", "--workers", "2", "--no-pin", "--loops", "asyncio", "--http", "h11"]
    args += ["--duration", "0.3", "--warmup", "0.1", "--rounds", "1", "--connections", "4"]
    done = run_cli([*args, "--json", str(path), "-q"], cwd=tmp_path, timeout=120)
    assert done.code == 0, done.stderr
    assert "asyncio/h11 x2" in done.stdout
    assert "x2: the server ran 2 worker processes" in done.stdout
    data = json.loads(path.read_text())
    assert [item["workers"] for item in data["results"]] == [1, 2]
    assert [item["label"] for item in data["results"]] == ["asyncio/h11 x1", "asyncio/h11 x2"]
    assert data["settings"]["workers"] == 2
    back = ResultFile.from_dict(data)
    assert [row.workers for row in back.results] == [1, 2]
    assert back.to_dict() == data
    report = run_cli(["report", str(path), "--markdown", "-"], cwd=tmp_path, timeout=60)
    assert report.code == 0, report.stderr
    assert "| asyncio/h11 x2 |" in report.stdout
    assert "workers 1\N{EN DASH}2" in report.stdout
    assert (
        "x2: the server ran 2 worker processes (xloop serve --workers 2); its CPU and peak RSS "
        "are the sums over them." in report.stdout
    )
    # a row of a file made before --workers: one process, no suffix
    old = {key: value for key, value in data["results"][0].items() if key != "workers"}
    row = Result.from_dict(old)
    assert row.workers is None
    assert row.label == "asyncio/h11"
    with pytest.raises(ValueError, match="'workers'"):
        Result.from_dict({**old, "workers": "2"})


def test_other_servers_get_their_own_workers_flag() -> None:
    common: dict[str, Any] = {
        "app": "pkg:app", "factory": False, "host": "127.0.0.1", "keep_alive": None,
        "ws": None, "port": 8001,
    }  # fmt: skip
    uvicorn = others.command("uvicorn", loop="uvloop", parser="h11", workers=3, **common)
    assert uvicorn[-2:] == ["--workers", "3"]
    assert "--workers" not in others.command("uvicorn", loop="uvloop", parser="h11", **common)
    granian = others.command("granian", loop="asyncio", parser="own", workers=2, **common)
    assert granian[granian.index("--workers") + 1] == "2"
    hypercorn = others.command("hypercorn", loop="asyncio", parser="h11", workers=2, **common)
    assert hypercorn[hypercorn.index("--workers") + 1] == "2"
    # the tables' note on what x2 means names the flag each server got
    row = Result("asyncio", None, None, "h11", "plaintext", "builtin", 4, server="uvicorn")
    assert workers_note([row]) is None
    row.workers = 2
    assert workers_note([row]) == (
        "x2: the server ran 2 worker processes (xloop serve --workers 2, another server's own "
        "--workers); its CPU and peak RSS are the sums over them."
    )


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs uvicorn")
def test_uvicorns_rows_are_measured_on_its_workers() -> None:
    settings = short(workers=2, servers=["uvicorn"], loops=["asyncio"], http=["h11"])
    pinning = plan_pinning(False, 2)
    targets = planning.targets(settings)
    planning.fit_cpus(targets, pinning)
    with start_servers(targets, settings, pinning):
        one, two = (target.server for target in targets)
        assert one is not None
        assert two is not None
        assert one.pids == [one.proc.pid]  # one process: it serves
        assert len(two.pids) == 2
        assert two.proc.pid not in two.pids
        children = {child.pid for child in psutil.Process(two.proc.pid).children(True)}
        assert set(two.pids) <= children


def test_the_processes_that_serve_for_each_server() -> None:
    """uvicorn serves in its own process unless it runs more than one worker; granian and
    hypercorn serve from children, one per worker."""
    assert others.serving_children("uvicorn", None) == 0
    assert others.serving_children("uvicorn", 1) == 0
    assert others.serving_children("uvicorn", 3) == 3
    for name in ("granian", "hypercorn"):
        assert others.serving_children(name, None) == 1
        assert others.serving_children(name, 1) == 1
        assert others.serving_children(name, 2) == 2


@pytest.mark.skipif(importlib.util.find_spec("uvicorn") is None, reason="needs uvicorn")
def test_uvicorn_with_one_worker_is_ready_without_waiting_for_workers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``uvicorn --workers 1`` runs no worker process: once its port accepts, it is ready
    (the wait for workers that never come took the whole start-up timeout, 30 s)."""
    looked: list[int] = []
    real_children = ServerProcess._children

    def children(self: ServerProcess) -> list[int]:
        looked.append(self.proc.pid)
        return real_children(self)

    settings = short(workers=1, servers=["uvicorn"], loops=["asyncio"], http=["h11"])
    pinning = plan_pinning(False, 1)
    targets = planning.targets(settings)
    planning.fit_cpus(targets, pinning)
    monkeypatch.setattr(ServerProcess, "_children", children)
    with start_servers(targets, settings, pinning):
        (target,) = targets
        assert target.server is not None
        assert target.server.pids == [target.server.proc.pid]
        assert target.server.worker_pids == []
    assert len(looked) == 1  # looked once, not polled for workers
