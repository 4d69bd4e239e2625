"""``xloop compare`` end to end: real server processes, the built-in client, every loop here.

Runs are short (a fraction of a second per round): these tests check what is measured and
reported, never how fast anything is (that is ``benchmarks/``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from xloop import loops
from xloop.compare import external, rounds, runner
from xloop.compare import plan as planning
from xloop.compare.machine import plan_pinning
from xloop.compare.model import SCHEMA, Result, ResultFile, Round
from xloop.compare.plan import Target, default_engines, default_loops, default_parsers
from xloop.compare.runner import compare
from xloop.compare.settings import Settings
from xloop.compare.workloads import WORKLOADS
from xloop.errors import AppLoadError, ConfigError
from xloop.http import zttp_available

from ..cli._support import Completed, run_cli


def short(**options: Any) -> Settings:
    """Settings for a short run (a fraction of a second per round), unpinned so that
    parallel test workers do not crowd one CPU; c10k holds 200 connections (under every
    select() cap)."""
    values: dict[str, Any] = {
        "duration": 0.3, "warmup": 0.1, "rounds": 1, "connections": 4, "pin": False,
        "c10k_connections": 200,
    }  # fmt: skip
    values.update(options)
    return Settings(**values)


def every_loop() -> tuple[list[str], list[str]]:
    """(--loops, --selector) naming every (backend, selector) of ``loops.matrix()``."""
    names = list(dict.fromkeys(backend for backend, _ in loops.matrix()))
    selectors = [selector for backend, selector in loops.matrix() if selector] or ["auto"]
    return names, selectors


def assert_clean(row: Result) -> None:
    assert row.status == "ok", (row.label, row.workload, row.notes)
    assert row.requests_per_second
    assert row.requests_per_second > 0
    assert row.latency_p99_ms is not None
    assert row.latency_p99_ms > 0
    assert row.errors == 0
    assert row.non_2xx == 0
    assert row.loop_class
    # the server's own count of what it answered, against the client's
    assert row.server_requests == row.client_responses, row
    assert row.server_requests
    assert row.server_requests >= row.rounds[0].requests


@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_every_loop_and_parser_for_each_workload(workload: str) -> None:
    names, selectors = every_loop()
    result = compare(short(loops=names, selectors=selectors, workloads=[workload]))
    rows = result.results
    parsers = {"echo": ["tcp"], "websocket": default_engines()}.get(workload, default_parsers())
    assert len(rows) == len(loops.matrix()) * len(parsers)
    assert {row.http for row in rows} == set(parsers)
    for row in rows:
        assert row.workload == workload
        assert_clean(row)
        if row.loop == "selector":
            assert row.loop_class is not None
            assert "SelectorEventLoop" in row.loop_class
        elif row.loop == "uvloop":
            assert row.loop_class == "uvloop.Loop"
    assert {row.selector for row in rows if row.loop == "selector"} == {
        loops.resolve("selector", s).selector for s in selectors
    }


@pytest.mark.skipif(not zttp_available(), reason="zttp not installed")
def test_zttp_is_measured_when_named() -> None:
    """zttp is not among the default parsers (as with ``--http auto``), but named it runs
    every HTTP workload on every loop here, the server's count matching the client's."""
    assert "zttp" not in default_parsers()
    names, _selectors = every_loop()
    workloads = [name for name, workload in WORKLOADS.items() if workload.kind == "http"]
    result = compare(short(loops=names, http=["zttp"], workloads=workloads))
    assert {row.http for row in result.results} == {"zttp"}
    assert {row.workload for row in result.results} == set(workloads)
    for row in result.results:
        assert_clean(row)
    assert result.machine.versions.get("zttp")


def test_rounds_alternate_and_figures_are_medians() -> None:
    order: list[str] = []

    def progress(done: int, total: int, what: str) -> None:
        if what.startswith("round"):
            order.append(what)

    settings = short(http=["h11"], rounds=3)
    result = compare(settings, progress=progress)
    labels = [row.label for row in result.results]
    assert len(order) == 3 * len(labels)
    # A B A B A B: each round visits every configuration once, in the same order
    for index in range(3):
        chunk = order[index * len(labels) : (index + 1) * len(labels)]
        assert [what.split(": ", 1)[1].split()[0] for what in chunk] == labels
        assert all(what.startswith(f"round {index + 1}/3") for what in chunk)
    for row in result.results:
        assert len(row.rounds) == 3
        figures = sorted(r.requests_per_second or 0 for r in row.rounds)
        assert row.requests_per_second == figures[1]
        assert row.requests_per_second_min == figures[0]
        assert row.requests_per_second_max == figures[2]
        assert_clean(row)


def test_baseline_ratio_is_against_the_stdlib_loop() -> None:
    result = compare(short(http=["h11"]))
    rows = {row.loop: row for row in result.results}
    assert list(rows) == default_loops()
    assert rows["asyncio"].ratio == pytest.approx(1.0)
    for row in rows.values():
        assert row.baseline == "asyncio"
        assert row.ratio == pytest.approx(
            (row.requests_per_second or 0) / (rows["asyncio"].requests_per_second or 1)
        )


def test_a_named_selector_shows_in_the_label_and_the_ratio_matches_it() -> None:
    if "poll" not in {selector for _, selector in loops.matrix()}:
        pytest.skip("no poll selector here")
    result = compare(short(loops=["asyncio"], selectors=["epoll", "poll"], http=["h11"]))
    labels = [row.label for row in result.results]
    assert labels == ["asyncio[epoll]/h11", "asyncio[poll]/h11"]
    for row in result.results:
        assert row.ratio == pytest.approx(1.0)  # each against the baseline with its selector


def test_client_workers_share_the_connections_and_the_counts_add_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    commands: list[list[str]] = []
    real = external.run_tools

    def spy(all_commands: list[list[str]], **kwargs: Any) -> Any:
        commands.extend(all_commands)
        return real(all_commands, **kwargs)

    monkeypatch.setattr(external, "run_tools", spy)
    result = compare(short(loops=["asyncio"], http=["h11"], client_workers=3, connections=5))
    (row,) = result.results
    assert_clean(row)
    assert result.settings["client_workers"] == 3
    # 5 connections over 3 workers: 2, 2, 1; one measured window for all three
    shares = [int(c[c.index("--connections") + 1]) for c in commands]
    assert shares == [2, 2, 1]
    assert len({c[c.index("--start-at") + 1] for c in commands}) == 1


def test_pipelined_plaintext() -> None:
    result = compare(short(loops=["asyncio"], pipeline=8))
    for row in result.results:
        assert row.pipeline == 8
        assert_clean(row)


def test_pinning_puts_servers_and_client_on_different_cpus(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pinning = plan_pinning(True)
    if pinning.server is None:
        pytest.skip(f"no pinning here: {pinning.description}")
    seen: dict[str, list[int]] = {}
    real_round = rounds.client_round

    def spy(target: Target, *args: object, **kwargs: object) -> object:
        assert target.server is not None
        affinity = getattr(psutil.Process(target.server.proc.pid), "cpu_affinity")  # noqa: B009
        seen[target.result.label] = affinity()
        return real_round(target, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rounds, "client_round", spy)
    result = compare(short(loops=["asyncio"], http=["h11"], pin=True))
    assert seen == {"asyncio/h11": list(pinning.server)}
    # the client runs through taskset where there is one, else it is pinned once started
    command = pinning.command(["python"], pinning.client)
    if pinning.taskset:
        assert command == [
            pinning.taskset,
            "-c",
            ",".join(map(str, pinning.client or ())),
            "python",
        ]
    else:
        assert command == ["python"]
    assert result.settings["pinning"] == pinning.description
    assert f"server on CPU {pinning.server[0]}" in pinning.description


# -- files ---------------------------------------------------------------------------------


def test_json_csv_markdown_carry_the_same_rows(tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    done = run_cli(
        [
            "compare", "--loops", "asyncio", "--http", ",".join(default_parsers()),
            "--workload", "plaintext,echo", "--duration", "0.3", "--warmup", "0.1",
            "--rounds", "2", "--connections", "4", "--no-pin", "--quiet",
            "--json", str(out), "--csv", str(tmp_path / "r.csv"),
            "--markdown", str(tmp_path / "r.md"),
        ],
        cwd=tmp_path,
        timeout=120,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    data = json.loads(out.read_text())
    assert data["schema"] == SCHEMA == "xloop.compare/1"
    machine = data["machine"]
    for key in ("os", "cpu_model", "cpu_count", "python", "versions", "label"):
        assert machine[key], key
    assert set(machine["versions"]) >= {"xloop", "uvloop", "winloop", "h11", "httptools"}
    rows = data["results"]
    assert len(rows) == len(default_parsers()) + 1
    for row in rows:
        for key in (
            "loop", "loop_class", "http", "workload", "client", "requests_per_second",
            "latency_p99_ms", "errors", "status", "requests_per_second_min",
            "requests_per_second_max", "server_cpu_ms_per_1k", "server_peak_rss_mib",
        ):  # fmt: skip
            assert key in row, key
        assert row["client"] == "builtin"
        assert row["status"] == "ok"
        assert len(row["rounds"]) == 2
    file = ResultFile.from_dict(data)
    assert [r.label for r in file.results] == [r["label"] for r in rows]
    csv_lines = (tmp_path / "r.csv").read_text().strip().splitlines()
    assert len(csv_lines) == 1 + len(rows)
    markdown = (tmp_path / "r.md").read_text()
    for row in rows:
        assert row["label"] in markdown
    # the table on stdout has every row too
    for row in rows:
        assert row["label"] in done.stdout


# -- errors ------------------------------------------------------------------------------


def one_line(done: Completed) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert "Traceback" not in done.stderr, done.stderr
    errors = [line for line in lines if line.startswith("xloop: error: ")]
    assert len(errors) == 1, done.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--loops", "tokio"], "unknown loop 'tokio'"),
        (["--loops", "proactor" if not loops.IS_WINDOWS else "uvloop"], "available here"),
        (["--http", "picohttp"], "unknown parser 'picohttp'"),
        (["--workload", "soap"], "unknown workload 'soap'"),
        (["--workload", "json", "--pipeline", "4"], "plaintext workload only"),
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--duration", "0"], "--duration must be more than 0"),
        (["--duration", "inf"], "must be finite"),
        (["--client-workers", "0"], "--client-workers must be at least 1"),
        (["--json", "."], "is a directory"),
        (["--client", "curl"], "unknown client 'curl'"),
        (["--loops", ""], "--loops is empty"),
        (["--plot", "chart.gif"], "chart.gif"),
        (["--baseline", "winloop", "--loops", "asyncio"], "--baseline"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    done = run_cli(["compare", "--quiet", *args], cwd=tmp_path, timeout=60)
    assert done.code == 2, done.stderr
    line = one_line(done)
    assert needle in line, line
    assert "hint" in line or "available here" in line, line


@pytest.mark.skipif(
    "uvloop" not in loops.available_backends(), reason="needs a loop without selectors"
)
def test_selector_for_loops_without_one_is_refused(tmp_path: Path) -> None:
    done = run_cli(
        ["compare", "--quiet", "--selector", "poll", "--loops", "uvloop"], cwd=tmp_path, timeout=60
    )
    assert done.code == 2
    assert "--selector applies to the selector" in one_line(done)


@pytest.mark.skipif(loops.IS_WINDOWS, reason="the stand-in wrk is a POSIX shell script")
def test_external_client_missing_or_unfit(tmp_path: Path) -> None:
    done = run_cli(
        ["compare", "--client", "oha"], cwd=tmp_path, env={"PATH": str(tmp_path)}, timeout=60
    )
    assert done.code == 2
    assert "oha is not on PATH" in one_line(done)
    fake = tmp_path / "wrk"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    done = run_cli(
        ["compare", "--client", "wrk", "--workload", "echo"],
        cwd=tmp_path,
        env={"PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=60,
    )
    assert done.code == 2
    assert "raw TCP" in one_line(done)


def test_app_that_cannot_load_exits_3_with_the_server_log(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('the app is broken')\n")
    done = run_cli(
        ["compare", "broken:app", "--loops", "asyncio", "--http", "h11", "--quiet"],
        cwd=tmp_path,
        timeout=60,
    )
    assert done.code == 3, done.stderr
    assert "the app is broken" in done.stderr
    assert "exited with code 3 before it was ready" in done.stderr


def test_port_that_cannot_be_bound_exits_4(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli(
            ["compare", "--loops", "asyncio", "--http", "h11", "--port", str(port), "--quiet"],
            cwd=tmp_path,
            timeout=60,
        )
    assert done.code == 4, done.stderr
    assert f"{port}" in done.stderr
    assert "exited with code 4" in done.stderr


def test_in_process_errors_are_xloop_errors() -> None:
    with pytest.raises(ConfigError, match="unknown loop"):
        compare(Settings(loops=["nope"]))
    with pytest.raises(AppLoadError):
        compare(short(app="xloop_no_such_module:app", loops=["asyncio"]))


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port nothing listens on: bound (so no parallel test can take it), never listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        yield port


def test_client_that_cannot_connect_fails_the_row_not_the_run(
    monkeypatch: pytest.MonkeyPatch, closed_port: int
) -> None:
    real = rounds.builtin_round

    def elsewhere(target: Target, *args: object) -> object:
        assert target.server is not None
        if target.result.loop == default_loops()[-1]:
            target.server.port = closed_port
        return real(target, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(rounds, "builtin_round", elsewhere)
    result = compare(short(http=["h11"]))
    failed = [row for row in result.results if row.status == "failed"]
    assert len(failed) == 1
    assert failed[0].requests_per_second is None
    assert any("cannot connect" in note for note in failed[0].notes), failed[0].notes
    assert len(result.results) == len(default_loops())  # no row dropped


def test_server_that_dies_mid_run_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    killed: list[int] = []

    def progress(done: int, total: int, what: str) -> None:
        if what.startswith("round 2") and not killed:
            target = runner_targets[0]
            assert target.server is not None
            target.server.kill()
            killed.append(target.server.proc.pid)

    runner_targets: list[Target] = []
    real_plan = planning.targets

    def plan(settings: Settings) -> list[Target]:
        runner_targets[:] = real_plan(settings)
        return runner_targets

    monkeypatch.setattr(planning, "targets", plan)
    result = compare(short(loops=["asyncio"], http=["h11"], rounds=2), progress=progress)
    (row,) = result.results
    assert killed
    assert row.status == "errors"
    assert row.rounds[0].requests_per_second
    assert row.rounds[1].error
    assert "server exited with code" in row.rounds[1].error
    assert any("round 2" in note for note in row.notes)


def test_a_stop_signal_the_os_refuses_kills_at_once_and_the_row_says_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the OS will not send the stop signal (Windows without a console shared with the
    server; Wine never sends Ctrl+Break), the server is killed at once, not after the wait
    for a stop that cannot come, and the row says why its count was not checked."""
    refused: list[int] = []
    real_send = subprocess.Popen.send_signal

    def send_signal(proc: subprocess.Popen[Any], sig: int) -> None:
        if sig == getattr(signal, "CTRL_BREAK_EVENT", signal.SIGINT):
            refused.append(proc.pid)
            raise PermissionError(1, "Operation not permitted")
        real_send(proc, sig)

    monkeypatch.setattr(subprocess.Popen, "send_signal", send_signal)
    started = time.monotonic()
    result = compare(short(loops=["asyncio"], http=["h11"]))
    took = time.monotonic() - started
    (row,) = result.results
    assert refused
    assert row.status == "ok", row.notes
    assert row.requests_per_second
    assert row.server_requests is None
    assert (
        f"the OS refused to send {'Ctrl+Break' if loops.IS_WINDOWS else 'SIGINT'} "
        "([Errno 1] Operation not permitted) and it was killed: its own request count is "
        "unknown, the counts were not checked"
    ) in row.notes
    # not the 5-20 s wait for a stop that the signal would have asked for
    assert took < 15, took


def test_count_mismatch_marks_the_row() -> None:
    row = Result(
        loop="asyncio", loop_class="x", selector=None, http="h11", workload="plaintext",
        client="builtin", connections=1,
        rounds=[Round(0, requests=10, requests_per_second=5.0, latency_p99_ms=1.0)],
    )  # fmt: skip
    row.summarize()
    assert row.status == "ok"
    target = Target("asyncio", "auto", "h11", WORKLOADS["plaintext"], row)

    class Stopped:
        counted = (11, "requests")
        exits: list[dict[str, object]] = []
        capped = None

        class proc:
            returncode = 0

        @staticmethod
        def tail_line() -> str:
            return ""

    target.server = Stopped()  # type: ignore[assignment]
    runner.finish_row(target, Settings(), 10, plan_pinning(False))
    assert row.status == "errors"
    assert row.notes == ["the client counted 10 responses, the server 11 requests"]


def test_python_m_xloop_compare_default_run_is_usable(tmp_path: Path) -> None:
    """The README's command with short rounds: every default loop and parser, a table."""
    done = run_cli(
        ["compare", "--duration", "0.3", "--warmup", "0.1", "--rounds", "1", "--quiet"],
        cwd=tmp_path,
        timeout=120,
    )
    assert done.code == 0, done.stderr
    for loop in default_loops():
        for parser in default_parsers():
            assert f"{loop}/{parser}" in done.stdout, done.stdout
    assert "pinning:" in done.stdout


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_and_builtin_measure_the_same_configurations() -> None:
    result = compare(short(loops=["asyncio"], http=["h11"], clients=["builtin", "wrk"], duration=1))
    rows = {row.client: row for row in result.results}
    assert set(rows) == {"builtin", "wrk"}
    for row in rows.values():
        assert row.status == "ok", row.notes
        assert row.requests_per_second
        assert row.requests_per_second > 0
        assert row.latency_p99_ms is not None
        assert row.server_cpu_ms_per_1k is not None
        assert row.ratio == pytest.approx(1.0)  # each client is its own baseline
    assert result.settings["client"] == "builtin,wrk"


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_runs_upload_and_pipelined_plaintext_through_its_script() -> None:
    result = compare(short(loops=["asyncio"], http=["h11"], clients=["wrk"], workloads=["upload"]))
    (row,) = result.results
    assert row.status == "ok", row.notes
    assert row.non_2xx == 0
    piped = compare(short(loops=["asyncio"], http=["h11"], clients=["wrk"], pipeline=4))
    assert piped.results[0].status == "ok", piped.results[0].notes


def test_ctrl_c_during_a_run_is_one_line_and_exit_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from xloop import cli
    from xloop.compare import command

    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "run_compare", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["compare"])
    assert exit_info.value.code == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "xloop: error: interrupted"
    assert "Traceback" not in err
