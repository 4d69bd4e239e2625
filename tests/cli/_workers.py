"""What the worker tests share: an app that says which process answered, a keep-alive
load client that tells which failures a real client would retry, and the supervisor's
status channel (``--status-fd``: ``ready``, ``worker`` and ``stopped`` events)."""

from __future__ import annotations

import collections
import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xloop.status import StatusPipe

from ._support import IO_TIMEOUT, STARTUP_TIMEOUT, XloopProcess, xloop_process

#: Answers with the pid of the worker that served it (body and ``x-pid``). ``/gated?FILE``
#: sends its head and a first chunk at once and its end once FILE exists (a request held in
#: flight for as long as the test wants); ``/block`` blocks the worker's loop.
PID_APP = """\
import asyncio
import os
import time
from pathlib import Path

PID = str(os.getpid()).encode()
HEADERS = [(b'content-type', b'text/plain'), (b'x-pid', PID)]


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    if scope['path'] == '/block':
        time.sleep(60)
    await send({'type': 'http.response.start', 'status': 200, 'headers': HEADERS})
    if scope['path'] == '/gated':
        await send({'type': 'http.response.body', 'body': PID, 'more_body': True})
        gate = Path(scope['query_string'].decode())
        for _ in range(6000):  # at most a minute
            if gate.exists():
                break
            await asyncio.sleep(0.01)
        await send({'type': 'http.response.body', 'body': b''})
        return
    await send({'type': 'http.response.body', 'body': PID})
"""

REQUEST = b"GET / HTTP/1.1\r\nHost: t\r\n\r\n"

#: The POSIX signals that drive a supervisor, looked up by name: Windows has none of them
#: (the tests that send them are skipped there).
SIGKILL, SIGHUP, SIGTTIN, SIGTTOU = (
    int(getattr(signal, name, 0)) for name in ("SIGKILL", "SIGHUP", "SIGTTIN", "SIGTTOU")
)


def write_pid_app(directory: Path, name: str = "pids.py") -> str:
    (directory / name).write_text(PID_APP, encoding="utf-8")
    return f"{name.removesuffix('.py')}:app"


# -- a small client that knows what it received ------------------------------------------


class Cut(Exception):
    """The connection ended (closed or reset) before a whole response: ``got`` bytes of
    it had arrived."""

    def __init__(self, got: int, why: str) -> None:
        super().__init__(f"{why} after {got} byte(s) of the response")
        self.got = got


@dataclass
class Reply:
    status: int
    headers: dict[bytes, bytes]
    body: bytes

    @property
    def pid(self) -> int:
        return int(self.headers[b"x-pid"])


class Conn:
    """One keep-alive connection; ``requests`` answered on it so far."""

    def __init__(self, port: int, timeout: float = IO_TIMEOUT) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.requests = 0
        self.pid: int | None = None

    def close(self) -> None:
        self.sock.close()

    def _fill(self, got: int) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise Cut(got, type(exc).__name__) from None
        if not chunk:
            raise Cut(got, "EOF")
        self.buffer += chunk

    def send(self, data: bytes = REQUEST) -> None:
        try:
            self.sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise Cut(0, type(exc).__name__) from None

    def head(self) -> Reply:
        while b"\r\n\r\n" not in self.buffer:
            self._fill(len(self.buffer))
        raw, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
        lines = raw.split(b"\r\n")
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        reply = Reply(int(lines[0].split(b" ")[1]), headers, b"")
        self.pid = reply.pid
        return reply

    def _exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill(len(self.buffer) + 1)  # the head has arrived: bytes were received
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill(len(self.buffer) + 1)
        line, _, self.buffer = self.buffer.partition(b"\r\n")
        return line

    def body(self, reply: Reply) -> Reply:
        """The rest of the response: ``content-length`` bytes, or chunks until the last."""
        if b"content-length" in reply.headers:
            reply.body = self._exact(int(reply.headers[b"content-length"]))
        else:
            while size := int(self._line().split(b";")[0], 16):
                reply.body += self._exact(size)
                assert self._exact(2) == b"\r\n"
            assert self._line() == b""
        self.requests += 1
        return reply

    def exchange(self, data: bytes = REQUEST) -> Reply:
        self.send(data)
        return self.body(self.head())

    def at_eof(self) -> bool:
        """Blocks until the server closes the connection (True) or sends something."""
        try:
            self._fill(0)
        except Cut:
            return True
        return False


def fresh_get(port: int, path: str = "/") -> Reply:
    """One request on a new connection, closed afterwards."""
    conn = Conn(port)
    try:
        return conn.exchange(
            f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode()
        )
    finally:
        conn.close()


def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Call ``predicate`` until true; AssertionError after ``timeout`` s. For conditions
    only reachable by acting (each call makes a request)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"not within {timeout} s: {what}"


def serve_args(app: str, *extra: str, workers: int = 2) -> list[str]:
    """``xloop serve``'s arguments for ``app`` with ``workers`` workers on a free port."""
    return [app, "--workers", str(workers), "--port", "0", "--no-access-log", *extra]


def both_serve(port: int, pids: set[int]) -> set[int]:
    """Fresh connections until every pid in ``pids`` has answered one; the pids seen."""
    seen: set[int] = set()

    def answered() -> bool:
        reply = fresh_get(port)
        assert reply.status == 200
        seen.add(reply.pid)
        return pids <= seen

    until(answered, STARTUP_TIMEOUT, f"every worker of {pids} answers")
    return seen


# -- the load client ---------------------------------------------------------------------


@dataclass(frozen=True)
class Failure:
    """A request that got no whole response."""

    pid: int | None
    """The worker of its connection (from earlier responses), None on a fresh one."""
    reused: bool
    """The connection had answered a request before."""
    got: int
    """Bytes of this response received before the connection ended."""
    why: str

    @property
    def retriable(self) -> bool:
        """What RFC 9112 section 9.3.1 lets a client retry (an idempotent request): a
        reused connection closed before any byte of the response arrived."""
        return self.reused and self.got == 0


class Load:
    """``connections`` threads, each sending GET / on one keep-alive connection after
    another, a new connection after any failure (every failure recorded) or a
    ``connection: close``."""

    def __init__(self, port: int, connections: int = 20) -> None:
        self.port = port
        self.served: collections.Counter[int] = collections.Counter()
        #: Connections per worker (by the first response on each).
        self.on: collections.Counter[int] = collections.Counter()
        self.failures: list[Failure] = []
        self.bad_status: list[int] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, name=f"load-{n}", daemon=True)
            for n in range(connections)
        ]
        self.connected = threading.Barrier(connections + 1)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()
        self.connected.wait(STARTUP_TIMEOUT)  # every connection answered once

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(IO_TIMEOUT + 1)
        assert not any(t.is_alive() for t in self._threads), "a load thread hung"

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self.served.values())

    def _run(self) -> None:
        conn: Conn | None = None
        first = True
        while not self._stop.is_set():
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=5.0)
                reply = conn.exchange()
            except (Cut, OSError) as exc:
                got = exc.got if isinstance(exc, Cut) else 0
                reused = conn is not None and conn.requests > 0
                failure = Failure(conn.pid if conn else None, reused, got, str(exc))
                with self._lock:
                    self.failures.append(failure)
                if conn is not None:
                    conn.close()
                conn = None
                continue
            with self._lock:
                self.served[reply.pid] += 1
                if conn.requests == 1:
                    self.on[reply.pid] += 1
            if reply.status != 200:
                with self._lock:
                    self.bad_status.append(reply.status)
            if first:
                first = False
                with contextlib.suppress(threading.BrokenBarrierError):
                    self.connected.wait(STARTUP_TIMEOUT)
            if reply.headers.get(b"connection") == b"close":
                conn.close()
                conn = None
        if conn is not None:
            conn.close()


@contextlib.contextmanager
def running_load(port: int, connections: int = 20) -> Iterator[Load]:
    load = Load(port, connections)
    try:
        load.start()
        yield load
    finally:
        load.stop()


# -- the supervisor ----------------------------------------------------------------------


class Supervised:
    """A running ``xloop serve --workers N``/``--reload`` and its status channel."""

    def __init__(self, process: XloopProcess, status: StatusPipe) -> None:
        self.process = process
        self.status = status

    def ready(self) -> dict[str, Any]:
        ready = self.status.wait_for("ready", STARTUP_TIMEOUT)
        assert ready is not None, self.process.describe()
        assert ready["pid"] == self.process.proc.pid
        return ready

    def worker(self, state: str, timeout: float = STARTUP_TIMEOUT, **fields: Any) -> dict[str, Any]:
        """The first ``worker`` event in ``state`` whose fields match (a callable field
        value is a test)."""

        def match(event: dict[str, Any]) -> bool:
            if event.get("state") != state:
                return False
            for key, want in fields.items():
                value = event.get(key)
                if not (want(value) if callable(want) else value == want):
                    return False
            return True

        try:
            found = self.status.wait_for("worker", timeout, where=match)
        except TimeoutError:
            raise AssertionError(
                f"no worker {state} {fields} within {timeout} s:\n{self.process.describe()}"
            ) from None
        assert found is not None, f"no worker {state} {fields}:\n{self.process.describe()}"
        return found

    def events(self, name: str) -> list[dict[str, Any]]:
        return [e for e in list(self.status.events) if e["event"] == name]


def _kill(pid: int) -> None:
    with contextlib.suppress(OSError):  # gone (Windows: OSError, not ProcessLookupError)
        os.kill(pid, SIGKILL)


@contextlib.contextmanager
def supervised(
    args: list[str], *, cwd: Path, env: dict[str, str] | None = None
) -> Iterator[Supervised]:
    """The supervisor, and afterwards none of its workers left: a test that failed may leave
    one blocked, or draining a connection it held."""
    status = StatusPipe()
    with xloop_process(["serve", *args], cwd=cwd, env=env, status=status) as process:
        try:
            yield Supervised(process, status)
        finally:
            if process.proc.poll() is None:
                process.proc.kill()  # first: it restarts no worker any more
                process.proc.wait()
            workers = [e for e in list(status.events) if e["event"] == "worker"]
            gone = {e["pid"] for e in workers if e["state"] == "exited"}
            for pid in {e["pid"] for e in workers} - gone:
                _kill(pid)
