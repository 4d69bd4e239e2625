"""What ``xloop compare`` does on the command line: progress, the table, the files.

Exit codes: 0 every row measured cleanly; 1 a row has errors or failed (the table, the
JSON and the other files still say which and why); 2 a usage error; 3 the app could not
be loaded; 4 a server could not bind its port; 130 interrupted.
"""

from __future__ import annotations

import sys
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from ..errors import ConfigError
from . import render
from .runner import Settings, compare

__all__ = ["run_compare", "split_list"]


def split_list(value: str | None, option: str) -> list[str] | None:
    """``"a,b, c"`` -> ``["a", "b", "c"]``; None stays None (the default)."""
    if value is None:
        return None
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise ConfigError(f"{option} is empty", hint=f"give a comma-separated list to {option}")
    return list(dict.fromkeys(items))


def run_compare(
    settings: Settings,
    *,
    json_path: str | None = None,
    csv_path: str | None = None,
    markdown_path: str | None = None,
    plot_path: str | None = None,
    quiet: bool = False,
) -> int:
    """Run the comparison with a progress bar, print the table, write the files."""
    if plot_path is not None:
        from .plot import check_plot_path

        check_plot_path(plot_path)  # before minutes of measuring, not after
    # A file written to stdout ("-") keeps stdout to itself: the table goes to stderr.
    to_stdout = "-" in (json_path, csv_path, markdown_path)
    render.check_stdout_targets(json=json_path, csv=csv_path, markdown=markdown_path)
    out = render.results_console(stderr=to_stdout)
    err = render.results_console(stderr=True)
    command = "xloop " + " ".join(sys.argv[1:]) if sys.argv[1:] else "xloop compare"
    progress_bar = Progress(
        TextColumn("[bold]compare[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=err,
        transient=True,
        disable=quiet,
    )
    with progress_bar:
        task = progress_bar.add_task("starting", total=None)

        def progress(done: int, total: int, what: str) -> None:
            progress_bar.update(task, completed=done, total=total, description=what)

        result = compare(settings, command=command, progress=progress)
    out.print(render.results_table(result.results, title=_title(result.settings)))
    for line in _footer(result.settings, result.results):
        out.print(line, highlight=False)
    render.write_outputs(
        result,
        json_path=json_path,
        csv_path=csv_path,
        markdown_path=markdown_path,
        plot_path=plot_path,
    )
    return 0 if all(row.status == "ok" for row in result.results) else 1


def _title(settings: dict[str, Any]) -> str:
    return (
        f"xloop compare: {settings['app']}, {settings['connections']} connections, "
        f"{settings['rounds']} x {settings['duration_s']:g}s rounds "
        f"(+{settings['warmup_s']:g}s warmup), client {settings['client']}"
    )


def _footer(settings: dict[str, Any], rows: list[Any]) -> list[str]:
    lines = [f"pinning: {settings['pinning']}"]
    measured = [
        row
        for row in rows
        if row.client == "builtin" and row.requests_per_second and row.client_cpu_percent
    ]
    if measured:
        # The busiest row says most about the client: its fixed costs are spread thinnest.
        fastest = max(measured, key=lambda row: row.requests_per_second)
        capacity = fastest.requests_per_second / (fastest.client_cpu_percent / 100.0)
        lines.append(
            f"built-in client: {fastest.client_cpu_percent:.0f}% CPU at the fastest row "
            f"({fastest.label} {fastest.workload}), so about {capacity:,.0f}/s at 100%: "
            f"{capacity / fastest.requests_per_second:.1f}x that row"
        )
    bad = [row for row in rows if row.status != "ok"]
    if bad:
        lines.append(f"{len(bad)} row(s) with errors: see the notes above; exit code 1")
    return lines
