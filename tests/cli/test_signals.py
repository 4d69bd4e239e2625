"""Ctrl+C / Ctrl+Break / SIGTERM reach a graceful shutdown on every loop, Windows' included.

The signal is raised inside the server's own process (``signal.raise_signal``), which is
what the console delivers on Ctrl+C or Ctrl+Break; it works the same on every OS, so the
Windows loops (which have no ``add_signal_handler``) are tested here and under Wine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from xloop import loops

from ._support import Backend, http_get, loop_families, xloop_process
from .test_serve_subprocess import assert_clean_shutdown

FAMILIES = loop_families()


RAISE_APP = """\
import signal


async def app(scope, receive, send):
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'ok'})
    if scope['path'] == '/raise':
        # What Ctrl+C (SIGINT) or Ctrl+Break (SIGBREAK, Windows) deliver to the process:
        # the signal, raised in the server's own process, on every OS.
        name = scope['query_string'].decode()
        signal.raise_signal(getattr(signal, name))
"""


def _signal_names() -> list[str]:
    return ["SIGINT", "SIGBREAK"] if loops.IS_WINDOWS else ["SIGINT", "SIGTERM"]


@pytest.mark.parametrize("name", _signal_names())
@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_a_signal_raised_in_the_process_shuts_down_gracefully(
    tmp_path: Path, backend: Backend, name: str
) -> None:
    """The signal path of every loop, Windows' included (no add_signal_handler there)."""
    (tmp_path / "raiser.py").write_text(RAISE_APP)
    with xloop_process(
        ["serve", "raiser:app", "--port", "0", *backend.args()], cwd=tmp_path
    ) as server:
        port = server.wait_port()
        assert http_get(port, f"/raise?{name}").body == b"ok"
        assert server.wait_exit() == 0, server.describe()
        assert_clean_shutdown(server.log, name)
