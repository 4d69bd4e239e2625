"""What carries the connections the server accepts on a loop: xloop's own transport
(:mod:`xloop.server.transport`) or the loop's; and how an app's task starts there.
Decided here, without importing the server, for ``xloop which-loop`` as well as for the
server."""

from __future__ import annotations

import asyncio
import selectors
import sys
from asyncio import selector_events

from . import tasks

__all__ = ["app_tasks_info", "eager_apps", "own_transport", "transport_info"]

#: The loop methods xloop's transport and listener call: a loop that overrides any of them
#: (to watch its sockets its own way, or not at all) keeps its own transports.
WATCHERS = ("add_reader", "remove_reader", "add_writer", "remove_writer")


def _why_not(loop: asyncio.AbstractEventLoop) -> str | None:
    if not isinstance(loop, asyncio.SelectorEventLoop):
        return "the loop's own (create_server)"
    if isinstance(getattr(loop, "_selector", None), selectors.SelectSelector):
        return "select() is capped: the loop's, through a listener that stops at the cap"
    base = selector_events.BaseSelectorEventLoop
    changed = [name for name in WATCHERS if getattr(type(loop), name) is not getattr(base, name)]
    if changed:
        return f"the loop's own: it overrides {', '.join(changed)}"
    return None


def own_transport(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether plain (not TLS) connections on ``loop`` get xloop's transport: the stdlib
    selector loop and its subclasses, unless they drive ``select()`` (whose cap the capped
    listener keeps, :mod:`xloop.server.capped`) or override how sockets are watched."""
    return _why_not(loop) is None


def transport_info(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """What carries the connections xloop serves on ``loop`` (``xloop which-loop``)."""
    why = _why_not(loop)
    if why is None:
        return {
            "owner": "xloop",
            "class": "xloop.server.transport.SocketTransport",
            "why": "the selector loop: xloop accepts and reads itself; TLS: the loop's",
        }
    return {"owner": "loop", "class": "", "why": why}


def eager_apps(loop: asyncio.AbstractEventLoop) -> bool:
    """Whether xloop starts apps' tasks eagerly on ``loop`` before 3.12
    (:mod:`xloop.server.eager`): on asyncio's own loops, whose scheduled first step (a
    Python ``Handle`` and loop turn) costs more than the eager start; not on the others."""
    return sys.version_info < (3, 12) and isinstance(loop, asyncio.BaseEventLoop)


def app_tasks_info(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    """How each request's app task starts on ``loop`` (``xloop which-loop``), unless an
    app sets a task factory of its own."""
    return {**_start(loop), "table": tasks.describe()}


def _start(loop: asyncio.AbstractEventLoop) -> dict[str, str]:
    if loop.get_task_factory() is not None:
        return {"start": "factory", "why": "the loop's task factory makes each app's task"}
    if sys.version_info >= (3, 12):
        return {
            "start": "eager",
            "why": "asyncio.Task(eager_start=True): an app that does not wait runs in the read",
        }
    if eager_apps(loop):
        return {
            "start": "eager",
            "why": "xloop's eager start (3.10, 3.11): the task's first step runs as it is made",
        }
    return {
        "start": "scheduled",
        "why": "a loop turn later: before 3.12 only asyncio's loops gain by an eager start",
    }
