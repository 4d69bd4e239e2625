"""``xloop report``: reading result files, merging them, writing the merged outputs."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from rich.console import Console

from xloop.compare.model import ResultFile
from xloop.compare.report import REPORT_SCHEMA, load, merge, report
from xloop.errors import ConfigError

from .samples import markdown_table_lines, sample_file, split_cells


def write_file(directory: Path, name: str, label: str) -> Path:
    path = directory / name
    path.write_text(json.dumps(sample_file(label).to_dict()), encoding="utf-8")
    return path


def quiet_console() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, width=400, color_system=None), sink


def test_report_of_two_machines(tmp_path: Path) -> None:
    first = write_file(tmp_path, "linux.json", "linux-a")
    second = write_file(tmp_path, "macos.json", "macos-b")
    console, sink = quiet_console()
    out = {name: tmp_path / "out" / f"report.{name}" for name in ("md", "json", "csv")}
    code = report(
        [str(first), str(second)],
        markdown=str(out["md"]),
        json_out=str(out["json"]),
        csv=str(out["csv"]),
        console=console,
    )
    assert code == 0
    shown = sink.getvalue()
    assert "linux-a: Linux-6.1.0" in shown
    assert "macos-b: Linux-6.1.0" in shown
    assert "64 connections" in shown
    assert shown.count("winloop/h11") == 2

    markdown = out["md"].read_text(encoding="utf-8")
    lines = markdown_table_lines(markdown)
    assert len(lines) == 2 + 14
    assert {len(split_cells(line)) for line in lines} == {14}
    assert {split_cells(line)[0] for line in lines[2:]} == {"linux-a", "macos-b"}

    merged = json.loads(out["json"].read_text(encoding="utf-8"))
    assert merged["schema"] == REPORT_SCHEMA
    assert [entry["source"] for entry in merged["files"]] == [str(first), str(second)]
    assert ResultFile.from_dict(merged["files"][0]) == sample_file("linux-a")

    rows = list(csv.DictReader(io.StringIO(out["csv"].read_text(encoding="utf-8"))))
    assert [row["machine"] for row in rows] == ["linux-a"] * 7 + ["macos-b"] * 7


def test_report_same_label_twice_keeps_both(tmp_path: Path) -> None:
    first = write_file(tmp_path, "one.json", "linux")
    second = write_file(tmp_path, "two.json", "linux")
    third = write_file(tmp_path, "three.json", "linux#2")  # a label that looks taken
    console, sink = quiet_console()
    md = tmp_path / "r.md"
    report([str(first), str(second), str(third)], markdown=str(md), console=console)
    text = md.read_text(encoding="utf-8")
    assert "- **linux**: " in text
    assert "- **linux#2**: " in text
    assert "- **linux#2#2**: " in text
    machines = [split_cells(line)[0] for line in markdown_table_lines(text)[2:]]
    assert machines == ["linux"] * 7 + ["linux#2"] * 7 + ["linux#2#2"] * 7
    assert "linux#2: " in sink.getvalue()


def test_merge_does_not_change_its_input() -> None:
    files = [sample_file("x"), sample_file("x")]
    merged = merge(files)
    assert [f.machine.label for f in merged] == ["x", "x#2"]
    assert [f.machine.label for f in files] == ["x", "x"]


def test_merged_json_reads_back(tmp_path: Path) -> None:
    first = write_file(tmp_path, "a.json", "same")
    second = write_file(tmp_path, "b.json", "same")
    merged = tmp_path / "merged.json"
    report([str(first), str(second)], json_out=str(merged), console=quiet_console()[0])
    loaded = load(str(merged))
    assert [source for source, _ in loaded] == [str(first), str(second)]
    assert [file.machine.label for _, file in loaded] == ["same", "same#2"]
    # a report of a report gives the same view
    again = tmp_path / "again.json"
    report([str(merged)], json_out=str(again), console=quiet_console()[0])
    assert json.loads(again.read_text(encoding="utf-8")) == json.loads(
        merged.read_text(encoding="utf-8")
    )


def test_report_markdown_to_stdout_keeps_stdout_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_file(tmp_path, "a.json", "linux")
    assert report([str(path)], markdown="-") == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("### xloop report\n")
    assert "┃" not in captured.out  # the rich table went to stderr
    assert "linux" in captured.err


def test_report_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``xloop report FILE... --markdown - --json F --csv F``: the same outputs as report()."""
    from xloop import cli

    first = write_file(tmp_path, "linux.json", "linux-a")
    second = write_file(tmp_path, "macos.json", "macos-b")
    merged, table = tmp_path / "merged.json", tmp_path / "rows.csv"
    argv = ["report", str(first), str(second), "--markdown", "-"]
    with pytest.raises(SystemExit) as info:
        cli.main([*argv, "--json", str(merged), "--csv", str(table)])
    assert info.value.code == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("### xloop report\n")
    lines = markdown_table_lines(captured.out)
    assert {split_cells(line)[0] for line in lines[2:]} == {"linux-a", "macos-b"}
    data = json.loads(merged.read_text(encoding="utf-8"))
    assert [entry["source"] for entry in data["files"]] == [str(first), str(second)]
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"))))
    assert len(rows) == len(lines) - 2


def test_report_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    first = write_file(tmp_path, "a.json", "linux")
    second = write_file(tmp_path, "b.json", "macos")
    image = tmp_path / "plot.png"
    report([str(first), str(second)], plot=str(image), console=quiet_console()[0])
    assert image.read_bytes().startswith(b"\x89PNG")


def test_report_failed_rows_still_exit_zero(tmp_path: Path) -> None:
    path = write_file(tmp_path, "a.json", "linux")
    assert report([str(path)], console=quiet_console()[0]) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        ("{not json", "not valid JSON: Expecting property name"),
        ("[1, 2]", "the JSON is a list, not an object"),
        ('{"schema": "other/1"}', "schema is 'other/1', expected 'xloop.compare/1'"),
        ('{"schema": "xloop.compare/1"}', "no 'machine' object"),
        ('{"schema": "xloop.compare/1", "machine": {"label": "x"}}', "malformed"),
        (
            '{"schema": "xloop.compare/1", "machine": {"label": "x", "os": "", "system": "",'
            ' "cpu_model": "", "cpu_count": 1, "python": ""}, "results": ["x"]}',
            "malformed",
        ),
        ('{"schema": "xloop.report/1"}', "no 'files' list"),
        (b"\xff\xfe\x00", "not UTF-8"),
    ],
)
def test_report_bad_input(tmp_path: Path, content: str | bytes | None, message: str) -> None:
    path = tmp_path / "input.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as info:
        report([str(path)], console=quiet_console()[0])
    assert info.value.message.startswith(f"{path}: ")
    assert "xloop compare --json" in (info.value.hint or "")
    assert info.value.exit_code == 2


def test_report_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"is a directory|cannot read"):
        report([str(tmp_path)], console=quiet_console()[0])


def test_report_nothing_given() -> None:
    with pytest.raises(ConfigError, match="no result files"):
        report([])


def test_report_bad_plot_suffix_before_reading(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot make an image"):
        report([str(tmp_path / "missing.json")], plot=str(tmp_path / "p.gif"))


def test_report_two_stdout_outputs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--markdown and --csv both write to stdout"):
        report([str(tmp_path / "x.json")], markdown="-", csv="-")
