"""The README's every-loop-on-every-OS table is what the platform files render to."""

from __future__ import annotations

from pathlib import Path

import pytest

from xloop.loops.check import load
from xloop.loops.table import BEGIN, END, FILES, main, render, replace_table

ROOT = Path(__file__).resolve().parents[2]


def rendered() -> str:
    return render([load(ROOT / "platforms" / name) for name in FILES])


def test_the_readme_holds_the_rendered_table() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    between = readme[readme.index(BEGIN) + len(BEGIN) : readme.index(END)]
    assert between == "\n" + rendered(), "run: python -m xloop.loops.table --write README.md"


def test_the_table_has_every_loop_and_what_it_lacks() -> None:
    table = rendered()
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    assert list(rows) == [
        "asyncio", "selector", "proactor", "uvloop", "winloop", "rloop", "rsloop", "zuvloop"
    ]  # fmt: skip
    windows = [line.split(" | ")[3] for line in table.splitlines()[2:]]
    assert "add_reader: no" in windows[2]  # proactor
    assert "subprocess: no" in windows[1]  # selector
    assert windows[5].startswith("-")  # rloop: no Windows build
    assert "transport_close: broken" in rows["rloop"]


def test_write_replaces_only_the_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "doc.md"
    target.write_text(f"before\n{BEGIN}\nstale\n{END}\nafter\n", encoding="utf-8")
    assert main(["--platforms", str(ROOT / "platforms"), "--write", str(target)]) == 0
    assert target.read_text(encoding="utf-8") == f"before\n{BEGIN}\n{rendered()}{END}\nafter\n"
    assert main(["--platforms", str(ROOT / "platforms")]) == 0
    assert capsys.readouterr().out == rendered()
    assert replace_table(f"{BEGIN}x{END}", "t\n") == f"{BEGIN}\nt\n{END}"
