"""The README's every-loop-on-every-OS table is what the platform files render to."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.loops.test_check import THIS_OS_FILE, needs_known_os
from xloop.loops import LOOP_NAMES, availability, table
from xloop.loops.capabilities import PROBES
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


@needs_known_os
@pytest.mark.timeout(300)  # a child interpreter per loop: seconds under Wine
def test_probe_prints_results_this_os_file_accepts(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--probe``: platform-file lines of this machine's live results (the stdlib loop
    here), and one comment for a loop that is not available."""
    found = availability()
    missing = next(name for name in LOOP_NAMES[1:] if not found[name][0])
    monkeypatch.setattr(table, "LOOP_NAMES", ("auto", "asyncio", missing))
    assert main(["--probe"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "[asyncio.capabilities]"
    assert lines[-1] == f"# [{missing}] not available here: {found[missing][1]}"
    results = dict(line.replace('"', "").split(" = ") for line in lines[1:-1])
    assert "eager_tasks" not in results  # its result depends on the Python version
    assert set(results) == set(PROBES) - {"eager_tasks"}
    assert THIS_OS_FILE is not None
    expected = load(THIS_OS_FILE).loops["asyncio"].capabilities
    assert expected, "the platform file names the stdlib loop's capabilities"
    for probe_name, accepted in expected.items():
        assert results[probe_name] in accepted, (probe_name, results[probe_name], accepted)
