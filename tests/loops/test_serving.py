"""Which transport carries the served connections on a loop (:mod:`xloop.loops.serving`)."""

from __future__ import annotations

import asyncio
import selectors
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from xloop import loops
from xloop.loops import tasks
from xloop.loops.serving import app_tasks_info, eager_apps, own_transport, transport_info

posix_only = pytest.mark.skipif(
    loops.IS_WINDOWS, reason="Windows' selector loop drives select(): capped, never xloop's"
)


class Watching(asyncio.SelectorEventLoop):
    """A selector loop that watches its sockets its own way."""

    def add_reader(self, fd: Any, callback: Any, *args: Any) -> None:  # type: ignore[override]
        super().add_reader(fd, callback, *args)


@contextmanager
def made(factory: Any) -> Iterator[asyncio.AbstractEventLoop]:
    loop = factory()
    try:
        yield loop
    finally:
        loop.close()


@posix_only
def test_the_stdlib_selector_loop_gets_xloops_transport() -> None:
    with made(asyncio.SelectorEventLoop) as loop:
        assert own_transport(loop)
        assert transport_info(loop)["owner"] == "xloop"
        assert transport_info(loop)["class"] == "xloop.server.transport.SocketTransport"


def test_select_keeps_the_loops_transports() -> None:
    with made(lambda: asyncio.SelectorEventLoop(selectors.SelectSelector())) as loop:
        assert not own_transport(loop)
        assert transport_info(loop)["why"].startswith("select() is capped")


@posix_only
def test_a_loop_that_watches_its_own_way_keeps_its_transports() -> None:
    with made(Watching) as loop:
        assert not own_transport(loop)
        assert transport_info(loop) == {
            "owner": "loop",
            "class": "",
            "why": "the loop's own: it overrides add_reader",
        }


def test_other_loops_keep_theirs() -> None:
    uvloop = pytest.importorskip("uvloop")
    with made(uvloop.new_event_loop) as loop:
        assert not own_transport(loop)
        assert transport_info(loop)["why"] == "the loop's own (create_server)"


def test_app_tasks_say_how_each_app_task_starts() -> None:
    """Eager on asyncio's loops (xloop's start before 3.12, asyncio's after); a task
    factory on the loop makes the tasks instead."""
    with made(asyncio.SelectorEventLoop) as loop:
        assert eager_apps(loop) == (sys.version_info < (3, 12))
        assert app_tasks_info(loop)["start"] == "eager"
        loop.set_task_factory(lambda loop, coro, **kwargs: asyncio.Task(coro, loop=loop, **kwargs))
        assert app_tasks_info(loop)["start"] == "factory"


def test_app_tasks_say_how_tasks_enter_asyncios_table() -> None:
    """The ``table`` line says whether the compiled ``add`` is what the server installs
    (3.10 and 3.11, compiled), the set's own (pure Python), or that 3.12+ has none to
    replace; ``xloop.loops.tasks.usable`` is what decides, for the server as for this."""
    with made(asyncio.SelectorEventLoop) as loop:
        table = app_tasks_info(loop)["table"]
    if sys.version_info >= (3, 12):
        assert not tasks.usable()
        assert table.startswith("asyncio's (3.12+")
    elif tasks.usable():
        assert table == "asyncio's WeakSet, entered through xloop's compiled add (no Python frame)"
    else:
        assert table.startswith("asyncio's WeakSet, through its own add")
