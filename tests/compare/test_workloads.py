"""The websocket, io and c10k workloads of ``xloop compare`` end to end: real servers, the
built-in client, every loop here; what each row says when the server cannot do the
workload. (Every workload's clean run on every loop is in ``test_compare.py``.)"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from xloop import loops
from xloop.compare.columns import connections_summary
from xloop.compare.plan import default_engines
from xloop.compare.runner import compare
from xloop.compare.workloads import IO_SLEEP_MS, WORKLOADS
from xloop.ws import engine_available

from ..cli._support import run_cli
from .test_compare import assert_clean, every_loop, one_line, short


@pytest.mark.parametrize("engine", default_engines())
def test_websocket_counts_every_echo_on_every_loop(engine: str) -> None:
    names, selectors = every_loop()
    result = compare(short(loops=names, selectors=selectors, workloads=["websocket"], ws=[engine]))
    assert len(result.results) == len(loops.matrix())
    for row in result.results:
        assert row.http == engine
        assert row.label.endswith(f"/{engine}")
        assert_clean(row)  # the server's count of messages sent == the client's echoes
        assert row.server_requests == row.client_responses
        assert not row.notes


def test_websocket_rows_per_engine_share_a_baseline_per_engine() -> None:
    if not (engine_available("websockets") and engine_available("wsproto")):
        pytest.skip("needs both engines")
    result = compare(short(workloads=["websocket"]))
    engines = [row.http for row in result.results]
    assert sorted(set(engines)) == ["websockets", "wsproto"]
    for row in result.results:
        assert_clean(row)
        if row.loop == "asyncio":
            assert row.ratio == pytest.approx(1.0)


def test_websocket_without_an_engine_row_says_why() -> None:
    result = compare(short(loops=["asyncio"], workloads=["websocket"], ws=["none"]))
    (row,) = result.results
    assert row.status == "failed"
    assert row.http == "none"
    assert row.requests_per_second is None
    # what the server reported at start, and what the handshake got back
    assert "without a WebSocket engine" in row.notes[0], row.notes
    assert any("refused the WebSocket handshake: HTTP/1.1 426" in note for note in row.notes)
    assert row.server_requests == 0  # no message was ever sent


def test_websocket_against_an_app_without_the_route_says_why(tmp_path: Path) -> None:
    (tmp_path / "plain.py").write_text(
        "async def app(scope, receive, send):\n"
        "    if scope['type'] == 'websocket':\n"
        "        await send({'type': 'websocket.close'})\n"
        "        return\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': b'ok'})\n"
    )
    result = compare(
        short(app="plain:app", app_dir=str(tmp_path), loops=["asyncio"], workloads=["websocket"])
    )
    for row in result.results:
        assert row.status == "failed"
        assert any("HTTP/1.1 403" in note for note in row.notes), row.notes


def test_io_awaits_the_timer_on_every_loop() -> None:
    names, selectors = every_loop()
    result = compare(short(loops=names, selectors=selectors, workloads=["io"], http=["h11"]))
    for row in result.results:
        assert_clean(row)
        assert row.latency_p50_ms is not None
        assert row.latency_p50_ms >= IO_SLEEP_MS, row  # every answer waited for the timer
        # 4 connections each waiting 10 ms per request: at most 400/s
        assert (row.requests_per_second or 0) <= 4 * 1000 / IO_SLEEP_MS


def test_io_and_c10k_take_their_own_connections_by_default() -> None:
    settings = short(workloads=["io", "c10k"], connections=None, loops=["asyncio"], http=["h11"])
    assert settings.connections_for("io") == WORKLOADS["io"].connections == 256
    assert settings.connections_for("c10k") == 16
    assert settings.connections_for("plaintext") == 64


def test_c10k_holds_every_connection_open_on_every_loop() -> None:
    names, selectors = every_loop()
    result = compare(
        short(loops=names, selectors=selectors, workloads=["c10k"], http=["h11"], rounds=2)
    )
    for row in result.results:
        # the client checks every held connection is still open at the end of each round
        assert_clean(row)
        assert row.connections == 4
        assert row.idle_connections == 196


@pytest.mark.skipif(
    "select" not in {selector for _, selector in loops.matrix()}, reason="no select() here"
)
def test_c10k_past_the_select_cap_says_the_server_stopped_accepting() -> None:
    # 1100 sockets: past select()'s FD_SETSIZE of 1024 on Linux, and its 512 on Windows
    result = compare(
        short(loops=["selector"], selectors=["select"], workloads=["c10k"], http=["h11"],
              c10k_connections=1100)
    )  # fmt: skip
    (row,) = result.results
    assert row.status == "errors"
    # the first note (the one the table shows) is the server's own warning: it stopped
    # accepting at the cap, and did not die of it
    assert re.match(
        r"the server stopped accepting: not accepting connections for now: select\(\) watches "
        r"(descriptors numbered below 1024 only|at most 512 sockets)",
        row.notes[0],
    ), row.notes
    assert not any("server exited" in note for note in row.notes), row.notes


def test_c10k_holding_fewer_than_in_flight_is_refused(tmp_path: Path) -> None:
    done = run_cli(
        ["compare", "--quiet", "--workload", "c10k", "--c10k-connections", "8",
         "--connections", "16"],
        cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert done.code == 2
    assert "--c10k-connections 8 is fewer than the 16" in one_line(done)


def test_unknown_or_missing_engine_is_a_usage_error(tmp_path: Path) -> None:
    done = run_cli(["compare", "--quiet", "--ws", "tornado"], cwd=tmp_path, timeout=60)
    assert done.code == 2
    assert "unknown WebSocket engine 'tornado'" in one_line(done)


@pytest.mark.skipif(loops.IS_WINDOWS, reason="the stand-in wrk is a POSIX shell script")
@pytest.mark.parametrize(
    ("workload", "needle"), [("websocket", "speaks WebSocket"), ("c10k", "holds idle connections")]
)
def test_external_clients_refuse_what_they_cannot_drive(
    tmp_path: Path, workload: str, needle: str
) -> None:
    fake = tmp_path / "wrk"
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    done = run_cli(
        ["compare", "--quiet", "--client", "wrk", "--workload", workload],
        cwd=tmp_path,
        env={"PATH": f"{tmp_path}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=60,
    )
    assert done.code == 2
    line = one_line(done)
    assert needle in line
    assert f"--client builtin for --workload {workload}" in line


def test_the_connections_summary_names_each_workloads_own() -> None:
    settings = {"connections": None, "workloads": ["plaintext", "io", "c10k", "websocket"],
                "c10k_connections": 2000}  # fmt: skip
    assert connections_summary(settings) == (
        "64 connections (plaintext, websocket); 256 connections (io); 16 of 2,000 held open (c10k)"
    )
    settings.update(connections=8, workloads=["c10k"])
    assert connections_summary(settings) == "8 connections (c10k: of 2,000 held open)"
    assert connections_summary({"connections": 64}) == "64 connections"  # older files
