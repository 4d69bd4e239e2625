"""What ``xloop compare`` will measure: every name resolved into rows (:class:`Target`)."""

from __future__ import annotations

import dataclasses
import itertools

from .. import loops
from ..errors import ConfigError
from ..http import httptools_available, resolve_http
from ..ws import engine_available, resolve_ws
from . import external, others
from .machine import Pinning
from .model import Result
from .others import OWN_PARSER
from .servers import Target
from .settings import Settings
from .workloads import WORKLOADS

__all__ = [
    "Target",
    "check_tools",
    "default_engines",
    "default_loops",
    "default_parsers",
    "fit_cpus",
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


def missing_rows(settings: Settings, targets: list[Target]) -> list[Result]:
    """With ``--loops all``: for each loop this OS can have but this machine lacks, a
    ``failed`` row beside each row of the first loop measured, its note saying why."""
    if settings.loops != ["all"] or not targets:
        return []
    first = targets[0].result.loop
    template: dict[tuple[str, str, str], Result] = {}
    for target in targets:
        row = target.result
        if row.loop == first:
            template.setdefault((row.http, row.workload, row.client), row)
    return [
        dataclasses.replace(
            row,
            loop=name,
            loop_class=None,
            selector=None,
            selector_named=False,
            rounds=[],
            status="failed",
            notes=[f"not available here: {why}"],
        )
        for name, why in loops.os_backends().items()
        if why is not None
        for row in template.values()
    ]


def default_parsers() -> list[str]:
    """h11, and httptools where installed (zttp, like ``--http auto``, only by name)."""
    return ["h11", "httptools"] if httptools_available() else ["h11"]


def default_engines() -> list[str]:
    """Every WebSocket engine installed here (``none`` when there is none)."""
    return [name for name in ("websockets", "wsproto") if engine_available(name)] or ["none"]


def check_tools(settings: Settings) -> None:
    """The external clients are on PATH and can run every workload asked for."""
    for client in settings.clients:
        if client != "builtin":
            external.find_tool(client)
            for name in settings.workloads:
                external.check_workload(client, WORKLOADS[name], settings.pipeline)


def fit_cpus(targets: list[Target], pinning: Pinning) -> None:
    """Skip, saying so, each row whose workers ``pinning`` cannot give a CPU each besides
    the client's (``--workers``)."""
    for target in targets:
        skip = pinning.lacks(target.result.workers)
        if target.skip is None and skip is not None:
            target.skip = skip
            target.result.status = "skipped"
            target.result.notes.append(skip)


def targets(settings: Settings) -> list[Target]:
    """Resolve every name (one-line errors for unknown or unavailable ones) into rows.

    With ``--workers N``, each server row is measured with 1..N workers (the echo server
    is one process: one row)."""
    if settings.loops == ["all"]:
        loop_names = [n for n in _all_loops() if n == "asyncio" or loops.os_backends()[n] is None]
    else:
        loop_names = settings.loops or default_loops()
    parsers = settings.http or default_parsers()
    for parser in parsers:
        resolve_http(parser)
    engines = settings.ws or default_engines()
    for engine in engines:
        resolve_ws(engine)  # ConfigError: not installed
    # a WebSocket row's handshake goes through the parser auto picks, if it is compared
    handshake = resolve_http("auto")
    handshake = handshake if handshake in parsers else parsers[0]
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
        # the rows' protocol column: the parser, the WebSocket engine, or tcp
        stacks: list[tuple[str, str, str | None]]
        if workload.kind == "http":
            stacks = [(parser, parser, None) for parser in parsers]
        elif workload.kind == "websocket":
            stacks = [(engine, handshake, engine) for engine in engines]
        else:
            stacks = [("tcp", "tcp", None)]
        connections = settings.connections_for(workload.name)
        idle: int | None = None
        if workload.name == "c10k":
            idle = settings.c10k_connections - connections
        counts: list[int | None] = [None]
        if settings.workers is not None and workload.kind != "tcp":
            counts = list(range(1, settings.workers + 1))
        for server, stack, loop_row, workers, client in itertools.product(
            settings.servers, stacks, loop_rows, counts, settings.clients
        ):
            name, selector, selector_class, _backend = loop_row
            column, parser, ws = stack
            if server == "granian" and workload.kind != "tcp":
                # its own parser and WebSocket engine: one row per loop
                if stack != stacks[0]:
                    continue
                column = parser = OWN_PARSER
                ws = None if ws is None else OWN_PARSER
            row = Result(
                loop=name,
                loop_class=None,
                selector=selector_class,
                http=column,
                workload=workload.name,
                client=client,
                connections=connections,
                pipeline=settings.pipeline,
                idle_connections=idle,
                selector_named=selector != "auto",
                server=server,
                workers=workers,
            )
            skip = others.why_not(server, name, selector, parser, ws, workload)
            if skip is not None:
                row.status = "skipped"
                row.notes.append(skip)
            targets.append(Target(name, selector, parser, workload, row, ws=ws, skip=skip))
    return targets
