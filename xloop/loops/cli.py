"""The body of ``xloop which-loop``: text for people, JSON for machines.

The command is registered by :mod:`xloop.cli` with the options :class:`WhichLoopOptions`
declares (``--loop``, ``--selector`` and ``--workers`` are ``xloop serve``'s own
declarations, :mod:`xloop.loops.declared`); this module only reports: JSON here, one
loop as plain text (:mod:`xloop.loops.plain`), every loop as tables
(:mod:`xloop.loops.render`, the only part that imports rich). Bad input raises
:mod:`xloop.errors` errors, which the CLI layer prints as one line and turns into the
error's exit code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xloop.errors import ConfigError
from xloop.loops import resolve
from xloop.loops.declared import LoopOptions
from xloop.loops.inspect import inspect_all, inspect_choice
from xloop.options import borrow, option, validate

if TYPE_CHECKING:
    from xloop.loops.workers import WorkerPlan

__all__ = ["WhichLoopOptions", "which_loop"]


@dataclass
class WhichLoopOptions:
    """The options of ``xloop which-loop``. Names are checked by :func:`resolve`, which says
    what is available here."""

    loop: str = borrow(LoopOptions, "loop")
    selector: str = borrow(LoopOptions, "selector")
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
        LoopOptions,
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

    def __post_init__(self) -> None:
        # the worker count's declared bounds (the names are checked by resolve)
        validate(self, ("workers",))


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
    as indented JSON on stdout; otherwise the report of one loop as plain text
    (:mod:`xloop.loops.plain`), and ``all_``'s as rich tables (:mod:`xloop.loops.render`,
    imported only then).
    """
    if ":" in loop:  # a loop factory module, found in the working directory as serve finds it
        from xloop.importer import app_dir_first

        app_dir_first(".")
    if trace:
        _print_trace(loop, selector, as_json)
        return
    plan: WorkerPlan | None = None  # --workers: said in the report, and in the text
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
            from xloop.loops.workers import worker_plan

            plan = worker_plan(loop, selector, workers)
            report["workers"] = plan.as_dict()

    if as_json:
        import json

        print(json.dumps(report, indent=2))
        return
    if all_:
        from xloop.loops import render

        render.print_report(report, capabilities=capabilities)
    else:
        from xloop.loops import plain

        plain.print_report(report, app=app, plan=plan)


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
        import json

        print(json.dumps(record, indent=2))
        return
    from xloop.loops import render

    render.print_trace(described, steps)


def _advice(app: str, factory: Any, loop_text: str) -> list[str]:
    from xloop.importer import load_app
    from xloop.loops.advice import check_app

    load_app(app, app_dir=".")
    return [warning.line() for warning in check_app(factory, loop_text)]


def _probe(loop: str, selector: str) -> list[dict[str, str]]:
    from xloop.loops.capabilities import probe

    return [capability.as_dict() for capability in probe(loop, selector)]
