"""The eager task start before 3.12 (:mod:`xloop.server.eager`), on a loop without sockets,
and an anyio app that waits inside cancel scopes served over sockets on every loop."""

from __future__ import annotations

import asyncio
import contextvars
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from xloop.server.eager import EagerStart, eager_start
from xloop.types import Receive, Scope, Send

from .client import exchange, get
from .harness import Backend, serving

_VAR: contextvars.ContextVar[str] = contextvars.ContextVar("eager_test", default="unset")


def _in_callback(body: Callable[[EagerStart], Coroutine[Any, Any, None]]) -> None:
    """Run ``body`` with an :class:`EagerStart` on a fresh asyncio loop, the way the server
    starts apps: from a plain callback (a read), not from inside a task."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        starter = EagerStart(loop)
        finished: asyncio.Future[None] = loop.create_future()

        def callback() -> None:
            task = asyncio.Task(body(starter), loop=loop)  # (the test's own driver)
            task.add_done_callback(lambda done: finished.set_result(done.result()))

        loop.call_soon(callback)
        await finished

    asyncio.run(main())


def test_a_task_that_does_not_wait_is_done_when_start_returns() -> None:
    seen: list[object] = []

    async def app() -> None:
        seen.append(asyncio.current_task())
        _VAR.set("app")

    def outside(starter: EagerStart) -> asyncio.Task[None]:
        task = starter.start(app())
        seen.append(task)
        return task

    async def body(starter: EagerStart) -> None:
        # (the driver is a task: step out of it, as a read callback would be)
        loop = asyncio.get_running_loop()
        started: asyncio.Future[asyncio.Task[None]] = loop.create_future()
        loop.call_soon(lambda: started.set_result(outside(starter)))
        task = await started
        assert task.done()
        assert task.result() is None
        assert _VAR.get() == "unset"  # the app's context was its own copy

    _in_callback(body)
    assert len(seen) == 2
    assert isinstance(seen[0], asyncio.Task)
    assert seen[0] is seen[1]  # current_task() in the app is the task start returned


def test_a_task_that_waits_goes_on_as_any_task() -> None:
    async def app(gate: asyncio.Future[str]) -> None:
        me = asyncio.current_task()
        _VAR.set(await gate)
        assert asyncio.current_task() is me  # (the same task across the wait)

    async def body(starter: EagerStart) -> None:
        loop = asyncio.get_running_loop()
        gate: asyncio.Future[str] = loop.create_future()
        started: asyncio.Future[asyncio.Task[None]] = loop.create_future()
        loop.call_soon(lambda: started.set_result(starter.start(app(gate))))
        task = await started
        assert not task.done()
        gate.set_result("opened")
        await task
        assert _VAR.get() == "unset"

    _in_callback(body)


def test_an_app_raising_in_its_first_step_fails_its_task() -> None:
    async def app() -> None:
        raise ValueError("boom")

    async def body(starter: EagerStart) -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[asyncio.Task[None]] = loop.create_future()
        loop.call_soon(lambda: started.set_result(starter.start(app())))
        task = await started
        assert task.done()
        assert isinstance(task.exception(), ValueError)

    _in_callback(body)


def test_started_from_inside_a_task_it_is_scheduled() -> None:
    """Before 3.12 a task cannot enter while another runs: the step waits a turn."""
    ran: list[object] = []

    async def app() -> None:
        ran.append(asyncio.current_task())

    async def body(starter: EagerStart) -> None:
        task = starter.start(app())  # (inside the driver task)
        assert not ran
        assert not task.done()
        await task
        assert ran == [task]

    _in_callback(body)


def test_with_the_loop_not_running_it_is_scheduled() -> None:
    """As on 3.12: a protocol driven by hand runs its app when the loop runs."""
    ran: list[object] = []

    async def app() -> None:
        ran.append(asyncio.current_task())

    loop = asyncio.new_event_loop()
    try:
        task = EagerStart(loop).start(app())
        assert not ran
        loop.run_until_complete(task)
        assert ran == [task]
    finally:
        loop.close()


def test_the_loops_call_soon_is_its_own_again() -> None:
    async def app() -> None:
        await asyncio.sleep(0)  # (a bare yield: the task's next step via call_soon)

    async def body(starter: EagerStart) -> None:
        loop = asyncio.get_running_loop()
        started: asyncio.Future[asyncio.Task[None]] = loop.create_future()
        loop.call_soon(lambda: started.set_result(starter.start(app())))
        task = await started
        assert "call_soon" not in vars(loop)
        await task
        handle = loop.call_soon(lambda: None)  # the class's method schedules again
        assert isinstance(handle, asyncio.Handle)

    _in_callback(body)


def test_asyncios_loops_start_eagerly_before_312() -> None:
    """From 3.12 ``eager_start=True`` does it."""

    async def check() -> None:
        found = eager_start(asyncio.get_running_loop())
        assert (found is not None) == (sys.version_info < (3, 12))

    asyncio.run(check())


def test_uvloop_does_not_start_eagerly() -> None:
    """uvloop's scheduled first step costs less than the eager start."""
    uvloop = pytest.importorskip("uvloop")
    loop = uvloop.new_event_loop()
    try:
        assert eager_start(loop) is None
    finally:
        loop.close()


def test_an_anyio_app_that_waits_in_cancel_scopes(backend: Backend) -> None:
    """An app that enters anyio cancel scopes and a task group in its first step and waits
    in them (a thread, a sleep, a child task) is answered on every loop: the task it was
    started in is the one it goes on in."""
    anyio = pytest.importorskip("anyio")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        with anyio.CancelScope():
            async with anyio.create_task_group() as group:
                group.start_soon(anyio.sleep, 0)
                value = await anyio.to_thread.run_sync(lambda: b"thread")
            with anyio.move_on_after(30):
                await anyio.sleep(0)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": value})

    with serving(app, backend) as server, server.connect() as sock:
        for _ in range(3):
            response = exchange(sock, get())
            assert response.status == 200
            assert response.body == b"thread"


def test_a_call_soon_patched_on_the_loop_object_is_put_back() -> None:
    """An instrumentation's own ``loop.call_soon`` (an instance attribute) stays after an
    eager start, and still schedules; the task's first step does not go through it."""
    scheduled: list[object] = []

    async def app() -> None:
        return None

    async def body(starter: EagerStart) -> None:
        loop = asyncio.get_running_loop()
        original = loop.call_soon

        def patched(callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
            scheduled.append(callback)
            return original(callback, *args, context=context)

        loop.call_soon = patched  # type: ignore[method-assign,assignment]
        try:
            started: asyncio.Future[asyncio.Task[None]] = loop.create_future()
            original(lambda: started.set_result(starter.start(app())))
            task = await started
            assert task.done()  # (its first step was not scheduled, through patched or not)
            assert vars(loop)["call_soon"] is patched
            before = len(scheduled)
            loop.call_soon(lambda: None)
            assert len(scheduled) == before + 1
        finally:
            del loop.call_soon

    _in_callback(body)
