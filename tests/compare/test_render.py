"""The renderings of compare results: rich table, Markdown, CSV, JSON, plot."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from xloop.compare import render
from xloop.compare.model import Machine, Result, ResultFile, Round
from xloop.compare.plot import plot
from xloop.compare.render import (
    CSV_COLUMNS,
    DASH,
    merged_csv,
    merged_markdown,
    results_table,
    to_csv,
    to_markdown,
    write_outputs,
)
from xloop.errors import ConfigError


def make_machine(label: str = "linux-x86_64-py3.11") -> Machine:
    return Machine(
        label=label,
        os="Linux-6.1.0-x86_64-with-glibc2.36",
        system="Linux",
        cpu_model="Intel(R) Xeon(R) CPU @ 2.20GHz",
        cpu_count=2,
        python="CPython 3.11.7",
        versions={"xloop": "0.1.0", "uvloop": "0.23.0", "winloop": None, "h11": "0.16.0"},
    )


SETTINGS = {
    "connections": 64,
    "duration_s": 3.0,
    "warmup_s": 1.0,
    "rounds": 3,
    "pipeline": 1,
    "client": "builtin",
    "pinning": "server on CPU 0, client on CPU 1",
    "baseline": "asyncio",
}


def measured(
    loop: str,
    http: str,
    rps: list[float],
    *,
    workload: str = "plaintext",
    selector: str | None = None,
    loop_class: str | None = "asyncio.unix_events._UnixSelectorEventLoop",
    errors: int = 0,
    non_2xx: int = 0,
    client_cpu: float = 60.0,
) -> Result:
    row = Result(
        loop=loop,
        loop_class=loop_class,
        selector=selector,
        http=http,
        workload=workload,
        client="builtin",
        connections=64,
        rounds=[
            Round(
                index=i,
                requests=int(value * 3),
                requests_per_second=value,
                latency_p50_ms=1.25 + i,
                latency_p90_ms=2.5,
                latency_p99_ms=12.5 + i,
                latency_max_ms=40.0 + i,
                errors=errors if i == 0 else 0,
                non_2xx=non_2xx if i == 0 else 0,
                server_cpu_s=value * 3 / 20_000,
                client_cpu_percent=client_cpu,
            )
            for i, value in enumerate(rps)
        ],
        server_peak_rss_mib=41.5,
        server_requests=100_000,
        client_responses=99_000,
    )
    row.summarize()
    return row


def sample_rows() -> list[Result]:
    base = measured("asyncio", "h11", [12_000, 12_345, 12_700])
    base.ratio, base.baseline = 1.0, "asyncio"
    fast = measured(
        "uvloop", "httptools", [30_000, 31_000, 29_500], loop_class="uvloop.Loop", client_cpu=97.0
    )
    fast.client_saturated = True
    fast.ratio, fast.baseline = 2.51, "asyncio"
    poll = measured("selector", "h11", [11_000], selector="PollSelector")
    poll.ratio, poll.baseline = 0.89, "asyncio"
    broken = measured("asyncio", "httptools", [9_000, 9_100, 9_050], errors=3, non_2xx=2)
    broken.notes = ["3 timeouts | 2 resets", "second note"]
    failed = Result(
        loop="winloop",
        loop_class=None,
        selector=None,
        http="h11",
        workload="plaintext",
        client="builtin",
        connections=64,
        rounds=[Round(index=0, error="server did not start")],
        notes=["server did not start: winloop is not installed"],
    )
    failed.summarize()
    echo = measured("asyncio", "tcp", [55_000, 56_000, 54_000], workload="echo")
    echo.ratio, echo.baseline = 1.0, "asyncio"
    unmeasured = Result(
        loop="proactor",
        loop_class="asyncio.windows_events.ProactorEventLoop",
        selector=None,
        http="h11",
        workload="json",
        client="builtin",
        connections=64,
        requests_per_second=5_000.0,
    )
    return [base, fast, poll, broken, failed, echo, unmeasured]


def sample_file(label: str = "linux-x86_64-py3.11") -> ResultFile:
    return ResultFile(
        machine=make_machine(label),
        settings=dict(SETTINGS),
        results=sample_rows(),
        command="xloop compare --rounds 3",
        created="2026-11-24T01:02:03+00:00",
    )


def render_text(table: Table, width: int = 400) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def markdown_table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def split_cells(line: str) -> list[str]:
    """The cells of a GFM table line: split on pipes not escaped by a backslash."""
    cells, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells


# --- the model as the renderers see it ----------------------------------------------------


def test_sample_rows_have_the_statuses_the_tests_rely_on() -> None:
    rows = sample_rows()
    assert [row.status for row in rows] == ["ok", "ok", "ok", "errors", "failed", "ok", "ok"]
    assert rows[4].requests_per_second is None
    assert rows[2].label == "selector[poll]/h11"


def test_json_round_trip() -> None:
    file = sample_file()
    data = json.loads(json.dumps(file.to_dict()))
    again = ResultFile.from_dict(data)
    assert again == file
    assert again.to_dict() == file.to_dict()


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


# --- Markdown -----------------------------------------------------------------------------


def test_markdown_is_a_well_formed_table() -> None:
    rows = sample_rows()
    text = to_markdown(rows, machine=make_machine(), settings=SETTINGS)
    lines = markdown_table_lines(text)
    assert len(lines) == 2 + len(rows)
    widths = {len(split_cells(line)) for line in lines}
    assert widths == {13}
    assert set(split_cells(lines[1])) <= {"---", "---:"}
    assert "---:" in split_cells(lines[1])
    # the summary line comes first, then a blank line, then the table
    first, second = text.splitlines()[:2]
    assert first.startswith("**linux-x86\\_64-py3.11**: Linux")
    assert "64 connections" in first
    assert "3 rounds of 3.0 s (warmup 1.0 s)" in first
    assert "uvloop 0.23.0" in first
    assert "winloop" not in first  # not installed: not listed
    assert second == ""


def test_markdown_rows_markers_and_footnotes() -> None:
    rows = sample_rows()
    text = to_markdown(rows)
    lines = markdown_table_lines(text)
    for row, line in zip(rows, lines[2:], strict=True):
        assert split_cells(line)[0] == row.label.replace("[", "\\[").replace("]", "\\]")
    assert "97% ⚠ saturated" in text
    assert "**ERRORS** \\[1\\]" in text
    assert "**FAILED** \\[2\\]" in text
    # notes with pipes are escaped, and each footnote is its own paragraph
    assert (
        "\\[1\\] asyncio/httptools · plaintext · builtin: 3 timeouts \\| 2 resets; second note"
        in text
    )
    assert "\n\n\\[2\\] winloop/h11" in text
    assert "may be the client's ceiling" in text
    assert text.endswith("\n")
    assert not text.startswith("\n")


def test_markdown_without_machine_starts_with_the_table() -> None:
    text = to_markdown(sample_rows()[:1])
    assert text.startswith("| loop/parser |")
    assert "⚠" not in text
    assert "[1]" not in text


def test_markdown_escapes_markup_in_cells() -> None:
    row = sample_rows()[0]
    row.loop_class = "my_mod.Loop|<b>x</b>*y*"
    text = to_markdown([row])
    line = markdown_table_lines(text)[2]
    assert "my\\_mod.Loop\\|\\<b\\>x\\</b\\>\\*y\\*" in line
    assert len(split_cells(line)) == 13


def test_merged_markdown_has_a_machine_column_and_header_list() -> None:
    files = [sample_file("linux-a"), sample_file("macos-b")]
    text = merged_markdown(files)
    assert text.startswith("### xloop report\n")
    assert "- **linux-a**: Linux-6.1.0" in text
    assert "- **macos-b**: " in text
    assert "CPython 3.11.7" in text
    lines = markdown_table_lines(text)
    assert len(lines) == 2 + 2 * len(files[0].results)
    assert {len(split_cells(line)) for line in lines} == {14}
    assert split_cells(lines[0])[0] == "machine"
    assert [split_cells(line)[0] for line in lines[2:]].count("linux-a") == 7
    assert "\\[4\\] macos-b · winloop/h11" in text


# --- CSV ----------------------------------------------------------------------------------


def test_csv_has_every_scalar_field() -> None:
    rows = sample_rows()
    parsed = list(csv.DictReader(io.StringIO(to_csv(rows))))
    assert len(parsed) == len(rows)
    expected = {
        "loop", "loop_class", "selector", "http", "workload", "client", "connections",
        "pipeline", "requests_per_second", "requests_per_second_min",
        "requests_per_second_max", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
        "latency_max_ms", "errors", "non_2xx", "server_cpu_ms_per_1k", "server_peak_rss_mib",
        "client_cpu_percent", "client_saturated", "server_requests", "client_responses",
        "ratio", "baseline", "status", "notes", "label", "rounds", "selector_named",
    }  # fmt: skip
    assert set(parsed[0]) == expected
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert [line["label"] for line in parsed] == [row.label for row in rows]
    assert float(parsed[0]["requests_per_second"]) == 12_345
    assert parsed[0]["rounds"] == "3"
    assert parsed[1]["client_saturated"] == "true"
    assert parsed[0]["client_saturated"] == "false"
    assert parsed[2]["selector"] == "PollSelector"
    assert parsed[3]["notes"] == "3 timeouts | 2 resets; second note"
    assert parsed[4]["status"] == "failed"
    assert parsed[4]["requests_per_second"] == ""
    assert parsed[4]["loop_class"] == ""
    assert parsed[5]["http"] == "tcp"


def test_csv_machine_column() -> None:
    parsed = list(csv.DictReader(io.StringIO(to_csv(sample_rows(), machine=make_machine()))))
    assert next(iter(parsed[0])) == "machine"
    assert {line["machine"] for line in parsed} == {"linux-x86_64-py3.11"}
    merged = list(csv.DictReader(io.StringIO(merged_csv([sample_file("a"), sample_file("b")]))))
    assert [line["machine"] for line in merged] == ["a"] * 7 + ["b"] * 7


# --- write_outputs ------------------------------------------------------------------------


def test_write_outputs_writes_every_file(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    file = sample_file()
    paths = {name: tmp_path / "out" / f"result.{name}" for name in ("json", "csv", "md", "svg")}
    write_outputs(
        file,
        json_path=paths["json"],
        csv_path=paths["csv"],
        markdown_path=paths["md"],
        plot_path=paths["svg"],
    )
    data = json.loads(paths["json"].read_text(encoding="utf-8"))
    assert ResultFile.from_dict(data) == file
    assert paths["csv"].read_text(encoding="utf-8").startswith("machine,label,loop,")
    assert paths["md"].read_text(encoding="utf-8").startswith("**linux-x86\\_64-py3.11**")
    assert "<svg" in paths["svg"].read_text(encoding="utf-8")


def test_write_outputs_dash_is_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    write_outputs(sample_file(), markdown_path="-")
    out = capsys.readouterr().out
    assert "| loop/parser |" in out
    write_outputs(sample_file(), json_path="-")
    assert json.loads(capsys.readouterr().out)["schema"] == "xloop.compare/1"


def test_write_outputs_refuses_two_stdout_outputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both write to stdout"):
        write_outputs(sample_file(), json_path="-", markdown_path="-")


def test_write_outputs_unwritable_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(ConfigError, match="cannot write the CSV") as info:
        write_outputs(sample_file(), csv_path=blocker / "out.csv")
    assert info.value.hint


def test_write_outputs_bad_plot_suffix_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"\.pdf") as info:
        write_outputs(sample_file(), json_path=tmp_path / "r.json", plot_path=tmp_path / "p.pdf")
    assert ".svg or *.png" in (info.value.hint or "")
    assert not (tmp_path / "r.json").exists()


# --- plot ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_plot_writes_an_image(tmp_path: Path, suffix: str) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / f"plot{suffix}"
    plot([("linux-a", sample_rows()), ("macos-b", sample_rows()[:3])], path)
    data = path.read_bytes()
    assert len(data) > 1000
    if suffix == ".png":
        assert data.startswith(b"\x89PNG")
    else:
        assert b"<svg" in data
        assert b"linux-a" in data or b"linux" in data


def test_plot_svg_is_deterministic(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    first, second = tmp_path / "a.svg", tmp_path / "b.svg"
    plot([("m", sample_rows())], first)
    plot([("m", sample_rows())], second)
    assert first.read_bytes() == second.read_bytes()


def test_plot_of_nothing(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "empty.png"
    plot([], path)
    assert path.stat().st_size > 0


def test_plot_bad_suffix() -> None:
    with pytest.raises(ConfigError, match=r"cannot make an image of suffix '\.jpg'"):
        plot([("m", sample_rows())], "out.jpg")
    with pytest.raises(ConfigError, match="no suffix"):
        plot([("m", sample_rows())], "-")


def test_plot_without_matplotlib(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError) as info:
        plot([("m", sample_rows())], tmp_path / "p.svg")
    assert info.value.one_line() == "--plot needs matplotlib (hint: pip install 'xloop[plot]')"
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__
    assert not (tmp_path / "p.svg").exists()


def test_write_text_dash_falls_back_to_utf8(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = io.BytesIO()
    narrow = io.TextIOWrapper(raw, encoding="cp1252")
    monkeypatch.setattr(sys, "stdout", narrow)
    render.write_text("-", "97% ⚠ saturated\n")
    assert raw.getvalue() == "97% ⚠ saturated\n".encode()


def test_console_is_wide_in_a_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    monkeypatch.setattr(sys, "stdout", io.StringIO())  # not a terminal
    assert render.results_console().width == render.WIDE
    monkeypatch.setenv("COLUMNS", "90")
    assert render.results_console().width == 90
