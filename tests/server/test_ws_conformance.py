"""Autobahn|Testsuite cases 1-7 and 10 (framing, pings, reserved bits, opcodes,
fragmentation, UTF-8, closing, message limits) through kosoku's fuzzing client, against
the server on each loop here (one parser each), with each engine. Every case must be OK,
NON-STRICT or INFORMATIONAL, and the server must log no error and no traceback.

The permessage-deflate cases (12, 13) take minutes: ``benchmarks/ws_conformance.py`` runs
them with the rest.

The server runs without keepalive pings: Autobahn's case base class ends a case at an
unsolicited ping (it closes with 1000 when the case expects no particular events, as the
performance cases 9, 12 and 13 do), which the last test here shows.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from .harness import Backend, backends, serving
from .test_websocket import ENGINES

# ImportError too: under Wine 8 its Rust extension does not load (no bcryptprimitives.dll)
kosoku = pytest.importorskip("kosoku", exc_type=ImportError)

CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]


@pytest.fixture(autouse=True)
def _no_kosoku_shim_left() -> Iterator[None]:
    """kosoku's 12.x case files import ``pkg_resources`` from a shim of its own: left in
    ``sys.modules``, it breaks ``monkeypatch.syspath_prepend`` in the later tests of the same
    process (pytest then asks it for ``fixup_namespace_packages``)."""
    path = list(sys.path)
    before = sys.modules.get("pkg_resources")
    yield
    sys.path[:] = path
    if sys.modules.get("pkg_resources") is not before:
        if before is None:
            del sys.modules["pkg_resources"]
        else:
            sys.modules["pkg_resources"] = before


ACCEPTABLE = {"OK", "NON-STRICT", "INFORMATIONAL"}


def _one_per_loop() -> list[Backend]:
    """The first backend of each loop (the faster parser first): the selector loop and
    uvloop on Linux and macOS; the proactor, the selector loop and winloop on Windows."""
    chosen: dict[str, Backend] = {}
    for backend in sorted(backends(), key=lambda b: b.http != "httptools"):
        chosen.setdefault(backend.loop, backend)
    return list(chosen.values())


BACKENDS = _one_per_loop()


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """What the fuzzing client expects: every message back as it came."""
    assert scope["type"] == "websocket"
    await receive()
    await send({"type": "websocket.accept"})
    while (message := await receive())["type"] == "websocket.receive":
        await send(
            {"type": "websocket.send", "text": message.get("text"), "bytes": message.get("bytes")}
        )


def _fuzz(
    backend: Backend, engine: str, cases: list[str], concurrency: int, **options: Any
) -> list[Any]:
    """Run ``cases`` against the echo app; the results, failed ones included."""
    with serving(echo, backend, ws=engine, lifespan="off", access_log=False, **options) as server:
        try:
            return list(
                asyncio.run(
                    kosoku.run_fuzzingclient(
                        f"ws://127.0.0.1:{server.port}", cases, concurrency=concurrency
                    )
                )
            )
        except kosoku.FailureError as failure:
            return list(failure.results)


@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("backend", BACKENDS, ids=[b.id for b in BACKENDS])
def test_autobahn_cases(backend: Backend, engine: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xloop")
    results = _fuzz(backend, engine, CASES, concurrency=4, ws_ping_interval=0)
    verdicts = collections.Counter(
        (result.behavior.value, result.behavior_close.value) for result in results
    )
    failed = [
        f"{r.case_id}: {r.behavior.value}/{r.behavior_close.value} {r.result} {r.result_close}"
        for r in results
        if r.behavior.value not in ACCEPTABLE or r.behavior_close.value not in ACCEPTABLE | {"OK"}
    ]
    assert len(results) > 200, verdicts
    assert not failed, failed
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


@pytest.mark.timeout(120)
# The Autobahn case files of 12.* read their test data without closing the file.
@pytest.mark.filterwarnings(
    "ignore:Exception ignored in.*testdata:pytest.PytestUnraisableExceptionWarning"
)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("backend", BACKENDS, ids=[b.id for b in BACKENDS])
def test_a_server_ping_ends_a_performance_case(backend: Backend, engine: str) -> None:
    """Why conformance runs keep pings off: 12.1.3 (1000 echoed messages) pinged after
    10 ms is ended by the client at the ping, cleanly, with the case's "did not finish"
    message; without pings the same case is OK."""
    (pinged,) = _fuzz(backend, engine, ["12.1.3"], concurrency=1, ws_ping_interval=0.01)
    assert pinged.behavior.value == "FAILED", pinged.result
    assert "did not finish" in pinged.result
    assert pinged.behavior_close.value == "OK"
    assert pinged.closed_by_me
    assert pinged.local_close_code == 1000
    assert pinged.rx_frame_stats.get(9, 0) >= 1  # the client saw the server's ping
    assert sum(pinged.rx_frame_stats.values()) < 1000  # and did not get all the echoes
    (quiet,) = _fuzz(backend, engine, ["12.1.3"], concurrency=1, ws_ping_interval=0)
    assert quiet.behavior.value == "OK", quiet.result
    assert quiet.rx_frame_stats.get(9, 0) == 0
