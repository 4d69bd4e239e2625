"""What ``xloop compare`` will measure: every name resolved into rows (:class:`Target`)."""

from __future__ import annotations

import itertools

from .. import loops
from ..errors import ConfigError
from ..http import httptools_available, resolve_http
from . import external
from .model import Result
from .servers import Target
from .settings import Settings
from .workloads import WORKLOADS

__all__ = [
    "Target",
    "check_tools",
    "default_loops",
    "default_parsers",
    "missing_rows",
    "targets",
]


def default_loops() -> list[str]:
    """``asyncio`` (this OS's stdlib default) and every other backend available here."""
    native = loops.default_asyncio_backend()
    others = (b for b in loops.available_backends() if b not in ("asyncio", native))
    return ["asyncio", *others]


def _all_loops() -> list[str]:
    """``--loops all``: the default loops, then every other loop this OS can have."""
    names = default_loops()
    native = loops.default_asyncio_backend()
    return names + [
        n for n in loops.os_backends() if n not in names and n not in ("asyncio", native)
    ]


def missing_rows(settings: Settings) -> list[Result]:
    """With ``--loops all``: one ``failed`` row per loop this OS can have but this machine
    lacks (per parser and workload), its note saying why."""
    if settings.loops != ["all"]:
        return []
    rows = []
    for name, why in loops.os_backends().items():
        if why is None:
            continue
        for workload_name in settings.workloads:
            workload = WORKLOADS[workload_name]
            for parser in (
                settings.http or default_parsers() if workload.kind == "http" else ["tcp"]
            ):
                for client in settings.clients:
                    row = Result(
                        loop=name,
                        loop_class=None,
                        selector=None,
                        http=parser,
                        workload=workload.name,
                        client=client,
                        connections=settings.connections,
                        pipeline=settings.pipeline,
                    )
                    row.status = "failed"
                    row.notes.append(f"not available here: {why}")
                    rows.append(row)
    return rows


def default_parsers() -> list[str]:
    return ["h11", "httptools"] if httptools_available() else ["h11"]


def check_tools(settings: Settings) -> None:
    """The external clients are on PATH and can run every workload asked for."""
    for client in settings.clients:
        if client != "builtin":
            external.find_tool(client)
            for name in settings.workloads:
                external.check_workload(client, WORKLOADS[name], settings.pipeline)


def targets(settings: Settings) -> list[Target]:
    """Resolve every name (one-line errors for unknown or unavailable ones) into rows."""
    if settings.loops == ["all"]:
        loop_names = [n for n in _all_loops() if n == "asyncio" or loops.os_backends()[n] is None]
    else:
        loop_names = settings.loops or default_loops()
    parsers = settings.http or default_parsers()
    for parser in parsers:
        resolve_http(parser)
    if settings.baseline and settings.baseline not in loop_names:
        raise ConfigError(
            f"--baseline {settings.baseline!r} is not one of the loops compared",
            hint=f"choose one of: {', '.join(dict.fromkeys(loop_names))}",
        )
    loop_rows: list[tuple[str, str, str | None, str]] = []  # name, selector, class, backend
    for name in loop_names:
        backend = loops.resolve(name).backend
        selectors = settings.selectors if backend == "selector" else ["auto"]
        for selector in selectors:
            choice = loops.resolve(name, selector)
            loop_rows.append((name, selector, choice.selector, backend))
    if not any(backend == "selector" for *_, backend in loop_rows) and settings.selectors != [
        "auto"
    ]:
        raise ConfigError(
            "--selector applies to the selector loop, and none of --loops is one",
            hint="add selector (or asyncio on Linux/macOS) to --loops",
        )
    targets: list[Target] = []
    for workload_name in settings.workloads:
        workload = WORKLOADS[workload_name]
        for parser in parsers if workload.kind == "http" else ["tcp"]:
            for (name, selector, selector_class, _backend), client in itertools.product(
                loop_rows, settings.clients
            ):
                row = Result(
                    loop=name,
                    loop_class=None,
                    selector=selector_class,
                    http=parser,
                    workload=workload.name,
                    client=client,
                    connections=settings.connections,
                    pipeline=settings.pipeline,
                    selector_named=selector != "auto",
                )
                targets.append(Target(name, selector, parser, workload, row))
    return targets
