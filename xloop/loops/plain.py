"""The report of one loop (``xloop which-loop`` without ``--all``) for people, as aligned
plain text: sections of two columns, a value never wrapped, so a line can be copied or
grepped whole.

It imports nothing: rich's console and tables cost a quarter of the command's start-up
(113 M of 437 M instructions), more than the report itself. ``--all``, whose tables have up
to five columns, and ``--trace`` are rich's (:mod:`xloop.loops.render`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable

    from xloop.loops.workers import WorkerPlan

__all__ = [
    "choice_lines",
    "driver_text",
    "platform_rows",
    "print_report",
    "section",
    "transport_text",
]


def section(title: str, rows: Iterable[tuple[str, str]]) -> list[str]:
    """``title``, then one indented line per row, the second column aligned."""
    rows = list(rows)
    width = max((len(key) for key, _ in rows), default=0)
    return [title, *(f"  {key.ljust(width)}  {value}".rstrip() for key, value in rows)]


def driver_text(driver: dict[str, str | None] | None) -> str:
    """A report's driver: its class and kind, or ``-`` (uvloop and the like have none)."""
    if not driver or driver["kind"] is None:
        return "-"
    return f"{driver['class']} ({driver['kind']})"


def platform_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The ``python`` and ``os`` rows of a report (also :mod:`xloop.loops.render`'s)."""
    python, os_ = report["python"], report["os"]
    return [
        ("python", f"{python['implementation']} {python['version']}"),
        ("os", f"{os_['system']} {os_['release']} ({os_['machine']})"),
    ]


def transport_text(transport: dict[str, str] | None) -> str:
    """Who carries the served connections: xloop's transport (its class) or the loop's."""
    if not transport:
        return "-"
    if transport["owner"] == "xloop":
        return f"{transport['class']} ({transport['why']})"
    return transport["why"]


def app_tasks_text(app_tasks: dict[str, str] | None) -> str:
    """How each app task starts: eager, scheduled or by the loop's factory, and why."""
    if not app_tasks:
        return "-"
    return f"{app_tasks['start']} ({app_tasks['why']})"


def choice_lines(report: dict[str, Any]) -> list[str]:
    """The loop that resolved (a report of :func:`xloop.loops.inspect.inspect_choice`):
    what was asked and why it resolved so, the class, its MRO and who defines each method."""
    summary = [
        ("requested", report["requested"]),
        ("backend", report["backend"]),
        ("reason", report["reason"]),
        ("loop class", report["loop_class"]),
        ("driver", driver_text(report["driver"])),
        ("transport", transport_text(report.get("transport"))),
        ("app tasks", app_tasks_text(report.get("app_tasks"))),
        ("task table", (report.get("app_tasks") or {}).get("table", "-")),
        *platform_rows(report),
    ]
    mro = [(str(index), name) for index, name in enumerate(report["mro"])]
    methods = [(name, owner or "-") for name, owner in report["methods"].items()]
    return [
        *section("xloop which-loop", summary),
        "",
        *section("method resolution order", mro),
        "",
        *section("methods (the class that defines each)", methods),
    ]


def _workers_lines(plan: WorkerPlan, loop_class: str) -> list[str]:
    cap = f"{plan.cap} sockets per worker (select())" if plan.cap else "none from the loop"
    rows = [
        ("each worker", f"{loop_class} ({plan.backend}: {plan.reason})"),
        ("processes", f"a supervisor (no app, no loop of yours) + {plan.workers}"),
        ("listener", plan.sharing_text),
        ("socket cap", cap),
    ]
    return section(f"xloop serve --workers {plan.workers}", rows)


def _capabilities_lines(results: list[dict[str, str]]) -> list[str]:
    lines = section("capabilities (probed live)", [(r["name"], r["result"]) for r in results])
    # what did not just work, said in full: one unbroken line each
    failing = [r for r in results if r["result"] != "works"]
    return lines + [f"{r['name']}: {r['result']}: {r['detail']}" for r in failing]


def print_report(report: dict[str, Any], *, app: str | None, plan: WorkerPlan | None) -> None:
    """The report of one loop, and what was asked with it: the plan of ``--workers``, the
    advice of ``--app``, the probes of ``--capabilities``."""
    lines = choice_lines(report)
    if plan is not None:
        lines += ["", *_workers_lines(plan, report["loop_class"])]
    if app is not None:
        lines.append("")
        lines += report["advice"] or [f"{app}: no known incompatibility with this loop"]
    if "capabilities" in report:
        lines += ["", *_capabilities_lines(report["capabilities"])]
    print("\n".join(lines))
