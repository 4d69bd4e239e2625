"""One worker process as the supervisor (:mod:`xloop.server.supervisor`) sees it.

A worker process starts before it has a slot: ``python -m xloop.server.worker FD`` imports
Python and xloop, says ``waiting`` on its status channel (FD), then waits for its bootstrap
line on stdin (:mod:`xloop.server.worker`).
:meth:`WorkerProcess.adopt` gives it a slot and that line. So the supervisor can keep one
started in advance, a spare, and a worker that dies is replaced by a process that has
only its app to import.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

from .._version import module_command
from ..status import StatusPipe

__all__ = ["WorkerProcess"]


class WorkerProcess:
    """One worker process: its stdin (commands), its status channel, its state."""

    def __init__(self, proc: subprocess.Popen[bytes], status: StatusPipe) -> None:
        self.number = 0
        """Its slot (1..N) once adopted; 0 while it is a spare."""
        self.proc = proc
        self.pid = proc.pid
        self.status = status
        self.started = time.monotonic()
        self.ready = asyncio.Event()
        self.exited = asyncio.Event()
        self.returncode: int | None = None
        self.retiring = False
        """Asked to stop: its exit is expected, not replaced."""
        self.last_pong = self.started
        self.failure: dict[str, Any] | None = None
        """Its ``failed`` event: why it could not start."""
        self.loop_class: str | None = None

    @classmethod
    def start(
        cls,
        fds: tuple[int, ...],
        on_event: Callable[[WorkerProcess, dict[str, Any]], None],
    ) -> WorkerProcess:
        """Start ``python -m xloop.server.worker`` with the status pipe and ``fds``
        inherited; ``on_event(worker, event)`` (from a thread) for each status event."""
        holder: list[WorkerProcess] = []
        status = StatusPipe(on_event=lambda event: on_event(holder[0], event))
        kwargs = status.popen_kwargs()
        if "pass_fds" in kwargs:
            kwargs["pass_fds"] = (*kwargs["pass_fds"], *fds)
        else:  # pragma: windows-only
            kwargs["creationflags"] = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        try:
            proc = subprocess.Popen(
                [*module_command("xloop.server.worker"), str(status.child_fd)],
                stdin=subprocess.PIPE,
                **kwargs,
            )
        except BaseException:
            status.close()
            raise
        worker = cls(proc, status)
        holder.append(worker)
        status.start()
        return worker

    def adopt(self, number: int, bootstrap: bytes) -> None:
        """Give it slot ``number`` and its bootstrap line: it starts serving."""
        self.number = number
        self.started = self.last_pong = time.monotonic()
        self._write(bootstrap)

    def send(self, command: str, **fields: Any) -> None:
        """A command on the worker's stdin; nothing if it is gone."""
        if not self.exited.is_set():
            self._write(json.dumps({"cmd": command, **fields}).encode("utf-8") + b"\n")

    def _write(self, line: bytes) -> None:
        stdin = self.proc.stdin
        if stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                stdin.write(line)
                stdin.flush()

    def retire(self) -> None:
        """Ask it to drain and exit."""
        self.retiring = True
        self.send("stop")

    def dismiss(self) -> None:
        """Close its stdin: a spare exits without serving, a worker drains and exits."""
        self.retiring = True
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()

    def reap(self, timeout: float) -> None:
        """Wait for its exit, killed after ``timeout`` seconds."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()

    def describe(self) -> str:
        return f"worker {self.number} [{self.pid}]"
