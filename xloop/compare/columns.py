"""The columns every rendering of compare results shares: a row's cells as text, the
column list, and one-line summaries of a machine and of the settings.

Figures that were not measured (``None``) are :data:`DASH`. ``⚠ saturated`` after the client
CPU marks a row whose load client's CPU was near 100%: its req/s may be the client's ceiling
rather than the server's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .model import Machine, Result
from .workloads import WORKLOADS

__all__ = [
    "COLUMNS",
    "DASH",
    "RESOURCES",
    "SATURATED",
    "SHAREABLE",
    "THROUGHPUT",
    "ResultColumn",
    "client_cpu",
    "connections_summary",
    "first_note",
    "machine_summary",
    "rps",
    "saturated_note",
    "settings_summary",
    "workers_note",
]

DASH = "—"
"""Shown for a figure that was not measured."""

SATURATED = "⚠ saturated"


def num(value: float | None) -> str:
    """A figure with as many decimals as its size deserves: 1,234 / 12.3 / 1.23."""
    if value is None:
        return DASH
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rps(row: Result) -> str:
    """``12,345 (11,900-12,700)`` (with an en dash): the median and, when rounds differ,
    their range."""
    median, low, high = (
        row.requests_per_second,
        row.requests_per_second_min,
        row.requests_per_second_max,
    )
    if median is None:
        return DASH
    text = f"{median:,.0f}" if median >= 10 else f"{median:.1f}"
    if low is not None and high is not None and round(low) != round(high):
        text += f" ({low:,.0f}\N{EN DASH}{high:,.0f})"
    return text


def ratio(row: Result) -> str:
    """The ratio of medians, and the lowest and highest round by round when they differ."""
    if row.ratio is None:
        return ""
    text = f"{row.ratio:.2f}x"
    low, high = row.ratio_min, row.ratio_max
    if low is not None and high is not None and f"{low:.2f}" != f"{high:.2f}":
        text += f" ({low:.2f}\N{EN DASH}{high:.2f})"
    return text


def errors(row: Result) -> str:
    if row.status in ("failed", "skipped") and not row.errors and not row.non_2xx:
        return DASH
    return f"{row.errors:,} / {row.non_2xx:,}"


def client_cpu(row: Result, marker: str = SATURATED) -> str:
    text = DASH if row.client_cpu_percent is None else f"{row.client_cpu_percent:.0f}%"
    if row.client_saturated:
        text = f"{text} {marker}"
    return text


def loop_class(row: Result) -> str:
    return row.loop_class or DASH


@dataclass(frozen=True)
class ResultColumn:
    header: str
    """The Markdown header (one line)."""
    cell: Callable[[Result], str]
    numeric: bool = False
    short: str | None = None
    """The terminal header, when it differs (narrower, may span lines)."""
    wrap: bool = False
    """The terminal table may fold this column's cells to fit a narrow terminal."""
    tiny: str | None = None
    """The header in the narrow terminal table, when it differs."""
    part: str = "key"
    """Where the column goes when the terminal table splits in two: ``key`` (both tables),
    ``throughput``, ``resources`` or ``class`` (neither: a legend below)."""


THROUGHPUT, RESOURCES = "throughput", "resources"

COLUMNS: tuple[ResultColumn, ...] = (
    ResultColumn("loop/parser", lambda row: row.label),
    ResultColumn("loop class", loop_class, wrap=True, part="class"),
    ResultColumn("workload", lambda row: row.workload),
    ResultColumn("client", lambda row: row.client),
    ResultColumn(
        "req/s (min\N{EN DASH}max)",
        rps,
        numeric=True,
        short="req/s\n(min\N{EN DASH}max)",
        tiny="req/s\n± spread",
        part=THROUGHPUT,
    ),
    ResultColumn("vs baseline (per round)", ratio, numeric=True, short="vs\nbase", part=THROUGHPUT),
    ResultColumn(
        "p50 ms",
        lambda row: num(row.latency_p50_ms),
        numeric=True,
        short="p50\nms",
        part=THROUGHPUT,
    ),
    ResultColumn(
        "p99 ms",
        lambda row: num(row.latency_p99_ms),
        numeric=True,
        short="p99\nms",
        part=THROUGHPUT,
    ),
    ResultColumn(
        "errors / non-2xx",
        errors,
        numeric=True,
        short="errors /\nnon-2xx",
        tiny="err /\nnon-2xx",
        part=RESOURCES,
    ),
    ResultColumn(
        "server CPU ms/1k req",
        lambda row: num(row.server_cpu_ms_per_1k),
        numeric=True,
        short="server CPU\nms/1k req",
        tiny="CPU ms\n/1k req",
        part=RESOURCES,
    ),
    ResultColumn(
        "server peak RSS MiB",
        lambda row: num(row.server_peak_rss_mib),
        numeric=True,
        short="server\nRSS MiB",
        tiny="RSS\nMiB",
        part=RESOURCES,
    ),
    ResultColumn("client CPU", client_cpu, numeric=True, short="client\nCPU", part=RESOURCES),
)

SHAREABLE = ("workload", "client")
"""Key columns that leave the narrow terminal tables when every row has the same value."""


def first_note(row: Result) -> str:
    return row.notes[0] if row.notes else ""


def saturated_note(rows: Sequence[Result], marker: str = SATURATED) -> str | None:
    if not any(row.client_saturated for row in rows):
        return None
    what = "the load client's CPU was near 100%"
    if SATURATED not in marker:
        what = "the load client was saturated (its CPU near 100%)"
    return f"{marker}: {what}, so that row's req/s may be the client's ceiling, not the server's."


def workers_note(rows: Sequence[Result]) -> str | None:
    """What ``x2`` after a label means, when a row has workers (``--workers``)."""
    counts = sorted({row.workers for row in rows if row.workers is not None})
    if not counts:
        return None
    example = counts[-1]
    how = f"xloop serve --workers {example}"
    if any(row.server != "xloop" for row in rows if row.workers is not None):
        how += ", another server's own --workers"
    return (
        f"x{example}: the server ran {example} worker process{'es' if example > 1 else ''} "
        f"({how}); its CPU and peak RSS are the sums over them."
    )


# --- summaries ----------------------------------------------------------------------------


def machine_summary(machine: Machine) -> str:
    """``Linux-6.1 · Intel Xeon (2 CPUs) · CPython 3.11.7 · xloop 0.1.0, h11 0.16.0``
    (the label not included)."""
    cpu = machine.cpu_model or "unknown CPU"
    if machine.cpu_count:
        cpu += f" ({machine.cpu_count} CPUs)"
    versions = ", ".join(
        f"{name} {version}" for name, version in machine.versions.items() if version
    )
    parts = [machine.os or machine.system, cpu, machine.python]
    if versions:
        parts.append(versions)
    return " · ".join(part for part in parts if part)


def connections_summary(settings: dict[str, Any]) -> str:
    """``64 connections``, or each workload's own default: ``256 connections (io); 16 of
    2,000 held open (c10k)``."""
    held = f"{int(settings.get('c10k_connections') or 0):,} held open"
    if settings.get("connections"):
        text = f"{settings['connections']} connections"
        if "c10k" in (settings.get("workloads") or []):
            text += f" (c10k: of {held})"
        return text
    parts: dict[str, list[str]] = {}
    for name in settings.get("workloads") or []:
        workload = WORKLOADS.get(name)
        if workload is None:
            continue
        count = workload.connections
        text = f"{count} connections"
        if name == "c10k":
            text = f"{count} of {held}"
        parts.setdefault(text, []).append(name)
    return "; ".join(f"{text} ({', '.join(names)})" for text, names in parts.items())


def settings_summary(settings: dict[str, Any]) -> str:
    """``64 connections · 3 rounds of 3.0 s (warmup 1.0 s) · pipeline 1 · ...``"""
    parts: list[str] = []
    connections = connections_summary(settings)
    if connections:
        parts.append(connections)
    rounds, duration = settings.get("rounds"), settings.get("duration_s")
    if rounds is not None or duration is not None:
        text = f"{rounds if rounds is not None else '?'} rounds"
        if duration is not None:
            text += f" of {duration} s"
        if settings.get("warmup_s") is not None:
            text += f" (warmup {settings['warmup_s']} s)"
        parts.append(text)
    if settings.get("workers"):
        parts.append(f"workers 1\N{EN DASH}{settings['workers']}")
    for key, name in (("pipeline", "pipeline"), ("client", "client"), ("baseline", "baseline")):
        if settings.get(key) is not None:
            parts.append(f"{name} {settings[key]}")
    if settings.get("pinning"):
        parts.append(str(settings["pinning"]))
    if settings.get("app"):
        parts.append(f"app {settings['app']}")
    return " · ".join(parts)
