"""The plain-text report of one loop (``xloop which-loop``), from a report dict."""

from __future__ import annotations

from typing import Any

import pytest

from xloop.loops import plain
from xloop.loops.workers import WorkerPlan


def report(**extra: Any) -> dict[str, Any]:
    return {
        "requested": "auto",
        "backend": "selector",
        "reason": "auto: " + "a reason longer than any terminal is wide " * 3,
        "loop_class": "asyncio.unix_events._UnixSelectorEventLoop",
        "driver": {"class": "selectors.EpollSelector", "kind": "selector"},
        "python": {"implementation": "CPython", "version": "3.12.9"},
        "os": {"system": "Linux", "release": "6.1", "machine": "x86_64"},
        "mro": ["asyncio.unix_events._UnixSelectorEventLoop", "builtins.object"],
        "methods": {"create_server": "asyncio.base_events.BaseEventLoop", "_run_once": None},
        **extra,
    }


def test_section_aligns_the_second_column_and_keeps_values_whole() -> None:
    lines = plain.section("title", [("a", "1"), ("longer key", "x " * 100), ("b", "")])
    assert lines[0] == "title"
    assert lines[1] == "  a           1"
    assert lines[2] == "  longer key  " + ("x " * 100).rstrip()
    assert lines[3] == "  b"  # no trailing blanks
    assert plain.section("empty", []) == ["empty"]


def test_choice_lines() -> None:
    lines = plain.choice_lines(report())
    assert lines[0] == "xloop which-loop"
    assert "  driver      selectors.EpollSelector (selector)" in lines
    assert "  os          Linux 6.1 (x86_64)" in lines
    reason = next(line for line in lines if line.startswith("  reason"))
    assert reason.endswith("wide")  # one line, however long
    assert "  0  asyncio.unix_events._UnixSelectorEventLoop" in lines
    assert "  _run_once      -" in lines  # a method no class of the MRO defines
    assert lines.count("") == 2  # three sections


def test_no_driver_is_a_dash() -> None:
    lines = plain.choice_lines(report(driver={"class": None, "kind": None}))
    assert "  driver      -" in lines
    assert "  driver      -" in plain.choice_lines(report(driver=None))


def test_the_transport_line_names_xloops_class_or_says_the_loops() -> None:
    ours = {"owner": "xloop", "class": "xloop.server.transport.SocketTransport", "why": "w"}
    lines = plain.choice_lines(report(transport=ours))
    assert "  transport   xloop.server.transport.SocketTransport (w)" in lines
    theirs = {"owner": "loop", "class": "", "why": "the loop's own (create_server)"}
    lines = plain.choice_lines(report(transport=theirs))
    assert "  transport   the loop's own (create_server)" in lines
    assert "  transport   -" in plain.choice_lines(report())  # a report without the field


def test_the_report_with_what_was_asked_with_it(capsys: pytest.CaptureFixture[str]) -> None:
    plan = WorkerPlan(
        requested="selector",
        backend="selector",
        reason="requested",
        workers=2,
        sharing="inherit",
        cap=None,
    )
    capabilities = [
        {"name": "add_reader", "result": "works", "detail": ""},
        {"name": "eager_tasks", "result": "unsupported", "detail": "before 3.12"},
    ]
    plain.print_report(
        report(advice=["main:app: a warning"], capabilities=capabilities), app="main:app", plan=plan
    )
    out = capsys.readouterr().out.splitlines()
    at = out.index("xloop serve --workers 2")
    assert out[at + 1].startswith("  each worker  asyncio.unix_events._UnixSelectorEventLoop")
    assert "  socket cap   none from the loop" in out
    assert "main:app: a warning" in out
    at = out.index("capabilities (probed live)")
    assert out[at + 1 : at + 3] == ["  add_reader   works", "  eager_tasks  unsupported"]
    assert out[-1] == "eager_tasks: unsupported: before 3.12"


def test_an_app_with_nothing_to_say(capsys: pytest.CaptureFixture[str]) -> None:
    plain.print_report(report(advice=[]), app="main:app", plan=None)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "main:app: no known incompatibility with this loop"
    assert "capabilities (probed live)" not in out
