"""``xloop.run()``, the Python API of ``xloop serve``, in a real process stopped by SIGINT."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.cli._support import (
    Backend,
    expected_loop_text,
    http_get,
    loop_families,
    write_hello,
    xloop_process,
)
from xloop import loops

pytestmark = pytest.mark.skipif(
    loops.IS_WINDOWS, reason="POSIX signals are sent to the server process"
)

FAMILIES = loop_families()

# xloop's own log format ("INFO:     ...") for main:app; the caller's logging setup kept,
# and no app given (the built-in demo, which greets alike), for "keep"
RUN = """\
import logging
import sys

import xloop

options = dict(port=0, loop=sys.argv[2], selector=sys.argv[3], log_level="info")
if sys.argv[1] == "keep":
    logging.basicConfig(level=logging.INFO, format="APP-LOG %(name)s %(message)s")
    xloop.run(configure_logs=False, **options)
else:
    xloop.run("main:app", app_dir=".", **options)
"""


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
@pytest.mark.parametrize("logs", ["configure", "keep"])
def test_run_serves_until_sigint(tmp_path: Path, backend: Backend, logs: str) -> None:
    write_hello(tmp_path)
    (tmp_path / "run.py").write_text(RUN, encoding="utf-8")
    args = [logs, backend.loop, backend.selector or "auto"]
    with xloop_process(args, cwd=tmp_path, pyargs=["run.py"]) as server:
        port = server.wait_port()
        assert http_get(port).body == b"Hello, world!"
        assert server.stop(signal.SIGINT) == 0, server.describe()
        lines = server.log.splitlines()
    prefix = "INFO:     " if logs == "configure" else "APP-LOG xloop"
    serving = next(line for line in lines if "xloop serving on" in line)
    assert serving.startswith(prefix), lines
    assert any(
        line.endswith(f"loop: {expected_loop_text(backend.loop, backend.selector)}")
        for line in lines
    ), lines
    assert "SIGINT received: shutting down gracefully" in "\n".join(lines)
    assert "Traceback" not in "\n".join(lines)
