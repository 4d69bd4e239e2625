"""What ``xloop compare`` does on the command line: progress, the table, the files.

Exit codes: 0 every row measured cleanly (rows ``--servers`` skips, a server not installed
or a row it cannot run, included); 1 a row has errors or failed (the table, the
JSON and the other files still say which and why); 2 a usage error; 3 the app could not
be loaded; 4 a server could not bind its port; 130 interrupted.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ConfigError
from . import render, table
from .columns import connections_summary
from .runner import compare
from .settings import CompareOutputs, Settings

__all__ = ["run_compare"]


def run_compare(settings: Settings, outputs: CompareOutputs) -> int:
    """Run the comparison with a progress bar, print the table, write the files."""
    json_path, csv_path = outputs.json, outputs.csv
    markdown_path, plot_path = outputs.markdown, outputs.plot
    # Every output is checked before minutes of measuring, not after.
    if plot_path is not None:
        from .plot import check_plot_path

        check_plot_path(plot_path)
    for option, path in (
        ("--json", json_path),
        ("--csv", csv_path),
        ("--markdown", markdown_path),
        ("--plot", plot_path),
    ):
        _check_writable(option, path)
    # A file written to stdout ("-") keeps stdout to itself: the table goes to stderr.
    to_stdout = "-" in (json_path, csv_path, markdown_path)
    render.check_stdout_targets(json=json_path, csv=csv_path, markdown=markdown_path)
    out = table.results_console(stderr=to_stdout)
    err = table.results_console(stderr=True)
    command = "xloop " + " ".join(sys.argv[1:]) if sys.argv[1:] else "xloop compare"
    progress_bar = Progress(
        TextColumn("[bold]compare[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=outputs.quiet,
    )
    with progress_bar:
        task = progress_bar.add_task("starting", total=None)

        def progress(done: int, total: int, what: str) -> None:
            progress_bar.update(task, completed=done, total=total, description=what)

        result = compare(settings, command=command, progress=progress)
    out.print(table.results_table(result.results, title=_title(result.settings)))
    for line in _footer(result.settings, result.results):
        out.print(line, highlight=False)
    render.write_outputs(
        result,
        json_path=json_path,
        csv_path=csv_path,
        markdown_path=markdown_path,
        plot_path=plot_path,
    )
    return 0 if all(row.status in ("ok", "skipped") for row in result.results) else 1


def _check_writable(option: str, path: str | None) -> None:
    """ConfigError unless ``path`` ("-": stdout) can be written (missing folders are made)."""
    if path is None or path == "-":
        return
    target = Path(path)
    if target.is_dir():
        raise ConfigError(f"{option} {path}: is a directory", hint="name a file")
    folder = target.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not os.access(folder, os.W_OK) or (target.exists() and not os.access(target, os.W_OK)):
        raise ConfigError(f"{option} {path}: not writable", hint="choose another file")


def _title(settings: dict[str, Any]) -> str:
    return (
        f"xloop compare: {settings['app']}, {connections_summary(settings)}, "
        f"{settings['rounds']} x {settings['duration_s']:g}s rounds "
        f"(+{settings['warmup_s']:g}s warmup), client {settings['client']}"
    )


def _footer(settings: dict[str, Any], rows: list[Any]) -> list[str]:
    lines = [f"pinning: {settings['pinning']}"]
    cpus = int(settings.get("client_cpus") or 1)
    rounds = [
        (row, round_)
        for row in rows
        if row.client == "builtin"
        for round_ in row.rounds
        if round_.requests_per_second and round_.client_cpu_percent
    ]
    if rounds:
        # The busiest round says most about the client: its fixed costs are spread thinnest.
        row, busiest = max(rounds, key=lambda item: item[1].requests_per_second or 0.0)
        rps = busiest.requests_per_second or 0.0
        used = (busiest.client_cpu_percent or 0.0) / cpus  # percent of the CPUs it had
        capacity = rps / (used / 100.0)
        lines.append(
            f"built-in client: {used:.0f}% of its {cpus} CPU{'s' if cpus > 1 else ''} at "
            f"{rps:,.0f}/s ({row.label} {row.workload}), so about {capacity:,.0f}/s at 100%: "
            f"{capacity / rps:.1f}x that"
        )
    bad = [row for row in rows if row.status not in ("ok", "skipped")]
    if bad:
        lines.append(f"{len(bad)} row(s) with errors: see the notes above; exit code 1")
    return lines
