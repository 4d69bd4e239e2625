"""A command line imports what its command needs, and nothing the other commands need.

Each case runs ``python -X importtime -m xloop ...`` and reads the modules the process
imported off its trace: which modules, not how long they took, so the check does not
depend on the machine's speed (``benchmarks/cli_start.py`` times the same commands).
The help a command line shows is the same whether the other commands were built with
their options or only listed (:func:`xloop.cli.build`).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from tests.cli._support import clean_env
from tests.server.harness import ONCE_UNDER_WINE
from xloop import cli

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE

#: Imported by the server, its parsers and engines, compare and report: never by the
#: commands below.
SERVER_AND_COMPARE = ("xloop.server", "xloop.http", "xloop.ws", "xloop.compare")


def imported(argv: list[str], cwd: Path, extra: dict[str, str] | None = None) -> set[str]:
    """The modules ``xloop ARGV`` imports, in a process of its own (``extra``: environment
    variables to set)."""
    env = clean_env({"COLUMNS": "100", **(extra or {})})
    for name in ("COVERAGE_PROCESS_START", "COVERAGE_PROCESS_CONFIG"):
        env.pop(name, None)  # coverage, started in the process, would import more
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "xloop", *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        encoding="utf-8",  # not the locale's: rich's tables under Windows' cp1252 do not decode
        errors="replace",
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "xloop" in names  # the trace was read
    return names


def under(names: set[str], *packages: str) -> list[str]:
    return sorted(
        name
        for name in names
        if any(name == package or name.startswith(package + ".") for package in packages)
    )


def test_version_imports_no_command(tmp_path: Path) -> None:
    names = imported(["--version"], tmp_path)
    assert under(names, "xloop") == ["xloop", "xloop._version"]
    assert under(names, "typer", "click", "rich", "asyncio", "typing") == []


def test_which_loop_json_imports_no_server_no_compare_no_rich(tmp_path: Path) -> None:
    names = imported(["which-loop", "--json"], tmp_path)
    assert {"xloop.cli", "xloop.loops.cli", "asyncio"} <= names
    assert under(names, *SERVER_AND_COMPARE, "xloop.config", "xloop.loops.workers") == []
    assert under(names, "rich") == []


def test_which_loop_report_imports_no_rich_and_not_the_server(tmp_path: Path) -> None:
    names = imported(["which-loop"], tmp_path)
    assert {"xloop.loops.plain", "asyncio"} <= names
    assert under(names, *SERVER_AND_COMPARE, "xloop.config", "rich", "xloop.loops.render") == []
    # alone, it is answered without building the command line
    assert under(names, "typer", "click", "xloop.cli") == []


def test_which_loop_all_tables_import_rich(tmp_path: Path) -> None:
    names = imported(["which-loop", "--all"], tmp_path)
    assert {"xloop.loops.render", "rich.table"} <= names
    assert under(names, *SERVER_AND_COMPARE, "xloop.config") == []
    assert "rich._emoji_codes" not in names  # the tables are rendered without emoji codes


def test_which_loop_with_an_option_builds_the_command_line(tmp_path: Path) -> None:
    assert "typer" in imported(["which-loop", "--loop", "selector"], tmp_path)
    # an option set in the environment: the command line reads it
    assert "typer" in imported(["which-loop"], tmp_path, {"XLOOP_LOOP": "selector"})


def test_which_loop_alone_answers_as_the_command_line_does(tmp_path: Path) -> None:
    def answer(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv],
            cwd=tmp_path,
            env=clean_env({"COLUMNS": "100"}),
            capture_output=True,
            encoding="utf-8",
            errors="replace",
            timeout=120,
            check=False,
        )

    quick = answer("-m", "xloop", "which-loop")
    built = answer("-c", "from xloop.cli import main; main(['which-loop'])")
    assert (quick.returncode, quick.stdout, quick.stderr) == (0, built.stdout, built.stderr)
    assert "loop class" in quick.stdout


def test_which_loop_alone_says_an_error_as_the_command_line_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import xloop.__main__
    import xloop.loops.cli
    from xloop.errors import LoopUnavailable

    def unavailable(**_: object) -> None:
        raise LoopUnavailable("no loop here", hint="install one")

    for name in xloop.__main__.WHICH_LOOP_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(xloop.loops.cli, "which_loop", unavailable)
    said = []
    for main in (xloop.__main__.main, cli.main):
        with pytest.raises(SystemExit) as stopped:
            main(["which-loop"])
        said.append((stopped.value.code, capsys.readouterr().err))
    assert said[0] == said[1]
    code, err = said[0]
    assert code == LoopUnavailable.exit_code
    assert err.startswith("xloop: error: no loop here")
    assert err.count("\n") == 1


@pytest.mark.skipif(
    importlib.util.find_spec("typer._click") is None, reason="this typer runs on click itself"
)
def test_typer_with_its_own_click_does_not_bring_click(tmp_path: Path) -> None:
    assert under(imported(["which-loop", "--json"], tmp_path), "click") == []


def test_help_imports_no_declarations(tmp_path: Path) -> None:
    names = imported(["--help"], tmp_path)
    assert under(names, *SERVER_AND_COMPARE, "xloop.config", "xloop.loops") == []


def test_serve_help_imports_serve_options_only(tmp_path: Path) -> None:
    names = imported(["serve", "--help"], tmp_path)
    assert "xloop.config" in names
    assert under(names, "xloop.server", "xloop.compare", "xloop.loops.cli") == []


def test_compare_help_imports_no_server(tmp_path: Path) -> None:
    names = imported(["compare", "--help"], tmp_path)
    assert "xloop.compare.settings" in names
    assert under(names, "xloop.server", "xloop.config", "xloop.loops.cli") == []


def shown(app: typer.Typer, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    command = typer.main.get_command(app)
    assert command.main(args=argv, prog_name="xloop", standalone_mode=False) in (0, None)
    return capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["serve", "--help"],
        ["which-loop", "--help"],
        ["compare", "--help"],
        ["report", "--help"],
    ],
)
def test_help_is_the_same_with_only_the_named_command_built(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "dumb")
    named = [argv[0]] if argv[0] in cli.COMMANDS else []
    lazy = shown(cli.build(named), argv, capsys)
    full = shown(cli.build(), argv, capsys)
    assert lazy == full
    if argv == ["--help"]:  # the root help lists every command
        assert all(f" {name} " in full for name in cli.COMMANDS), full
