"""A machine-readable channel from a server process to the process that started it.

The server writes one line of UTF-8 JSON per event to a file descriptor it was given
(``xloop serve --status-fd N``; on Windows N is an inheritable OS handle). Each line is an
object with ``"event"`` (its name) and the event's own fields; a reader ignores events and
fields it does not know, and lines that are not JSON objects. Events so far:

``ready``
    The server listens: ``pid``, ``address`` (``http://127.0.0.1:8000``, ``unix:PATH``,
    ``tcp://...`` for the echo server), ``port`` (null when not TCP), ``loop`` (the loop as
    the startup log describes it), ``loop_class``, ``driver`` (its selector or proactor
    class, null for libuv loops), ``http`` (the parser) and ``ws`` (the WebSocket engine,
    ``none`` without one); the echo server sends neither.
``stopping``
    A graceful shutdown begins (a stop signal, ``--limit-max-requests``).
``stopped``
    The server shut down: ``requests`` and ``connections`` served, and ``ws_messages``,
    the WebSocket messages its apps sent (the echo server counts ``bytes`` instead of
    ``requests``).

A supervisor (``xloop serve --workers N`` or ``--reload``) sends the same ``ready``, once,
when every worker serves: the fields of a worker's ``ready``, with ``pid`` the supervisor's
and ``workers`` (the workers' pids); then ``worker`` events, ``number``, ``pid`` and
``state`` (``serving``, or ``exited`` with its exit ``code``, negative for a signal, or
``spare``: started in advance, number 0, waiting to replace the next worker); and
at the end ``stopped`` with the counts summed over the workers that stopped cleanly. Its
workers talk to it the same way (:mod:`xloop.server.worker`: ``pong``, ``failed``).

:class:`StatusWriter` is the server's end (:meth:`StatusWriter.open` takes the number given
on the command line). :class:`StatusPipe` is the parent's: a pipe whose write end one child
inherits (POSIX ``pass_fds``; Windows ``STARTUPINFO`` ``handle_list``), read by a thread,
with :meth:`StatusPipe.wait_for` to wait for an event.

Writes are small and rare and the reader drains the pipe, so a write does not block for
long; a reader that went away is ignored (the server goes on).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import json
import os
import subprocess
import threading
from collections.abc import Callable
from typing import Any

from . import loops
from .errors import ConfigError

__all__ = ["StatusPipe", "StatusWriter", "loop_fields"]


def loop_fields(loop: asyncio.AbstractEventLoop) -> dict[str, Any]:
    """The ``ready`` event's fields that describe ``loop``."""
    cls = type(loop)
    return {
        "loop": loops.describe(loop),
        "loop_class": f"{cls.__module__}.{cls.__qualname__}",
        "driver": loops.driver_of(loop),
    }


class StatusWriter:
    """Writes events, one JSON line each, to a file descriptor (left open: it belongs to
    whoever passed it; the process's exit closes it)."""

    def __init__(self, fd: int) -> None:
        self.fd: int | None = fd
        self._lock = threading.Lock()

    @classmethod
    def open(cls, number: int) -> StatusWriter:
        """The writer for ``--status-fd number``: a file descriptor, on Windows an OS
        handle. ConfigError if it is not open."""
        try:
            if loops.IS_WINDOWS:
                msvcrt: Any = importlib.import_module("msvcrt")
                fd: int = msvcrt.open_osfhandle(number, os.O_WRONLY | getattr(os, "O_BINARY", 0))
            else:
                os.fstat(number)
                fd = number
        except (OSError, OverflowError) as exc:
            what = "handle" if loops.IS_WINDOWS else "file descriptor"
            raise ConfigError(
                f"--status-fd {number}: not an open {what} ({exc})",
                hint="pass the write end of a pipe the server inherits",
            ) from None
        return cls(fd)

    def write(self, event: str, **fields: Any) -> None:
        """Send one event; nothing once closed, or once the reader has gone."""
        line = json.dumps({"event": event, **fields}, separators=(",", ":")) + "\n"
        data = memoryview(line.encode("utf-8"))
        with self._lock:
            if self.fd is None:
                return
            try:
                while data:
                    data = data[os.write(self.fd, data) :]
            except OSError:  # the reader closed its end: nobody listens any more
                self.fd = None

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class StatusPipe:
    """The parent's end of the channel to one child process.

    ::

        status = StatusPipe()
        proc = subprocess.Popen([..., "--status-fd", str(status.child_fd)],
                                **status.popen_kwargs())  # on failure: status.close()
        status.start()  # closes the child's end here, reads the events
        ready = status.wait_for("ready", timeout=30)
    """

    def __init__(self, on_event: Callable[[dict[str, Any]], None] | None = None) -> None:
        #: Called (in the reader thread) with each event as it is read, instead of keeping
        #: it in ``events``; then with ``{"event": "closed"}`` at the end.
        self._on_event = on_event
        self._read_fd, self.write_fd = os.pipe()
        self.child_fd = self.write_fd
        """What the child is told (``--status-fd``): the fd, on Windows its OS handle."""
        self._handle: int | None = None
        if loops.IS_WINDOWS:
            msvcrt: Any = importlib.import_module("msvcrt")
            self._handle = self.child_fd = int(msvcrt.get_osfhandle(self.write_fd))
        self.events: list[dict[str, Any]] = []
        self.closed = False
        """True once the child's end is closed everywhere (the child exited)."""
        self._changed = threading.Condition()
        self._thread: threading.Thread | None = None

    def popen_kwargs(self) -> dict[str, Any]:
        """What ``subprocess.Popen`` needs to let the child inherit the write end, and
        nothing else of this process."""
        if self._handle is None:
            return {"pass_fds": (self.write_fd,)}
        os.set_handle_inheritable(self._handle, True)  # type: ignore[attr-defined,unused-ignore]
        info: Any = getattr(subprocess, "STARTUPINFO")  # noqa: B009 - Windows only
        return {
            "startupinfo": info(lpAttributeList={"handle_list": [self._handle]}),
            "close_fds": True,
        }

    def start(self) -> None:
        """Close this process's copy of the write end and start reading."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1
        if self._thread is None:
            self._thread = threading.Thread(target=self._read, name="status", daemon=True)
            self._thread.start()

    def _read(self) -> None:
        with open(self._read_fd, "rb") as stream:
            for raw in stream:
                try:
                    event = json.loads(raw)
                except ValueError:
                    continue
                if not isinstance(event, dict) or not isinstance(event.get("event"), str):
                    continue
                if self._on_event is not None:  # handed on, not kept (a long-lived child)
                    self._on_event(event)
                    continue
                with self._changed:
                    self.events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()
        if self._on_event is not None:
            self._on_event({"event": "closed"})

    def last(self, name: str) -> dict[str, Any] | None:
        """The latest event called ``name`` so far, or None."""
        with self._changed:
            return next((e for e in reversed(self.events) if e["event"] == name), None)

    def wait_for(
        self,
        name: str,
        timeout: float,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> dict[str, Any] | None:
        """The first event called ``name`` (for which ``where`` is true), once it came;
        None if the channel closed without it (the child exited); TimeoutError after
        ``timeout`` seconds."""

        def first() -> dict[str, Any] | None:
            return next(
                (e for e in self.events if e["event"] == name and (where is None or where(e))),
                None,
            )

        with self._changed:
            done = self._changed.wait_for(lambda: self.closed or first() is not None, timeout)
            found = first()
            if found is not None or done:
                return found
        raise TimeoutError(f"no {name!r} event within {timeout:g} s")

    def join(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until every event was read."""
        if self._thread is not None:
            self._thread.join(timeout)

    def close(self) -> None:
        """Release the pipe where no reader will: a child that never started."""
        if self.write_fd >= 0:
            os.close(self.write_fd)
            self.write_fd = -1
        if self._thread is None and self._read_fd >= 0:
            os.close(self._read_fd)
            self._read_fd = -1
