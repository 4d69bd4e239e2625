"""Startup advice: a library the app imported meets a loop that lacks what it needs."""

from __future__ import annotations

from pathlib import Path

from xloop import loops

from ._support import xloop_process

LOOP_MODULE = """\
import asyncio


class NoReadersLoop(asyncio.SelectorEventLoop):
    def add_reader(self, *args, **kwargs):
        raise NotImplementedError("no readers here")
"""

APP = """\
import psycopg  # a stand-in package: only its presence matters


async def app(scope, receive, send):
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
"""


def test_serve_warns_at_startup(tmp_path: Path) -> None:
    """A psycopg app on a loop without add_reader (the proactor loop on Windows; a loop
    lacking it elsewhere) gets one warning line with the fix."""
    (tmp_path / "psycopg").mkdir()
    (tmp_path / "psycopg" / "__init__.py").write_text("")
    (tmp_path / "main.py").write_text(APP)
    (tmp_path / "noreaders.py").write_text(LOOP_MODULE)
    loop = "proactor" if loops.IS_WINDOWS else "noreaders:NoReadersLoop"
    with xloop_process(
        ["serve", "main:app", "--port", "0", "--loop", loop], cwd=tmp_path
    ) as server:
        server.wait_serving()
        warning = server.wait_for("the app uses psycopg 3 (async)")
        assert "use --loop selector" in warning.string
        if not loops.IS_WINDOWS:  # a Windows process is stopped by Ctrl+Break, not SIGINT
            assert server.stop() == 0
