"""The path of one connection through a loop, recorded live: ``xloop which-loop --trace``.

A profile hook (``sys.setprofile``) records every call made on the loop's thread while a
server started with ``loop.create_server`` accepts one connection, reads one request and
writes one response: from ``create_server`` through ``_start_serving``, the accept callback,
``call_soon`` putting handles on the ready queue, ``_run_once`` running them after the
selector returns, to the protocol's ``connection_made``, ``data_received`` and the write.
Each step names the class that defined the method (``co_qualname``; on Python 3.10 the
class is found on the MRO of ``self``). Loops written in C, Rust or Zig show where Python
stops seeing calls: their methods appear as one native call, and the protocol's methods as
called from native code.

The protocol is a minimal one answering fixed bytes: what is traced is the loop, not HTTP.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from dataclasses import dataclass
from types import FrameType, FunctionType
from typing import Any

__all__ = ["Step", "trace"]

RESPONSE = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"

#: Modules whose Python functions are steps of the walk.
_LOOP_FILES = (
    "base_events.py",
    "selector_events.py",
    "proactor_events.py",
    "windows_events.py",
    "unix_events.py",
    "events.py",
    "selectors.py",
)
#: Bookkeeping that says nothing about the path: left out.
_NOISE = frozenset(
    {
        "get_debug",
        "_check_closed",
        "time",
        "_fileobj_lookup",
        "_fileobj_to_fd",
        "get_map",
        "__getitem__",
        "get_key",
        "_key_from_fd",
        "is_closing",
        "is_reading",
        "__init__",
        "_check_thread",
        "_set_nodelay",
    }
)


@dataclass(frozen=True)
class Step:
    depth: int
    name: str
    """``Class.method`` (the class that defined it) or ``function``."""
    where: str
    """The module, or ``native`` for a call into compiled code."""
    note: str = ""


class TraceProtocol(asyncio.Protocol):
    """Answers the first request with fixed bytes, then closes."""

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(RESPONSE)
        if not self.done.done():
            self.done.set_result(None)


def _qualname(frame: FrameType, owner: object) -> str:
    """``Class.method`` of a call: ``co_qualname`` (3.11+), else the class on the MRO of
    ``owner``, the ``self`` the hook saw when the call began (a finished frame's locals
    are gone)."""
    code = frame.f_code
    qualname: str | None = getattr(code, "co_qualname", None)  # 3.11+
    if qualname is not None:
        return qualname
    if owner is not None:  # pragma: py310-only
        for cls in type(owner).__mro__:
            function = cls.__dict__.get(code.co_name)
            if getattr(function, "__code__", None) is code:
                return f"{cls.__name__}.{code.co_name}"
    return code.co_name  # pragma: py310-only


class _Recorder:
    def __init__(self) -> None:
        self.steps: list[Step] = []
        self.depths: dict[FrameType, int] = {}

    def _depth(self, frame: FrameType) -> int:
        return self.depths.get(frame, 0)

    def __call__(
        self, frame: FrameType, parent: FrameType | None, event: str, arg: Any, owner: object
    ) -> None:
        """One event of the profile hook; ``parent`` was ``frame.f_back`` at that moment
        (a coroutine's caller changes from one resumption to the next), ``owner`` the
        call's ``self`` (Python 3.10 only)."""
        if event == "call":
            depth = self.depths[parent] + 1 if parent in self.depths else 0
            self.depths[frame] = depth
            filename = frame.f_code.co_filename.replace("\\", "/").rsplit("/", 1)[-1]
            name = _qualname(frame, owner)
            method = name.rsplit(".", 1)[-1]
            if name.startswith("TraceProtocol.") and method != "__init__":
                note = "" if parent in self.depths else "called from native code"
                self.steps.append(Step(depth, name, "protocol", note))
            elif filename in _LOOP_FILES and method not in _NOISE and "<" not in name:
                module = frame.f_globals.get("__name__", filename)
                self.steps.append(Step(depth, name, str(module)))
        elif event == "return":
            self.depths.pop(frame, None)
        elif event == "c_call":
            owner = getattr(arg, "__self__", None)
            name = getattr(arg, "__qualname__", getattr(arg, "__name__", repr(arg)))
            module = getattr(arg, "__module__", None) or type(owner).__module__
            if isinstance(owner, socket.socket) or module in ("_socket", "select"):
                self.steps.append(Step(self._depth(frame) + 1, name, "native (socket)"))
            elif isinstance(owner, asyncio.AbstractEventLoop) or (
                owner is not None and "loop" in type(owner).__module__.lower()
            ):
                label = f"{type(owner).__module__}.{type(owner).__qualname__}"
                self.steps.append(Step(self._depth(frame) + 1, name, f"native ({label})"))


async def _walk(recorder: _Recorder) -> None:
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    create_server = type(loop).create_server
    if not isinstance(create_server, FunctionType):
        # Compiled: the profile hook sees no Python frame inside it.
        owner = f"{type(loop).__module__}.{type(loop).__qualname__}"
        recorder.steps.append(
            Step(
                0,
                f"{type(loop).__qualname__}.create_server",
                f"native ({owner})",
                "compiled: Python sees no calls inside",
            )
        )
    # The hook only keeps each event; the recorder reads them once the walk is over: the
    # hook stays cheap, and the recorder runs where a tracer (coverage) can see it, which
    # no code called from a profile hook is.
    events: list[tuple[FrameType, FrameType | None, str, Any, object]] = []
    if sys.version_info >= (3, 11):  # co_qualname names the method
        sys.setprofile(
            lambda frame, event, arg: events.append((frame, frame.f_back, event, arg, None))
        )
    else:  # the class comes from self, read while the call runs
        sys.setprofile(  # pragma: py310-only
            lambda frame, event, arg: events.append(
                (
                    frame,
                    frame.f_back,
                    event,
                    arg,
                    frame.f_locals.get("self") if event == "call" else None,
                )
            )
        )
    try:
        server = await loop.create_server(lambda: TraceProtocol(done), "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        answer: list[bytes] = []
        client = threading.Thread(target=_client, args=(port, answer), daemon=True)
        client.start()  # a thread of its own: not profiled
        await asyncio.wait_for(done, 10.0)
    finally:
        sys.setprofile(None)
    for event in events:
        recorder(*event)
    events.clear()  # the frames, and what their locals hold
    client.join(10.0)
    server.close()
    await server.wait_closed()
    if not answer or not answer[0].startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"the traced server did not answer: {answer!r}")


def _client(port: int, answer: list[bytes]) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10.0) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: trace\r\n\r\n")
        answer.append(sock.recv(65536))


def trace(loop: str = "auto", selector: str = "auto") -> tuple[str, list[Step]]:
    """Run the walk on a fresh loop of ``loop``; (the loop's description, the steps)."""
    from . import describe, resolve
    from . import run as run_on

    choice = resolve(loop, selector)
    recorder = _Recorder()
    described: list[str] = []

    async def main() -> None:
        described.append(describe(asyncio.get_running_loop()))
        await _walk(recorder)

    run_on(main(), loop_factory=choice.factory)
    return described[0], _fold(recorder.steps)


def _fold(steps: list[Step]) -> list[Step]:
    """Depths relative to the shallowest step; a run of identical lines said once."""
    base = min((step.depth for step in steps), default=0)
    folded: list[Step] = []
    for original in steps:
        step = Step(original.depth - base, original.name, original.where, original.note)
        if folded and folded[-1] == step:
            continue
        folded.append(step)
    return folded
