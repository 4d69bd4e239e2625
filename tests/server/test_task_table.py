"""asyncio's table of live tasks with xloop's compiled ``add`` in it
(:mod:`xloop.loops.tasks`, 3.10 and 3.11): what ``asyncio.all_tasks()`` and the set see
is what they see without it. Installed by force here, so the pure-Python run checks the
same code the compiled build runs; and over sockets on every loop, as the server has it."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Iterator
from typing import Any

import pytest

from xloop.loops import tasks
from xloop.types import Receive, Scope, Send

from .client import exchange, get
from .harness import Backend, serving

pytestmark = pytest.mark.skipif(
    sys.version_info >= (3, 12), reason="3.12+ keep no such table (eager tasks are elsewhere)"
)


@pytest.fixture
def table() -> Iterator[Any]:
    """The task table with :func:`tasks._add` in it; as it was found, after."""
    was = tasks.installed()
    assert tasks.install(force=True)
    try:
        yield tasks._TASKS
    finally:
        if not was:
            tasks.uninstall()


def _entries(table: Any) -> int:
    return len(table.data)


def test_install_puts_the_compiled_add_on_the_set_and_uninstall_takes_it_away() -> None:
    was = tasks.installed()
    try:
        assert tasks.install(force=True)
        assert tasks.installed()
        assert vars(tasks._TASKS)["add"] is tasks._add
        tasks.uninstall()
        assert not tasks.installed()
        assert "add" not in vars(tasks._TASKS)
        assert type(tasks._TASKS).add is weakref.WeakSet.add
        tasks.uninstall()  # (twice: nothing to take away)
    finally:
        if was:
            tasks.install(force=True)


def test_install_without_force_only_where_compiled() -> None:
    was = tasks.installed()
    tasks.uninstall()
    try:
        compiled = not isinstance(tasks._add, type(_entries))
        assert tasks.install() is compiled
        assert tasks.installed() is compiled
    finally:
        tasks.uninstall()
        if was:
            tasks.install(force=True)


class _Entry:
    """Something the table can hold, freed as soon as its last reference goes (a task
    lingers in the loop's handles; the table's code is the same for either)."""


def test_an_entry_is_in_the_table_while_alive_and_leaves_when_freed(table: Any) -> None:
    before = _entries(table)
    entry = _Entry()
    table.add(entry)
    assert entry in table
    assert _entries(table) == before + 1
    del entry  # its weak reference's callback (tasks._remove) takes it out
    assert _entries(table) == before


def test_an_entry_freed_while_the_table_is_iterated_is_removed_by_the_next_add(
    table: Any,
) -> None:
    kept = [_Entry(), _Entry()]
    table.add(kept[0])
    table.add(kept[1])
    before = _entries(table)
    iterating = iter(table)
    current = next(iterating)  # (an iteration in progress: the set defers removals)
    victim = next(entry for entry in kept if entry is not current)  # (the iterator holds it)
    kept.remove(victim)
    del victim, current
    assert table._pending_removals  # deferred, as WeakSet's own callback defers it
    assert len(table) == before - 1
    assert _entries(table) == before
    iterating.close()
    extra = _Entry()
    table.add(extra)  # the next add commits it
    assert not table._pending_removals
    assert _entries(table) == before
    del extra, kept
    assert _entries(table) == before - 2


def test_all_tasks_still_sees_every_pending_task(table: Any) -> None:
    async def main() -> None:
        gates = [asyncio.Event() for _ in range(20)]
        waiting = [asyncio.ensure_future(gate.wait()) for gate in gates]
        assert set(waiting) <= asyncio.all_tasks()
        for gate in gates:
            gate.set()
        await asyncio.gather(*waiting)
        assert not set(waiting) & asyncio.all_tasks()

    gc.collect()  # (tasks of earlier tests that only a collection frees)
    before = _entries(table)
    asyncio.run(main())
    gc.collect()  # (a loop's handles and a task's frames hold tasks in cycles)
    assert _entries(table) == before


def test_apps_see_their_own_task_in_all_tasks(backend: Backend) -> None:
    """Served on every loop (the server installs the compiled add where it is compiled):
    each request's task is in ``asyncio.all_tasks()`` while the app runs, before and
    after it waits."""
    seen: list[bool] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        current = asyncio.current_task()
        seen.append(current in asyncio.all_tasks())
        await asyncio.sleep(0)
        seen.append(current in asyncio.all_tasks())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    with serving(app, backend) as server, server.connect() as sock:
        for _ in range(3):
            assert exchange(sock, get()).status == 200
    assert seen == [True] * 6
