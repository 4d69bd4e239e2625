"""The server processes of ``xloop compare``: started, awaited on their status pipe
(:mod:`xloop.status`), primed, sampled, stopped; their log kept for the tail an error shows."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

from .. import loops
from .._version import module_command
from ..errors import AppLoadError, BindError, ConfigError, StartupError, XloopError
from ..status import StatusPipe
from . import others
from .machine import Pinning
from .model import Result
from .settings import Settings
from .tls import TlsFiles, client_context
from .workloads import Workload, request_bytes

__all__ = ["STARTUP_TIMEOUT", "ServerProcess", "Target", "prime", "start_servers"]

STARTUP_TIMEOUT = 30.0
"""Seconds a server may take to listen, and to answer its first request."""

C10K_KEEP_ALIVE = 3600.0
"""The servers' ``--timeout-keep-alive`` for ``c10k``: an idle connection stays open."""

_EXCEPTION_LINE = re.compile(r"([A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning)): ")

_LOG_LINES = 400
_CAPPED = "not accepting connections for now: "  # xloop.server.capped's warning
_TAIL = 12


@dataclass
class Target:
    """One row being measured."""

    loop: str
    selector: str  # as requested: auto, epoll, ...
    http: str  # h11, httptools, or tcp
    workload: Workload
    result: Result
    server: ServerProcess | None = None
    primed: int = 0
    """Requests the server answered before the rounds (see :func:`prime`)."""
    ws: str | None = None
    """The WebSocket engine (``--ws``) of a ``websocket`` row."""
    tls: TlsFiles | None = None
    """``--tls``: the run's certificate, key and CA."""
    skip: str | None = None
    """Why this row is not measured (``--servers``: not installed, not supported, did not
    start): no rounds, the row says so."""

    @property
    def measured(self) -> bool:
        return self.skip is None and self.server is not None


class ServerProcess:
    """One server subprocess: its events come on a status pipe (:mod:`xloop.status`), its
    log is kept by a thread for the tail an error shows."""

    def __init__(
        self,
        target: Target,
        settings: Settings,
        port: int,
        pinning: Pinning,
    ) -> None:
        self.label = target.result.label
        self.host = settings.host
        self.lines: list[str] = []
        self.port: int | None = None
        self.loop_class: str | None = None
        self.rss_samples: list[int] = []
        self.killed = False
        """Killed after a stop request it did not follow in time, or could not be sent."""
        self.unsent: str | None = None
        """Why the stop signal could not be sent (the OS refused it), when it could not."""
        self.capped: str | None = None
        """xloop's warning that it stopped accepting at its loop's ``select()`` cap."""
        self.status = StatusPipe()
        self.websocket = target.workload.kind == "websocket"
        self.name = target.result.server
        self.workers = target.result.workers
        """``--workers``: the worker processes it runs (None: one process)."""
        self.worker_pids: list[int] = []
        """Another server's processes that serve, when it runs them as children
        (``--workers``; granian, hypercorn): theirs are the CPU and memory measured."""
        self.exits: list[dict[str, object]] = []
        """``--workers``: the workers that exited before the stop (replaced by xloop)."""
        keep_alive = C10K_KEEP_ALIVE if target.workload.name == "c10k" else None
        command = [sys.executable, "-m"]
        if self.name != "xloop":
            # its own process on a port chosen here: no status pipe to say which it took
            self.port = port or _free_port(settings.host)
            command += others.command(
                self.name, app=settings.app or "xloop.demo:app", factory=settings.factory,
                loop=target.loop, parser=target.http, ws=target.ws, host=settings.host,
                port=self.port, keep_alive=keep_alive, workers=self.workers,
                tls=None if target.tls is None else (str(target.tls.cert), str(target.tls.key)),
            )  # fmt: skip
        elif target.workload.kind == "tcp":
            command = module_command("xloop.compare.echo")
        else:
            command = [*module_command("xloop"), "serve"]
            if settings.app:
                command.append(settings.app)
            command += ["--http", target.http, "--no-access-log", "--log-level", "info"]
            if self.workers is not None:
                command += ["--workers", str(self.workers)]
            if settings.app_dir:
                command += ["--app-dir", settings.app_dir]
            if settings.factory:
                command.append("--factory")
            if target.ws is not None:
                command += ["--ws", target.ws, "--no-ws-per-message-deflate"]
            if keep_alive is not None:
                # held open and idle for longer than a round: not the server's idle timeout
                command += ["--timeout-keep-alive", f"{keep_alive:g}"]
        if target.tls is not None and self.name == "xloop":
            command += ["--ssl-certfile", str(target.tls.cert)]
            command += ["--ssl-keyfile", str(target.tls.key)]
        if self.name == "xloop":
            command += ["--host", settings.host, "--port", str(port), "--loop", target.loop]
            if target.selector != "auto":
                command += ["--selector", target.selector]
            command += ["--status-fd", str(self.status.child_fd)]
        self.command = command
        flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        env = None
        if settings.app_dir and self.name != "xloop":
            path = os.environ.get("PYTHONPATH")
            env = {
                **os.environ,
                "PYTHONPATH": os.pathsep.join(filter(None, [settings.app_dir, path])),
            }
        cpus = pinning.server_for(self.workers)  # inherited by the workers it starts
        try:
            self.proc = subprocess.Popen(
                pinning.command(command, cpus),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                creationflags=flags,
                env=env,
                **self.status.popen_kwargs(),
            )
        except BaseException:
            self.status.close()
            raise
        self.status.start()
        pinning.started(self.proc.pid, cpus)
        self._reader = threading.Thread(target=self._read, name=f"log {self.label}", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stdout
        assert stream is not None
        for raw in stream:
            line = raw.decode("utf-8", "replace").rstrip()
            if self.capped is None and _CAPPED in line:
                self.capped = line[line.index(_CAPPED) :]
            if len(self.lines) < _LOG_LINES:
                self.lines.append(line)
            else:
                self.lines[_LOG_LINES // 2 :] = [*self.lines[_LOG_LINES // 2 + 1 :], line]
        stream.close()

    @property
    def pids(self) -> list[int]:
        """The processes that serve: the sums of their CPU and memory are what is measured.

        xloop with ``--workers``: the workers of its ``ready`` event, then as its ``worker``
        events say (one replaced: the new one); another server's worker processes; else the
        one process started."""
        if self.name == "xloop" and self.workers is not None:
            events = list(self.status.events)
            ready = next((i for i, e in enumerate(events) if e["event"] == "ready"), None)
            if ready is None:
                return []
            live = [int(pid) for pid in events[ready].get("workers") or []]
            for event in events[ready + 1 :]:
                if event["event"] != "worker" or not isinstance(event.get("pid"), int):
                    continue
                if event.get("state") == "serving" and event["pid"] not in live:
                    live.append(event["pid"])
                elif event.get("state") == "exited" and event["pid"] in live:
                    live.remove(event["pid"])
            return live
        return self.worker_pids or [self.proc.pid]

    def wait_ready(self, timeout: float) -> None:
        """Return once it listens; raise the error a user should see if it cannot."""
        if self.name != "xloop":
            self._wait_port(timeout)
            return
        try:
            ready = self.status.wait_for("ready", timeout)
        except TimeoutError:
            self.kill()
            raise StartupError(
                f"the {self.label} server did not start within {timeout:g}s",
                hint=f"its log ends: {self.tail_line()}",
            ) from None
        if ready is not None:
            self.port = ready.get("port")
            self.loop_class = ready.get("loop_class")
            return
        code = self.proc.wait()
        self._reader.join(5)
        error_class: type[XloopError] = {3: AppLoadError, 4: BindError, 2: ConfigError}.get(
            code, StartupError
        )
        raise error_class(
            f"the {self.label} server exited with code {code} before it was ready: "
            f"{self.tail_line()}",
            hint="its log ends:\n" + self.tail(),
        )

    def _wait_port(self, timeout: float) -> None:
        """A server without the status pipe: ready once its port accepts a connection."""
        assert self.port is not None
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.proc.wait(0.05)  # the pause between attempts; it may have exited
            except subprocess.TimeoutExpired:
                pass
            else:
                self._reader.join(5)
                raise StartupError(
                    f"{self.name} exited with code {self.proc.returncode} before it was "
                    f"ready: {self.failure_line()}",
                    hint="its log ends:\n" + self.tail(),
                )
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=1.0).close()
                break
            if time.monotonic() > deadline:
                self.kill()
                self._reader.join(5)
                raise StartupError(
                    f"{self.name} did not start within {timeout:g}s: {self.failure_line()}",
                    hint="its log ends:\n" + self.tail(),
                )
        # granian and hypercorn serve from a child process, and each server with --workers
        # from its workers (multiprocessing's resource tracker aside; uvicorn with one
        # worker serves in its own process): theirs are the CPU and memory of the server;
        # the workers may start after the port accepts
        expected = others.serving_children(self.name, self.workers)
        children = self._children()
        while len(children) < expected:
            if not self.alive() or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # polling another program's processes: nothing to wait on
            children = self._children()
        if expected and children:
            self.worker_pids = children

    def _children(self) -> list[int]:
        """The processes under the one started, multiprocessing's resource tracker aside."""
        found: list[int] = []
        with contextlib.suppress(psutil.Error):
            for child in psutil.Process(self.proc.pid).children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "resource_tracker" not in " ".join(child.cmdline()):
                        found.append(child.pid)
        return found

    @property
    def counted(self) -> tuple[int, str] | None:
        """What the server said it served when it stopped: (count, "requests", "bytes" or,
        for ``websocket``, "messages" its apps sent)."""
        stopped = self.status.last("stopped")
        if stopped is None:
            return None
        if self.websocket:
            return int(stopped.get("ws_messages", 0)), "messages"
        unit = "bytes" if "bytes" in stopped else "requests"
        return int(stopped[unit]), unit

    @property
    def ws_engine(self) -> str | None:
        """The WebSocket engine the server said it runs (``none``: upgrades are plain
        HTTP); None when it did not say."""
        ready = self.status.last("ready")
        return None if ready is None else ready.get("ws")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = _TAIL) -> str:
        return "\n".join(self.lines[-lines:]) or "(no output)"

    def tail_line(self) -> str:
        """The last line that says something (errors print their reason last)."""
        for line in reversed(self.lines):
            if line.strip():
                return line.strip()
        return "(no output)"

    def failure_line(self) -> str:
        """Why it failed: the last exception line of its log (``ValueError: filedescriptor
        out of range in select()``), else the last line that says something."""
        for line in reversed(self.lines):
            match = _EXCEPTION_LINE.match(line.strip())
            if match and not match.group(1).endswith("Warning"):
                return line.strip()
        return self.tail_line()

    def cpu_seconds(self) -> float | None:
        """CPU seconds (user + system) so far, summed over :attr:`pids`."""
        pids = self.pids
        total = 0.0
        try:
            for pid in pids:
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
        except psutil.Error:
            return None
        return total if pids else None

    def sample_rss(self) -> None:
        with contextlib.suppress(psutil.Error):
            rss = [int(psutil.Process(pid).memory_info().rss) for pid in self.pids]
            if rss:
                self.rss_samples.append(sum(rss))

    def peak_rss(self) -> int | None:
        """The peak resident set size, summed over :attr:`pids`: the kernel's high-water
        mark where the OS keeps one (Linux VmHWM, Windows peak working set), else the
        largest sample after a round."""
        peaks = [_peak_rss(pid) for pid in self.pids]
        if peaks and None not in peaks:
            return sum(peak for peak in peaks if peak is not None)
        return max(self.rss_samples, default=None)

    @property
    def stop_signal(self) -> str:
        return "Ctrl+Break" if loops.IS_WINDOWS else "SIGINT"

    def stop(self, timeout: float | None = None) -> int | None:
        """Graceful stop (SIGINT / Ctrl+Break); kill if it does not finish in time (20 s;
        5 s on Windows, where a process without a shared console never gets Ctrl+Break)."""
        if timeout is None:
            timeout = 5.0 if loops.IS_WINDOWS else 20.0
        self.exits = [
            event
            for event in list(self.status.events)
            if event["event"] == "worker" and event.get("state") == "exited"
        ]
        if self.proc.poll() is None:
            sig = getattr(signal, "CTRL_BREAK_EVENT", signal.SIGINT)
            try:
                self.proc.send_signal(sig)
            except OSError as exc:
                # Refused (Windows: no console shared with the server; Wine 8 sends no
                # Ctrl+Break at all): no stop is coming, so no wait for one.
                if self.proc.poll() is None:
                    self.unsent = str(exc)
                    timeout = 0.0
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                self.killed = True
        self._reader.join(5)
        self.status.join(5)
        code: int | None = self.proc.returncode
        return code

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.proc.kill()
        self.proc.wait()


@contextlib.contextmanager
def start_servers(targets: list[Target], settings: Settings, pinning: Pinning) -> Iterator[None]:
    started: list[ServerProcess] = []
    try:
        for index, target in enumerate(targets):
            if target.skip is not None:
                continue
            port = settings.port + index if settings.port else 0
            target.server = ServerProcess(target, settings, port, pinning)
            started.append(target.server)
        for target in targets:
            if target.server is None:
                continue
            try:
                target.server.wait_ready(STARTUP_TIMEOUT)
            except StartupError as exc:
                if target.server.name == "xloop":
                    raise
                # another server that cannot start is its row's failure, not the run's
                tail = " | ".join(target.server.lines[-3:]) or "(no output)"
                target.skip = f"did not start: {exc.message}; its log ends: {tail}"
        for target in targets:
            if target.measured:
                try:
                    target.primed = prime(target, settings)
                except StartupError as exc:
                    if target.result.server == "xloop":
                        raise
                    target.skip = exc.message
        yield
    finally:
        # Whatever ended the run (an error, Ctrl+C, a second Ctrl+C while stopping), no
        # server outlives it: each is stopped gracefully if it can be, else killed.
        for server in started:
            if server.alive():
                try:
                    server.stop()
                except BaseException:
                    for rest in started:
                        rest.kill()
                    raise


def _peak_rss(pid: int) -> int | None:
    """Process ``pid``'s peak resident set size where the OS keeps it, else None."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    with contextlib.suppress(psutil.Error, AttributeError):
        peak = getattr(psutil.Process(pid).memory_info(), "peak_wset", None)
        if peak:
            return int(peak)
    return None


def _free_port(host: str) -> int:
    """A port free now on ``host``, for a server that cannot say which one it took."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def prime(target: Target, settings: Settings) -> int:
    """One exchange on a connection the client then closes, before any measurement.

    A fresh CPython process reading with ``sock.recv(256 KiB)`` (the stdlib selector
    loop's transport) runs at a fraction of its speed until glibc's malloc first frees a
    256 KiB buffer whole, which happens when a connection's peer closes: until then every
    read maps and unmaps (or grows and trims) memory. Every real server meets its first
    closed connection within moments; without this, the stdlib loop's first round would
    measure that start-up state instead of the loop.
    """
    server = target.server
    if server is None or server.port is None:
        return 0
    message = request_bytes(target.workload, settings.host, server.port, settings.path)
    timeout = STARTUP_TIMEOUT
    try:
        with contextlib.ExitStack() as stack:
            sock = stack.enter_context(
                socket.create_connection((settings.host, server.port), timeout=timeout)
            )
            if target.tls is not None:
                context = client_context(target.tls.ca)
                sock = stack.enter_context(context.wrap_socket(sock, server_hostname=settings.host))
            sock.sendall(message)
            answered = sock.recv(65536)  # the start of the answer is enough: then close
    except OSError as exc:
        answered, why = b"", f"{type(exc).__name__}: {exc}"
    else:
        why = "it closed the connection"
    if not answered:
        raise StartupError(
            f"the {target.result.label} server did not answer its first request: {why}",
            hint=f"its log ends: {server.tail_line()}",
        )
    # the server counted this request too (a WebSocket handshake: no message)
    return 0 if target.workload.kind == "websocket" else 1
