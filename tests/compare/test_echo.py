"""``python -m xloop.compare.echo``, the raw TCP echo server of the ``echo`` workload, as a real
process: it echoes, stops on SIGINT closing what is still open, and fails in one line."""

from __future__ import annotations

import re
import signal
import socket
from pathlib import Path

import pytest

from tests.cli._support import IO_TIMEOUT, Backend, loop_families, run_cli, xloop_process
from xloop import loops

ECHO = ("-m", "xloop.compare.echo")
FAMILIES = loop_families()
SERVING = re.compile(r"^tcp://127\.0\.0\.1:(\d+)$")


@pytest.mark.skipif(loops.IS_WINDOWS, reason="POSIX signals are sent to the server process")
@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_echoes_then_sigint_closes_open_connections(tmp_path: Path, backend: Backend) -> None:
    with xloop_process(backend.loop_args(), cwd=tmp_path, pyargs=ECHO) as server:
        match = SERVING.match(server.wait_serving())
        assert match is not None, server.describe()
        with socket.create_connection(("127.0.0.1", int(match.group(1))), IO_TIMEOUT) as sock:
            sock.settimeout(IO_TIMEOUT)
            sock.sendall(b"ping")
            received = b""
            while len(received) < 4:
                received += sock.recv(4 - len(received))
            assert received == b"ping"
            assert server.stop(signal.SIGINT) == 0, server.describe()
            assert sock.recv(1) == b"", "the server closes a connection still open at shutdown"
        log = server.log
    assert "SIGINT received: shutting down" in log, log
    assert log.rstrip().endswith("xloop stopped after 4 bytes on 1 connections"), log


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        done = run_cli(["--port", str(port), "--loop", "asyncio"], cwd=tmp_path, pyargs=ECHO)
    assert done.code == 4, done.stderr
    lines = done.stderr.strip().splitlines()
    assert lines[-1].startswith(f"xloop echo: error: cannot bind 127.0.0.1:{port}: "), lines
    assert lines[-1].endswith("(hint: choose another --port, or 0 for a free one)"), lines


def test_unknown_loop(tmp_path: Path) -> None:
    done = run_cli(["--loop", "bogus"], cwd=tmp_path, pyargs=ECHO)
    assert done.code == 2, done.stderr
    assert done.stderr.startswith("xloop echo: error: unknown loop 'bogus'"), done.stderr
