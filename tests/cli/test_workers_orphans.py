"""A supervisor killed outright (SIGKILL; on Windows TerminateProcess: ``taskkill /F``,
``Popen.kill()``) leaves no process of the server behind: its workers see their stdin at end
of file, drain and exit; on Windows a process in the server's job that never ran (what a
supervisor killed inside ``CreateProcess`` leaves: ``xloop/server/job.py``) ends with the
last worker.

On POSIX and Windows. Every process of the server holds its stderr, so the end of the log
the test reads is the end of all of them: that is what is waited for, with a deadline.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import loops

from ._support import EXIT_TIMEOUT
from ._workers import PID_APP, Supervised, fresh_get, serve_args, supervised, write_pid_app

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE

#: PID_APP, which on import starts a process suspended (Windows' CREATE_SUSPENDED: it never
#: runs) that holds the server's stderr, and writes its pid to ``suspended.pid``.
SUSPENDED_APP = (
    PID_APP
    + """
import subprocess
import sys

SUSPENDED = subprocess.Popen(
    [sys.executable, '-c', 'pass'], creationflags=0x00000004, stderr=sys.stderr
)
Path('suspended.pid').write_text(str(SUSPENDED.pid))
"""
)

#: A worker that drained: its server's last line.
DRAINED = re.compile(r"xloop stopped after 1 requests on 1 connections")


def _running(pid: int) -> bool:  # pragma: windows-only
    winapi = importlib.import_module("_winapi")
    try:
        handle = winapi.OpenProcess(0x00100000 | 0x1000, False, pid)  # SYNCHRONIZE, QUERY
    except OSError:
        return False
    try:
        return bool(winapi.WaitForSingleObject(handle, 0) == 0x102)  # WAIT_TIMEOUT
    finally:
        winapi.CloseHandle(handle)


def _serve_once_then_kill(server: Supervised, ready: dict[str, Any]) -> None:
    """One request to the worker, then the supervisor killed outright: every process of
    the server must end (the log's end) and the worker must have drained."""
    assert fresh_get(ready["port"]).pid == ready["workers"][0]
    server.process.proc.kill()
    server.process.proc.wait(EXIT_TIMEOUT)
    ended = server.process.wait_log_end(EXIT_TIMEOUT)
    log = server.process.log
    assert ended, f"a process of the server runs on {EXIT_TIMEOUT} s later:\n{log}"
    assert DRAINED.search(log), f"the worker did not drain:\n{log}"


def test_a_killed_supervisor_leaves_no_worker_behind(tmp_path: Path) -> None:
    app = write_pid_app(tmp_path)
    with supervised(serve_args(app, workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        server.worker("spare", number=0)  # a second process to be left behind
        _serve_once_then_kill(server, ready)


@pytest.mark.skipif(not loops.IS_WINDOWS, reason="Windows' processes created suspended")
def test_a_process_that_never_ran_ends_with_the_last_worker(
    tmp_path: Path,
) -> None:  # pragma: windows-only
    (tmp_path / "suspended_app.py").write_text(SUSPENDED_APP, encoding="utf-8")
    with supervised(serve_args("suspended_app:app", workers=1), cwd=tmp_path) as server:
        ready = server.ready()
        suspended = int((tmp_path / "suspended.pid").read_text(encoding="utf-8"))
        try:
            _serve_once_then_kill(server, ready)
            assert not _running(suspended)
        finally:
            with contextlib.suppress(OSError):  # what the server left must not outlive the test
                os.kill(suspended, signal.SIGTERM)
