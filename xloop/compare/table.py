"""The terminal table of compare results (rich).

The table never cuts a label or a figure: its loop class and status columns fold first; on
a console narrower than about 120 columns it draws without the loop class column (the
classes listed in its caption), without the columns whose value every row shares (workload,
client: said once in the title) and with the req/s spread as ``±%``; and when even that is
too wide (an 80-column terminal) as two stacked tables, throughput (req/s, ratio, latency,
status) then resources (errors, server CPU and RSS, client CPU), the same rows in the same
order, with the rows' notes below them. The status column says ``ok``, ``errors`` or
``failed`` with the row's first note; ``⚠`` alone marks a saturated client, explained in
the caption. :func:`results_console` makes a console that is 200 columns wide when it is not
a terminal (a CI log) and ``COLUMNS`` is unset, rather than rich's default 80.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Column, Table
from rich.text import Text

from .columns import (
    COLUMNS,
    DASH,
    RESOURCES,
    SHAREABLE,
    THROUGHPUT,
    ResultColumn,
    client_cpu,
    first_note,
    rps,
    saturated_note,
    workers_note,
)
from .model import Result

__all__ = ["WIDE", "results_console", "results_table"]

_STATUS_STYLE = {"ok": "green", "errors": "bold yellow", "failed": "bold red", "skipped": "dim"}


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
    """The caption's notes: the ``⚠`` marker, what ``x2`` after a label means."""
    return _join(saturated_note(results, marker="⚠"), workers_note(results)) or None


def _shared(results: Sequence[Result]) -> dict[str, str]:
    """``{"workload": "plaintext", "client": "builtin"}``: the key columns with the same
    value on every row, and ``loop class`` when every row has the same one."""
    shared: dict[str, str] = {}
    if not results:
        return shared
    for column in COLUMNS:
        if column.header in SHAREABLE:
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


def _cell(column: ResultColumn, row: Result, *, compact: bool) -> Text:
    if column.cell is client_cpu:
        cpu = client_cpu(row, marker="⚠")
        return Text(cpu, style="yellow" if row.client_saturated else "")
    if compact and column.cell is rps:
        return Text(_rps_plus_minus(row))
    return Text(column.cell(row))


def _status(row: Result, *, note: bool) -> Text:
    status = Text(row.status, style=_STATUS_STYLE.get(row.status, ""))
    first = first_note(row) if note else ""
    if first and row.status != "ok":
        status.append(f": {first}", style="")
    elif first:
        status.append(f" ({first})", style="dim")
    return status


def _fill(
    table: Table,
    results: Sequence[Result],
    columns: Sequence[ResultColumn],
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
        table.add_row(*cells, style="dim" if row.status in ("failed", "skipped") else None)


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
            column for column in COLUMNS if column.part != "class" and column.header not in shared
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
        kept: Sequence[ResultColumn],
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
        for part, status in ((THROUGHPUT, "word"), (RESOURCES, None)):
            table = _new_table(None)
            _fill(
                table,
                results,
                key + [column for column in kept if column.part == part],
                compact=True,
                status=status,
            )
            _fit_label(table, console, options)
            if part == RESOURCES:
                yield Text("")
            yield table
        notes = [
            f"{' · '.join(cell(row) for cell in where)}: {row.status}: {first_note(row)}"
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
    _fill(table, results, COLUMNS, compact=False)
    caption = _saturated_caption(results)
    table.caption = Text(caption) if caption else None  # Text: no rich markup in it
    table.own_caption = caption
    return table
