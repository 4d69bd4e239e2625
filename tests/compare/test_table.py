"""The terminal table of compare results (rich): every row, never a cut label or figure."""

from __future__ import annotations

import io
import sys

import pytest

from xloop.compare.columns import DASH
from xloop.compare.model import Result, Round
from xloop.compare.table import WIDE, results_console, results_table

from .samples import measured, render_text, sample_rows

# --- rich ---------------------------------------------------------------------------------


def test_table_has_every_row_and_marker() -> None:
    rows = sample_rows()
    text = render_text(results_table(rows, title="my title"))
    assert "my title" in text
    for row in rows:
        assert row.label in text
    assert "12,345 (12,000\N{EN DASH}12,700)" in text
    assert "1.00x" in text
    assert "2.51x" in text
    assert "97% ⚠" in text
    assert "⚠: the load client was saturated (its CPU near 100%)" in text  # the caption
    assert "errors: 3 timeouts | 2 resets" in text
    assert "failed: server did not start: winloop is not installed" in text
    assert "uvloop.Loop" in text
    assert "41.5" in text
    assert "3 / 2" in text


def test_table_failed_row_shows_dashes() -> None:
    rows = sample_rows()
    table = results_table([rows[4]])
    text = render_text(table)
    line = next(line for line in text.splitlines() if "winloop/h11" in line)
    # loop class, req/s, p50, p99, errors, CPU, RSS, client CPU
    assert line.count(DASH) >= 8
    assert "x " not in line  # no ratio


def test_table_right_aligns_numbers() -> None:
    table = results_table(sample_rows())
    justify = {str(column.header): column.justify for column in table.columns}
    assert justify["req/s\n(min\N{EN DASH}max)"] == "right"
    assert justify["p99\nms"] == "right"
    assert justify["loop/parser"] == "left"


def test_table_on_a_narrow_console_folds_then_goes_compact() -> None:
    rows = sample_rows()
    table = results_table(rows, title="[bold]linux[/bold]")
    medium = render_text(table, width=150)
    assert "[bold]linux[/bold]" in medium  # no rich markup taken from a title
    assert "12,345 (12,000\N{EN DASH}12,700)" in medium  # figures are never cut
    assert "asyncio.unix" in medium  # the class column folds
    assert "…" not in medium
    narrow = render_text(table, width=120)
    assert "12,345 ±3%" in narrow
    assert "9,050 ±0.6%" in narrow
    assert "selector[poll]/h11" in narrow
    assert "loop classes: asyncio, selector[poll]: asyncio.unix_events." in narrow
    assert "uvloop: uvloop.Loop" in narrow
    assert "…" not in narrow
    for row in rows:
        assert row.label in narrow
    # the same table draws wide again on a wide console
    assert "12,345 (12,000\N{EN DASH}12,700)" in render_text(table, width=300)


def test_table_without_saturation_has_no_caption() -> None:
    assert results_table([sample_rows()[0]]).caption is None


def test_none_figures_are_dashes() -> None:
    row = sample_rows()[6]  # figures never filled
    text = render_text(results_table([row]))
    line = next(line for line in text.splitlines() if "proactor/h11" in line)
    assert "5,000" in line
    assert DASH in line


def realistic_rows() -> list[Result]:
    """Rows as wide as real ones get: long labels, six-figure req/s with a range, two
    workloads, an errors row, a failed row, a saturated client, echo over TCP."""
    rows = []
    for workload in ("plaintext", "json"):
        base = measured("asyncio", "h11", [120_000, 123_456, 130_000], workload=workload)
        base.ratio, base.baseline = 1.0, "asyncio"
        select = measured(
            "selector", "httptools", [98_000, 99_999, 101_000], workload=workload,
            selector="SelectSelector",
        )  # fmt: skip
        select.ratio, select.baseline = 0.81, "asyncio"
        fast = measured(
            "uvloop", "httptools", [250_000, 254_321, 262_000], workload=workload,
            loop_class="uvloop.Loop", client_cpu=99.0,
        )  # fmt: skip
        fast.client_saturated = True
        fast.ratio, fast.baseline = 2.06, "asyncio"
        rows += [base, select, fast]
    broken = measured(
        "selector", "h11", [1_234, 1_300, 1_100], selector="DevpollSelector",
        errors=1_234, non_2xx=56_789,
    )  # fmt: skip
    broken.notes = ["1234 socket errors, 56789 non-2xx responses", "second note"]
    failed = Result(
        loop="winloop",
        loop_class=None,
        selector=None,
        http="httptools",
        workload="json",
        client="builtin",
        connections=64,
        rounds=[Round(index=0, error="server did not start")],
        notes=["server did not start: winloop is not installed"],
    )
    failed.summarize()
    echo = measured("selector", "tcp", [400_000, 412_345, 420_000], workload="echo",
                    selector="EpollSelector")  # fmt: skip
    echo.ratio, echo.baseline = 1.03, "asyncio"
    return [*rows, broken, failed, echo]


def median_text(row: Result) -> str:
    """The req/s median as every form of the table shows it."""
    assert row.requests_per_second is not None
    return f"{row.requests_per_second:,.0f}"


def assert_nothing_cut(text: str, rows: list[Result], width: int) -> None:
    lines = text.splitlines()
    assert "…" not in text
    assert max(len(line) for line in lines) <= width
    for row in rows:
        # the label whole, on the same line as its whole median (a label never wraps)
        if row.requests_per_second is None:
            assert any(row.label in line for line in lines), row.label
        else:
            want = median_text(row)
            assert any(row.label in line and want in line for line in lines), row.label


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_table_never_cuts_a_label_or_figure(width: int) -> None:
    rows = realistic_rows()
    title = "xloop compare: xloop.demo:app, 64 connections, 3 x 3s rounds, client builtin"
    text = render_text(results_table(rows, title=title), width=width)
    assert_nothing_cut(text, rows, width)
    assert "errors" in text
    assert "1,234 / 56,789" in text
    assert "99% ⚠" in text
    words = " ".join(text.split())  # free text may fold anywhere
    assert "1234 socket errors" in words
    assert "non-2xx responses" in words
    assert "winloop is not installed" in words
    assert "the load client was saturated" in text


@pytest.mark.parametrize("width", [80, 100, 120, 200])
def test_table_never_cuts_with_one_workload(width: int) -> None:
    rows = [row for row in realistic_rows() if row.workload == "plaintext"]
    text = render_text(results_table(rows), width=width)
    assert_nothing_cut(text, rows, width)


def test_table_wide_layout_is_unchanged_when_it_fits() -> None:
    rows = realistic_rows()
    text = render_text(results_table(rows), width=200)
    assert "123,456 (120,000\N{EN DASH}130,000)" in text
    assert "loop class" in text
    assert "asyncio.unix_events._Unix" in text  # the class column folds
    header = next(line for line in text.splitlines() if line.startswith("loop/parser"))
    assert "workload" in header
    assert "client" in header


def test_table_at_80_columns_splits_in_two() -> None:
    rows = realistic_rows()
    text = render_text(results_table(rows, title="my title"), width=80)
    lines = text.splitlines()
    assert lines[0].startswith("my title · client builtin")  # the shared column, said once
    headers = [i for i, line in enumerate(lines) if line.startswith("loop/parser")]
    assert len(headers) == 2
    first, second = lines[headers[0] - 1 : headers[1]], lines[headers[1] - 1 :]
    assert "status" in first[1]
    assert "± spread" in first[1]
    assert "RSS" in second[0]
    assert "client" in second[0]
    assert "non-2xx" in second[1]
    for part in (first, second):
        assert "workload" in part[1]  # two workloads: the column stays
        labels = [line.split()[0] for line in part[3:] if line and line[0].isalpha()]
        assert labels[: len(rows)] == [row.label for row in rows]  # same rows, same order
    assert "123,456 ±4%" in text
    assert "0.81x" in text
    assert "99% ⚠" in text
    # the notes the status column carried, below both tables
    notes = "\n".join(second[len(rows) + 3 :])
    assert "selector[devpoll]/h11 · plaintext: errors: 1234 socket errors" in notes
    assert "winloop/httptools · json: failed: server did not start" in " ".join(notes.split())
    assert "⚠: the load client was saturated" in notes
    assert "loop classes: asyncio, selector[select], selector[devpoll], selector[epoll]" in notes
    assert "second note" not in text  # the first note only


def test_table_shared_columns_go_to_the_title() -> None:
    rows = [row for row in realistic_rows() if row.workload == "plaintext"]
    text = render_text(results_table(rows, title="run · client builtin"), width=80)
    first = text.splitlines()[0]
    assert first == "run · client builtin · workload plaintext"  # client not said twice
    for line in text.splitlines():
        if line.startswith("loop/parser"):
            assert "workload" not in line
            assert "client " not in line.replace("client\n", "")
    one_class = [row for row in rows if row.loop == "uvloop"]
    text = render_text(results_table(one_class), width=80)
    assert text.splitlines()[0] == ("workload plaintext · client builtin · loop class uvloop.Loop")
    assert "loop classes" not in text


def test_table_compact_keeps_a_callers_caption() -> None:
    rows = realistic_rows()
    table = results_table(rows)
    table.caption = f"64 connections · 3 rounds\n{table.caption}"  # as xloop report does
    for width in (80, 120):
        text = render_text(table, width=width)
        assert "64 connections · 3 rounds" in text
        assert text.count("the load client was saturated") == 1
    assert "64 connections · 3 rounds" in render_text(table, width=300)


def test_table_an_overlong_label_wraps_rather_than_being_cut() -> None:
    row = measured("a_very_long_custom_event_loop_name_" * 2, "httptools", [123_456])
    text = render_text(results_table([row]), width=80)
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert row.label in "".join(line.split(" ")[0] for line in text.splitlines())
    assert "123,456" in text


def test_console_is_wide_in_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # not a terminal
    assert results_console().width == WIDE
    monkeypatch.setenv("COLUMNS", "90")
    assert results_console().width == 90
