"""Everything ``xloop compare`` and ``xloop report`` print and write.

One set of columns, three renderings of the same rows:

* :func:`results_table`: a rich table for the terminal;
* :func:`to_markdown` / :func:`merged_markdown`: a GitHub-flavoured Markdown table (fit for
  ``$GITHUB_STEP_SUMMARY``), with a machine/settings summary before it and footnotes after;
* :func:`to_csv` / :func:`merged_csv`: one flat CSV line per row.

Every :class:`~xloop.compare.model.Result` becomes exactly one row, ``failed`` ones
included (their figures shown as ``—``). Figures that were not measured (``None``) are
``—`` in the table and Markdown, an empty cell in CSV.

Markers:

* ``⚠ saturated`` after the client CPU: the load client's CPU was near 100%, so the
  row's req/s may be the client's ceiling rather than the server's;
  (``⚠`` alone in the terminal, explained in the table's caption);
* the ``status`` column says ``ok``, ``errors`` (measured, but some requests failed or
  were not 2xx) or ``failed`` (nothing measured), with the row's first note in the
  terminal table and a numbered footnote ``[n]`` carrying every note in Markdown.

The terminal table never cuts a label or a figure: its loop class and status columns
fold first; on a console narrower than about 120 columns it draws without the loop class
column (the classes listed in its caption), without the columns whose value every row
shares (workload, client: said once in the title) and with the req/s spread as ``±%``;
and when even that is too wide (an 80-column terminal) as two stacked tables,
throughput (req/s, ratio, latency, status) then resources (errors, server CPU and RSS,
client CPU), the same rows in the same order, with the rows' notes below them.
:func:`results_console` makes a console that is 200 columns wide when it is not a terminal
(a CI log) and ``COLUMNS`` is unset, rather than rich's default 80.

:func:`write_outputs` writes a ``ResultFile``'s ``--json``/``--csv``/``--markdown``/``--plot``
outputs (``-`` is stdout for the text ones; at most one of them may be ``-``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from xloop.errors import ConfigError

from .model import Machine, Result, ResultFile

__all__ = [
    "CSV_COLUMNS",
    "DASH",
    "check_stdout_targets",
    "machine_summary",
    "merged_csv",
    "merged_markdown",
    "results_console",
    "results_table",
    "settings_summary",
    "to_csv",
    "to_markdown",
    "write_outputs",
    "write_text",
]

DASH = "—"
"""Shown for a figure that was not measured."""

SATURATED = "⚠ saturated"

_STATUS_STYLE = {"ok": "green", "errors": "bold yellow", "failed": "bold red"}


# --- cells -------------------------------------------------------------------------------


def _num(value: float | None) -> str:
    """A figure with as many decimals as its size deserves: 1,234 / 12.3 / 1.23."""
    if value is None:
        return DASH
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _rps(row: Result) -> str:
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


def _ratio(row: Result) -> str:
    return "" if row.ratio is None else f"{row.ratio:.2f}x"


def _errors(row: Result) -> str:
    if row.status == "failed" and not row.errors and not row.non_2xx:
        return DASH
    return f"{row.errors:,} / {row.non_2xx:,}"


def _client_cpu(row: Result, marker: str = SATURATED) -> str:
    text = DASH if row.client_cpu_percent is None else f"{row.client_cpu_percent:.0f}%"
    if row.client_saturated:
        text = f"{text} {marker}"
    return text


def _loop_class(row: Result) -> str:
    return row.loop_class or DASH


@dataclass(frozen=True)
class _Column:
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


_THROUGHPUT, _RESOURCES = "throughput", "resources"

_COLUMNS: tuple[_Column, ...] = (
    _Column("loop/parser", lambda row: row.label),
    _Column("loop class", _loop_class, wrap=True, part="class"),
    _Column("workload", lambda row: row.workload),
    _Column("client", lambda row: row.client),
    _Column(
        "req/s (min\N{EN DASH}max)",
        _rps,
        numeric=True,
        short="req/s\n(min\N{EN DASH}max)",
        tiny="req/s\n± spread",
        part=_THROUGHPUT,
    ),
    _Column("vs baseline", _ratio, numeric=True, short="vs\nbase", part=_THROUGHPUT),
    _Column(
        "p50 ms",
        lambda row: _num(row.latency_p50_ms),
        numeric=True,
        short="p50\nms",
        part=_THROUGHPUT,
    ),
    _Column(
        "p99 ms",
        lambda row: _num(row.latency_p99_ms),
        numeric=True,
        short="p99\nms",
        part=_THROUGHPUT,
    ),
    _Column(
        "errors / non-2xx",
        _errors,
        numeric=True,
        short="errors /\nnon-2xx",
        tiny="err /\nnon-2xx",
        part=_RESOURCES,
    ),
    _Column(
        "server CPU ms/1k req",
        lambda row: _num(row.server_cpu_ms_per_1k),
        numeric=True,
        short="server CPU\nms/1k req",
        tiny="CPU ms\n/1k req",
        part=_RESOURCES,
    ),
    _Column(
        "server peak RSS MiB",
        lambda row: _num(row.server_peak_rss_mib),
        numeric=True,
        short="server\nRSS MiB",
        tiny="RSS\nMiB",
        part=_RESOURCES,
    ),
    _Column("client CPU", _client_cpu, numeric=True, short="client\nCPU", part=_RESOURCES),
)

_SHAREABLE = ("workload", "client")
"""Key columns that leave the narrow terminal tables when every row has the same value."""


def _first_note(row: Result) -> str:
    return row.notes[0] if row.notes else ""


def _saturated_note(rows: Sequence[Result], marker: str = SATURATED) -> str | None:
    if not any(row.client_saturated for row in rows):
        return None
    what = "the load client's CPU was near 100%"
    if SATURATED not in marker:
        what = "the load client was saturated (its CPU near 100%)"
    return f"{marker}: {what}, so that row's req/s may be the client's ceiling, not the server's."


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


def settings_summary(settings: dict[str, Any]) -> str:
    """``64 connections · 3 rounds of 3.0 s (warmup 1.0 s) · pipeline 1 · ...``"""
    parts: list[str] = []
    if settings.get("connections") is not None:
        parts.append(f"{settings['connections']} connections")
    rounds, duration = settings.get("rounds"), settings.get("duration_s")
    if rounds is not None or duration is not None:
        text = f"{rounds if rounds is not None else '?'} rounds"
        if duration is not None:
            text += f" of {duration} s"
        if settings.get("warmup_s") is not None:
            text += f" (warmup {settings['warmup_s']} s)"
        parts.append(text)
    for key, name in (("pipeline", "pipeline"), ("client", "client"), ("baseline", "baseline")):
        if settings.get(key) is not None:
            parts.append(f"{name} {settings[key]}")
    if settings.get("pinning"):
        parts.append(str(settings["pinning"]))
    if settings.get("app"):
        parts.append(f"app {settings['app']}")
    return " · ".join(parts)


# --- rich ---------------------------------------------------------------------------------

WIDE = 200
"""The console width when it is not a terminal (a CI log) and ``COLUMNS`` is unset."""


def results_console(*, stderr: bool = False) -> Console:
    """A console for the results table: rich's own, but :data:`WIDE` columns wide when it
    writes to a file or pipe (a CI log) and ``COLUMNS`` does not say otherwise."""
    made = Console(stderr=stderr, highlight=False)
    if not made.is_terminal and "COLUMNS" not in os.environ:
        made.width = WIDE
    return made


_FOLD_MIN = 12
"""The narrowest a folding column (loop class, status with its note) gets."""

_GAP = 2
"""Cells between two columns of the terminal table (one of padding, one of divider)."""


def _rps_plus_minus(row: Result) -> str:
    """``12,345 ±3%``: the median and half the rounds' range (the narrow table's form)."""
    median, low, high = (
        row.requests_per_second,
        row.requests_per_second_min,
        row.requests_per_second_max,
    )
    if median is None:
        return DASH
    text = f"{median:,.0f}" if median >= 10 else f"{median:.1f}"
    if low is not None and high is not None and round(low) != round(high) and median:
        spread = (high - low) / 2 / median * 100
        text += f" ±{spread:.0f}%" if spread >= 1 else f" ±{spread:.1f}%"
    return text


def _natural(column: Column, console: Console, options: ConsoleOptions) -> int:
    """The width ``column`` takes unfolded: its widest cell or header line."""
    renderables = [column.header, *column.cells]
    return max(Measurement.get(console, options, r).maximum for r in renderables)


def _fit(table: Table, console: Console, options: ConsoleOptions) -> bool:
    """Give the folding (wrappable) columns of ``table`` their share of the room the other
    columns leave (never less than :data:`_FOLD_MIN`); False when even that is too wide.

    rich itself narrows the wrappable columns of a too wide table without a floor (to
    nothing on a narrow terminal), and then cuts the others."""
    folding = [column for column in table.columns if not column.no_wrap]
    for column in folding:
        column.width = None
    wants = [_natural(column, console, options) for column in folding]
    others = sum(_natural(column, console, options) for column in table.columns if column.no_wrap)
    room = options.max_width - others - _GAP * (len(table.columns) - 1)
    if sum(wants) <= room:
        return True
    for column, want in zip(folding, wants, strict=True):
        column.width = max(_FOLD_MIN, min(want, room * want // max(1, sum(wants))))
    return room >= _FOLD_MIN * len(folding)


def _fit_label(table: Table, console: Console, options: ConsoleOptions) -> None:
    """The last resort of a split table (no folding column) still too wide: its label
    column (the first) wraps onto more lines rather than be cut; figures stay whole.

    Only a label longer than any loop and parser xloop knows gets here at 80 columns."""
    if _fit(table, console, options):
        return
    label, *others = table.columns
    used = sum(_natural(column, console, options) for column in others)
    label.no_wrap = False
    label.width = max(1, options.max_width - used - _GAP * len(others))


def _saturated_caption(results: Sequence[Result]) -> str | None:
    return _saturated_note(results, marker="⚠")


def _shared(results: Sequence[Result]) -> dict[str, str]:
    """``{"workload": "plaintext", "client": "builtin"}``: the key columns with the same
    value on every row, and ``loop class`` when every row has the same one."""
    shared: dict[str, str] = {}
    if not results:
        return shared
    for column in _COLUMNS:
        if column.header in _SHAREABLE:
            values = {column.cell(row) for row in results}
            if len(values) == 1:
                shared[column.header] = values.pop()
    classes = {row.loop_class for row in results}
    if len(classes) == 1 and None not in classes:
        shared["loop class"] = str(classes.pop())
    return shared


def _legend(results: Sequence[Result]) -> str | None:
    """``loop classes: asyncio, selector[poll]: asyncio...; uvloop: uvloop.Loop``."""
    classes: dict[str, list[str]] = {}
    for row in results:
        if row.loop_class:
            labels = classes.setdefault(row.loop_class, [])
            loop = row.label.rsplit("/", 1)[0]
            if loop not in labels:
                labels.append(loop)
    if not classes:
        return None
    legend = "; ".join(f"{', '.join(loops)}: {name}" for name, loops in classes.items())
    return f"loop classes: {legend}"


def _cell(column: _Column, row: Result, *, compact: bool) -> Text:
    if column.cell is _client_cpu:
        cpu = _client_cpu(row, marker="⚠")
        return Text(cpu, style="yellow" if row.client_saturated else "")
    if compact and column.cell is _rps:
        return Text(_rps_plus_minus(row))
    return Text(column.cell(row))


def _status(row: Result, *, note: bool) -> Text:
    status = Text(row.status, style=_STATUS_STYLE.get(row.status, ""))
    first = _first_note(row) if note else ""
    if first and row.status != "ok":
        status.append(f": {first}", style="")
    elif first:
        status.append(f" ({first})", style="dim")
    return status


def _fill(
    table: Table,
    results: Sequence[Result],
    columns: Sequence[_Column],
    *,
    compact: bool,
    status: str | None = "note",
) -> None:
    """Columns and rows; ``compact``: the narrow headers and the req/s spread as ``±%``;
    ``status``: ``note`` (the status and the row's first note, folding), ``word`` (the
    status alone) or None (no status column)."""
    for column in columns:
        header = column.short or column.header
        if compact:
            header = column.tiny or header
        table.add_column(
            header,
            justify="right" if column.numeric else "left",
            no_wrap=not column.wrap,
            overflow="fold",  # never an ellipsis: a label or figure too wide is a bug
        )
    if status is not None:
        table.add_column("status", no_wrap=status != "note", overflow="fold")
    for row in results:
        cells = [_cell(column, row, compact=compact) for column in columns]
        if status is not None:
            cells.append(_status(row, note=status == "note"))
        table.add_row(*cells, style="dim" if row.status == "failed" else None)


def _new_table(title: str | Text | None, cls: type[Table] = Table) -> Table:
    return cls(
        title=Text(title) if isinstance(title, str) else title,  # Text: no rich markup
        title_justify="left",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )


def _join(*parts: str | None) -> str:
    return "\n".join(part for part in parts if part)


class _ResultsTable(Table):
    """The full table; on a console too narrow for it, a compact table without the
    columns every row shares, and on one too narrow for that, two tables (throughput,
    resources) with the notes below them."""

    results: Sequence[Result] = ()
    own_caption: str | None = None
    """The caption :func:`results_table` gave (a caller may have added to it since)."""

    def _caption(self, console: Console, notes: str) -> str:
        """The caption with the full table's notes replaced by ``notes``, keeping what a
        caller added to it (``xloop report`` puts the settings before it)."""
        caption = self.caption
        if caption is None:
            return notes
        text = caption if isinstance(caption, Text) else console.render_str(caption)
        plain = text.plain
        if self.own_caption and self.own_caption in plain:
            return "\n".join(
                line for line in plain.replace(self.own_caption, notes).split("\n") if line
            )
        return _join(plain, notes)

    def _title(self, shared: dict[str, str]) -> Text | None:
        """The title followed by what every row shares (what it does not already say)."""
        title = self.title
        text = (title.copy() if isinstance(title, Text) else Text(title)) if title else Text()
        parts = [f"{name} {value}" for name, value in shared.items()]
        parts = [part for part in parts if part not in text.plain]
        if parts:
            text.append((" · " if text.plain else "") + " · ".join(parts))
        return text if text.plain else None

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if _fit(self, console, options):
            yield from super().__rich_console__(console, options)
            return
        results = self.results
        shared = _shared(results)
        title = self._title(shared)
        legend = None if "loop class" in shared else _legend(results)
        kept = [
            column for column in _COLUMNS if column.part != "class" and column.header not in shared
        ]
        compact = _new_table(title)
        _fill(compact, results, kept, compact=True)
        caption = self._caption(console, _join(_saturated_caption(results), legend))
        compact.caption = Text(caption) if caption else None
        if _fit(compact, console, options):
            yield compact
            return
        yield from self._split(console, options, title, kept, legend)

    def _split(
        self,
        console: Console,
        options: ConsoleOptions,
        title: Text | None,
        kept: Sequence[_Column],
        legend: str | None,
    ) -> RenderResult:
        """Two stacked tables (throughput with the status word, then resources), the same
        rows in the same order, then the notes the status column would have carried."""
        results = self.results
        key = [column for column in kept if column.part == "key"]
        where = [column.cell for column in key]
        if title is not None:
            heading = title.copy()
            heading.style = "table.title"
            yield heading
        for part, status in ((_THROUGHPUT, "word"), (_RESOURCES, None)):
            table = _new_table(None)
            _fill(
                table,
                results,
                key + [column for column in kept if column.part == part],
                compact=True,
                status=status,
            )
            _fit_label(table, console, options)
            if part == _RESOURCES:
                yield Text("")
            yield table
        notes = [
            f"{' · '.join(cell(row) for cell in where)}: {row.status}: {_first_note(row)}"
            for row in results
            if row.status != "ok" and row.notes
        ]
        caption = self._caption(console, _join(*notes, _saturated_caption(results), legend))
        if caption:
            yield Text(caption, style="table.caption")


def results_table(results: list[Result], *, title: str | None = None) -> Table:
    """A rich table with one row per result; ``errors``/``failed`` rows carry their
    first note in the status column; a caption explains the ``⚠`` (saturated) marker.

    Labels and figures are never cut nor wrapped. The loop class and status columns fold
    first; on a console too narrow even for that the table draws without the loop class
    column (the classes listed in the caption), without the columns every row shares
    (said once in the title) and with the req/s spread as ``±%``; narrower still (80
    columns), as two tables, throughput then resources, with the notes below them."""
    table = _new_table(title, _ResultsTable)
    assert isinstance(table, _ResultsTable)
    table.results = list(results)
    _fill(table, results, _COLUMNS, compact=False)
    caption = _saturated_caption(results)
    table.caption = Text(caption) if caption else None  # Text: no rich markup in it
    table.own_caption = caption
    return table


# --- Markdown -----------------------------------------------------------------------------

_MD_SPECIAL = str.maketrans(
    {
        "\\": "\\\\",
        "|": "\\|",
        "*": "\\*",
        "_": "\\_",
        "`": "\\`",
        "<": "\\<",
        ">": "\\>",
        "[": "\\[",
        "]": "\\]",
        "\r": " ",
        "\n": " ",
    }
)


def _md(text: str) -> str:
    """Text safe in a GitHub Markdown table cell: one line, no markup, pipes escaped."""
    return text.translate(_MD_SPECIAL)


def _md_table(groups: Sequence[tuple[str | None, Sequence[Result]]]) -> tuple[list[str], list[str]]:
    """The table's lines and its footnotes, for (machine label or None, rows) groups."""
    with_machine = any(label is not None for label, _ in groups)
    headers = (["machine"] if with_machine else []) + [c.header for c in _COLUMNS] + ["status"]
    aligns = (
        (["---"] if with_machine else [])
        + ["---:" if c.numeric else "---" for c in _COLUMNS]
        + ["---"]
    )
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "| " + " | ".join(aligns) + " |"]
    footnotes: list[str] = []
    all_rows: list[Result] = []
    for label, rows in groups:
        for row in rows:
            all_rows.append(row)
            cells = [label or ""] if with_machine else []
            cells += [column.cell(row) for column in _COLUMNS]
            status = row.status if row.status == "ok" else row.status.upper()
            escaped = [_md(cell) for cell in cells]
            if row.status != "ok":
                status = f"**{status}**"
            if row.notes:
                number = len(footnotes) + 1
                where = " · ".join(
                    part for part in (label, row.label, row.workload, row.client) if part
                )
                footnotes.append(f"\\[{number}\\] {_md(where)}: {_md('; '.join(row.notes))}")
                status += f" \\[{number}\\]"
            lines.append("| " + " | ".join([*escaped, status]) + " |")
    saturated = _saturated_note(all_rows)
    if saturated:
        footnotes.insert(0, _md(saturated))
    return lines, footnotes


def _md_join(head: list[str], lines: list[str], footnotes: list[str]) -> str:
    parts = []
    if head:
        parts.append("\n".join(head))
    parts.append("\n".join(lines))
    if footnotes:
        # a blank line between footnotes keeps GitHub from joining them into one paragraph
        parts.append("\n\n".join(footnotes))
    return "\n\n".join(parts) + "\n"


def to_markdown(
    results: list[Result],
    *,
    machine: Machine | None = None,
    settings: dict[str, Any] | None = None,
) -> str:
    """A GitHub-flavoured Markdown table of ``results``, after a one-line machine/settings
    summary when given, and followed by footnotes (saturated client, every row's notes)."""
    summary = []
    if machine is not None:
        summary.append(f"**{_md(machine.label)}**: {_md(machine_summary(machine))}")
    if settings:
        summary.append(_md(settings_summary(settings)))
    head = [" — ".join(summary)] if summary else []
    lines, footnotes = _md_table([(None, results)])
    return _md_join(head, lines, footnotes)


def merged_markdown(files: Sequence[ResultFile], *, title: str | None = "xloop report") -> str:
    """One Markdown table (with a ``machine`` column) for several result files, after a
    list of the machines (label, OS, CPU, Python, versions, settings) and a title."""
    head = [f"### {_md(title)}", ""] if title else []
    head.append("Machines:")
    head.append("")
    for file in files:
        line = f"- **{_md(file.machine.label)}**: {_md(machine_summary(file.machine))}"
        settings = settings_summary(file.settings)
        if settings:
            line += f" — {_md(settings)}"
        head.append(line)
    lines, footnotes = _md_table([(file.machine.label, file.results) for file in files])
    return _md_join(head, lines, footnotes)


# --- CSV ----------------------------------------------------------------------------------

_CSV_FIELDS = [f.name for f in dataclasses.fields(Result) if f.name not in ("rounds", "notes")]
CSV_COLUMNS: tuple[str, ...] = ("label", *_CSV_FIELDS, "rounds", "notes")
"""The CSV header (after a leading ``machine`` column when there is a machine): the row's
``label``, every scalar field of :class:`Result`, ``rounds`` (how many rounds) and
``notes`` joined with ``"; "``."""


def _csv_value(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(groups: Sequence[tuple[str | None, Sequence[Result]]]) -> str:
    with_machine = any(label is not None for label, _ in groups)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow((["machine"] if with_machine else []) + list(CSV_COLUMNS))
    for label, rows in groups:
        for row in rows:
            values: list[object] = [label or ""] if with_machine else []
            values.append(row.label)
            values.extend(_csv_value(getattr(row, name)) for name in _CSV_FIELDS)
            values.append(len(row.rounds))
            values.append("; ".join(row.notes))
            writer.writerow(values)
    return buffer.getvalue()


def to_csv(results: list[Result], *, machine: Machine | str | None = None) -> str:
    """One CSV line per result (header: :data:`CSV_COLUMNS`), after a ``machine`` column
    when a machine (or its label) is given."""
    label = machine.label if isinstance(machine, Machine) else machine
    return _csv([(label, results)])


def merged_csv(files: Sequence[ResultFile]) -> str:
    """One CSV for several result files, with a leading ``machine`` column."""
    return _csv([(file.machine.label, file.results) for file in files])


# --- writing ------------------------------------------------------------------------------


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
    except UnicodeEncodeError:
        # a redirected stdout on Windows encodes with the ANSI code page: write UTF-8
        sys.stdout.flush()
        sys.stdout.buffer.write(text.encode("utf-8"))
    sys.stdout.flush()


def write_text(target: str | Path, text: str, *, what: str = "output") -> None:
    """Write ``text`` (UTF-8) to ``target``, or to stdout when it is ``-``; creates the
    missing parent directories. An unwritable target is a :class:`ConfigError`."""
    if str(target) == "-":
        _write_stdout(text)
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"{target}: cannot write the {what}: {exc.strerror or exc}",
            hint="choose a writable path",
        ) from None


def check_stdout_targets(**targets: str | Path | None) -> None:
    """At most one output may be ``-`` (stdout): two would interleave."""
    on_stdout = [
        name for name, target in targets.items() if target is not None and str(target) == "-"
    ]
    if len(on_stdout) > 1:
        raise ConfigError(
            f"{' and '.join('--' + name for name in on_stdout)} both write to stdout ('-')",
            hint="send all but one of them to a file",
        )


def write_outputs(
    file: ResultFile,
    *,
    json_path: str | Path | None = None,
    csv_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    plot_path: str | Path | None = None,
) -> None:
    """Write the outputs asked for (None: not asked): JSON (schema ``xloop.compare/1``),
    CSV (with a ``machine`` column), Markdown and a plot (.svg or .png)."""
    check_stdout_targets(json=json_path, csv=csv_path, markdown=markdown_path)
    if plot_path is not None:
        from .plot import check_plot_path

        check_plot_path(plot_path)  # before anything is written
    if json_path is not None:
        text = json.dumps(file.to_dict(), indent=2, ensure_ascii=False) + "\n"
        write_text(json_path, text, what="JSON")
    if csv_path is not None:
        write_text(csv_path, to_csv(file.results, machine=file.machine), what="CSV")
    if markdown_path is not None:
        text = to_markdown(file.results, machine=file.machine, settings=file.settings)
        write_text(markdown_path, text, what="Markdown")
    if plot_path is not None:
        from .plot import plot

        plot([(file.machine.label, file.results)], plot_path)
