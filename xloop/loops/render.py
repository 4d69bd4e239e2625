"""The tables ``xloop which-loop`` prints for people (rich); :mod:`xloop.loops.cli` decides
what goes in them, and prints JSON for programs without importing rich."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from xloop.loops.trace import Step
    from xloop.loops.workers import WorkerPlan

__all__ = [
    "print_all",
    "print_capabilities",
    "print_choice",
    "print_report",
    "print_trace",
    "print_workers",
]


def print_report(
    report: dict[str, Any],
    *,
    all_: bool,
    capabilities: bool,
    app: str | None,
    plan: WorkerPlan | None,
) -> None:
    """The tables of a report of :func:`xloop.loops.cli.which_loop`."""
    console = Console(highlight=False, markup=False, emoji=False)
    if all_:
        print_all(console, report)
        columns = {e["name"]: e["capabilities"] for e in report["backends"] if "capabilities" in e}
    else:
        print_choice(console, report)
        if plan is not None:
            print_workers(console, plan, report["loop_class"])
        columns = {report["backend"]: report["capabilities"]} if capabilities else {}
        if app is not None:
            for line in report["advice"] or [f"{app}: no known incompatibility with this loop"]:
                console.print(Text(line, style="yellow" if report["advice"] else "green"))
    if columns:
        print_capabilities(console, columns)


def print_workers(console: Console, plan: WorkerPlan, loop_class: str) -> None:
    table = Table(title=f"xloop serve --workers {plan.workers}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("each worker", Text(f"{loop_class} ({plan.backend}: {plan.reason})"))
    table.add_row("processes", Text(f"a supervisor (no app, no loop of yours) + {plan.workers}"))
    table.add_row("listener", Text(plan.sharing_text))
    cap = f"{plan.cap} sockets per worker (select())" if plan.cap else "none from the loop"
    table.add_row("socket cap", Text(cap))
    console.print(table)


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


def _platform_rows(table: Table, report: dict[str, Any]) -> None:
    python, os_ = report["python"], report["os"]
    table.add_row("python", Text(f"{python['implementation']} {python['version']}"))
    table.add_row("os", Text(f"{os_['system']} {os_['release']} ({os_['machine']})"))


def _driver_text(driver: dict[str, str | None] | None) -> Text:
    if not driver or driver["kind"] is None:
        return Text("-")
    return Text(f"{driver['class']} ({driver['kind']})")


def print_choice(console: Console, report: dict[str, Any]) -> None:
    summary = Table(title="xloop which-loop", show_header=False, title_justify="left")
    summary.add_column(style="bold")
    summary.add_column()
    summary.add_row("requested", Text(report["requested"]))
    summary.add_row("backend", Text(report["backend"]))
    summary.add_row("reason", Text(report["reason"]))
    summary.add_row("loop class", Text(report["loop_class"]))
    summary.add_row("driver", _driver_text(report["driver"]))
    _platform_rows(summary, report)
    console.print(summary)

    mro = Table(title="method resolution order", title_justify="left")
    mro.add_column("#", justify="right")
    mro.add_column("class")
    for index, name in enumerate(report["mro"]):
        mro.add_row(str(index), Text(name))
    console.print(mro)

    methods = Table(title="methods", title_justify="left")
    methods.add_column("method")
    methods.add_column("defined by")
    for name, owner in report["methods"].items():
        methods.add_row(Text(name), _or_dash(owner))
    console.print(methods)


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
            _driver_text(entry["driver"]),
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
    _platform_rows(platform_table, report)
    console.print(platform_table)
