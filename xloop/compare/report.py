"""The body of ``xloop report FILE...``: one view of several ``xloop compare`` result files.

``xloop report FILE... [--markdown FILE|-] [--json FILE] [--csv FILE] [--plot FILE]``

It reads result files written by ``xloop compare --json`` (schema ``xloop.compare/1``,
see :mod:`xloop.compare.model`) — or merged files this command wrote (schema
``xloop.report/1``, below) — and shows them as one view:

* the terminal gets a rich table per machine, titled with the machine's label, OS, CPU,
  Python and versions, captioned with the measurement settings;
* ``--markdown`` gets a list of the machines and ONE table with a ``machine`` column,
  fit for ``$GITHUB_STEP_SUMMARY`` (e.g. ``xloop report *.json --markdown - >>
  "$GITHUB_STEP_SUMMARY"``);
* ``--csv`` gets one line per row with a leading ``machine`` column;
* ``--plot`` gets a bar chart with one panel per machine (needs ``xloop[plot]``);
* ``--json`` gets the merged view::

      {
        "schema": "xloop.report/1",
        "files": [
          {"source": "linux.json", <the xloop.compare/1 object of that file>},
          ...
        ]
      }

  Each entry is a whole ``xloop.compare/1`` object (plus ``source``, the path it was read
  from), so any entry can be read back with ``ResultFile.from_dict``; the machine labels
  in it are the disambiguated ones shown in the report.

Two files with the same machine label are both kept: the second is shown as
``label#2``, the third ``label#3``, and so on. ``-`` (stdout) may be given to at most one of
``--markdown``/``--json``/``--csv``; when one is, the rich tables go to stderr so stdout
carries only that output.

Exit code: 0 when every file was read and every output written — rows whose status is
``failed`` or ``errors`` included: a report is a view of results, they are marked in it,
and it is ``xloop compare``'s own exit code that gates a run. A file that is missing,
unreadable, not JSON or not of a known schema, or an output that cannot be written,
raises :class:`~xloop.errors.ConfigError` (one line, exit code 2).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from xloop.errors import ConfigError

from .columns import machine_summary, settings_summary
from .model import SCHEMA, ResultFile
from .render import check_stdout_targets, merged_csv, merged_markdown, write_text
from .table import results_console, results_table

__all__ = ["REPORT_SCHEMA", "load", "merge", "merged_dict", "report"]

REPORT_SCHEMA = "xloop.report/1"

_HINT = "pass files written by 'xloop compare --json FILE'"


def _read_json(path: str) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file", hint=_HINT) from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a result file", hint=_HINT) from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file (not UTF-8)", hint=_HINT) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}", hint=_HINT) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            hint=_HINT,
        ) from None


def _parse(path: str, data: Any) -> ResultFile:
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}: not an xloop result file (the JSON is a {type(data).__name__}, "
            "not an object)",
            hint=_HINT,
        )
    try:
        return ResultFile.from_dict(data)
    except ValueError as exc:
        raise ConfigError(f"{path}: {exc}", hint=_HINT) from None
    except (TypeError, AttributeError, KeyError) as exc:
        raise ConfigError(f"{path}: malformed {SCHEMA} file: {exc}", hint=_HINT) from None


def load(path: str) -> list[tuple[str, ResultFile]]:
    """The result files in ``path``: one for an ``xloop.compare/1`` file, each of its
    entries for an ``xloop.report/1`` file; as (source, file) pairs."""
    data = _read_json(path)
    if isinstance(data, dict) and data.get("schema") == REPORT_SCHEMA:
        entries = data.get("files")
        if not isinstance(entries, list):
            raise ConfigError(
                f"{path}: malformed {REPORT_SCHEMA} file: no 'files' list", hint=_HINT
            )
        loaded = []
        for position, entry in enumerate(entries, 1):
            where = f"{path} (file {position})"
            source = entry.get("source") if isinstance(entry, dict) else None
            loaded.append((str(source or where), _parse(where, entry)))
        return loaded
    return [(path, _parse(path, data))]


def merge(files: list[ResultFile]) -> list[ResultFile]:
    """The files, with machine labels made unique: a repeated label gets ``#2``, ``#3``...
    The input objects are not changed."""
    taken: set[str] = set()
    merged = []
    for file in files:
        label = file.machine.label
        number = 1
        while label in taken:
            number += 1
            label = f"{file.machine.label}#{number}"
        taken.add(label)
        machine = dataclasses.replace(file.machine, label=label)
        merged.append(dataclasses.replace(file, machine=machine))
    return merged


def merged_dict(files: list[ResultFile], sources: list[str] | None = None) -> dict[str, Any]:
    """The ``xloop.report/1`` object of already merged files."""
    entries = []
    for position, file in enumerate(files):
        entry: dict[str, Any] = {}
        if sources is not None:
            entry["source"] = sources[position]
        entry.update(file.to_dict())
        entries.append(entry)
    return {"schema": REPORT_SCHEMA, "files": entries}


def report(
    paths: list[str],
    *,
    markdown: str | None = None,
    json_out: str | None = None,
    csv: str | None = None,
    plot: str | None = None,
    console: Console | None = None,
) -> int:
    """Read ``paths``, print the merged view and write the outputs asked for; the exit code."""
    if not paths:
        raise ConfigError("no result files given", hint="xloop report FILE.json [FILE.json ...]")
    check_stdout_targets(markdown=markdown, json=json_out, csv=csv)
    if plot is not None:
        from .plot import check_plot_path

        check_plot_path(plot)
    loaded = [pair for path in paths for pair in load(path)]
    sources = [source for source, _ in loaded]
    files = merge([file for _, file in loaded])

    if console is None:
        to_stdout = any(target == "-" for target in (markdown, json_out, csv))
        console = results_console(stderr=to_stdout)
    for position, file in enumerate(files):
        if position:
            console.print()
        table = results_table(
            file.results, title=f"{file.machine.label}: {machine_summary(file.machine)}"
        )
        settings = settings_summary(file.settings)
        if settings:
            table.caption = settings + (f"\n{table.caption}" if table.caption else "")
        console.print(table)

    if json_out is not None:
        text = json.dumps(merged_dict(files, sources), indent=2, ensure_ascii=False) + "\n"
        write_text(json_out, text, what="JSON")
    if csv is not None:
        write_text(csv, merged_csv(files), what="CSV")
    if markdown is not None:
        write_text(markdown, merged_markdown(files), what="Markdown")
    if plot is not None:
        from .plot import plot as draw

        draw([(file.machine.label, file.results) for file in files], plot)
    return 0
