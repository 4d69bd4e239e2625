"""What a loop can really do, probed live: ``xloop which-loop --capabilities``.

Each probe does the real thing on a fresh loop of the backend asked about (a watcher on a
socket, a subprocess, a signal, a TLS upgrade, ...) and reports what happened; nothing is
read from a table. Probes run in a child process (``python -m xloop.loops.capabilities``),
one JSON line per probe as it ends, so a probe that hangs past its bound or crashes the
interpreter is reported as such, and the probes after it run in a new child.

Results: ``works``; ``fallback`` (works, through a slower generic path: sendfile by reads
and writes); ``not implemented`` (the loop raised NotImplementedError); ``unsupported`` (not
on this OS or Python, said why); ``limited`` (works up to a bound, said); ``failed`` (another
error, with it); ``hung``; ``crashed``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from . import transport_probes

__all__ = ["PROBES", "Capability", "probe"]

#: The bound of one probe inside the child; the parent allows a little more per probe.
PROBE_TIMEOUT = 5.0
#: How long a child may take to start before its first probe (Windows under Wine: seconds).
STARTUP_TIMEOUT = 60.0
#: The subprocess probe's bound: it starts an interpreter, which is not the loop's speed
#: (seconds under Wine on a loaded machine).
SPAWN_TIMEOUT = 30.0
#: Sockets the cap probe registers at most (select() is limited to FD_SETSIZE).
CAP_SOCKETS = 1100

WORKS = "works"
FALLBACK = "fallback"
NOT_IMPLEMENTED = "not implemented"
UNSUPPORTED = "unsupported"
FAILED = "failed"
LIMITED = "limited"
HUNG = "hung"
CRASHED = "crashed"


@dataclass(frozen=True)
class Capability:
    name: str
    result: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "result": self.result, "detail": self.detail}


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Outcome(Exception):
    """Raised by a probe to report a result other than ``works``."""

    def __init__(self, result: str, detail: str = "") -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


# -- the probes (each runs on a fresh loop, inside the child) ---------------------------------


async def _add_reader() -> str:
    loop = asyncio.get_running_loop()
    left, right = socket.socketpair()
    with left, right:
        left.setblocking(False)
        ready = loop.create_future()
        loop.add_reader(left.fileno(), _settle, ready)
        try:
            right.send(b"x")
            await ready
        finally:
            loop.remove_reader(left.fileno())
        writable = loop.create_future()
        loop.add_writer(left.fileno(), _settle, writable)
        try:
            await writable
        finally:
            loop.remove_writer(left.fileno())
    return "a socket watched for reading and writing"


async def _subprocess() -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import sys; sys.stdout.write(sys.stdin.read().upper())",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(b"pipe")
    if out != b"PIPE" or process.returncode != 0:
        raise _Outcome(FAILED, f"child answered {out!r}, exit {process.returncode}")
    return "create_subprocess_exec with stdin/stdout pipes"


async def _signal_handler() -> str:
    loop = asyncio.get_running_loop()
    sig = getattr(signal, "SIGUSR1", signal.SIGINT)
    got = loop.create_future()
    previous = signal.getsignal(sig)
    loop.add_signal_handler(sig, _settle, got)
    try:
        signal.raise_signal(sig)
        await got
    finally:
        try:
            loop.remove_signal_handler(sig)
        except Exception as exc:  # rloop 0.5: delivered, but the removal raises
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
            removal = f"{type(exc).__name__}: {exc}"
        else:
            removal = ""
    name = signal.Signals(sig).name
    if removal:
        raise _Outcome(LIMITED, f"{name} delivered, but remove_signal_handler raised {removal}")
    return f"{name} delivered to a loop callback"


async def _sendfile() -> str:
    loop = asyncio.get_running_loop()
    payload = os.urandom(256 * 1024)
    received = bytearray()
    done = loop.create_future()

    class Sink(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.extend(data)
            if len(received) >= len(payload) and not done.done():
                done.set_result(None)

    server = await loop.create_server(Sink, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    path = ""
    try:
        with tempfile.NamedTemporaryFile(delete=False) as handle:
            handle.write(payload)
            path = handle.name
        transport, _ = await loop.create_connection(asyncio.Protocol, "127.0.0.1", port)
        try:
            with open(path, "rb") as file:  # noqa: ASYNC230 - a local file, opened once
                try:
                    await loop.sendfile(transport, file, fallback=False)
                    how = WORKS
                except (asyncio.SendfileNotAvailableError, NotImplementedError) as exc:
                    reason = str(exc) or type(exc).__name__
                    file.seek(0)
                    await loop.sendfile(transport, file, fallback=True)
                    how = FALLBACK
            await done
        finally:
            transport.close()
    finally:
        server.close()
        if path:
            os.unlink(path)
    if bytes(received) != payload:
        raise _Outcome(FAILED, "the bytes received differ from the file")
    if how == FALLBACK:
        raise _Outcome(FALLBACK, f"no native sendfile ({reason}): read and write")
    return "native sendfile of 256 KiB"


async def _start_tls() -> str:
    try:
        import trustme
    except ImportError as exc:
        why = "pip install trustme" if exc.name == "trustme" else str(exc)
        raise _Outcome(
            UNSUPPORTED, f"not probed: needs trustme for a certificate ({why})"
        ) from None
    import ssl

    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server_context)
    client_context = ssl.create_default_context()
    authority.configure_trust(client_context)
    loop = asyncio.get_running_loop()
    received = bytearray()
    done = loop.create_future()
    upgrades: list[asyncio.Task[None]] = []

    class Upgrading(asyncio.Protocol):
        """Upgrades its plain connection to TLS at once (server side), then greets."""

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            upgrades.append(loop.create_task(self.upgrade(transport)))

        async def upgrade(self, transport: asyncio.BaseTransport) -> None:
            tls = await loop.start_tls(
                transport,  # type: ignore[arg-type,unused-ignore]
                self,
                server_context,
                server_side=True,
            )
            assert tls is not None
            tls.write(b"over tls")
            tls.close()

    class Reading(asyncio.Protocol):
        def data_received(self, data: bytes) -> None:
            received.extend(data)
            if len(received) >= 8 and not done.done():
                done.set_result(None)

    server = await loop.create_server(Upgrading, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        transport, protocol = await loop.create_connection(Reading, "127.0.0.1", port)
        tls = await loop.start_tls(transport, protocol, client_context, server_hostname="localhost")
        await done
        if tls is not None:
            tls.close()
        await asyncio.gather(*upgrades)
    finally:
        server.close()
    if bytes(received) != b"over tls":
        raise _Outcome(FAILED, f"read {bytes(received)!r} after the upgrade")
    return "a plain connection upgraded to TLS, both sides"


async def _unix() -> str:
    if not hasattr(socket, "AF_UNIX"):
        raise _Outcome(UNSUPPORTED, "no AF_UNIX sockets in this Python")

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.readexactly(4))
        writer.close()

    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "probe.sock")
        server = await getattr(asyncio, "start_unix_server")(echo, path)  # noqa: B009
        try:
            reader, writer = await getattr(asyncio, "open_unix_connection")(path)  # noqa: B009
            writer.write(b"unix")
            answer = await reader.readexactly(4)
            writer.close()
        finally:
            server.close()
    if answer != b"unix":
        raise _Outcome(FAILED, f"read {answer!r}")
    return "UNIX server and client"


async def _udp() -> str:
    loop = asyncio.get_running_loop()
    got = loop.create_future()

    class Receiver(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            if not got.done():
                got.set_result(data)

    receiver, _ = await loop.create_datagram_endpoint(Receiver, local_addr=("127.0.0.1", 0))
    try:
        address = receiver.get_extra_info("sockname")
        sender, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, remote_addr=address
        )
        sender.sendto(b"datagram")
        data = await got
        sender.close()
    finally:
        receiver.close()
    if data != b"datagram":
        raise _Outcome(FAILED, f"received {data!r}")
    return "a datagram sent and received"


async def _eager_tasks() -> str:
    factory = getattr(asyncio, "eager_task_factory", None)
    if factory is None:
        raise _Outcome(UNSUPPORTED, f"asyncio has no eager tasks before 3.12 (this is {_py()})")
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    loop.set_task_factory(factory)
    try:
        ran: list[bool] = []

        async def body() -> None:
            ran.append(True)

        task = loop.create_task(body())
        started_eagerly = bool(ran) and task.done()
        await task
    finally:
        loop.set_task_factory(previous)
    if not started_eagerly:
        raise _Outcome(FAILED, "the task factory was set, but the task did not start eagerly")
    return "a task that never waits finishes inside create_task"


async def _shutdown_default_executor() -> str:
    loop = asyncio.get_running_loop()
    value = await loop.run_in_executor(None, lambda: 42)
    await loop.shutdown_default_executor()
    if value != 42:
        raise _Outcome(FAILED, f"the executor returned {value!r}")
    return "run_in_executor, then the executor shut down"


_cap_progress = [0]  # sockets the cap probe had registered when the loop last polled


async def _socket_cap() -> str:
    """Register sockets for reading, letting the loop poll after each batch, until it
    refuses them (select(): FD_SETSIZE) or CAP_SOCKETS is reached."""
    loop = asyncio.get_running_loop()
    pairs: list[tuple[socket.socket, socket.socket]] = []
    registered: list[int] = []
    note = ""
    try:
        while len(registered) < CAP_SOCKETS:
            try:
                pair = socket.socketpair()
            except OSError as exc:
                note = f"; the OS allowed no more sockets ({exc.strerror or exc})"
                break
            pairs.append(pair)
            pair[0].setblocking(False)
            try:
                loop.add_reader(pair[0].fileno(), lambda: None)
            except NotImplementedError:
                raise _Outcome(NOT_IMPLEMENTED, "no add_reader: sockets are not watched") from None
            except (ValueError, OSError) as exc:
                raise _Outcome(LIMITED, f"at most {len(registered)} sockets ({exc})") from None
            registered.append(pair[0].fileno())
            if len(registered) % 64 == 0:
                await asyncio.sleep(0)  # the loop polls all that is registered
                _cap_progress[0] = len(registered)
    finally:
        for fd in registered:
            with contextlib.suppress(Exception):
                loop.remove_reader(fd)
        for left, right in pairs:
            left.close()
            right.close()
    return f"no cap up to {len(registered)} watched sockets{note}"


def _py() -> str:
    return f"Python {sys.version_info.major}.{sys.version_info.minor}"


PROBES: dict[str, Callable[[], Awaitable[str]]] = {
    "add_reader": _add_reader,
    "subprocess": _subprocess,
    "signal_handler": _signal_handler,
    "sendfile": _sendfile,
    "start_tls": _start_tls,
    "unix_sockets": _unix,
    "udp": _udp,
    "sock_recv_into": transport_probes.sock_recv_into,
    "eager_tasks": _eager_tasks,
    "shutdown_default_executor": _shutdown_default_executor,
    "socket_cap": _socket_cap,
    "transport_close": transport_probes.transport_close,
    "set_protocol": transport_probes.set_protocol,
    "server_close": transport_probes.server_close,
    "pause_reading": transport_probes.pause_reading,
    "pause_writing": transport_probes.pause_writing,
    "peer_reset": transport_probes.peer_reset,
    "write_in_resume_writing": transport_probes.write_in_resume_writing,
    "abort": transport_probes.abort,
}


def _probe_named(name: str) -> Callable[[], Awaitable[str]]:
    """A probe of the table, or ``module:function`` (an extra probe of the caller's)."""
    if ":" not in name:
        return PROBES[name]
    import importlib

    module, _, attribute = name.partition(":")
    probe_function: Callable[[], Awaitable[str]] = getattr(
        importlib.import_module(module), attribute
    )
    return probe_function


def bound(name: str) -> float:
    """How long the probe ``name`` may take inside its child."""
    return SPAWN_TIMEOUT if name == "subprocess" else PROBE_TIMEOUT


def _run_one(name: str, factory: Callable[[], asyncio.AbstractEventLoop]) -> Capability:
    from . import run as run_on

    async def bounded() -> str:
        return await asyncio.wait_for(_probe_named(name)(), bound(name))

    try:
        detail = run_on(bounded(), loop_factory=factory)
    except _Outcome as outcome:
        return Capability(name, outcome.result, outcome.detail)
    except (
        transport_probes.SocketLeftOpen,
        transport_probes.ConnectionsClosedWithServer,
        transport_probes.ReadingNotPaused,
        transport_probes.NotTold,
    ) as exc:
        return Capability(name, FAILED, str(exc))
    except NotImplementedError as exc:
        return Capability(name, NOT_IMPLEMENTED, str(exc) or "NotImplementedError")
    except (asyncio.TimeoutError, TimeoutError):
        return Capability(name, HUNG, f"no result within {bound(name):g}s")
    except (ValueError, OSError) as exc:
        if name == "socket_cap":  # raised by the loop's own poll: select() refused the set
            limit = _cap_progress[0]
            return Capability(name, LIMITED, f"at most about {limit} sockets ({exc})")
        return Capability(name, FAILED, f"{type(exc).__name__}: {exc}")
    except Exception as exc:
        return Capability(name, FAILED, f"{type(exc).__name__}: {exc}")
    return Capability(name, WORKS, detail)


# -- the parent side ---------------------------------------------------------------------------


def probe(
    loop: str = "auto", selector: str = "auto", names: list[str] | None = None
) -> list[Capability]:
    """Run the probes on ``loop`` in child processes; one Capability per probe, in order.

    ``names`` are probes of :data:`PROBES`, or ``module:function`` for one of the caller's
    (an async function returning what it saw, raising NotImplementedError or another error).
    """
    order = list(names or PROBES)
    results: dict[str, Capability] = {}
    # The cap probe may leave a loop broken by select(): it runs in a child of its own.
    batches = [[n for n in order if n != "socket_cap"], [n for n in order if n == "socket_cap"]]
    for batch in batches:
        _probe_batch(loop, selector, batch, results)
    return [results[name] for name in order]


def _probe_batch(
    loop: str, selector: str, pending: list[str], results: dict[str, Capability]
) -> None:
    while pending:
        command = [sys.executable, "-m", "xloop.loops.capabilities", "--loop", loop]
        command += ["--selector", selector, "--probes", ",".join(pending)]
        child = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            errors="replace",
        )
        lines = _lines(child)
        try:
            stuck = False
            # The bounds count from the child's hello: starting an interpreter is not a
            # probe (it takes seconds under Wine).
            hello = lines.get(STARTUP_TIMEOUT)
            if hello is None:  # the child died, or hung, before its first probe
                stuck = not lines.ended
            while pending and hello is not None:
                line = lines.get(bound(pending[0]) * 2 + 1.0)
                if line is None:  # the child ended, or said nothing in time
                    stuck = not lines.ended
                    break
                with contextlib.suppress(ValueError, KeyError, TypeError):
                    record = json.loads(line)
                    capability = Capability(record["name"], record["result"], record["detail"])
                    results[capability.name] = capability
                    pending.remove(capability.name)
            if stuck:
                child.kill()
            code = child.wait()
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            lines.close()
        if not pending:
            break
        name = pending.pop(0)
        if stuck:
            results[name] = Capability(name, HUNG, f"the loop did not answer in {bound(name):g}s")
        else:
            tail = (lines.stderr_tail() or "no output").strip().splitlines()[-1:]
            results[name] = Capability(
                name, CRASHED, f"the interpreter exited with {code}: {' '.join(tail)}"
            )


class _lines:
    """Lines of a child's stdout, each waited for with a bound (a reader thread)."""

    def __init__(self, child: subprocess.Popen[str]) -> None:
        self._child = child
        self._queue: list[str | None] = []
        self._ready = threading.Condition()
        self._stderr: list[str] = []
        self._threads = [
            threading.Thread(target=self._read, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def close(self) -> None:
        """Once the child has ended: its output read to the end, the pipes closed."""
        for thread in self._threads:
            thread.join(5.0)
        for stream in (self._child.stdout, self._child.stderr):
            if stream is not None:
                stream.close()

    def _read(self) -> None:
        assert self._child.stdout is not None
        for line in self._child.stdout:
            with self._ready:
                self._queue.append(line)
                self._ready.notify()
        with self._ready:
            self._queue.append(None)
            self._ready.notify()

    def _read_stderr(self) -> None:
        assert self._child.stderr is not None
        for line in self._child.stderr:
            self._stderr.append(line)

    @property
    def ended(self) -> bool:
        """The child's stdout reached its end (it exited, or crashed)."""
        with self._ready:
            return bool(self._queue) and self._queue[0] is None

    def get(self, timeout: float) -> str | None:
        deadline = time.monotonic() + timeout
        with self._ready:
            while not self._queue:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._ready.wait(remaining)
            line = self._queue[0]
            if line is not None:
                self._queue.pop(0)
            return line

    def stderr_tail(self) -> str:
        return "".join(self._stderr[-5:])


def main(argv: list[str] | None = None) -> int:
    """The child: run the named probes on the loop, one JSON line each."""
    from . import resolve

    parser = argparse.ArgumentParser(prog="python -m xloop.loops.capabilities")
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--selector", default="auto")
    parser.add_argument("--probes", default=",".join(PROBES))
    args = parser.parse_args(argv)
    choice = resolve(args.loop, args.selector)
    print(json.dumps({"ready": True}), flush=True)
    for name in args.probes.split(","):
        capability = _run_one(name, choice.factory)
        print(json.dumps(capability.as_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
