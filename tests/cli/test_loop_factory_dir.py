"""``xloop serve --loop mymod:factory`` with ``mymod.py`` beside the app: the loop factory
is found in ``--app-dir`` as the app is, though the loop resolves before the app loads, when
started as the ``xloop`` command is (the working directory not on ``sys.path``), by the
server and by each worker."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop._version import module_command

from ._support import http_get, run_cli, xloop_process

# backend-independent (a loop of its own): once under Wine
pytestmark = ONCE_UNDER_WINE

FACTORY = """\
import asyncio


class HomeMadeLoop(asyncio.SelectorEventLoop):
    pass


def factory():
    return HomeMadeLoop()
"""

APP = """\
import asyncio


async def app(scope, receive, send):
    assert scope["type"] == "http"
    body = type(asyncio.get_running_loop()).__name__.encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})
"""

#: ``python -c`` that runs xloop as the console script does: no working directory on sys.path.
AS_THE_COMMAND = module_command("xloop", working_directory=False)[1:]


@pytest.mark.parametrize("workers", [[], ["--workers", "1"]], ids=["server", "worker"])
def test_a_loop_factory_beside_the_app_is_found(tmp_path: Path, workers: list[str]) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "homeloop.py").write_text(FACTORY, encoding="utf-8")
    (tmp_path / "src" / "main.py").write_text(APP, encoding="utf-8")
    args = ["serve", "main:app", "--app-dir", "src", "--loop", "homeloop:factory", "--port", "0"]
    with xloop_process([*args, *workers], cwd=tmp_path, pyargs=AS_THE_COMMAND) as server:
        response = http_get(server.wait_port())
        log = server.log
    assert response.status == 200, log
    assert response.body == b"HomeMadeLoop", log
    assert "Traceback" not in log, log


def test_the_command_itself_does_not_see_the_working_directory(tmp_path: Path) -> None:
    """The trap the test above needs: without ``--app-dir`` put first early, ``homeloop``
    cannot be imported by a process started this way."""
    (tmp_path / "homeloop.py").write_text(FACTORY, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, *AS_THE_COMMAND[:-1], AS_THE_COMMAND[-1].replace("xloop", "homeloop")],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert "No module named homeloop" in done.stderr, done


def test_which_loop_finds_a_loop_factory_in_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "homeloop.py").write_text(FACTORY, encoding="utf-8")
    done = run_cli(
        ["which-loop", "--loop", "homeloop:factory", "--json"],
        cwd=tmp_path,
        pyargs=AS_THE_COMMAND,
    )
    assert done.code == 0, done
    report = json.loads(done.stdout)
    assert report["backend"] == "custom", report
    assert report["loop_class"].endswith("homeloop.HomeMadeLoop"), report
