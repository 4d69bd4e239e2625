"""``FutureWait`` (:mod:`xloop.server.output`) without sockets: the compiled build's coroutines
await futures through it, so that an exception thrown into them (a task's cancellation) is
raised where they wait, with no ``DeprecationWarning`` on CPython 3.12+ (mypyc passes it on
in the ``throw(type, value, traceback)`` form those versions deprecated). Every test here
runs with warnings as errors, as the whole suite does, and an app's test run may."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from xloop.server.output import FutureWait, drained


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    loop = asyncio.new_event_loop()
    yield loop
    loop.close()


async def _wait(future: asyncio.Future[Any]) -> Any:
    return await FutureWait(future)


def test_a_done_future_gives_its_result_at_once(loop: asyncio.AbstractEventLoop) -> None:
    future = loop.create_future()
    future.set_result(7)
    assert loop.run_until_complete(_wait(future)) == 7


def test_a_pending_future_is_waited_for(loop: asyncio.AbstractEventLoop) -> None:
    future = loop.create_future()
    loop.call_soon(future.set_result, "later")
    assert loop.run_until_complete(_wait(future)) == "later"


def test_a_failed_future_raises_its_exception(loop: asyncio.AbstractEventLoop) -> None:
    future = loop.create_future()
    loop.call_soon(future.set_exception, LookupError("gone"))
    with pytest.raises(LookupError, match="gone"):
        loop.run_until_complete(_wait(future))


def test_it_yields_the_pending_future_to_the_task_as_blocking(
    loop: asyncio.AbstractEventLoop,
) -> None:
    future = loop.create_future()
    steps = FutureWait(future).__await__()
    assert next(steps) is future
    assert future._asyncio_future_blocking
    future.set_result(3)
    with pytest.raises(StopIteration) as stop:
        steps.send(None)
    assert stop.value.value == 3


@pytest.mark.parametrize("form", ["type, value, traceback", "value", "type"])
def test_throw_takes_every_form_and_raises_where_it_waits(
    loop: asyncio.AbstractEventLoop, form: str
) -> None:
    future = loop.create_future()
    steps = FutureWait(future).__await__()
    next(steps)
    error = asyncio.CancelledError("stop")
    args: tuple[Any, ...] = {
        "type, value, traceback": (asyncio.CancelledError, error, None),
        "value": (error,),
        "type": (asyncio.CancelledError,),
    }[form]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(asyncio.CancelledError) as raised:
            steps.throw(*args)
    if form != "type":
        assert raised.value is error
    steps.close()


class _Paused:
    """A connection whose transport stays above its high-water mark."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.closed = False
        self.write_paused = True
        self.drain_waiter: asyncio.Future[None] | None = None


def test_a_task_cancelled_while_it_waits_to_drain_is_told(
    loop: asyncio.AbstractEventLoop,
) -> None:
    """``drained`` is compiled in the compiled build: the cancellation reaches it through
    FutureWait, as a CancelledError where it waits, with no warning raised instead."""
    owner = _Paused(loop)
    outcome: list[str] = []

    async def sender() -> None:
        try:
            await drained(owner)
        except asyncio.CancelledError:
            outcome.append("cancelled")
            raise

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        task = loop.create_task(sender())
        loop.run_until_complete(asyncio.sleep(0))  # the task now waits in drained()
        assert owner.drain_waiter is not None
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            loop.run_until_complete(task)
    assert outcome == ["cancelled"]
    assert owner.drain_waiter is None  # drained's finally ran


def test_a_drain_ends_when_the_transport_resumes(loop: asyncio.AbstractEventLoop) -> None:
    owner = _Paused(loop)

    async def resume() -> None:
        await asyncio.sleep(0)
        owner.write_paused = False
        assert owner.drain_waiter is not None
        owner.drain_waiter.set_result(None)

    async def both() -> None:
        await asyncio.gather(drained(owner), resume())

    loop.run_until_complete(both())
    assert owner.drain_waiter is None
