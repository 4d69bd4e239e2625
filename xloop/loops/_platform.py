"""The one place in xloop that reads ``sys.platform`` to decide event loop backends.

Everything else asks :mod:`xloop.loops` (``IS_WINDOWS``, ``OS_NAME``,
``default_asyncio_backend()``, ...) instead of looking at the platform itself, so
that the platform rules live in a single ``if``/``elif`` chain that mypy checks
per ``--platform``.
"""

from __future__ import annotations

import asyncio
import platform
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "ASYNCIO_DEFAULT",
    "IS_WINDOWS",
    "NATIVE_BACKEND",
    "OS_NAME",
    "PROACTOR_FACTORY",
    "WORKER_SHARING",
]

IS_WINDOWS: bool
"""True on Windows, where the proactor (IOCP) loop and winloop live."""

OS_NAME: str
"""A human name of this OS for messages ("Linux", "macOS", "Windows", ...)."""

ASYNCIO_DEFAULT: str
"""The backend the stdlib picks by default here: "proactor" on Windows, else "selector"."""

NATIVE_BACKEND: str
"""The fast optional backend for this OS: "winloop" on Windows, else "uvloop"."""

PROACTOR_FACTORY: Callable[[], asyncio.AbstractEventLoop] | None
"""Creates an ``asyncio.ProactorEventLoop``; None where there is no proactor."""

WORKER_SHARING: str
"""How worker processes share one listening socket: "inherit" (each worker's loop watches
the inherited socket) or "accept-thread" (Windows: a socket belongs to one IOCP, so a thread
per worker accepts and hands connections to the loop; see :mod:`xloop.server.handoff`)."""


if sys.platform == "win32":  # pragma: windows-only

    def _new_proactor_loop() -> asyncio.AbstractEventLoop:
        return asyncio.ProactorEventLoop()

    IS_WINDOWS = True
    OS_NAME = "Windows"
    ASYNCIO_DEFAULT = "proactor"
    NATIVE_BACKEND = "winloop"
    PROACTOR_FACTORY = _new_proactor_loop
    WORKER_SHARING = "accept-thread"
elif sys.platform == "darwin":  # pragma: macos-only
    IS_WINDOWS = False
    OS_NAME = "macOS"
    ASYNCIO_DEFAULT = "selector"
    NATIVE_BACKEND = "uvloop"
    PROACTOR_FACTORY = None
    WORKER_SHARING = "inherit"
elif sys.platform.startswith("linux"):  # pragma: linux-only
    IS_WINDOWS = False
    OS_NAME = "Linux"
    ASYNCIO_DEFAULT = "selector"
    NATIVE_BACKEND = "uvloop"
    PROACTOR_FACTORY = None
    WORKER_SHARING = "inherit"
else:  # pragma: no cover - another OS (BSD, Solaris, ...): no CI runs one
    IS_WINDOWS = False
    OS_NAME = platform.system() or "this OS"
    ASYNCIO_DEFAULT = "selector"
    NATIVE_BACKEND = "uvloop"
    PROACTOR_FACTORY = None
    WORKER_SHARING = "inherit"
