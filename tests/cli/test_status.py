"""The status channel (:mod:`xloop.status`): JSON lines from a server to its parent."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import loops
from xloop.errors import ConfigError
from xloop.status import StatusPipe, StatusWriter

from ..server.client import exchange, get
from ._support import EXIT_TIMEOUT, STARTUP_TIMEOUT, clean_env, run_cli, write_hello

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE


@pytest.fixture
def pipe() -> Iterator[StatusPipe]:
    status = StatusPipe()
    try:
        yield status
    finally:
        status.close()


def test_round_trip_in_one_process(pipe: StatusPipe) -> None:
    fd = os.dup(pipe.write_fd)
    writer = StatusWriter(fd)
    pipe.start()  # the original write end closed: the dup keeps the pipe open
    try:
        writer.write("ready", pid=12, port=8000, address="http://127.0.0.1:8000")
        # what a reader skips: not JSON, not an object, no event name
        os.write(fd, b'not json\n[1, 2]\n{"no": "event"}\n')
        writer.write("stopped", requests=3, connections=2, extra={"nested": True})
        stopped = pipe.wait_for("stopped", EXIT_TIMEOUT)
        assert stopped == {
            "event": "stopped",
            "requests": 3,
            "connections": 2,
            "extra": {"nested": True},
        }
        ready = pipe.wait_for("ready", 0)
        assert ready is not None
        assert (ready["pid"], ready["port"]) == (12, 8000)
        assert [event["event"] for event in pipe.events] == ["ready", "stopped"]
        with pytest.raises(TimeoutError, match="'heartbeat'"):
            pipe.wait_for("heartbeat", 0.05)
    finally:
        writer.close()
    assert writer.fd is None
    writer.write("ignored")  # closed: nothing, no error
    assert pipe.wait_for("heartbeat", EXIT_TIMEOUT) is None  # closed without it
    assert pipe.closed
    assert pipe.last("stopped") == stopped


def test_a_reader_that_went_away_does_not_stop_the_writer() -> None:
    read, write = os.pipe()
    os.close(read)
    writer = StatusWriter(write)
    writer.write("ready", pid=1)  # EPIPE: ignored from now on
    assert writer.fd is None
    os.close(write)


def test_a_status_fd_that_is_not_open_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--status-fd 1048576: not an open"):
        StatusWriter.open(1 << 20)


def test_close_releases_the_pipe_of_a_child_that_never_started() -> None:
    """Popen failed, so no reader thread and no child: close() releases both ends (the
    copy of the read end sees EOF, the copy of the write end a reader gone), twice too."""
    unread = StatusPipe()
    read_copy = os.dup(unread._read_fd)
    # A write end still open: BlockingIOError, not a hang (Windows: 3.12+ has it for pipes).
    set_blocking: Callable[[int, bool], None] | None = getattr(os, "set_blocking", None)
    if set_blocking is not None:
        set_blocking(read_copy, False)
    unread.close()
    unread.close()
    try:
        assert os.read(read_copy, 1) == b""  # no write end left anywhere: EOF, no wait
    finally:
        os.close(read_copy)
    unwritten = StatusPipe()
    write_copy = os.dup(unwritten.write_fd)
    unwritten.close()
    try:
        with pytest.raises(OSError) as caught:  # noqa: PT011 - its errno is checked
            os.write(write_copy, b"x")
        assert caught.value.errno in (errno.EPIPE, errno.EINVAL)  # no read end (EINVAL: Windows)
    finally:
        os.close(write_copy)
    assert (unread.write_fd, unwritten.write_fd) == (-1, -1)


def test_round_trip_through_a_child_process(pipe: StatusPipe) -> None:
    """The write end reaches a child (pass_fds, or a Windows handle list) and nothing else
    keeps it open: the channel closes when the child exits."""
    code = (
        "import sys\n"
        "from xloop.status import StatusWriter\n"
        "writer = StatusWriter.open(int(sys.argv[1]))\n"
        "writer.write('ready', pid=0, argv=sys.argv[1:])\n"
        "writer.write('stopped', requests=0, connections=0)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(pipe.child_fd)],
        env=clean_env(),
        **pipe.popen_kwargs(),
    )
    pipe.start()
    try:
        assert proc.wait(EXIT_TIMEOUT) == 0
        assert pipe.wait_for("no-such-event", EXIT_TIMEOUT) is None
        assert [event["event"] for event in pipe.events] == ["ready", "stopped"]
        assert pipe.events[0]["argv"] == [str(pipe.child_fd)]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_xloop_serve_reports_ready_then_stopped_with_its_counts(
    tmp_path: Path, pipe: StatusPipe
) -> None:
    write_hello(tmp_path)
    args = ["serve", "main:app", "--port", "0", "--http", "h11", "--limit-max-requests", "3"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "xloop", *args, "--status-fd", str(pipe.child_fd)],
        cwd=tmp_path,
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        **pipe.popen_kwargs(),
    )
    pipe.start()
    try:
        ready = pipe.wait_for("ready", STARTUP_TIMEOUT)
        assert ready is not None, proc.communicate(timeout=EXIT_TIMEOUT)[1]
        assert ready["pid"] == proc.pid
        port = ready["port"]
        assert isinstance(port, int)
        assert port > 0
        assert ready["address"] == f"http://127.0.0.1:{port}"
        assert ready["http"] == "h11"
        assert ready["ws"] in ("websockets", "wsproto", "none")
        assert ready["loop_class"] in ready["loop"]
        assert pipe.last("stopped") is None
        # two requests on one keep-alive connection, the third on a second connection
        with socket.create_connection(("127.0.0.1", port), timeout=EXIT_TIMEOUT) as sock:
            assert exchange(sock, get()).status == 200
            assert exchange(sock, get()).status == 200
        with socket.create_connection(("127.0.0.1", port), timeout=EXIT_TIMEOUT) as sock:
            assert exchange(sock, get(extra="connection: close\r\n")).status == 200
        # --limit-max-requests 3: it stops by itself
        _, log = proc.communicate(timeout=EXIT_TIMEOUT)
        assert proc.returncode == 0, log
        assert pipe.wait_for("stopped", EXIT_TIMEOUT) == {
            "event": "stopped",
            "requests": 3,
            "connections": 2,
            "ws_messages": 0,
        }
        assert [event["event"] for event in pipe.events] == ["ready", "stopping", "stopped"]
        # the human log says the same, unchanged
        assert f"xloop serving on http://127.0.0.1:{port} (press CTRL+C to quit)" in log
        assert "xloop stopped after 3 requests on 2 connections" in log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_xloop_serve_with_a_closed_status_fd_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli(["serve", "--port", "0", "--status-fd", str(1 << 20)], cwd=tmp_path)
    assert done.code == 2, done.stderr
    assert "xloop: error: --status-fd 1048576: not an open" in done.stderr


@pytest.mark.skipif(loops.IS_WINDOWS, reason="stopped by a POSIX signal")
def test_the_echo_server_reports_bytes(pipe: StatusPipe) -> None:
    echo = [sys.executable, "-m", "xloop.compare.echo", "--port", "0"]
    proc = subprocess.Popen(
        [*echo, "--status-fd", str(pipe.child_fd)],
        env=clean_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        **pipe.popen_kwargs(),
    )
    pipe.start()
    try:
        ready = pipe.wait_for("ready", STARTUP_TIMEOUT)
        assert ready is not None
        assert ready["pid"] == proc.pid
        assert ready["address"] == f"tcp://127.0.0.1:{ready['port']}"
        with socket.create_connection(("127.0.0.1", ready["port"]), timeout=EXIT_TIMEOUT) as s:
            s.sendall(b"0123456789")
            echoed = b""
            while len(echoed) < 10:
                chunk = s.recv(10)
                assert chunk
                echoed += chunk
        assert echoed == b"0123456789"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(EXIT_TIMEOUT) == 0
        assert pipe.wait_for("stopped", EXIT_TIMEOUT) == {
            "event": "stopped",
            "bytes": 10,
            "connections": 1,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
