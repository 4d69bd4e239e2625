"""Run ``python -m xloop`` as a real process: bounded waits on its log, never a bare sleep.

Every wait has a deadline and every process is killed in a ``finally`` (see
:func:`xloop_process` and :func:`run_cli`), so a hung server fails one test instead of
hanging the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.server import harness
from tests.server.client import Response, exchange, get
from xloop.status import StatusPipe

#: A healthy start takes well under a second; the slack is for a loaded CI machine. Under
#: Wine a Windows Python alone takes 5-10 s to start, more when coverage measures it.
STARTUP_TIMEOUT = 60.0 if harness.UNDER_WINE else 20.0
#: How long a process may take to exit once it was told to (or should have by itself).
EXIT_TIMEOUT = 10.0
#: How the server is started: ``sys.executable *PYARGS serve ...``.
PYARGS: tuple[str, ...] = ("-m", "xloop")
#: Socket timeout of the test client.
IO_TIMEOUT = 10.0

HELLO_APP = """\
async def app(scope, receive, send):
    assert scope['type'] == 'http'
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [[b'content-type', b'text/plain']]})
    await send({'type': 'http.response.body', 'body': b'Hello, world!'})
"""

SERVING = re.compile(r"xloop serving on (\S+) \(press CTRL\+C to quit\)")
SERVING_TCP = re.compile(r"^http://127\.0\.0\.1:(\d+)$")

_SELECTOR_CLASSES = {
    "epoll": "EpollSelector",
    "kqueue": "KqueueSelector",
    "devpoll": "DevpollSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without any ``XLOOP_*`` variable, plus ``extra``."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("XLOOP_")}
    env.pop("PYTHONASYNCIODEBUG", None)
    if extra:
        env.update(extra)
    return env


def write_hello(directory: Path, name: str = "main.py") -> Path:
    path = directory / name
    path.write_text(HELLO_APP, encoding="utf-8")
    return path


# -- the matrix ------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend(harness.Backend):
    """A server-suite backend, with the command-line options that select it."""

    def args(self) -> list[str]:
        result = ["--loop", self.loop]
        if self.selector is not None:
            result += ["--selector", self.selector]
        return [*result, "--http", self.http]

    def loop_args(self) -> list[str]:
        return self.args()[:-2]


def backends() -> list[Backend]:
    """The server suite's matrix (narrowed by ``XLOOP_TEST_LOOPS``/``XLOOP_TEST_HTTP``)."""
    return [Backend(b.loop, b.selector, b.http) for b in harness.backends()]


def loop_families() -> list[Backend]:
    """One entry per loop backend (the first selector of the selector loop), h11 parser."""
    seen: set[str] = set()
    result = []
    for backend in backends():
        if backend.loop not in seen:
            seen.add(backend.loop)
            result.append(Backend(backend.loop, backend.selector, "h11"))
    return result


def expected_loop_text(loop: str, selector: str | None) -> str:
    """What the ``loop:`` startup line must say for a backend (computed independently)."""
    if loop == "selector":
        assert selector is not None
        cls: type = asyncio.SelectorEventLoop
        return f"{cls.__module__}.{cls.__qualname__} with selectors.{_SELECTOR_CLASSES[selector]}"
    if loop == "proactor":  # pragma: no cover - Windows
        cls = asyncio.ProactorEventLoop  # type: ignore[attr-defined,unused-ignore]
        return f"{cls.__module__}.{cls.__qualname__} with asyncio.windows_events.IocpProactor"
    # a library loop: the class its own new_event_loop() creates
    made = importlib.import_module(loop).new_event_loop()
    cls = type(made)
    made.close()
    return f"{cls.__module__}.{cls.__qualname__}"


# -- processes -------------------------------------------------------------------------


class XloopProcess:
    """``python -m xloop ARGS`` (or ``python PYARGS ARGS``), its stderr read line by line by
    a thread; with ``status``, its ``--status-fd`` channel too."""

    def __init__(
        self,
        args: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pyargs: Sequence[str] = PYARGS,
        status: StatusPipe | None = None,
    ) -> None:
        self.args = [sys.executable, *pyargs, *args]
        self.status = status
        if status is not None:
            self.args += ["--status-fd", str(status.child_fd)]
        self.lines: list[str] = []
        self._eof = False
        self._changed = threading.Condition()
        self.proc = subprocess.Popen(
            self.args,
            cwd=cwd,
            env=clean_env(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
            **({} if status is None else status.popen_kwargs()),
        )
        if status is not None:
            status.start()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        stream = self.proc.stderr
        assert stream is not None
        try:
            for line in stream:
                with self._changed:
                    self.lines.append(line.rstrip("\n"))
                    self._changed.notify_all()
        except ValueError:  # the pipe was closed under us by close()
            pass
        finally:
            with self._changed:
                self._eof = True
                self._changed.notify_all()

    @property
    def log(self) -> str:
        with self._changed:
            return "\n".join(self.lines)

    def describe(self) -> str:
        return f"$ {' '.join(self.args)}\n(exit code {self.proc.poll()})\n{self.log}"

    def wait_for(
        self, pattern: str | re.Pattern[str], timeout: float = EXIT_TIMEOUT
    ) -> re.Match[str]:
        """The first log line matching ``pattern`` (searched from the start of the log)."""
        regex = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        checked = 0
        with self._changed:
            while True:
                for line in self.lines[checked:]:
                    match = regex.search(line)
                    if match is not None:
                        return match
                checked = len(self.lines)
                if self._eof:
                    raise AssertionError(
                        f"xloop ended its log without {regex.pattern!r}:\n{self.describe()}"
                    )
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"no {regex.pattern!r} in the log after {timeout}s:\n{self.describe()}"
                    )
                self._changed.wait(remaining)

    def wait_serving(self) -> str:
        """Wait for the startup line; return where it serves (``http://...`` or ``unix:...``)."""
        return self.wait_for(SERVING, STARTUP_TIMEOUT).group(1)

    def wait_port(self) -> int:
        where = self.wait_serving()
        match = SERVING_TCP.match(where)
        assert match is not None, f"not a 127.0.0.1 URL: {where!r}\n{self.describe()}"
        return int(match.group(1))

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        """The exit code, once the process ended and its whole log was read."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"xloop still running {timeout}s later:\n{self.describe()}"
            ) from None
        self._reader.join(EXIT_TIMEOUT)
        return code

    def wait_log_end(self, timeout: float) -> bool:
        """Whether the log ended within ``timeout`` seconds: every process that holds the
        server's stderr (its workers, what they started) has exited."""
        with self._changed:
            return self._changed.wait_for(lambda: self._eof, timeout)

    def wait_exit_without_serving(self, timeout: float = STARTUP_TIMEOUT) -> int:
        """For a start that must fail: the exit code; fails at once if it serves instead."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                if any(SERVING.search(line) for line in self.lines):
                    raise AssertionError(
                        f"xloop started serving instead of failing:\n{self.describe()}"
                    )
                if self._eof:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"xloop still running {timeout}s later:\n{self.describe()}"
                    )
                self._changed.wait(remaining)
        return self.wait_exit()

    def stop(self, sig: int = signal.SIGINT, timeout: float = EXIT_TIMEOUT) -> int:
        self.proc.send_signal(sig)
        return self.wait_exit(timeout)

    def close(self) -> None:
        """Kill the process if it still runs, and release the pipe and the reader."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(EXIT_TIMEOUT)
        if self.proc.stderr is not None:
            self.proc.stderr.close()


@contextlib.contextmanager
def xloop_process(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    pyargs: Sequence[str] = PYARGS,
    status: StatusPipe | None = None,
) -> Iterator[XloopProcess]:
    """``python -m xloop ARGS`` (or ``python PYARGS ARGS``), killed afterwards if still up
    (with ``status``: told ``--status-fd``, the pipe closed afterwards)."""
    try:
        process = XloopProcess(args, cwd=cwd, env=env, pyargs=pyargs, status=status)
    except BaseException:
        if status is not None:
            status.close()
        raise
    try:
        yield process
    finally:
        process.close()
        if status is not None:
            status.join(EXIT_TIMEOUT)


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str


def run_cli(
    args: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT,
    pyargs: Sequence[str] = PYARGS,
) -> Completed:
    """Run ``python -m xloop ARGS`` (or ``python PYARGS ARGS``) to completion (killed if it
    outlives ``timeout``)."""
    proc = subprocess.Popen(
        [sys.executable, *pyargs, *args],
        cwd=cwd,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    )
    try:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(
                f"xloop {' '.join(args)} still running after {timeout}s:\n{err}"
            ) from None
        return Completed(proc.returncode, out, err)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# -- client ----------------------------------------------------------------------------


def connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=IO_TIMEOUT)
    sock.settimeout(IO_TIMEOUT)
    return sock


def request(port: int, data: bytes) -> Response:
    """One request on a fresh connection."""
    with connect(port) as sock:
        return exchange(sock, data)


def http_get(port: int, path: str = "/") -> Response:
    return request(port, get(path, extra="connection: close\r\n"))


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("xloop: error:")]
