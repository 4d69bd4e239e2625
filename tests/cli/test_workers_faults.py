"""``xloop serve --workers N`` when things go wrong: workers that keep dying, exit by
themselves or cannot start again, a rolling restart whose new worker cannot start, signals
that come while the supervisor stops, and a Unix socket left behind.

Like ``test_workers.py``: real processes, the supervisor's ``--status-fd`` events and log
lines waited on with deadlines; POSIX signals drive it (Linux and macOS). Every test ends
with a graceful stop that must exit 0.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from xloop import loops

from ._support import IO_TIMEOUT, STARTUP_TIMEOUT
from ._workers import (
    PID_APP,
    SIGHUP,
    SIGKILL,
    SIGTTIN,
    SIGTTOU,
    Conn,
    both_serve,
    fresh_get,
    serve_args,
    supervised,
    until,
)

pytestmark = pytest.mark.skipif(loops.IS_WINDOWS, reason="POSIX signals drive the supervisor")

#: PID_APP, whose import fails while a file ``broken`` exists and waits while a file
#: ``hold`` exists (a worker that cannot start, one that is slow to), and whose ``/exit``
#: ends the worker process with exit code 0, without a word to the supervisor.
FAULTY_APP = """\
import os
import time
from pathlib import Path

for _ in range(6000):  # at most a minute
    if not Path('hold').exists():
        break
    time.sleep(0.01)
if Path('broken').exists():
    raise ImportError('broken on purpose')
""" + PID_APP.replace(
    "    if scope['path'] == '/block':",
    "    if scope['path'] == '/exit':\n        os._exit(0)\n    if scope['path'] == '/block':",
)


def write_faulty_app(directory: Path) -> str:
    (directory / "faulty.py").write_text(FAULTY_APP, encoding="utf-8")
    return "faulty:app"


# -- crashes ---------------------------------------------------------------------------------


def test_a_worker_that_keeps_dying_is_restarted_after_a_growing_delay(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    with supervised(serve_args(app, workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        port, pid = ready["port"], ready["workers"][0]
        seen = {pid}
        delays = []
        for _ in range(3):
            os.kill(pid, SIGKILL)
            line = server.process.wait_for(
                re.compile(
                    rf"worker 1 \[{pid}\] died \(signal SIGKILL\) after [\d.]+ s: "
                    r"restarting(?: in ([\d.]+) s)?$"
                ),
                STARTUP_TIMEOUT,
            )
            delays.append(line.group(1))
            assert server.worker("exited", pid=pid)["code"] == -SIGKILL
            pid = server.worker("serving", number=1, pid=lambda p: p not in seen)["pid"]
            seen.add(pid)
            assert fresh_get(port).pid == pid
        # the first crash is replaced at once; one soon after a restart waits, longer each time
        assert delays == [None, "0.1", "0.2"]
        assert server.process.stop() == 0, server.process.describe()


def test_a_worker_that_exits_cleanly_by_itself_is_replaced_at_once(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    with supervised(serve_args(app, workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        port, first = ready["port"], ready["workers"][0]
        conn = Conn(port)
        try:
            conn.send(b"GET /exit HTTP/1.1\r\nHost: t\r\n\r\n")
            assert conn.at_eof()
        finally:
            conn.close()
        assert server.worker("exited", pid=first)["code"] == 0
        server.process.wait_for(f"worker 1 [{first}] exited (exit code 0): starting another")
        new = server.worker("serving", number=1, pid=lambda p: p != first)["pid"]
        assert fresh_get(port).pid == new
        assert server.process.stop() == 0, server.process.describe()


# -- a worker that cannot start again ----------------------------------------------------------


def test_a_replacement_that_cannot_start_is_retried_after_a_growing_delay(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    broken = tmp_path / "broken"
    with supervised(serve_args(app, workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        port, first = ready["port"], ready["workers"][0]
        broken.touch()  # from now on the app does not import
        os.kill(first, SIGKILL)
        for delay in ("0.2", "0.4"):
            server.process.wait_for(
                re.compile(
                    r"worker 1 \[\d+\] could not start: importing 'faulty' raised ImportError: "
                    rf"broken on purpose; trying again in {delay} s$"
                ),
                STARTUP_TIMEOUT,
            )
        # each try was a process of its own that exited with the app's exit code
        one = server.worker("exited", code=3)["pid"]
        server.worker("exited", code=3, pid=lambda p: p not in (first, one))
        broken.unlink()  # the next try starts
        new = server.worker("serving", number=1, pid=lambda p: p != first)["pid"]
        assert fresh_get(port).pid == new
        assert server.process.stop() == 0, server.process.describe()


# -- rolling restarts --------------------------------------------------------------------------


def test_a_rolling_restart_whose_new_worker_cannot_start_leaves_the_old_one(
    tmp_path: Path,
) -> None:
    app = write_faulty_app(tmp_path)
    with supervised(serve_args(app), cwd=tmp_path) as server:
        ready = server.ready()
        port, workers = ready["port"], set(ready["workers"])
        (tmp_path / "broken").touch()
        server.process.proc.send_signal(SIGHUP)
        line = server.process.wait_for(
            re.compile(
                r"rolling restart stopped: the new worker (\d) \[(\d+)\] did not start; "
                r"the old one serves on"
            ),
            STARTUP_TIMEOUT,
        )
        assert int(line.group(2)) not in workers
        # why, once, and no retry: the old worker keeps its slot
        server.process.wait_for(
            re.compile(
                rf"worker \d \[{line.group(2)}\] could not start: importing 'faulty' raised "
                r"ImportError: broken on purpose$"
            )
        )
        assert "trying again" not in server.process.log, server.process.log
        assert server.worker("exited", pid=int(line.group(2)))["code"] == 3
        # the old workers serve on, both of them and only them, and no worker is retried
        assert both_serve(port, workers) == workers
        (tmp_path / "broken").unlink()
        assert server.process.stop() == 0, server.process.describe()
        server.status.join(IO_TIMEOUT)  # every event read
        exits = [e for e in server.events("worker") if e["state"] == "exited"]
        assert sorted(e["pid"] for e in exits if e["code"] == 0) == sorted(workers)
        assert [e["code"] for e in exits if e["pid"] not in workers] == [3]


def test_a_sighup_during_a_rolling_restart_does_not_start_another(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    hold = tmp_path / "hold"
    with supervised(serve_args(app), cwd=tmp_path) as server:
        ready = server.ready()
        port, old = ready["port"], set(ready["workers"])
        hold.touch()  # the new workers wait in their import: the restart is under way
        server.process.proc.send_signal(SIGHUP)
        server.process.wait_for("SIGHUP received: restarting every worker, one at a time")
        server.process.proc.send_signal(SIGHUP)
        server.process.wait_for("a rolling restart is under way: not starting another")
        hold.unlink()
        for pid in old:
            assert server.worker("exited", pid=pid)["code"] == 0
        serving = [e for e in server.events("worker") if e["state"] == "serving"]
        new = {e["pid"] for e in serving} - old
        assert len(new) == 2, serving  # one restart: one new worker per slot
        assert both_serve(port, new) == new
        assert server.process.stop() == 0, server.process.describe()


# -- signals while stopping ------------------------------------------------------------------


def test_signals_other_than_a_second_stop_are_ignored_while_stopping(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    gate = tmp_path / "release"
    with supervised(serve_args(app, workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        conn = Conn(ready["port"])
        try:
            conn.send(f"GET /gated?{gate.name} HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            reply = conn.head()  # a request in flight keeps the worker draining
            server.process.proc.send_signal(signal.SIGINT)
            server.process.wait_for("SIGINT received: stopping the workers gracefully")
            for sig, name in ((SIGHUP, "SIGHUP"), (SIGTTIN, "SIGTTIN"), (SIGTTOU, "SIGTTOU")):
                server.process.proc.send_signal(sig)
                server.process.wait_for(f"{name} received while stopping: ignored")
            gate.touch()
            assert conn.body(reply).status == 200
        finally:
            conn.close()
        assert server.process.wait_exit() == 0, server.process.describe()
        server.status.join(IO_TIMEOUT)  # every event read
        states = [(e["pid"], e["state"]) for e in server.events("worker") if e["number"] == 1]
        assert states == [(ready["workers"][0], "serving"), (ready["workers"][0], "exited")]


# -- a Unix socket -----------------------------------------------------------------------------


@contextlib.contextmanager
def short_directory() -> Iterator[Path]:
    """AF_UNIX paths are limited to about 100 bytes: a directory with a short path."""
    with tempfile.TemporaryDirectory(prefix="xl") as short:
        yield Path(short)


def unix_get(path: Path) -> int:
    """One request over the Unix socket: the pid that answered."""
    family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(IO_TIMEOUT)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), data
    return int(body)


def test_workers_share_a_unix_socket_which_the_supervisor_removes(tmp_path: Path) -> None:
    app = write_faulty_app(tmp_path)
    with short_directory() as short:
        path = short / "s.sock"
        args = [app, "--workers", "2", "--uds", str(path), "--no-access-log"]
        with supervised(args, cwd=tmp_path) as server:
            ready = server.ready()
            assert ready["address"] == f"unix:{path}"
            workers = set(ready["workers"])
            seen: set[int] = set()

            def answered() -> bool:
                seen.add(unix_get(path))
                return workers <= seen

            until(answered, STARTUP_TIMEOUT, "both workers answer on the Unix socket")
            assert seen == workers
            assert server.process.stop() == 0, server.process.describe()
        assert not path.exists(), "the socket file outlived the supervisor"
