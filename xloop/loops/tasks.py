"""asyncio's table of live tasks, registered into by compiled code on CPython 3.10 and 3.11.

Every ``asyncio.Task`` enters itself in ``asyncio.tasks._all_tasks``, a
``weakref.WeakSet`` (``asyncio.all_tasks()`` reads it): its constructor calls the set's
``add`` method, a Python function, and the weak reference it makes calls the set's
``_remove`` closure, another, when the task is freed. Those are the only two Python frames a
request's task costs on uvloop besides the app's own. Compiled, neither is a frame: a
hello-world GET to the compiled build costs 54,500 instructions instead of 56,900 on 3.10
with uvloop, 76,800 instead of 78,900 with the asyncio loop; 3.11's cheaper frames gain
less (55,200 instead of 55,700 with uvloop), and so on (``benchmarks/server_instructions.py
--connections 16``).

:func:`install` puts :func:`_add` in the set's attribute dict, where it hides the class's
method for every caller (the C Task looks ``add`` up on the object). It does what
``WeakSet.add`` does, in the same order, on the same set: commits the removals deferred
while the set was iterated, then adds a weak reference whose callback (:func:`_remove`)
discards it, or defers that while an iteration runs, as the set's own callback does. So
``asyncio.all_tasks()``, iteration, ``len`` and membership see what they always see; only
the cost differs. Installed only where it is compiled
(it would cost as much as the method it hides otherwise) and where the set is a plain
``WeakSet`` (3.12+ keep eager tasks elsewhere and 3.14 keeps none there); :func:`uninstall`
puts the class's method back.
"""

from __future__ import annotations

import asyncio
import types
import weakref
from typing import Any, Final

__all__ = ["describe", "install", "installed", "uninstall", "usable"]

#: The set, where this Python has one (3.10 and 3.11 import it from ``_asyncio``).
_TASKS: Final[Any] = getattr(asyncio.tasks, "_all_tasks", None)
#: Its parts, which its methods change but never replace: the set of weak references, the
#: removals deferred while it is iterated, and the iterations running.
_DATA: Final[Any] = getattr(_TASKS, "data", None)
_PENDING: Final[Any] = getattr(_TASKS, "_pending_removals", None)
_ITERATING: Final[Any] = getattr(_TASKS, "_iterating", None)
_REF: Final = weakref.ref
#: Whether this Python keeps such a set (3.10, 3.11; not 3.12+).
_WEAK_SET: Final = type(_TASKS) is weakref.WeakSet


def _remove(item: weakref.ref[Any]) -> None:
    """A registered task was freed: ``WeakSet``'s own callback, without its frame."""
    if _ITERATING:
        _PENDING.append(item)
    else:
        _DATA.discard(item)


#: The callback as an object, read once (not a global lookup per task).
_REMOVE: Final = _remove


def _add(task: object) -> None:
    """``WeakSet.add`` for the task table, without its frame."""
    if _PENDING:
        _TASKS._commit_removals()
    _DATA.add(_REF(task, _REMOVE))


def usable() -> bool:
    """Whether :func:`install` puts the compiled ``add`` on the task table here."""
    return _WEAK_SET and not isinstance(_add, types.FunctionType)  # compiled: a builtin


def install(*, force: bool = False) -> bool:
    """Put the compiled ``add`` on the task table (see the module's docstring); whether it
    is there. ``force``: even where this module runs as Python (for tests)."""
    if not (usable() or (force and _WEAK_SET)):
        return installed()
    vars(_TASKS)["add"] = _add
    return True


def installed() -> bool:
    """Whether the task table registers through :func:`_add`."""
    return _WEAK_SET and vars(_TASKS).get("add") is _add


def uninstall() -> None:
    """The class's own ``add`` again."""
    if installed():
        del vars(_TASKS)["add"]


def describe() -> str:
    """How tasks enter asyncio's table of live tasks in a server here (``xloop which-loop``)."""
    if not _WEAK_SET:
        return "asyncio's (3.12+: a task that finishes in its eager start never enters it)"
    if usable():
        return "asyncio's WeakSet, entered through xloop's compiled add (no Python frame)"
    return "asyncio's WeakSet, through its own add (the compiled build enters it without a frame)"
