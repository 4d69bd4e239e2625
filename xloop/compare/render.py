"""Compare results as files: Markdown, CSV, JSON and the plot.

* :func:`to_markdown` / :func:`merged_markdown`: a GitHub-flavoured Markdown table (fit for
  ``$GITHUB_STEP_SUMMARY``), with a machine/settings summary before it and footnotes after
  (the ``status`` column says ``ok``, ``errors`` or ``failed``, with a numbered footnote
  ``[n]`` carrying every note of the row);
* :func:`to_csv` / :func:`merged_csv`: one flat CSV line per row (a figure not measured is
  an empty cell).

Every :class:`~xloop.compare.model.Result` becomes exactly one row, ``failed`` ones included.
The columns are :mod:`.columns`'; the terminal table is :mod:`.table`.
:func:`write_outputs` writes a ``ResultFile``'s ``--json``/``--csv``/``--markdown``/``--plot``
outputs (``-`` is stdout for the text ones; at most one of them may be ``-``).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xloop.errors import ConfigError

from .columns import COLUMNS, machine_summary, saturated_note, settings_summary, workers_note
from .model import Machine, Result, ResultFile

__all__ = [
    "CSV_COLUMNS",
    "check_stdout_targets",
    "merged_csv",
    "merged_markdown",
    "to_csv",
    "to_markdown",
    "write_outputs",
    "write_text",
]


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
    headers = (["machine"] if with_machine else []) + [c.header for c in COLUMNS] + ["status"]
    aligns = (
        (["---"] if with_machine else [])
        + ["---:" if c.numeric else "---" for c in COLUMNS]
        + ["---"]
    )
    lines = ["| " + " | ".join(_md(h) for h in headers) + " |", "| " + " | ".join(aligns) + " |"]
    footnotes: list[str] = []
    all_rows: list[Result] = []
    for label, rows in groups:
        for row in rows:
            all_rows.append(row)
            cells = [label or ""] if with_machine else []
            cells += [column.cell(row) for column in COLUMNS]
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
    for note in (workers_note(all_rows), saturated_note(all_rows)):
        if note:
            footnotes.insert(0, _md(note))
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
