"""What ``xloop which-loop`` reports: the loop a choice really creates, and who owns what.

The report is a JSON-able dict with a versioned, stable schema. Fields are only
ever added within a schema version; a rename or removal bumps the version.

``xloop.which-loop/1`` (:func:`inspect_choice`, ``xloop which-loop --json``)::

    {
      "schema": "xloop.which-loop/1",
      "requested": "auto",                  # the --loop value as given (normalised)
      "backend": "uvloop",                  # selector | proactor | uvloop | winloop | custom
      "reason": "auto: uvloop is installed",  # one sentence: why this backend
      "loop_class": "uvloop.Loop",          # module.qualname of the created loop
      "mro": ["uvloop.Loop", "uvloop.loop.Loop",
              "asyncio.events.AbstractEventLoop", "builtins.object"],
      "driver": {                           # what the loop drives (loop._selector / _proactor)
        "kind": "selector" | "proactor" | null,
        "class": "selectors.EpollSelector" | null
      },
      "methods": {                          # method -> the MRO class whose __dict__ defines it,
        "create_server": "uvloop.loop.Loop",  #   or null when no class does
        "run_forever": ..., "run_until_complete": ..., "_run_once": ...,
        "call_soon": ..., "_start_serving": ..., "sock_accept": ...,
        "create_connection": ...
      },
      "transport": {                        # what carries the connections xloop serves
        "owner": "xloop" | "loop",          #   xloop's own (the selector loop) or the loop's
        "class": "xloop.server.transport.SocketTransport" | "",
        "why": "the selector loop: xloop accepts and reads itself; TLS: the loop's"
      },
      "app_tasks": {                        # how each request's app task starts
        "start": "eager" | "scheduled" | "factory",
        "why": "xloop's eager start (3.10, 3.11): the task's first step runs as it is made",
        "table": "asyncio's WeakSet, entered through xloop's compiled add (no Python frame)"
      },
      "python": {"version": "3.11.7", "implementation": "CPython"},
      "os": {"system": "Linux", "release": "6.1.0", "machine": "x86_64"}
    }

``xloop.which-loop.all/1`` (:func:`inspect_all`, ``xloop which-loop --all --json``)::

    {
      "schema": "xloop.which-loop.all/1",
      "backends": [                         # "auto", then every name in BACKENDS, in order
        {"name": "auto", "available": true,
         "why": "auto: uvloop is installed",   # what it resolves to, or why not
         "loop_class": "uvloop.Loop",          # null when not available
         "driver": {"kind": null, "class": null}},  # null when not available
        {"name": "proactor", "available": false,
         "why": "proactor needs Windows (IOCP)", "loop_class": null, "driver": null},
        ...
      ],
      "selectors": [                        # every name in SELECTOR_NAMES but "auto"
        {"name": "epoll", "available": true, "default": true,
         "class": "selectors.EpollSelector",   # null when not available
         "why": "selectors.DefaultSelector here"},  # or e.g. "kqueue selector needs macOS or BSD"
        ...
      ],
      "python": {...}, "os": {...}          # as in xloop.which-loop/1
    }
"""

from __future__ import annotations

import platform
import selectors
from typing import TYPE_CHECKING, Any

from xloop.errors import LoopUnavailable, StartupError
from xloop.loops import (
    _SELECTOR_CLASSES,
    _SELECTOR_NEEDS,
    LOOP_NAMES,
    SELECTOR_NAMES,
    availability,
    resolve,
)
from xloop.loops.serving import app_tasks_info, transport_info

if TYPE_CHECKING:
    import asyncio

    from xloop.loops import LoopChoice

__all__ = [
    "ALL_SCHEMA",
    "METHODS",
    "SCHEMA",
    "driver_info",
    "inspect_all",
    "inspect_choice",
    "method_owners",
    "os_info",
    "python_info",
    "qualname",
]

SCHEMA = "xloop.which-loop/1"
ALL_SCHEMA = "xloop.which-loop.all/1"

METHODS: tuple[str, ...] = (
    "create_server",
    "run_forever",
    "run_until_complete",
    "_run_once",
    "call_soon",
    "_start_serving",
    "sock_accept",
    "create_connection",
)
"""The loop methods whose owning class the report names, in report order."""


def qualname(cls: type) -> str:
    """``module.qualname`` of a class, e.g. ``asyncio.base_events.BaseEventLoop``."""
    return f"{cls.__module__}.{cls.__qualname__}"


def python_info() -> dict[str, str]:
    return {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }


def os_info() -> dict[str, str]:
    return {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }


def driver_info(loop: asyncio.AbstractEventLoop) -> dict[str, str | None]:
    """``{"kind": "selector"|"proactor"|None, "class": qualified name|None}``."""
    for kind in ("proactor", "selector"):
        driver = getattr(loop, f"_{kind}", None)
        if driver is not None:
            return {"kind": kind, "class": qualname(type(driver))}
    return {"kind": None, "class": None}


def method_owners(cls: type) -> dict[str, str | None]:
    """For each name in :data:`METHODS`, the first class in ``cls.__mro__`` defining it."""
    owners: dict[str, str | None] = {}
    for method in METHODS:
        owner = next((klass for klass in cls.__mro__ if method in vars(klass)), None)
        owners[method] = qualname(owner) if owner is not None else None
    return owners


def inspect_choice(choice: LoopChoice) -> dict[str, Any]:
    """Create the loop ``choice`` stands for, describe it, and close it.

    The result follows the ``xloop.which-loop/1`` schema (see the module docstring).
    """
    try:
        loop = choice.factory()
    except Exception as exc:
        raise StartupError(
            f"the {choice.backend} loop could not be created: {type(exc).__name__}: {exc}",
            hint="which-loop --all says how every loop here fares",
        ) from exc
    try:
        cls = type(loop)
        report = {
            "schema": SCHEMA,
            "requested": choice.requested,
            "backend": choice.backend,
            "reason": choice.reason,
            "loop_class": qualname(cls),
            "mro": [qualname(klass) for klass in cls.__mro__],
            "driver": driver_info(loop),
            "methods": method_owners(cls),
            "transport": transport_info(loop),
            "app_tasks": app_tasks_info(loop),
            "python": python_info(),
            "os": os_info(),
        }
    finally:
        _close(loop, choice.backend)
    return report


def _close(loop: asyncio.AbstractEventLoop, backend: str) -> None:
    try:
        loop.close()
    except Exception as exc:
        raise StartupError(
            f"the {backend} loop could not be closed: {type(exc).__name__}: {exc}",
            hint="which-loop --all says how every loop here fares",
        ) from exc


def _inspect_backend(name: str, available: bool, why: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": name,
        "available": available,
        "why": why,
        "loop_class": None,
        "driver": None,
    }
    if available:
        try:
            loop = resolve(name).factory()
        except LoopUnavailable as exc:  # pragma: no cover - vanished between the two looks
            entry.update(available=False, why=exc.message)
            return entry
        except Exception as exc:  # installed, but its loop cannot be created here
            entry.update(available=False, why=f"its loop failed: {type(exc).__name__}: {exc}")
            return entry
        try:
            entry["loop_class"] = qualname(type(loop))
            entry["driver"] = driver_info(loop)
        finally:
            try:
                _close(loop, name)
            except StartupError as exc:
                entry.update(available=False, why=exc.message)
    return entry


def _inspect_selector(name: str) -> dict[str, Any]:
    selector_class = getattr(selectors, _SELECTOR_CLASSES[name], None)
    if selector_class is None:
        why = f"{name} selector needs {_SELECTOR_NEEDS[name]}"
        return {"name": name, "available": False, "default": False, "class": None, "why": why}
    default = selector_class is selectors.DefaultSelector
    return {
        "name": name,
        "available": True,
        "default": default,
        "class": qualname(selector_class),
        "why": "selectors.DefaultSelector here" if default else "available here",
    }


def inspect_all() -> dict[str, Any]:
    """Every loop name and selector with its availability (schema ``xloop.which-loop.all/1``)."""
    table = availability()
    return {
        "schema": ALL_SCHEMA,
        "backends": [_inspect_backend(name, *table[name]) for name in LOOP_NAMES],
        "selectors": [_inspect_selector(name) for name in SELECTOR_NAMES[1:]],
        "python": python_info(),
        "os": os_info(),
    }
