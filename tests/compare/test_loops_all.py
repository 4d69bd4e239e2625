"""``xloop compare --loops all``: every loop this OS can have, the missing ones as rows."""

from __future__ import annotations

from xloop import loops
from xloop.compare import plan
from xloop.compare.settings import Settings


def test_all_measures_every_available_loop_and_lists_the_missing_ones() -> None:
    settings = Settings(loops=["all"], http=["h11"], workloads=["plaintext"])
    possible = loops.os_backends()
    measured = {target.result.loop for target in plan.targets(settings)}
    assert measured == {"asyncio", *(n for n, why in possible.items() if why is None)} - {
        loops.default_asyncio_backend()
    }
    missing = plan.missing_rows(settings, plan.targets(settings))
    assert [row.loop for row in missing] == [n for n, why in possible.items() if why]
    for row in missing:
        assert row.status == "failed"
        assert row.notes == [f"not available here: {possible[row.loop]}"]
    # a loop this OS cannot have at all is neither measured nor listed
    impossible = set(loops.BACKENDS) - set(possible)
    assert impossible.isdisjoint(measured | {row.loop for row in missing})
    assert ("proactor" in impossible) is (not loops.IS_WINDOWS)


def test_named_loops_list_nothing_missing() -> None:
    settings = Settings(loops=["asyncio"], http=["h11"])
    assert plan.missing_rows(settings, plan.targets(settings)) == []
