"""Eager task start before CPython 3.12: an app's first step runs at once, in its own Task.

An app that answers without waiting should not wait a loop turn for its first step. 3.12
has ``asyncio.Task(coro, eager_start=True)``; 3.10 and 3.11 have no such start, and a Task
there costs a ``Handle``, a slot in the loop's ready queue and a pass of ``_run_once``
before the app runs. With the eager start, a hello-world GET to the compiled build on the
asyncio loop costs 80,700 instructions instead of 90,300 on 3.10 and 69,500 instead of
73,000 on 3.11 (``benchmarks/server_instructions.py --connections 16``; the README has the
figures since).

How: ``Task.__init__`` (C or Python) schedules the task's first step with
``loop.call_soon(step, context=...)``, looking ``call_soon`` up on the loop *object*. For
the time of that one constructor call, :meth:`EagerStart.start` puts its own
``call_soon`` on the loop instance (an instance attribute hides the class's method), which
keeps the step instead of scheduling it; then it runs the step itself, in the task's
context. It is the task's own step, so everything is as on 3.12: ``current_task()`` is the
task while the app runs (anyio, sniffio and cancel scopes see a real Task throughout); a
task that finishes in its first step is done when ``start`` returns; one that waits goes
on as any task does; the task's context is its own copy. The window is one constructor
call on the loop's own thread: nothing else can call the loop's ``call_soon`` then (other
threads must use ``call_soon_threadsafe``, which is another method).

Only on asyncio's own loops (:func:`eager_start`), whose ``call_soon`` and loop turn are
Python: there the eager start costs 11,000 instructions a task fewer than the scheduled
first step on 3.10 (14,400 against 25,800 for a task that does not wait, made and run in a
loop callback, compiled; callgrind). uvloop's ``Loop`` could hide its method too (a Python
subclass of its C class), but its handles and turns are C: the task's scheduled step costs
13,200 there, the eager start 13,600, and the deferred response's flush more. Started
from inside another task (a pipelined request started as the previous response ends), the
step is scheduled as usual: before 3.12 a task cannot enter while another runs; and so it
is when the loop is not running (a test driving a protocol by hand), as on 3.12.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from ..loops.serving import eager_apps

__all__ = ["EagerStart", "eager_start"]

#: The loop running in this thread, if any (C, no Python frame).
_running_loop: Callable[[], asyncio.AbstractEventLoop | None] = asyncio.events._get_running_loop

#: ``asyncio.current_task(loop)`` without its Python frame: the loop's entry in the table
#: Task steps enter themselves in (3.10-3.13; the public function elsewhere).
_TABLE: object = getattr(asyncio.tasks, "_current_tasks", None)
_current_task: Callable[[asyncio.AbstractEventLoop], object] = (
    _TABLE.get if isinstance(_TABLE, dict) else asyncio.current_task
)


class EagerStart:
    """Starts tasks eagerly on one loop (3.10, 3.11); made by :func:`eager_start`."""

    __slots__ = ("_attributes", "_capture", "_context", "_loop", "_step")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        #: The loop object's own attributes, where ``call_soon`` is put and taken away
        #: again (a dict store and delete: cheaper than setattr and delattr).
        self._attributes: dict[str, Any] = vars(loop)
        self._step: Callable[..., object] | None = None
        self._context: contextvars.Context | None = None
        #: The bound method put on the loop, made once (a reference cycle the loop's
        #: server state outlives anyway).
        self._capture: Callable[..., None] = self._call_soon

    def _call_soon(
        self,
        callback: Callable[..., object],
        *args: object,
        context: contextvars.Context | None = None,
    ) -> None:
        """Stands in for ``loop.call_soon`` while a Task is made: keeps its first step."""
        if args:  # (a Task passes none: schedule anything else as asked)
            type(self._loop).call_soon(self._loop, callback, *args, context=context)
            return
        self._step = callback
        self._context = context

    def start(self, coro: Coroutine[Any, Any, None], name: str | None = None) -> asyncio.Task[None]:
        """A Task for ``coro`` (named ``name``) whose first step has run (see the module's
        docstring)."""
        loop = self._loop
        attributes = self._attributes
        # (one already there, an instrumentation's patch say, is put back after)
        previous = attributes.get("call_soon")
        attributes["call_soon"] = self._capture
        try:
            task = asyncio.Task(coro, loop=loop, name=name)
        finally:
            if previous is None:
                del attributes["call_soon"]
            else:
                attributes["call_soon"] = previous
        step = self._step
        if step is None:  # (scheduled some other way: nothing to run here)
            return task
        context = self._context
        self._step = self._context = None
        if _running_loop() is loop and _current_task(loop) is None:
            if context is None:
                step()
            else:
                context.run(step)
        else:  # inside another task, or the loop not running: scheduled, as 3.12 does
            loop.call_soon(step, context=context)
        return task


def eager_start(loop: asyncio.AbstractEventLoop) -> EagerStart | None:
    """An :class:`EagerStart` for ``loop`` on 3.10 and 3.11 if it is one of asyncio's loops;
    None on 3.12+ (``eager_start=True`` does it) and on other loops (see the module's
    docstring)."""
    return EagerStart(loop) if eager_apps(loop) else None
