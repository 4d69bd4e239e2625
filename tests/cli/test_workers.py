"""``xloop serve --workers N``: real worker processes serving one listener on 127.0.0.1.

Each test starts a supervisor with ``--status-fd`` and waits on its events (``ready`` once
every worker serves, ``worker`` as each one serves or exits) or on its log, with deadlines;
the app answers with the pid of the worker that served the request. POSIX signals drive
the supervisor (SIGKILL, SIGHUP, SIGTTIN, SIGTTOU): Linux and macOS.
"""

from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path

import pytest

from xloop import loops

from ._support import (
    EXIT_TIMEOUT,
    STARTUP_TIMEOUT,
    Backend,
    error_lines,
    loop_families,
    run_cli,
)
from ._workers import (
    SIGHUP,
    SIGKILL,
    SIGTTIN,
    SIGTTOU,
    Conn,
    Cut,
    Reply,
    both_serve,
    fresh_get,
    running_load,
    serve_args,
    supervised,
    until,
    write_pid_app,
)

pytestmark = pytest.mark.skipif(loops.IS_WINDOWS, reason="POSIX signals drive the supervisor")

#: The loops a worker runs in the tests that depend on it, besides the default (the
#: supervisor's own loop is always the stdlib one): the selector loop and uvloop, where
#: installed and not what the default resolves to.
LOOPS = [
    b
    for b in loop_families()
    if b.loop in ("selector", "uvloop") and b.loop != loops.resolve("auto").backend
]
LOOP_IDS = [b.loop for b in LOOPS]

#: How soon a worker killed with SIGKILL serves again: the spare process takes its place
#: and imports the app. Coverage measuring every process makes that several times slower:
#: there the bound is the start-up one.
REPLACED_WITHIN = STARTUP_TIMEOUT if os.environ.get("COVERAGE_PROCESS_START") else 1.0


# -- serving -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, *LOOPS], ids=["default", *LOOP_IDS])
def test_workers_share_one_port_and_each_serves(tmp_path: Path, backend: Backend | None) -> None:
    app = write_pid_app(tmp_path)
    extra = [] if backend is None else backend.loop_args()
    with supervised(serve_args(app, *extra), cwd=tmp_path) as server:
        ready = server.ready()
        port = ready["port"]
        assert isinstance(port, int)
        assert port > 0
        assert ready["address"] == f"http://127.0.0.1:{port}"
        workers = ready["workers"]
        assert len(set(workers)) == 2
        assert server.process.proc.pid not in workers
        serving = server.events("worker")
        assert sorted((e["number"], e["pid"]) for e in serving) == sorted(
            zip([1, 2], workers, strict=True)
        )
        # each worker logs the one port (before the supervisor says it serves): the
        # supervisor bound it once
        for number, pid in enumerate(workers, 1):
            server.process.wait_for(f"worker {number} [{pid}] serving")
        lines = re.findall(r"xloop serving on http://127\.0\.0\.1:(\d+)", server.process.log)
        assert lines == [str(port)] * 2
        assert both_serve(port, set(workers)) == set(workers)
        if backend is not None:
            expected = "uvloop" if backend.loop == "uvloop" else "asyncio"
            assert ready["loop_class"].startswith(expected), ready
        spare = server.worker("spare")["pid"]
        assert spare not in workers
        assert server.process.stop() == 0, server.process.describe()
        with pytest.raises(ProcessLookupError):  # the spare went too, and was waited for
            os.kill(spare, 0)
        stopped = server.status.wait_for("stopped", EXIT_TIMEOUT)
        assert stopped is not None
        assert stopped["requests"] >= 2
        exits = {e["pid"]: e["code"] for e in server.events("worker") if e["state"] == "exited"}
        assert exits == dict.fromkeys(workers, 0)


# -- a worker that dies or hangs -------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, *LOOPS], ids=["default", *LOOP_IDS])
def test_a_killed_worker_is_replaced_at_once_and_only_its_requests_fail(
    tmp_path: Path, backend: Backend | None
) -> None:
    app = write_pid_app(tmp_path)
    extra = [] if backend is None else backend.loop_args()
    with supervised(serve_args(app, *extra), cwd=tmp_path) as server:
        ready = server.ready()
        port, workers = ready["port"], ready["workers"]
        number = {e["pid"]: e["number"] for e in server.events("worker")}
        # the supervisor keeps a spare process, imported and waiting to take a slot
        spare = server.worker("spare")["pid"]
        with running_load(port, 20) as load:
            # the worker with the most of the load's connections
            victim = max(workers, key=lambda pid: load.on[pid])
            assert load.on[victim] > 0, load.on
            before = load.total
            killed = time.monotonic()
            os.kill(victim, SIGKILL)
            new = server.worker("serving", number=number[victim], pid=lambda p: p not in workers)
            replaced_in = time.monotonic() - killed
            assert new["pid"] == spare
            # the new worker serves (fresh connections until it answers one), and the load
            # went on meanwhile
            both_serve(port, {new["pid"]})
            until(lambda: load.total > before + 100, STARTUP_TIMEOUT, "the load goes on")
        exited = server.worker("exited", pid=victim)
        assert exited["code"] == -SIGKILL
        assert replaced_in < REPLACED_WITHIN, f"replaced after {replaced_in:.2f} s"
        wrong = [f for f in load.failures if f.pid != victim]
        assert not wrong, wrong
        assert not load.bad_status
        server.process.wait_for(f"worker {number[victim]} [{victim}] died (signal SIGKILL)")
        assert server.process.stop() == 0, server.process.describe()
        print(
            f"killed worker replaced in {replaced_in:.3f} s; {load.total} requests, "
            f"{len(load.failures)} cut on the killed worker"
        )


def test_a_worker_whose_loop_blocks_is_killed_and_replaced(tmp_path: Path) -> None:
    app = write_pid_app(tmp_path)
    args = serve_args(app, "--timeout-worker-healthcheck", "1")
    with supervised(args, cwd=tmp_path) as server:
        ready = server.ready()
        port, workers = ready["port"], ready["workers"]
        blocked = Conn(port)
        try:
            blocked.send(b"GET /block HTTP/1.1\r\nHost: t\r\n\r\n")
            line = server.process.wait_for(
                re.compile(
                    r"worker (\d) \[(\d+)\] did not answer a heartbeat for ([\d.]+) s "
                    r"\(--timeout-worker-healthcheck 1\): killing and replacing it"
                ),
                STARTUP_TIMEOUT,
            )
            pid = int(line.group(2))
            assert pid in workers
            assert 1.0 <= float(line.group(3)) < 5.0
            assert server.worker("exited", pid=pid)["code"] == -SIGKILL
            assert blocked.at_eof()  # its request died with it
        finally:
            blocked.close()
        new = server.worker("serving", number=int(line.group(1)), pid=lambda p: p not in workers)
        both_serve(port, {new["pid"], *(set(workers) - {pid})})
        assert server.process.stop() == 0, server.process.describe()


# -- start-up failures ---------------------------------------------------------------------

BROKEN_APP = """\
with open('starts.txt', 'a') as starts:
    starts.write('started\\n')
raise ImportError('no module named nothing_here')
"""


def test_an_app_that_cannot_start_stops_the_run_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text(BROKEN_APP)
    done = run_cli(["serve", *serve_args("broken:app")], cwd=tmp_path)
    assert done.code == 3, done.stderr
    errors = error_lines(done.stderr)
    assert len(errors) == 1, done.stderr
    assert re.fullmatch(
        r"xloop: error: worker \d \[\d+\] could not start: importing 'broken' raised "
        r"ImportError: no module named nothing_here \(hint: .*\)",
        errors[0],
    ), errors
    assert "Traceback" not in done.stderr
    # each worker was started once: no restart
    assert (tmp_path / "starts.txt").read_text().splitlines() == ["started"] * 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2", "--reload"], "--reload and --workers cannot be used together"),
        (["--workers", "0"], "--workers"),
    ],
    ids=["workers-and-reload", "zero-workers"],
)
def test_usage_errors(tmp_path: Path, args: list[str], message: str) -> None:
    write_pid_app(tmp_path)
    done = run_cli(["serve", "pids:app", "--port", "0", *args], cwd=tmp_path)
    assert done.code == 2, done.stderr
    assert done.stderr.count("\n") == 1, done.stderr
    (line,) = error_lines(done.stderr)
    assert message in line
    assert "(hint: " in line


# -- signals -------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", [None, *LOOPS], ids=["default", *LOOP_IDS])
def test_sighup_replaces_every_worker_under_load_without_a_failed_request(
    tmp_path: Path, backend: Backend | None
) -> None:
    app = write_pid_app(tmp_path)
    extra = [] if backend is None else backend.loop_args()
    with supervised(serve_args(app, *extra), cwd=tmp_path) as server:
        ready = server.ready()
        port, old = ready["port"], ready["workers"]
        with running_load(port, 20) as load:
            server.process.proc.send_signal(SIGHUP)
            for pid in old:
                assert server.worker("exited", pid=pid)["code"] == 0
            events = server.events("worker")
            new = {e["pid"] for e in events if e["state"] == "serving"} - set(old)
            assert len(new) == 2
            # slot by slot, the new worker served before the old one exited
            for slot in (1, 2):
                seen = [e["state"] for e in events if e["number"] == slot]
                assert seen == ["serving", "serving", "exited"], events
            before = load.total
            until(lambda: load.total > before + 100, STARTUP_TIMEOUT, "the load goes on")
        failed = [f for f in load.failures if not f.retriable]
        assert not failed, failed
        assert not load.bad_status
        assert set(load.served) & new  # the load's connections moved to new workers
        assert both_serve(port, new) >= new
        server.process.wait_for("SIGHUP received: restarting every worker, one at a time")
        print(f"SIGHUP under load: {load.total} requests, {len(load.failures)} retried")
        assert server.process.stop() == 0, server.process.describe()


def _on_each(port: int, pids: set[int], path: str = "/") -> list[tuple[Conn, Reply]]:
    """Keep-alive connections, each with a response head received for ``path``, until each
    pid in ``pids`` holds one."""
    held: list[tuple[Conn, Reply]] = []

    def one_more() -> bool:
        conn = Conn(port)
        conn.send(f"GET {path} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
        held.append((conn, conn.head()))
        return pids <= {c.pid for c, _ in held}

    try:
        until(one_more, STARTUP_TIMEOUT, f"a connection on each of {pids}")
    except BaseException:
        for conn, _ in held:
            conn.close()
        raise
    return held


@pytest.mark.parametrize("second", [False, True], ids=["drain", "second-sigint-forces"])
def test_sigint_drains_every_worker_and_a_second_one_forces(tmp_path: Path, second: bool) -> None:
    app = write_pid_app(tmp_path)
    gate = tmp_path / "release"
    with supervised(serve_args(app), cwd=tmp_path) as server:
        ready = server.ready()
        port, workers = ready["port"], set(ready["workers"])
        idle = _on_each(port, workers)  # idle keep-alive connections: closed on draining
        held = _on_each(port, workers, f"/gated?{gate.name}")  # requests in flight
        try:
            for conn, reply in idle:
                conn.body(reply)
            server.process.proc.send_signal(signal.SIGINT)
            server.process.wait_for("SIGINT received: stopping the workers gracefully")
            for conn, _ in idle:  # every worker drains: its idle connections close
                assert conn.at_eof()
            assert server.process.proc.poll() is None  # the held requests keep it running
            if second:
                server.process.proc.send_signal(signal.SIGINT)
                server.process.wait_for("second SIGINT: forcing exit")
                for conn, reply in held:  # cut without their bodies
                    with pytest.raises(Cut):
                        conn.body(reply)
                assert server.process.wait_exit() == 0, server.process.describe()
                return
            gate.touch()
            for conn, reply in held:  # each completes, then its connection closes
                conn.body(reply)
                assert (reply.status, reply.body) == (200, str(conn.pid).encode())
                assert conn.at_eof()
        finally:
            for conn, _ in (*idle, *held):
                conn.close()
        assert server.process.wait_exit() == 0, server.process.describe()
        codes = {e["pid"]: e["code"] for e in server.events("worker") if e["state"] == "exited"}
        assert codes == dict.fromkeys(workers, 0)
        server.process.wait_for("supervisor [")


def test_sigttin_adds_a_worker_and_sigttou_removes_one(tmp_path: Path) -> None:
    app = write_pid_app(tmp_path)
    with supervised(serve_args(app), cwd=tmp_path) as server:
        ready = server.ready()
        port, workers = ready["port"], set(ready["workers"])
        server.process.proc.send_signal(SIGTTIN)
        server.process.wait_for("SIGTTIN received: one worker more (3)")
        third = server.worker("serving", number=3)["pid"]
        assert third not in workers
        assert both_serve(port, {*workers, third}) == {*workers, third}
        server.process.proc.send_signal(SIGTTOU)
        server.process.wait_for("SIGTTOU received: one worker fewer (2)")
        assert server.worker("exited", pid=third)["code"] == 0
        server.process.proc.send_signal(SIGTTOU)
        server.process.wait_for("SIGTTOU received: one worker fewer (1)")
        gone = server.worker("exited", pid=lambda p: p in workers)
        assert gone["code"] == 0
        (left,) = workers - {gone["pid"]}
        for _ in range(5):  # every request now goes to the one left
            assert fresh_get(port).pid == left
        server.process.proc.send_signal(SIGTTOU)
        server.process.wait_for("SIGTTOU received: already down to one worker")
        assert fresh_get(port).pid == left
        assert server.process.stop() == 0, server.process.describe()
        exits = [e["pid"] for e in server.events("worker") if e["state"] == "exited"]
        assert sorted(exits) == sorted([third, *workers])


def test_workers_are_replaced_after_their_max_requests_with_jitter(tmp_path: Path) -> None:
    app = write_pid_app(tmp_path)
    args = serve_args(app, "--limit-max-requests", "5", "--limit-max-requests-jitter", "3")
    with supervised(args, cwd=tmp_path) as server:
        port = server.ready()["port"]
        served: dict[int, int] = {}
        # one connection each: every request counts for one worker. After 30, whatever
        # the order: the two serving have answered 7 each at most, so workers that exited
        # answered 16 or more, and each 8 at most: 2 or more have exited
        for _ in range(30):
            reply = fresh_get(port)
            assert reply.status == 200
            served[reply.pid] = served.get(reply.pid, 0) + 1
        assert server.process.stop() == 0, server.process.describe()
        replaced = re.findall(
            r"worker \d \[(\d+)\] is stopping by itself: starting another", server.process.log
        )
        assert len(replaced) >= 2, server.process.log
        for pid in map(int, replaced):
            assert 5 <= served[pid] <= 8, served
            assert server.worker("exited", pid=pid)["code"] == 0


GATED_LOOP = """\
import array
import asyncio
import fcntl
import sys
import termios
import time


def factory():
    # the worker calls this after its control thread started, before its loop exists
    print('GATE: waiting', file=sys.stderr, flush=True)
    with open('gate.fifo') as gate:
        gate.read()
    # the test opened the gate once the supervisor sent its stop: wait until the control
    # thread has read it off stdin, then let that thread run (it needs the GIL)
    pending = array.array('i', [1])
    for _ in range(1000):
        fcntl.ioctl(0, termios.FIONREAD, pending)
        if not pending[0]:
            break
        time.sleep(0.01)
    time.sleep(0.2)
    return asyncio.SelectorEventLoop()
"""


def test_a_stop_sent_before_the_worker_loop_runs_is_not_lost(tmp_path: Path) -> None:
    (tmp_path / "gated.py").write_text(GATED_LOOP)
    mkfifo = getattr(os, "mkfifo")  # noqa: B009 - POSIX only
    mkfifo(tmp_path / "gate.fifo")
    app = write_pid_app(tmp_path)
    args = serve_args(app, "--loop", "gated:factory", workers=1)
    with supervised(args, cwd=tmp_path) as server:
        server.process.wait_for("GATE: waiting", STARTUP_TIMEOUT)
        server.process.proc.send_signal(signal.SIGINT)
        server.process.wait_for("waiting for 1 worker(s) to drain")
        with open(tmp_path / "gate.fifo", "w"):
            pass  # the worker's loop may now be made
        assert server.process.wait_exit() == 0, server.process.describe()
        (exited,) = [e for e in server.events("worker") if e["state"] == "exited"]
        assert exited["code"] == 0


def test_each_worker_process_is_measured_by_coverage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("coverage")
    # a measured test run hands its own config (and data file) to its subprocesses this
    # way, before COVERAGE_PROCESS_START: this test's supervisor starts from the project's
    monkeypatch.delenv("COVERAGE_PROCESS_CONFIG", raising=False)
    config = Path(__file__).resolve().parents[2] / "pyproject.toml"
    env = {"COVERAGE_PROCESS_START": str(config), "COVERAGE_FILE": str(tmp_path / ".coverage")}
    app = write_pid_app(tmp_path)
    with supervised(serve_args(app), cwd=tmp_path, env=env) as server:
        workers = server.ready()["workers"]
        assert server.process.stop() == 0, server.process.describe()
    # one data file per process: .coverage.HOST.pidPID.XRANDOM
    names = [p.name for p in tmp_path.glob(".coverage.*")]
    measured = {int(m.group(1)) for n in names if (m := re.search(r"\.pid(\d+)\.", n))}
    assert set(workers) <= measured, names


def test_a_worker_above_the_memory_limit_is_replaced_gracefully(tmp_path: Path) -> None:
    # every Python process is above 1 MiB: the first heartbeat answered replaces it
    app = write_pid_app(tmp_path)
    args = serve_args(
        app, "--limit-worker-memory", "1", "--timeout-worker-healthcheck", "0.4", workers=1
    )
    with supervised(args, cwd=tmp_path) as server:
        first = server.ready()["workers"][0]
        line = server.process.wait_for(
            re.compile(rf"worker 1 \[{first}\] uses (\d+) MiB \(--limit-worker-memory 1\)")
        )
        assert int(line.group(1)) > 1
        new = server.worker("serving", number=1, pid=lambda pid: pid != first)
        # gracefully: the new one served before the old one drained and exited 0
        assert server.worker("exited", pid=first)["code"] == 0
        states = [(e["pid"], e["state"]) for e in server.events("worker") if e["number"] == 1]
        assert states.index((new["pid"], "serving")) < states.index((first, "exited"))
        assert server.process.stop() == 0, server.process.describe()
