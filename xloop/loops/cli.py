"""The body of ``xloop which-loop``: tables for people, JSON for machines.

The command is registered by :mod:`xloop.cli` with the options :class:`WhichLoopOptions`
declares (``--loop`` and ``--selector`` are ``xloop serve``'s own declarations); this module
only renders. Bad input raises :mod:`xloop.errors` errors, which the CLI layer prints as
one line and turns into the error's exit code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from xloop.config import Config
from xloop.errors import ConfigError
from xloop.loops import resolve
from xloop.loops.inspect import inspect_all, inspect_choice
from xloop.loops.workers import WorkerPlan, worker_plan
from xloop.options import borrow, option

__all__ = ["WhichLoopOptions", "which_loop"]


@dataclass
class WhichLoopOptions:
    """The options of ``xloop which-loop``. Names are checked by :func:`resolve`, which says
    what is available here."""

    loop: str = borrow(Config, "loop")
    selector: str = borrow(Config, "selector")
    all_: bool = option("Every backend name: available, or why not.", default=False, flag="--all")
    as_json: bool = option(
        "JSON for programs (schema xloop.which-loop/1).", default=False, flag="--json"
    )
    capabilities: bool = option(
        "Probe what the loop can do, live: watchers, subprocesses, signals, sendfile, TLS "
        "upgrade, UNIX and UDP sockets, eager tasks, the socket cap (with --all: every loop "
        "available here).",
        default=False,
    )
    app: str | None = option(
        "Import this ASGI app (module:attribute, from the current directory) and warn about "
        "libraries it uses that the loop cannot serve, and about a loop policy it sets.",
        default=None,
        metavar="APP",
    )
    trace: bool = option(
        "Serve one request on the loop and print the calls that ran, from create_server "
        "through accept, call_soon, the ready queue and _run_once to the write, each with "
        "the class that defined it (a live profile hook).",
        default=False,
    )
    workers: int | None = borrow(
        Config,
        "workers",
        help="Say the plan of `xloop serve --workers N` with this loop: the loop each worker "
        "runs, how the workers share the listener, the socket cap per worker.",
    )
    check: str | None = option(
        "Compare every loop name with a platform file (platforms/<os>.toml): one line per "
        "mismatch, exit 1 on any.",
        default=None,
        metavar="FILE",
    )


def which_loop(
    loop: str = "auto",
    selector: str = "auto",
    all_: bool = False,
    as_json: bool = False,
    capabilities: bool = False,
    trace: bool = False,
    app: str | None = None,
    workers: int | None = None,
) -> None:
    """Report the loop ``--loop``/``--selector`` resolve to, or (``all_``) every backend.

    ``as_json`` prints the report (see :mod:`xloop.loops.inspect` for the schema)
    as indented JSON on stdout; otherwise rich tables.
    """
    if trace:
        _print_trace(loop, selector, as_json)
        return
    if all_:
        if workers is not None:
            raise ConfigError(
                "--workers says the plan for one loop; it takes no --all",
                hint="e.g. xloop which-loop --loop proactor --workers 4",
            )
        if loop.strip().lower() != "auto" or selector.strip().lower() != "auto":
            raise ConfigError(
                "--all reports every loop and selector; it takes no --loop or --selector",
                hint="drop --all to inspect one choice",
            )
        report = inspect_all()
        if capabilities:
            for entry in report["backends"]:
                if entry["available"]:
                    entry["capabilities"] = _probe(entry["name"], "auto")
    else:
        choice = resolve(loop, selector)
        report = inspect_choice(choice)
        if capabilities:
            report["capabilities"] = _probe(loop, selector)
        if app is not None:
            report["advice"] = _advice(app, choice.factory, report["loop_class"])
        if workers is not None:
            report["workers"] = worker_plan(loop, selector, workers).as_dict()

    if as_json:
        print(json.dumps(report, indent=2))
        return
    console = Console(highlight=False)
    if all_:
        _print_all(console, report)
        columns = {e["name"]: e["capabilities"] for e in report["backends"] if "capabilities" in e}
    else:
        _print_choice(console, report)
        if workers is not None:
            _print_workers(console, worker_plan(loop, selector, workers), report["loop_class"])
        columns = {report["backend"]: report["capabilities"]} if capabilities else {}
        if app is not None:
            for line in report["advice"] or [f"{app}: no known incompatibility with this loop"]:
                console.print(Text(line, style="yellow" if report["advice"] else "green"))
    if columns:
        _print_capabilities(console, columns)


def _print_workers(console: Console, plan: WorkerPlan, loop_class: str) -> None:
    table = Table(title=f"xloop serve --workers {plan.workers}", show_header=False)
    table.add_column(style="bold")
    table.add_column()
    table.add_row("each worker", Text(f"{loop_class} ({plan.backend}: {plan.reason})"))
    table.add_row("processes", Text(f"a supervisor (no app, no loop of yours) + {plan.workers}"))
    table.add_row("listener", Text(plan.sharing_text))
    cap = f"{plan.cap} sockets per worker (select())" if plan.cap else "none from the loop"
    table.add_row("socket cap", Text(cap))
    console.print(table)


def _print_trace(loop: str, selector: str, as_json: bool) -> None:
    from xloop.loops.trace import trace

    described, steps = trace(loop, selector)
    if as_json:
        record = {
            "schema": "xloop.which-loop.trace/1",
            "loop": described,
            "steps": [
                {"depth": s.depth, "call": s.name, "where": s.where, "note": s.note} for s in steps
            ],
        }
        print(json.dumps(record, indent=2))
        return
    console = Console(highlight=False)
    console.print(Text(f"one connection, one request, one write on {described}:"))
    for step in steps:
        line = Text("  " * step.depth + step.name)
        line.append(f"  {step.where}", style="dim")
        if step.note:
            line.append(f"  ({step.note})", style="yellow")
        console.print(line, soft_wrap=True)


def _advice(app: str, factory: Any, loop_text: str) -> list[str]:
    from xloop.importer import load_app
    from xloop.loops.advice import check_app

    load_app(app, app_dir=".")
    return [warning.line() for warning in check_app(factory, loop_text)]


def _probe(loop: str, selector: str) -> list[dict[str, str]]:
    from xloop.loops.capabilities import probe

    return [capability.as_dict() for capability in probe(loop, selector)]


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


def _print_capabilities(console: Console, columns: dict[str, list[dict[str, str]]]) -> None:
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


def _print_choice(console: Console, report: dict[str, Any]) -> None:
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


def _print_all(console: Console, report: dict[str, Any]) -> None:
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
