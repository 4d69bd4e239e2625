"""``--plot FILE``: a grouped bar chart of the median req/s, one panel per machine.

One group of bars per (workload, parser) (and client, when several were used), one bar
per loop (the selector loop's selector included; a group's bars packed side by side in
one loop order), the same colour for a loop in every panel, its median above it; error
bars span the rounds' min..max. A hatched bar: the load client was saturated. A red
edge: some requests failed or were not 2xx. A ``failed`` row has no bar, only
``<loop>: failed`` written at its place.

matplotlib is optional (``pip install 'xloop[plot]'``): it is imported here, when a plot
is asked for, and drawn with the Agg canvas (no display, no pyplot state). The format
comes from the file's suffix: ``.svg`` or ``.png``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from xloop.errors import ConfigError

from .model import Result

if TYPE_CHECKING:
    from matplotlib.axes import Axes

__all__ = ["FORMATS", "check_plot_path", "plot"]

T = TypeVar("T")
Colour = tuple[float, float, float, float]

FORMATS = ("svg", "png")
"""The image formats ``--plot`` writes, chosen by the file's suffix."""


def check_plot_path(path: str | Path) -> str:
    """The format of ``path`` (``svg`` or ``png``); a :class:`ConfigError` for another, or
    when matplotlib is not installed (checked before any measuring or writing)."""
    suffix = Path(path).suffix.lower()
    fmt = suffix.lstrip(".")
    if fmt not in FORMATS:
        shown = f"suffix {suffix!r}" if suffix else "no suffix"
        raise ConfigError(
            f"--plot {path}: cannot make an image of {shown}",
            hint="name the file *.svg or *.png",
        )
    if importlib.util.find_spec("matplotlib") is None:
        raise _no_matplotlib() from None
    return fmt


def _no_matplotlib() -> ConfigError:
    return ConfigError("--plot needs matplotlib", hint="pip install 'xloop[plot]'")


def _loop_key(row: Result) -> str:
    """The bar's name: the label without its parser (``selector[poll]``, ``uvloop``)."""
    return row.label.rsplit("/", 1)[0]


def _group_key(row: Result, with_client: bool) -> tuple[str, ...]:
    return (row.workload, row.http, row.client) if with_client else (row.workload, row.http)


def _unique(values: Iterable[T]) -> list[T]:
    """The values without repeats, in the order they first come."""
    return list(dict.fromkeys(values))


def _thousands(value: float, _position: int | None = None) -> str:
    return f"{value:,.0f}"


def plot(results_by_machine: list[tuple[str, list[Result]]], path: str | Path) -> None:
    """Draw the chart of ``(machine label, rows)`` pairs into ``path`` (.svg or .png)."""
    fmt = check_plot_path(path)
    try:
        import matplotlib
    except ImportError:
        raise _no_matplotlib() from None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    all_rows = [row for _, rows in results_by_machine for row in rows]
    with_client = len({row.client for row in all_rows}) > 1
    loops = _unique(_loop_key(row) for row in all_rows)
    groups_all = _unique(_group_key(row, with_client) for row in all_rows)
    palette = matplotlib.colormaps["tab10"]
    colour: dict[str, Colour] = {loop: palette(index % 10) for index, loop in enumerate(loops)}

    panels = max(1, len(results_by_machine))
    width = min(28.0, max(6.5, 1.5 + len(groups_all) * (0.6 + 0.35 * max(1, len(loops)))))
    with matplotlib.rc_context({"svg.hashsalt": "xloop", "font.size": 9}):
        figure = Figure(figsize=(width, 1.2 + 3.6 * panels), layout="constrained")
        FigureCanvasAgg(figure)
        axes_list = figure.subplots(panels, 1, squeeze=False)[:, 0]
        for axes, (label, rows) in zip(axes_list, results_by_machine or [("", [])], strict=True):
            _panel(axes, label, rows, loops, colour, with_client)
            axes.yaxis.set_major_formatter(FuncFormatter(_thousands))
        handles = [Patch(facecolor=colour[loop], label=loop) for loop in loops]
        if any(row.client_saturated for row in all_rows):
            handles.append(
                Patch(facecolor="white", edgecolor="black", hatch="///", label="client saturated")
            )
        if any(row.status == "errors" for row in all_rows):
            handles.append(
                Patch(facecolor="white", edgecolor="red", linewidth=1.5, label="with errors")
            )
        if handles:
            figure.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6))
        figure.suptitle("xloop compare: median requests/s (bars: min\N{EN DASH}max over rounds)")
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            figure.savefig(target, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot write the plot: {exc.strerror or exc}",
                hint="choose a writable path",
            ) from None


def _short(value: float) -> str:
    """``950``, ``12.3k``, ``123k``, ``1.2M``: a bar's label."""
    if value >= 1e6:
        return f"{value / 1e6:.1f}M"
    if value >= 1e5:
        return f"{value / 1e3:.0f}k"
    if value >= 1e3:
        return f"{value / 1e3:.1f}k"
    return f"{value:.0f}"


def _panel(
    axes: Axes,
    label: str,
    rows: list[Result],
    loops: list[str],
    colour: dict[str, Colour],
    with_client: bool,
) -> None:
    """One machine: its groups side by side, each group's bars packed in ``loops`` order."""
    groups = _unique(_group_key(row, with_client) for row in rows)
    members = {
        group: sorted(
            (row for row in rows if _group_key(row, with_client) == group),
            key=lambda row: loops.index(_loop_key(row)),
        )
        for group in groups
    }
    bar_width = 0.8 / max((len(group_rows) for group_rows in members.values()), default=1)
    axes.set_title(label, loc="left", fontweight="bold")
    ymax = max(
        (row.requests_per_second_max or row.requests_per_second or 0.0 for row in rows), default=0.0
    )
    for position, group in enumerate(groups):
        group_rows = members[group]
        for slot, row in enumerate(group_rows):
            x = position + (slot - (len(group_rows) - 1) / 2) * bar_width
            _bar(axes, x, bar_width, row, colour[_loop_key(row)], ymax)
    axes.set_xticks(range(len(groups)), ["\n".join(group) for group in groups])
    axes.set_xlim(-0.6, max(len(groups), 1) - 0.4)
    axes.set_ylim(bottom=0, top=ymax * 1.1 if ymax else None)
    tcp = any(row.http == "tcp" for row in rows)
    axes.set_ylabel("requests/s (echo: messages/s)" if tcp else "requests/s")
    axes.grid(axis="y", alpha=0.3)
    axes.set_axisbelow(True)
    if not rows:
        axes.text(0.5, 0.5, "no results", transform=axes.transAxes, ha="center", va="center")


def _bar(axes: Axes, x: float, width: float, row: Result, colour: Colour, ymax: float) -> None:
    median = row.requests_per_second
    if median is None:
        axes.text(
            x, ymax * 0.01, f"{_loop_key(row)}: failed", rotation=90, ha="center",
            va="bottom", color="red", fontsize=8,
        )  # fmt: skip
        return
    low = row.requests_per_second_min if row.requests_per_second_min is not None else median
    high = row.requests_per_second_max if row.requests_per_second_max is not None else median
    errors = row.status == "errors"
    axes.bar(
        x,
        median,
        width=width * 0.95,
        color=colour,
        edgecolor="red" if errors else "black",
        linewidth=1.5 if errors else 0.4,
        hatch="///" if row.client_saturated else None,
        yerr=[[max(0.0, median - low)], [max(0.0, high - median)]],
        capsize=3,
        error_kw={"elinewidth": 1},
    )
    axes.text(x, max(high, median), _short(median), ha="center", va="bottom", fontsize=7)
