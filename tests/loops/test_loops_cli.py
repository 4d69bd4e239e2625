"""The which-loop command body: text for people (plain, or rich's tables for --all), JSON for
machines."""

from __future__ import annotations

import importlib.util
import json
import platform
import re
import sys
from pathlib import Path

import pytest

import xloop.loops.cli
from xloop import loops
from xloop.errors import ConfigError, LoopUnavailable
from xloop.loops.cli import which_loop

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
linux_only = pytest.mark.skipif(loops.OS_NAME != "Linux", reason="Linux-specific expectations")


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep rich from wrapping long class names."""
    monkeypatch.setenv("COLUMNS", "240")


@linux_only
def test_text_report_for_the_selector_loop(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(loop="selector", selector="poll")
    out = capsys.readouterr().out
    for expected in (
        "xloop which-loop",
        "requested",
        "reason",
        "selector: the stdlib selector loop was requested",
        "asyncio.unix_events._UnixSelectorEventLoop",
        "selectors.PollSelector (selector)",
        "asyncio.selector_events.BaseSelectorEventLoop",
        "builtins.object",
        "_start_serving",
        "create_server",
        f"{platform.python_implementation()} {platform.python_version()}",
        platform.system(),
    ):
        assert expected in out
    assert "\x1b[" not in out  # not a terminal: no colour codes
    assert "{" not in out


@needs_uvloop
def test_text_report_for_uvloop(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop()
    out = capsys.readouterr().out
    assert "auto: uvloop is installed" in out
    assert "uvloop.loop.Loop" in out


@linux_only
def test_text_keeps_square_brackets(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    which_loop()
    out = capsys.readouterr().out
    assert "pip install 'xloop[uvloop]'" in out  # not eaten as rich markup


@linux_only
def test_json_report(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(loop="asyncio", selector="select", as_json=True)
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["schema"] == "xloop.which-loop/1"
    assert report["requested"] == "asyncio"
    assert report["backend"] == "selector"
    assert report["driver"] == {"kind": "selector", "class": "selectors.SelectSelector"}
    assert report["methods"]["_run_once"] == "asyncio.base_events.BaseEventLoop"
    assert out == json.dumps(report, indent=2) + "\n"


def test_all_text(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(all_=True)
    out = capsys.readouterr().out
    for name in loops.LOOP_NAMES:
        assert name in out
    for name in loops.SELECTOR_NAMES[1:]:
        assert name in out
    for available, why in loops.availability().values():
        assert why in out
        assert ("yes" if available else "no") in out
    assert "(default)" in out


def test_all_json(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(all_=True, as_json=True)
    report = json.loads(capsys.readouterr().out)
    assert report["schema"] == "xloop.which-loop.all/1"
    assert [entry["name"] for entry in report["backends"]] == list(loops.LOOP_NAMES)


@pytest.mark.parametrize(("loop", "selector"), [("uvloop", "auto"), ("auto", "poll")])
def test_all_refuses_a_loop_or_selector(loop: str, selector: str) -> None:
    with pytest.raises(ConfigError, match="--all reports every loop and selector"):
        which_loop(loop=loop, selector=selector, all_=True)


def test_bad_input_raises_xloop_errors(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ConfigError, match="unknown loop 'nope'"):
        which_loop(loop="nope", as_json=True)
    with pytest.raises(ConfigError, match="unknown selector 'nope'"):
        which_loop(loop="selector", selector="nope")
    assert capsys.readouterr().out == ""


@linux_only
def test_unavailable_backend_raises(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(LoopUnavailable, match=r"^proactor needs Windows \(IOCP\); available here"):
        which_loop(loop="proactor")
    assert capsys.readouterr().out == ""


def test_capabilities_in_json_and_text(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    which_loop(loop="asyncio", as_json=True, capabilities=True)
    report = json.loads(capsys.readouterr().out)
    names = [entry["name"] for entry in report["capabilities"]]
    assert names[:2] == ["add_reader", "subprocess"]
    assert {entry["result"] for entry in report["capabilities"]} <= {
        "works",
        "fallback",
        "limited",
        "unsupported",
        "not implemented",
    }
    # The text of the same results (probed once: each probe runs in a child interpreter)
    monkeypatch.setattr(xloop.loops.cli, "_probe", lambda *_: report["capabilities"])
    which_loop(loop="asyncio", capabilities=True)
    text = capsys.readouterr().out
    assert "capabilities (probed live)" in text
    for entry in report["capabilities"]:
        assert any(
            line.split() == [entry["name"], *entry["result"].split()] for line in text.splitlines()
        )


def fake_probe(loop: str, selector: str) -> list[dict[str, str]]:
    """What :func:`xloop.loops.cli._probe` returns, made up per loop."""
    assert selector == "auto"
    failing = {"name": "sendfile", "result": "fallback", "detail": f"{loop} copies"}
    return [{"name": "add_reader", "result": "works", "detail": ""}, failing]


def test_capabilities_with_all_probe_every_available_loop(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Which loops are probed, and how their results are reported; the probes themselves
    # are tests/loops/test_capabilities.py's (each loop's, live).
    monkeypatch.setattr(xloop.loops.cli, "_probe", fake_probe)
    which_loop(all_=True, as_json=True, capabilities=True)
    report = json.loads(capsys.readouterr().out)
    available = [entry["name"] for entry in report["backends"] if entry["available"]]
    assert available
    for entry in report["backends"]:
        expected = fake_probe(entry["name"], "auto") if entry["available"] else None
        assert entry.get("capabilities") == expected, entry["name"]

    which_loop(all_=True, capabilities=True)
    text = capsys.readouterr().out
    table = text[text.index("capabilities (probed live)") :].splitlines()
    header = next(line for line in table[1:] if "probe" in line)  # its box drawn by rich
    assert re.findall(r"\w+", header) == ["probe", *available]
    # one line of notes per different detail, naming the loops it applies to
    for name in available:
        assert f"sendfile on {name}: fallback: {name} copies" in table


def test_app_advice_in_text_and_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "advised_app.py").write_text("async def app(scope, receive, send):\n    pass\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    which_loop(loop="selector", app="advised_app:app")
    assert "advised_app:app: no known incompatibility with this loop" in capsys.readouterr().out
    which_loop(loop="selector", app="advised_app:app", as_json=True)
    assert json.loads(capsys.readouterr().out)["advice"] == []


def test_text_report_with_workers_has_the_plan_table(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(loop="asyncio", workers=3)
    out = capsys.readouterr().out
    assert "xloop serve --workers 3" in out
    assert "a supervisor (no app, no loop of yours) + 3" in out
    plan_lines = out[out.index("xloop serve --workers 3") :]
    for row in ("each worker", "processes", "listener", "socket cap"):
        assert row in plan_lines
    loop = loops.resolve("asyncio").factory()
    try:
        assert f"{type(loop).__module__}.{type(loop).__qualname__}" in plan_lines
    finally:
        loop.close()


def test_workers_with_all_is_refused() -> None:
    with pytest.raises(ConfigError, match="--workers says the plan for one loop") as info:
        which_loop(all_=True, workers=2)
    assert info.value.hint == "e.g. xloop which-loop --loop proactor --workers 4"
