"""``xloop compare --servers``: other ASGI servers run the same app on the row's loop and
parser, rows they cannot run say why, and their ratio is against xloop on the same row."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from xloop import loops
from xloop._version import module_command
from xloop.compare import columns, others, runner
from xloop.compare import plan as planning
from xloop.compare.model import Result, ResultFile, Round
from xloop.compare.plan import default_loops, default_parsers
from xloop.compare.runner import compare
from xloop.compare.settings import Settings
from xloop.errors import ConfigError

from ..cli._support import http_get, write_hello, xloop_process
from .test_compare import assert_clean, short

pytestmark = pytest.mark.timeout(180)

needs_uvicorn = pytest.mark.skipif(
    importlib.util.find_spec("uvicorn") is None, reason="uvicorn is not installed"
)


def assert_xloop_clean(row: Result) -> None:
    """:func:`assert_clean`, except where the OS could not deliver the stop signal (Wine
    never delivers Ctrl+Break): then the row says the count was not checked."""
    if row.server_requests is None and any("was killed" in note for note in row.notes):
        assert row.status == "ok", row.notes
        assert row.requests_per_second
        assert row.errors == row.non_2xx == 0
        return
    assert_clean(row)


def every_server_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(others, "installed", lambda name: True)


@needs_uvicorn
def test_uvicorn_beside_xloop_on_every_loop_and_parser_here() -> None:
    loop_names, parsers = default_loops(), default_parsers()
    result = compare(short(servers=["xloop", "uvicorn"], loops=loop_names))
    rows = result.results
    assert len(rows) == 2 * len(loop_names) * len(parsers)
    xloop = {(row.loop, row.http): row for row in rows if row.server == "xloop"}
    uvicorn = {(row.loop, row.http): row for row in rows if row.server == "uvicorn"}
    assert set(xloop) == set(uvicorn)
    for row in xloop.values():
        assert_xloop_clean(row)
    for (loop, parser), row in uvicorn.items():
        assert row.label == f"uvicorn {xloop[(loop, parser)].label}"
        if loop not in ("asyncio", "uvloop"):
            assert row.status == "skipped"
            assert row.notes == [f"loop {loop} not supported by uvicorn (it runs asyncio, uvloop)"]
            assert row.requests_per_second is None
            continue
        assert row.status == "ok", row.notes
        assert row.requests_per_second
        assert row.errors == row.non_2xx == 0
        # uvicorn keeps no count: the check is skipped, and the row says so
        assert row.server_requests is None
        assert row.client_responses
        assert "count check n/a: uvicorn does not report its count" in row.notes
        # against xloop on the same loop and parser
        base = xloop[(loop, parser)]
        assert row.baseline == f"xloop {base.label}"
        assert row.ratio == pytest.approx(
            (row.requests_per_second or 0) / (base.requests_per_second or 1)
        )
    data = json.loads(json.dumps(result.to_dict()))
    assert {item["server"] for item in data["results"]} == {"xloop", "uvicorn"}
    assert ResultFile.from_dict(data).results[-1].server == "uvicorn"


def test_a_server_not_installed_is_a_row_that_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(others, "installed", lambda name: name == "xloop")
    result = compare(short(servers=["xloop", "hypercorn"], loops=["asyncio"], http=["h11"]))
    xloop, hypercorn = result.results
    assert_xloop_clean(xloop)
    assert hypercorn.server == "hypercorn"
    assert hypercorn.status == "skipped"
    assert hypercorn.notes == ["hypercorn is not installed: pip install hypercorn"]
    assert hypercorn.rounds == []
    assert hypercorn.ratio is None


@needs_uvicorn
def test_a_server_that_does_not_start_fails_its_row_with_its_log(tmp_path: Path) -> None:
    (tmp_path / "broken.py").write_text("raise RuntimeError('this app cannot load')\n")
    settings = short(servers=["uvicorn"], loops=["asyncio"], http=["h11"], app="broken:app")
    settings.app_dir = str(tmp_path)
    (row,) = compare(settings).results
    assert row.status == "failed"
    (note,) = row.notes
    assert note.startswith("did not start: uvicorn exited with code")
    assert "this app cannot load" in note


def test_what_each_server_can_run(monkeypatch: pytest.MonkeyPatch) -> None:
    if "uvloop" not in loops.available_backends():
        pytest.skip("uvloop is not available here")
    every_server_installed(monkeypatch)
    settings = short(
        servers=list(others.SERVERS),
        loops=["asyncio", "uvloop"],
        http=["h11", "httptools"],
        ws=["websockets", "wsproto"],
        workloads=["plaintext", "websocket", "echo"],
    )
    skipped = {(t.result.workload, t.result.label): t.skip for t in planning.targets(settings)}
    # granian: its own parser and WebSocket engine, one row per loop
    granian = [key for key in skipped if key[1].startswith("granian")]
    assert granian == [
        ("plaintext", "granian asyncio/own"),
        ("plaintext", "granian uvloop/own"),
        ("websocket", "granian asyncio/own"),
        ("websocket", "granian uvloop/own"),
        ("echo", "granian asyncio/tcp"),
        ("echo", "granian uvloop/tcp"),
    ]
    assert skipped[("plaintext", "granian uvloop/own")] is None
    assert skipped[("plaintext", "hypercorn uvloop/httptools")] == (
        "httptools not supported by hypercorn"
    )
    assert skipped[("plaintext", "hypercorn asyncio/h11")] is None
    assert skipped[("websocket", "hypercorn asyncio/websockets")] == (
        "WebSocket engine websockets not supported by hypercorn"
    )
    assert skipped[("websocket", "uvicorn asyncio/wsproto")] is None
    for server in ("uvicorn", "granian", "hypercorn"):
        assert "xloop's own echo server" in str(skipped[("echo", f"{server} asyncio/tcp")])
    assert all(skip is None for (_, label), skip in skipped.items() if " " not in label)


def test_each_server_gets_its_own_flags_for_the_row() -> None:
    common: dict[str, Any] = {"app": "pkg:app", "factory": False, "host": "127.0.0.1"}
    assert others.command(
        "uvicorn", loop="uvloop", parser="httptools", ws=None, port=8001, keep_alive=3600,
        **common,
    ) == [
        "uvicorn", "pkg:app", "--loop", "uvloop", "--http", "httptools", "--ws", "none",
        "--no-access-log", "--lifespan", "auto", "--host", "127.0.0.1", "--port", "8001",
        "--timeout-keep-alive", "3600",
    ]  # fmt: skip
    assert others.command(
        "granian", loop="asyncio", parser="own", ws=None, port=8002, keep_alive=None, **common
    ) == [
        "granian", "--interface", "asgi", "--loop", "asyncio", "--http", "1",
        "--workers", "1", "--runtime-threads", "1", "--no-ws",
        "--host", "127.0.0.1", "--port", "8002", "pkg:app",
    ]  # fmt: skip
    common["factory"] = True
    assert others.command(
        "hypercorn",
        loop="uvloop",
        parser="h11",
        ws="wsproto",
        port=8003,
        keep_alive=None,
        **common,
    ) == ["hypercorn", "--worker-class", "uvloop", "--bind", "127.0.0.1:8003", "pkg:app()"]


def _row(server: str, loop: str, http: str, rps: float) -> Result:
    row = Result(loop, None, None, http, "plaintext", "builtin", 4, server=server)
    row.requests_per_second = rps
    return row


def test_granians_ratio_is_against_xloops_httptools_row_else_h11() -> None:
    rows = [
        _row("xloop", "asyncio", "h11", 100.0),
        _row("xloop", "asyncio", "httptools", 400.0),
        _row("xloop", "uvloop", "h11", 200.0),
        _row("granian", "asyncio", "own", 800.0),
        _row("granian", "uvloop", "own", 800.0),
    ]
    settings = short(servers=["xloop", "granian"], loops=["asyncio", "uvloop"])
    assert runner._ratios(rows, settings) == "asyncio"
    assert [(row.baseline, row.ratio) for row in rows] == [
        ("asyncio", 1.0),
        ("asyncio", 1.0),
        ("asyncio", 2.0),
        ("xloop asyncio/httptools", 2.0),
        ("xloop uvloop/h11", 4.0),
    ]
    # without xloop: each server against itself on the baseline loop
    alone = [_row("granian", "asyncio", "own", 800.0), _row("granian", "uvloop", "own", 400.0)]
    runner._ratios(alone, short(servers=["granian"], loops=["asyncio", "uvloop"]))
    assert [(row.baseline, row.ratio) for row in alone] == [("asyncio", 1.0), ("asyncio", 0.5)]


def test_the_ratio_is_also_taken_round_by_round() -> None:
    def measured(row: Result, *per_round: float | None) -> Result:
        row.rounds = [Round(index, requests_per_second=rps) for index, rps in enumerate(per_round)]
        row.summarize()
        return row

    # round 1 was slow for both rows: the medians' ratio hides it, the pairs do not
    xloop = measured(_row("xloop", "asyncio", "httptools", 0), 150.0, 50.0, 140.0, None)
    uvicorn = measured(_row("uvicorn", "asyncio", "httptools", 0), 100.0, 40.0, 70.0, 60.0)
    runner._ratios([xloop, uvicorn], short(servers=["xloop", "uvicorn"], loops=["asyncio"]))
    assert (xloop.ratio, xloop.ratio_min, xloop.ratio_max) == (1.0, 1.0, 1.0)
    assert uvicorn.ratio == pytest.approx(65 / 140)  # medians: 65 (of 4 rounds) over 140
    assert (uvicorn.ratio_min, uvicorn.ratio_max) == pytest.approx((0.5, 0.8))  # rounds 0-2
    assert columns.ratio(uvicorn) == "0.46x (0.50\N{EN DASH}0.80)"
    assert columns.ratio(xloop) == "1.00x"  # no spread to show
    # one round in both rows: no spread; a file made before it has none either
    lone = measured(_row("uvicorn", "asyncio", "httptools", 0), None, None, 70.0)
    runner._ratios([xloop, lone], short(servers=["xloop", "uvicorn"], loops=["asyncio"]))
    assert (lone.ratio_min, lone.ratio_max) == (None, None)
    old = uvicorn.to_dict()
    del old["ratio_min"], old["ratio_max"]
    assert columns.ratio(Result.from_dict(old)) == "0.46x"


def test_an_unknown_server_is_a_usage_error() -> None:
    with pytest.raises(ConfigError, match="server"):
        Settings(servers=["nginx"])


@pytest.mark.parametrize("server", ["granian", "hypercorn"])
def test_granian_and_hypercorn_where_installed(server: str) -> None:
    if importlib.util.find_spec(server) is None:
        pytest.skip(f"{server} is not installed")
    result = compare(short(servers=[server], loops=["asyncio"], http=["h11"]))
    (row,) = result.results
    assert row.status == "ok", row.notes
    assert row.requests_per_second
    assert row.errors == row.non_2xx == 0
    assert f"count check n/a: {server} does not report its count" in row.notes
    # measured on the process that serves (both run their worker as a child)
    assert row.server_cpu_ms_per_1k


def test_xloop_servers_import_the_xloop_compare_imported_not_the_working_directorys(
    tmp_path: Path,
) -> None:
    """Run in a source tree, ``python -m xloop`` imports the tree's package before the
    installed one (a compiled build's): the servers compare starts do not, and still find
    the app in the working directory."""
    shadow = tmp_path / "xloop"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("", encoding="utf-8")
    (shadow / "__main__.py").write_text("print('the working directory xloop')\n", "utf-8")
    write_hello(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "xloop", "--version"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.stdout.startswith("the working directory xloop"), done  # the trap
    pyargs = module_command("xloop", working_directory=False)[1:]
    with xloop_process(["serve", "main:app", "--port", "0"], cwd=tmp_path, pyargs=pyargs) as server:
        response = http_get(server.wait_port())
    assert response.status == 200
    assert response.body == b"Hello, world!"


def test_the_processes_xloop_starts_see_the_working_directory_where_it_does(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(tmp_path), *sys.path[1:]])  # python -m xloop
    assert module_command("xloop") == [sys.executable, "-m", "xloop"]
    monkeypatch.setattr(sys, "path", ["", *sys.path[1:]])  # python -c
    assert module_command("xloop") == [sys.executable, "-m", "xloop"]
    monkeypatch.setattr(sys, "path", [str(tmp_path / "bin"), *sys.path[1:]])  # the xloop script
    assert module_command("xloop")[1] == "-c"
