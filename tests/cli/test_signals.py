"""Ctrl+C / Ctrl+Break / SIGTERM reach a graceful shutdown on every loop, Windows' included.

The signal is raised inside the server's own process (``signal.raise_signal``), which is
what the console delivers on Ctrl+C or Ctrl+Break; it works the same on every OS, so the
Windows loops (which have no ``add_signal_handler``) are tested here and under Wine.
"""

from __future__ import annotations

import signal
import socket
from pathlib import Path

import pytest

from xloop import loops

from ._support import Backend, connect, http_get, loop_families, xloop_process
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


SSE_APP = """\
import asyncio
import signal
import sys


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                print('APP: lifespan shutdown ran', file=sys.stderr, flush=True)
                await send({'type': 'lifespan.shutdown.complete'})
                return
    if scope['path'] == '/raise':
        await send({'type': 'http.response.start', 'status': 200, 'headers': []})
        await send({'type': 'http.response.body', 'body': b'ok'})
        signal.raise_signal(getattr(signal, scope['query_string'].decode()))
        return
    # Server-Sent Events until the client (or the server's shutdown) disconnects.
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [(b'content-type', b'text/event-stream')]})

    async def events():
        while True:
            await send({'type': 'http.response.body', 'body': b'data: tick\\n\\n',
                        'more_body': True})
            await asyncio.sleep(0.05)

    task = asyncio.ensure_future(events())
    while (await receive())['type'] != 'http.disconnect':
        pass
    task.cancel()
"""


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_an_open_event_stream_does_not_hold_the_shutdown(tmp_path: Path, backend: Backend) -> None:
    """An SSE client stays connected; the stop signal still ends the server at once (the
    default graceful timeout is 30 s, far above the wait here), lifespan shutdown runs, and
    the exit code is 0."""
    (tmp_path / "sse.py").write_text(SSE_APP)
    name = _signal_names()[-1]  # SIGTERM, or Ctrl+Break's SIGBREAK on Windows
    with xloop_process(
        ["serve", "sse:app", "--port", "0", *backend.args()], cwd=tmp_path
    ) as server:
        port = server.wait_port()
        with connect(port) as stream:
            stream.sendall(b"GET /events HTTP/1.1\r\nHost: t\r\n\r\n")
            assert b"data: tick" in _read_until(stream, b"data: tick")
            assert http_get(port, f"/raise?{name}").body == b"ok"
            assert server.wait_exit() == 0, server.describe()
            rest = _read_to_eof(stream)
        assert not rest.endswith(b"0\r\n\r\n")  # the stream was ended by closing, not completed
        assert "APP: lifespan shutdown ran" in server.log, server.describe()
        assert_clean_shutdown(server.log, name)


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        assert chunk, f"closed before {marker!r}: {data!r}"
        data += chunk
    return data


def _read_to_eof(sock: socket.socket) -> bytes:
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


@pytest.mark.skipif(loops.IS_WINDOWS, reason="POSIX signals sent from outside")
@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_a_stop_signal_right_after_the_serving_line_is_graceful(
    tmp_path: Path, backend: Backend
) -> None:
    """The handlers are in place before the server says it serves: no KeyboardInterrupt."""
    (tmp_path / "raiser.py").write_text(RAISE_APP)
    args = ["serve", "raiser:app", "--port", "0", *backend.args()]
    with xloop_process(args, cwd=tmp_path) as server:
        server.wait_serving()
        assert server.stop(signal.SIGINT) == 0, server.describe()
        assert_clean_shutdown(server.log, "SIGINT")
