"""Autobahn|Testsuite cases 1-7 and 10 (framing, pings, reserved bits, opcodes,
fragmentation, UTF-8, closing, message limits) through kosoku's fuzzing client, against
the server on each loop here (one parser each), with each engine. Every case must be OK,
NON-STRICT or INFORMATIONAL, and the server must log no error and no traceback.

The permessage-deflate cases (12, 13) take minutes: ``benchmarks/ws_conformance.py`` runs
them with the rest.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from typing import Any

import pytest

from .harness import Backend, backends, serving
from .test_websocket import ENGINES

# ImportError too: under Wine 8 its Rust extension does not load (no bcryptprimitives.dll)
kosoku = pytest.importorskip("kosoku", exc_type=ImportError)

CASES = ["1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "10.*"]
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


@pytest.mark.timeout(300)
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("backend", BACKENDS, ids=[b.id for b in BACKENDS])
def test_autobahn_cases(backend: Backend, engine: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xloop")
    with serving(echo, backend, ws=engine, lifespan="off", access_log=False) as server:
        try:
            results = asyncio.run(
                kosoku.run_fuzzingclient(f"ws://127.0.0.1:{server.port}", CASES, concurrency=4)
            )
        except kosoku.FailureError as failure:
            results = failure.results
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
