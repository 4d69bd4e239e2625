"""Two workers hold 1,500 concurrent keep-alive connections, beyond select()'s 512, on every
loop here (on Windows: the proactor loop and winloop, with the listener handed to each
worker's loop by an accept thread); the stop signal (Ctrl+Break on Windows) then drains them
all and the supervisor exits 0.

The stop signal: SIGINT on POSIX. On Windows, SIGBREAK raised inside the supervisor
(``signal.raise_signal``, from a thread of the wrapper below, on a line written to its
stdin): the handler a console's Ctrl+Break reaches through the C runtime, what
``tests/cli/test_signals.py`` does for one server. The console's own delivery is not what is
under test, and cannot be everywhere: Wine 8 sends only CTRL_C events
(``GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT)`` fails whatever the console) and its C runtime
never raises SIGBREAK; a CI runner's processes may share no console.
"""

from __future__ import annotations

import asyncio
import collections
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.server import harness
from xloop.compare.fdlimit import raise_fd_limit
from xloop.loops.workers import worker_plan
from xloop.status import StatusPipe

from ._support import EXIT_TIMEOUT, STARTUP_TIMEOUT, Backend, clean_env, loop_families

CONNECTIONS = 1500
WORKERS = 2
#: Opening the connections: at most this many handshakes at once (the listen backlog is
#: 2048; this keeps a slow Windows accept path from overflowing it).
OPENING = 100
#: The whole exchange (1,500 handshakes and requests under Wine takes a while).
CLIENT_TIMEOUT = 180.0 if harness.UNDER_WINE else 60.0

PID_APP = """\
import os

BODY = str(os.getpid()).encode()


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [[b'content-length', str(len(BODY)).encode()]]})
    await send({'type': 'http.response.body', 'body': BODY})
"""

#: ``python wrapper.py serve ...``: xloop's own entry point, plus (for Wine) a thread that
#: raises SIGBREAK in this process when a line arrives on stdin.
WRAPPER = """\
import signal
import sys
import threading

from xloop.__main__ import main


def stop_on_request():
    if sys.stdin.readline():
        signal.raise_signal(getattr(signal, 'SIGBREAK', signal.SIGINT))


threading.Thread(target=stop_on_request, daemon=True).start()
main()
"""

FAMILIES = loop_families()


async def _hold(port: int) -> tuple[list[int], list[asyncio.StreamReader], list[object]]:
    """Open every connection, one request each, all kept open: (pids, readers, writers)."""
    gate = asyncio.Semaphore(OPENING)

    async def one() -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter]:
        async with gate:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        assert lines[0] == "HTTP/1.1 200 OK", lines[0]
        fields = dict(line.partition(": ")[::2] for line in lines[1:])
        length = int(fields["content-length"])
        return int(await reader.readexactly(length)), reader, writer

    results = await asyncio.gather(*(one() for _ in range(CONNECTIONS)))
    return [r[0] for r in results], [r[1] for r in results], [r[2] for r in results]


async def _all_closed(readers: list[asyncio.StreamReader]) -> list[bytes]:
    """What each connection reads once the server drains: b"" (EOF) from every one."""
    return await asyncio.gather(*(reader.read(1) for reader in readers))


def _run_client(port: int, stop: threading.Event, closed: list[list[bytes]]) -> list[int]:
    """The client's whole life on its own loop: hold the connections, then, once ``stop``
    is set (the signal was sent), wait for every one to be closed by the server."""

    async def main() -> list[int]:
        pids, readers, writers = await asyncio.wait_for(_hold(port), CLIENT_TIMEOUT)
        ready.set()
        await asyncio.get_running_loop().run_in_executor(None, stop.wait, CLIENT_TIMEOUT)
        closed.append(await asyncio.wait_for(_all_closed(readers), CLIENT_TIMEOUT))
        for writer in writers:
            writer.close()  # type: ignore[attr-defined]
        return pids

    return asyncio.run(main())


ready = threading.Event()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_two_workers_hold_1500_connections_and_ctrl_break_drains_them(
    tmp_path: Path, backend: Backend
) -> None:
    plan = worker_plan(backend.loop, backend.selector or "auto", WORKERS)
    if plan.cap is not None and plan.cap * WORKERS < CONNECTIONS:
        pytest.skip(f"{backend.loop}: select() caps each worker at {plan.cap} sockets")
    problem = raise_fd_limit(CONNECTIONS * 2)
    if problem is not None:
        pytest.skip(problem)
    (tmp_path / "pids.py").write_text(PID_APP)
    (tmp_path / "wrapper.py").write_text(WRAPPER)
    status = StatusPipe()
    args = ["serve", "pids:app", "--workers", str(WORKERS), "--port", "0", *backend.loop_args()]
    args += ["--no-access-log", "--log-level", "warning", "--status-fd", str(status.child_fd)]
    env = clean_env({"PYTHONPATH": os.pathsep.join([str(Path.cwd()), str(tmp_path)])})
    try:
        proc = subprocess.Popen(
            [sys.executable, str(tmp_path / "wrapper.py"), *args],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            creationflags=getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0),
            **status.popen_kwargs(),
        )
    except BaseException:
        status.close()
        raise
    log: list[bytes] = []
    assert proc.stderr is not None
    reader = threading.Thread(target=lambda: log.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    reader.start()
    try:
        status.start()
        started = status.wait_for("ready", STARTUP_TIMEOUT * 2)
        assert started is not None, b"".join(log).decode(errors="replace")
        assert len(started["workers"]) == WORKERS

        stop = threading.Event()
        closed: list[list[bytes]] = []
        ready.clear()
        outcome: list[list[int]] = []
        client = threading.Thread(
            target=lambda: outcome.append(_run_client(started["port"], stop, closed)),
            daemon=True,
        )
        client.start()
        assert ready.wait(CLIENT_TIMEOUT), "the client could not open its connections"

        _stop_signal(proc)
        stop.set()
        code = proc.wait(EXIT_TIMEOUT * 3)
        client.join(CLIENT_TIMEOUT)
        reader.join(EXIT_TIMEOUT)
        text = b"".join(log).decode(errors="replace")
        assert code == 0, text
        assert outcome, f"the client failed\n{text}"
        per_worker = collections.Counter(outcome[0])
        assert set(per_worker) <= set(started["workers"]), per_worker
        assert sum(per_worker.values()) == CONNECTIONS
        # two workers, 1,500 connections at once: one of them held at least 750 (> 512)
        assert max(per_worker.values()) > 512, per_worker
        assert closed == [[b""] * CONNECTIONS], "a connection was not closed by the drain"
        stopped = status.wait_for("stopped", EXIT_TIMEOUT)
        assert stopped is not None
        assert stopped["requests"] == CONNECTIONS, stopped
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stderr):
            if stream is not None:
                stream.close()


def _stop_signal(proc: subprocess.Popen[bytes]) -> None:
    """SIGINT (POSIX); on Windows, SIGBREAK raised in the supervisor (Ctrl+Break's handler)."""
    if hasattr(signal, "SIGBREAK"):  # pragma: windows-only
        assert proc.stdin is not None
        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
    else:
        proc.send_signal(signal.SIGINT)
