"""A worker's control thread: the supervisor's command lines on its stdin, sans process.

Commands come as JSON lines through a real pipe; what is not a command is passed over,
each command reaches the server through its loop (thread-safely) or directly, and the end
of the pipe (the supervisor gone) asks the server to drain and leave.
"""

from __future__ import annotations

import os
from typing import Any

from xloop.server.worker import _Control, _Lines

from .harness import ONCE_UNDER_WINE

pytestmark = ONCE_UNDER_WINE  # no loop of its own: once per Wine run


class Loop:
    """Records what the control thread posts; ``closed``: raises like a closed loop."""

    def __init__(self, closed: bool = False) -> None:
        self.closed = closed
        self.posted: list[tuple[Any, tuple[Any, ...]]] = []

    def call_soon_threadsafe(self, callback: Any, *args: Any) -> None:
        if self.closed:
            raise RuntimeError("Event loop is closed")
        self.posted.append((callback, args))


class Status:
    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def write(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


class Server:
    def __init__(self, loop: Loop | None) -> None:
        self.loop = loop
        self.status: Status | None = Status()
        self.calls: list[str] = []

    def request_shutdown(self) -> None:
        self.calls.append("shutdown")

    def request_force(self) -> None:
        self.calls.append("force")


def run_control(server: Server, *chunks: bytes) -> None:
    """The control thread's loop, here, over a pipe holding ``chunks`` whose write end is
    closed: it reads them, then the end."""
    read, write = os.pipe()
    try:
        for chunk in chunks:
            os.write(write, chunk)
        os.close(write)
        _Control(_Lines(read), server).run()
    finally:
        os.close(read)


def test_commands_reach_the_server_and_the_end_of_the_pipe_drains_it() -> None:
    loop = Loop()
    server = Server(loop)
    run_control(
        server,
        b"not json\n",
        b"[1, 2]\n",  # JSON, but not a command
        b'{"cmd": "ping", "n": 7}\n{"cmd": "force"}\n',
        b'{"cmd": "unknown"}\n{"cmd": "st',  # a line split across two writes
        b'op"}\n',
        b'{"cmd": "ping"',  # cut short by the supervisor's end: never a command
    )
    assert server.calls == ["force", "shutdown", "shutdown"]  # stop, then the pipe's end
    ((callback, args),) = loop.posted
    assert args == (7,)
    callback(*args)  # on the loop: the answer, with this process's memory
    assert server.status is not None
    ((event, fields),) = server.status.lines
    assert event == "pong"
    assert fields["n"] == 7
    assert fields["rss"] is None or fields["rss"] > 0


def test_a_ping_after_the_loop_closed_or_without_status_is_not_answered() -> None:
    closed = Server(Loop(closed=True))
    run_control(closed, b'{"cmd": "ping", "n": 1}\n')
    assert closed.calls == ["shutdown"]
    no_loop = Server(None)
    run_control(no_loop, b'{"cmd": "ping", "n": 2}\n')
    assert no_loop.calls == ["shutdown"]
    loop = Loop()
    silent = Server(loop)
    silent.status = None
    run_control(silent, b'{"cmd": "ping", "n": 3}\n')
    ((callback, args),) = loop.posted
    callback(*args)  # nothing to write to: nothing happens


def test_a_descriptor_that_cannot_be_read_is_the_end() -> None:
    read, write = os.pipe()
    os.close(read)
    os.close(write)
    assert list(_Lines(read)) == []  # EBADF: read as the end, not raised
