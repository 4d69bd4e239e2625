"""One worker process of ``xloop serve --workers N`` (or ``--reload``):
``python -m xloop.server.worker``, started by :mod:`xloop.server.supervisor`.

Two channels tie a worker to its supervisor, both machine-readable JSON lines:

- **stdin, supervisor -> worker.** The first line is the bootstrap: the validated config's
  fields (:func:`bootstrap_line`), the worker's number, and its listener, either a file
  descriptor it inherited (POSIX) or ``socket.share()`` bytes to rebuild it (Windows, where
  descriptors are not inherited by number). Then commands, one per line: ``ping`` (answer
  with ``pong`` from the event loop, so a blocked loop does not answer), ``stop`` (drain
  gracefully and exit), ``force`` (abort what is in flight). End of file means the
  supervisor is gone: the worker drains and exits, never left behind as an orphan. (On
  Windows the worker is also in the supervisor's job object and holds a handle to it,
  :mod:`xloop.server.job`: a process the supervisor was still creating when it was killed
  never runs, and ends with the last worker.)
- **the status channel, worker -> supervisor** (:mod:`xloop.status`, ``--status-fd``,
  also given as the worker's one argument): ``waiting`` (imported, before the bootstrap),
  ``ready`` (with the loop class the worker really runs), ``pong`` (with its resident
  memory), ``failed`` (a start-up error's message, hint and exit code: the supervisor
  reports it, the worker does not), ``stopped``.

Signals: a worker ignores SIGINT and (Windows) SIGBREAK, which a terminal's Ctrl+C or
Ctrl+Break sends to every process of its group: the supervisor alone decides, and tells
each worker. SIGTERM sent to one worker drains that worker; the supervisor replaces it.
"""

from __future__ import annotations

import base64
import dataclasses
import importlib
import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

from .. import loops
from ..config import Config
from ..errors import XloopError
from ..logs import error_logger as logger
from ..status import StatusWriter

__all__ = ["bootstrap_line", "main", "resident_memory"]

#: The config fields a worker must not take from its supervisor's config: it serves the
#: listener it is given and is itself never a supervisor.
_SUPERVISOR_ONLY = {"workers": None, "reload": False, "fd": None}


def bootstrap_line(
    config: Config,
    *,
    number: int,
    status_fd: int,
    listener: dict[str, Any],
    accept_thread: bool,
    limit_max_requests: int | None,
) -> bytes:
    """The worker's first stdin line: what it serves, and how."""
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}
    fields.update(_SUPERVISOR_ONLY)
    fields["status_fd"] = status_fd
    fields["limit_max_requests"] = limit_max_requests
    message = {
        "config": fields,
        "number": number,
        "listener": listener,
        "accept_thread": accept_thread,
    }
    return json.dumps(message, separators=(",", ":")).encode("utf-8") + b"\n"


def resident_memory() -> int | None:
    """This process's resident set size in bytes, where the OS tells it cheaply."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            pages = int(statm.read().split()[1])
        sysconf: Any = getattr(os, "sysconf")  # noqa: B009 - not on Windows
        return pages * int(sysconf("SC_PAGE_SIZE"))
    except (OSError, ValueError, IndexError, AttributeError):
        pass
    if loops.IS_WINDOWS:  # pragma: windows-only
        return _windows_working_set()
    try:  # macOS and the BSDs: the peak, the best the stdlib offers
        resource = importlib.import_module("resource")
        peak = int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    except (ImportError, OSError):  # pragma: no cover
        return None
    return peak if loops.OS_NAME == "macOS" else peak * 1024


def _windows_working_set() -> int | None:  # pragma: windows-only
    import ctypes
    from ctypes import wintypes

    class Counters(ctypes.Structure):
        _fields_ = [
            ("cb", wintypes.DWORD),
            ("PageFaultCount", wintypes.DWORD),
            ("PeakWorkingSetSize", ctypes.c_size_t),
            ("WorkingSetSize", ctypes.c_size_t),
            ("QuotaPeakPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPagedPoolUsage", ctypes.c_size_t),
            ("QuotaPeakNonPagedPoolUsage", ctypes.c_size_t),
            ("QuotaNonPagedPoolUsage", ctypes.c_size_t),
            ("PagefileUsage", ctypes.c_size_t),
            ("PeakPagefileUsage", ctypes.c_size_t),
        ]

    counters = Counters()
    counters.cb = ctypes.sizeof(counters)
    windll: Any = getattr(ctypes, "windll")  # noqa: B009 - Windows only
    process = windll.kernel32.GetCurrentProcess()
    if not windll.psapi.GetProcessMemoryInfo(process, ctypes.byref(counters), counters.cb):
        return None
    return int(counters.WorkingSetSize)


def _listener(spec: dict[str, Any]) -> socket.socket:
    if "share" in spec:  # pragma: windows-only
        fromshare: Any = getattr(socket, "fromshare")  # noqa: B009 - Windows only
        sock: socket.socket = fromshare(base64.b64decode(spec["share"]))
        return sock
    return socket.socket(fileno=int(spec["fd"]))


class _Lines:
    """Lines from a file descriptor, read unbuffered (``os.read``): the control thread may
    still be waiting in a read when the interpreter exits, which a buffered reader's lock
    turns into a fatal error."""

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._pending = b""

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        while b"\n" not in self._pending:
            try:
                chunk = os.read(self._fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                raise StopIteration
            self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line


class _Control(threading.Thread):
    """Reads the supervisor's commands from stdin; each one reaches the loop thread-safely."""

    def __init__(self, lines: _Lines, server: Any) -> None:
        super().__init__(name="xloop-control", daemon=True)
        self._lines = lines
        self._server = server

    def run(self) -> None:
        for raw in self._lines:
            try:
                command = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(command, dict):
                continue
            name = command.get("cmd")
            if name == "ping":
                self._on_loop(self._pong, command.get("n"))
            elif name == "stop":
                self._server.request_shutdown()
            elif name == "force":
                self._server.request_force()
        self._server.request_shutdown()  # the supervisor is gone: drain and leave

    def _on_loop(self, callback: Any, *args: Any) -> None:
        loop = self._server.loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(callback, *args)
            except RuntimeError:  # the loop has closed: nothing to answer any more
                pass

    def _pong(self, number: Any) -> None:
        status = self._server.status
        if status is not None:
            status.write("pong", n=number, rss=resident_memory())


def main() -> None:
    """The worker's entry point: read the bootstrap, serve, exit with the server's code."""
    from .prepare import prepare_process
    from .server import Server

    if len(sys.argv) > 1:  # imported: ready to take a slot (xloop.server.process)
        StatusWriter.open(int(sys.argv[1])).write("waiting")
    lines = _Lines(sys.stdin.fileno())
    first = next(lines, None)
    if first is None:  # a spare the supervisor no longer needs
        return
    boot = json.loads(first)
    fields: dict[str, Any] = boot["config"]
    status = None
    try:
        config = Config(**fields)
        prepare_process(config)
        for name in ("SIGINT", "SIGBREAK"):
            sig = getattr(signal, name, None)
            if sig is not None:
                signal.signal(sig, signal.SIG_IGN)
        sock = _listener(boot["listener"])
        server = Server(
            config,
            sock=sock,
            accept_thread=bool(boot["accept_thread"]),
            signals=(signal.SIGTERM,),
        )
        status = server.status
        _Control(lines, server).start()
        choice = loops.resolve(config.loop, config.selector)
        loops.run(server.serve(install_signal_handlers=True), loop_factory=choice.factory)
    except XloopError as exc:
        if status is not None:  # the supervisor says it, once, in its own error line
            status.write("failed", message=exc.message, hint=exc.hint, exit_code=exc.exit_code)
        if status is None or status.fd is None:
            print(f"xloop: error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except Exception as exc:
        if status is not None:
            status.write("failed", message=f"{type(exc).__name__}: {exc}", exit_code=1)
        logger.exception("worker failed")
        sys.exit(1)


if __name__ == "__main__":
    main()
