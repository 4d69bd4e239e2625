"""The tables ``xloop which-loop --all`` and the calls ``--trace`` prints for people (rich);
:mod:`xloop.loops.cli` decides what goes in them. The report of one loop is plain text
(:mod:`xloop.loops.plain`), and JSON is printed without importing rich."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from xloop.loops.plain import driver_text, platform_rows

if TYPE_CHECKING:
    from collections.abc import Sequence

    from xloop.loops.trace import Step

__all__ = ["print_all", "print_capabilities", "print_report", "print_trace"]


def print_report(report: dict[str, Any], *, capabilities: bool) -> None:
    """The tables of ``xloop which-loop --all``: a report of
    :func:`xloop.loops.inspect.inspect_all`."""
    console = Console(highlight=False, markup=False, emoji=False)
    print_all(console, report)
    if capabilities:
        columns = {e["name"]: e["capabilities"] for e in report["backends"] if "capabilities" in e}
        print_capabilities(console, columns)


def print_trace(described: str, steps: Sequence[Step]) -> None:
    console = Console(highlight=False, markup=False, emoji=False)
    console.print(Text(f"one connection, one request, one write on {described}:"))
    for step in steps:
        line = Text("  " * step.depth + step.name)
        line.append(f"  {step.where}", style="dim")
        if step.note:
            line.append(f"  ({step.note})", style="yellow")
        console.print(line, soft_wrap=True)


_RESULT_STYLE = {
    "works": "green",
    "fallback": "yellow",
    "limited": "yellow",
    "unsupported": "dim",
    "not implemented": "red",
    "failed": "red",
    "hung": "red",
    "crashed": "red",
}


def print_capabilities(console: Console, columns: dict[str, list[dict[str, str]]]) -> None:
    """One row per probe, one column per loop; the details of what did not just work."""
    table = Table(title="capabilities (probed live)", title_justify="left")
    table.add_column("probe")
    for name in columns:
        table.add_column(name)
    first = next(iter(columns.values()))
    notes: dict[tuple[str, str, str], list[str]] = {}  # (probe, result, detail) -> loops
    for index, row in enumerate(first):
        cells = [Text(row["name"])]
        for name, results in columns.items():
            result = results[index]
            cells.append(Text(result["result"], style=_RESULT_STYLE.get(result["result"], "")))
            if result["result"] != "works":
                key = (result["name"], result["result"], result["detail"])
                notes.setdefault(key, []).append(name)
        table.add_row(*cells)
    console.print(table)
    for (probe_name, result_text, detail), names in notes.items():
        console.print(Text(f"{probe_name} on {', '.join(names)}: {result_text}: {detail}"))


def _or_dash(value: str | None) -> Text:
    return Text(value if value is not None else "-")


def print_all(console: Console, report: dict[str, Any]) -> None:
    backends = Table(title="xloop which-loop --all: loops", title_justify="left")
    backends.add_column("loop")
    backends.add_column("available")
    backends.add_column("loop class")
    backends.add_column("driver")
    backends.add_column("why / why not")
    missing = []
    for entry in report["backends"]:
        available = entry["available"]
        backends.add_row(
            Text(entry["name"]),
            Text("yes" if available else "no"),
            _or_dash(entry["loop_class"]),
            Text(driver_text(entry["driver"])),
            Text(entry["why"] if available else "(below)"),
        )
        if not available:
            missing.append(f"{entry['name']}: {entry['why']}")
    console.print(backends)
    for line in missing:  # one unbroken line each: it says how to get the loop
        console.print(Text(line), soft_wrap=True)

    sels = Table(title="selectors (for --loop selector)", title_justify="left")
    sels.add_column("selector")
    sels.add_column("available")
    sels.add_column("class")
    sels.add_column("why / why not")
    for entry in report["selectors"]:
        sels.add_row(
            Text(entry["name"] + (" (default)" if entry["default"] else "")),
            Text("yes" if entry["available"] else "no"),
            _or_dash(entry["class"]),
            Text(entry["why"]),
        )
    console.print(sels)

    platform_table = Table(show_header=False)
    platform_table.add_column(style="bold")
    platform_table.add_column()
    for name, value in platform_rows(report):
        platform_table.add_row(name, Text(value))
    console.print(platform_table)
