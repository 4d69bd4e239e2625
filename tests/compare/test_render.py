"""The files of compare results: JSON, Markdown, CSV, the plot, and writing them."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import pytest

from xloop.compare import render
from xloop.compare.model import ResultFile
from xloop.compare.plot import plot
from xloop.compare.render import (
    CSV_COLUMNS,
    merged_csv,
    merged_markdown,
    to_csv,
    to_markdown,
    write_outputs,
)
from xloop.errors import ConfigError

from .samples import (
    SETTINGS,
    make_machine,
    markdown_table_lines,
    sample_file,
    sample_rows,
    split_cells,
)

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
        "pipeline", "idle_connections", "requests_per_second", "requests_per_second_min",
        "requests_per_second_max", "latency_p50_ms", "latency_p90_ms", "latency_p99_ms",
        "latency_max_ms", "errors", "non_2xx", "server_cpu_ms_per_1k", "server_peak_rss_mib",
        "client_cpu_percent", "client_saturated", "server_requests", "client_responses",
        "ratio", "ratio_min", "ratio_max", "baseline", "status", "notes", "label", "rounds",
        "selector_named", "server",
        "workers",
        "tls",
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
