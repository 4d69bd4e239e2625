"""``xloop serve --gc-freeze``: once the app's lifespan startup has run, start-up's garbage
is collected and what remains is frozen out of the garbage collector's reach; without the
flag the server freezes nothing. A process of its own each: freezing is process-wide."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE

from ._support import http_get, xloop_process

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE

APP = """
import gc
import weakref


class Node:
    def __init__(self):
        self.me = self  # a reference cycle: only the collector frees it


KEPT = []
DROPPED = []


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                KEPT.append(Node())  # made by startup, kept by the app
                DROPPED.append(weakref.ref(Node()))  # made by startup, garbage at once
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    tracked = gc.get_objects()  # every generation but the frozen one
    body = {
        "frozen": gc.get_freeze_count(),
        "kept_frozen": not any(obj is KEPT[0] for obj in tracked),
        "cycle_collected": DROPPED[0]() is None,
    }
    del tracked
    data = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": data})
"""


def _serve(tmp_path: Path, *flags: str) -> tuple[dict[str, object], str]:
    (tmp_path / "gcapp.py").write_text("import json\n" + APP, encoding="utf-8")
    args = ["serve", "gcapp:app", "--port", "0", "--lifespan", "on", *flags]
    with xloop_process(args, cwd=tmp_path) as server:
        response = http_get(server.wait_port())
        log = server.log
    assert response.status == 200, log
    seen: dict[str, object] = json.loads(response.body)
    return seen, log


def test_gc_freeze_freezes_what_startup_left_and_collects_its_garbage_first(
    tmp_path: Path,
) -> None:
    seen, log = _serve(tmp_path, "--gc-freeze")
    frozen = seen["frozen"]
    assert isinstance(frozen, int)
    assert frozen > 1000, seen  # the modules, the app, what startup made
    assert seen["kept_frozen"] is True, seen
    assert seen["cycle_collected"] is True, seen
    logged = re.search(r"gc: (\d+) objects frozen after startup \(--gc-freeze\)", log)
    assert logged is not None, log
    # (frozen objects are still freed when nothing refers to them any more)
    assert int(logged.group(1)) >= frozen, log


@pytest.mark.parametrize("flags", [(), ("--no-gc-freeze",)], ids=["default", "no-gc-freeze"])
def test_without_gc_freeze_the_server_freezes_nothing(
    tmp_path: Path, flags: tuple[str, ...]
) -> None:
    """(Not ``gc.get_freeze_count() == 0``: an interpreter may freeze objects of its own,
    as the embeddable Windows CPython does.)"""
    seen, log = _serve(tmp_path, *flags)
    assert seen["kept_frozen"] is False, seen
    assert "frozen after startup" not in log, log
