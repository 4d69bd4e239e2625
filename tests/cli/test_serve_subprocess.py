"""``python -m xloop serve`` as a real process: start, serve, and stop on a signal."""

from __future__ import annotations

import json
import os
import signal
import socket
import tempfile
from pathlib import Path

import pytest

from tests.server.client import Reader, exchange, get
from xloop import loops

from ._support import (
    IO_TIMEOUT,
    Backend,
    backends,
    connect,
    expected_loop_text,
    http_get,
    loop_families,
    request,
    write_hello,
    xloop_process,
)

pytestmark = pytest.mark.skipif(
    loops.IS_WINDOWS, reason="POSIX signals are sent to the server process"
)

BACKENDS = backends()
FAMILIES = loop_families()


def assert_clean_shutdown(log: str, signal_name: str = "SIGINT") -> None:
    assert f"{signal_name} received: shutting down gracefully" in log, log
    assert "xloop stopped" in log, log
    assert "xloop stopped" in log.rstrip().splitlines()[-1], log
    assert "Traceback" not in log, log
    assert "ERROR" not in log, log


@pytest.fixture
def hello_dir(tmp_path: Path) -> Path:
    write_hello(tmp_path)
    return tmp_path


# -- every loop and parser ---------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS, ids=[b.id for b in BACKENDS])
def test_serve_every_loop_and_parser(hello_dir: Path, backend: Backend) -> None:
    args = ["serve", "main:app", "--port", "0", *backend.args()]
    with xloop_process(args, cwd=hello_dir) as server:
        port = server.wait_port()
        response = http_get(port)
        assert response.status == 200
        assert response.body == b"Hello, world!"
        assert response.header(b"content-type") == b"text/plain"
        assert response.header(b"server") == b"xloop"
        assert response.header(b"date") is not None
        server.wait_for('"GET / HTTP/1.1" 200')
        assert server.stop(signal.SIGINT) == 0, server.describe()
        log = server.log
    lines = log.splitlines()
    loop_line = f"loop: {expected_loop_text(backend.loop, backend.selector)}"
    assert any(line.endswith(loop_line) for line in lines), log
    assert any(line.endswith(f"http: {backend.http}") for line in lines), log
    assert f"xloop serving on http://127.0.0.1:{port} (press CTRL+C to quit)" in log
    assert lines[-1].endswith("xloop stopped after 1 requests on 1 connections"), log
    # the order a user reads: loop, parser, address; then the request; then shutdown
    order = [
        "loop: ",
        "http: ",
        "xloop serving on",
        '"GET / HTTP/1.1" 200',
        "SIGINT received",
        "xloop stopped",
    ]
    positions = [next(i for i, line in enumerate(lines) if part in line) for part in order]
    assert positions == sorted(positions), log
    assert_clean_shutdown(log)


# -- signals -----------------------------------------------------------------------------


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_sigterm_exits_zero(hello_dir: Path, backend: Backend) -> None:
    with xloop_process(["serve", "main:app", "--port", "0", *backend.args()], cwd=hello_dir) as s:
        port = s.wait_port()
        assert http_get(port).body == b"Hello, world!"
        assert s.stop(signal.SIGTERM) == 0, s.describe()
        assert_clean_shutdown(s.log, "SIGTERM")


STUCK_APP = """\
import asyncio
import sys


async def app(scope, receive, send):
    if scope['type'] != 'http':
        raise RuntimeError('no lifespan here')
    if scope['path'] == '/stuck':
        print('APP: stuck request began', file=sys.stderr, flush=True)
        await asyncio.Event().wait()
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'ok'})
"""


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_second_sigint_forces_exit_during_stuck_request(tmp_path: Path, backend: Backend) -> None:
    (tmp_path / "main.py").write_text(STUCK_APP, encoding="utf-8")
    args = ["serve", "main:app", "--port", "0", *backend.args()]
    with xloop_process(args, cwd=tmp_path) as server:
        port = server.wait_port()
        with connect(port) as sock:
            sock.sendall(get("/stuck"))
            server.wait_for("APP: stuck request began")
            server.proc.send_signal(signal.SIGINT)
            # the graceful shutdown is under way (and waits for the stuck request) ...
            server.wait_for("SIGINT received: shutting down gracefully")
            # ... until a second Ctrl+C
            server.proc.send_signal(signal.SIGINT)
            code = server.wait_exit(timeout=5.0)  # nothing left to wait for: prompt
        log = server.log
    assert "second SIGINT: forcing exit" in log, log
    assert "Traceback" not in log, log
    assert "KeyboardInterrupt" not in log, log
    assert "xloop stopped" in log.rstrip().splitlines()[-1], log
    # 0 (the shutdown completed, forced) or 130 (interrupted); never a crash
    assert code in (0, 130), log


# -- the demo app ------------------------------------------------------------------------


def test_demo_app_without_app_argument(tmp_path: Path) -> None:
    with xloop_process(["serve", "--port", "0"], cwd=tmp_path) as server:
        port = server.wait_port()

        response = http_get(port, "/json")
        assert response.status == 200
        assert response.header(b"content-type") == b"application/json"
        assert json.loads(response.body) == {"message": "Hello, world!"}

        response = request(
            port,
            b"POST /echo HTTP/1.1\r\nHost: t\r\ncontent-type: text/x-test\r\n"
            b"content-length: 11\r\nconnection: close\r\n\r\nhello there",
        )
        assert response.status == 200
        assert response.header(b"content-type") == b"text/x-test"
        assert response.body == b"hello there"

        response = http_get(port, "/stream?chunks=3&size=5")
        assert response.status == 200
        assert response.chunked
        assert response.body == b"x" * 15

        assert http_get(port, "/").body == b"Hello, world!"
        assert server.stop() == 0, server.describe()
        log = server.log
    # the demo app speaks lifespan, so there is no "unsupported" notice
    assert "lifespan" not in log, log
    assert_clean_shutdown(log)


# -- the environment ---------------------------------------------------------------------


def test_environment_variables_configure_serve(hello_dir: Path) -> None:
    env = {
        "XLOOP_APP": "main:app",
        "XLOOP_PORT": "0",
        "XLOOP_HTTP": "h11",
        "XLOOP_LOOP": "selector",
        "XLOOP_SELECTOR": "select",
        "XLOOP_SERVER_HEADER": "false",
    }
    with xloop_process(["serve"], cwd=hello_dir, env=env) as server:
        port = server.wait_port()
        response = http_get(port)
        assert response.body == b"Hello, world!"
        assert response.header(b"server") is None
        assert server.stop() == 0, server.describe()
        log = server.log
    assert "http: h11" in log, log
    assert f"loop: {expected_loop_text('selector', 'select')}" in log, log
    assert_clean_shutdown(log)


def test_command_line_beats_environment(hello_dir: Path) -> None:
    env = {"XLOOP_PORT": "not-a-port", "XLOOP_LOOP": "bogus", "XLOOP_SELECTOR": "bogus"}
    args = ["serve", "main:app", "--port", "0", "--loop", "selector", "--selector", "select"]
    with xloop_process(args, cwd=hello_dir, env=env) as server:
        port = server.wait_port()
        assert http_get(port).body == b"Hello, world!"
        assert server.stop() == 0, server.describe()
        assert f"loop: {expected_loop_text('selector', 'select')}" in server.log


# -- listeners and headers ---------------------------------------------------------------


def test_unix_domain_socket(hello_dir: Path) -> None:
    # a short directory: AF_UNIX paths are limited to about 100 bytes
    with tempfile.TemporaryDirectory(prefix="xl") as short:
        path = os.path.join(short, "s.sock")
        with xloop_process(["serve", "main:app", "--uds", path], cwd=hello_dir) as server:
            assert server.wait_serving() == f"unix:{path}"
            family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
            with socket.socket(family, socket.SOCK_STREAM) as sock:
                sock.settimeout(IO_TIMEOUT)
                sock.connect(path)
                response = exchange(sock, get("/", extra="connection: close\r\n"))
            assert response.status == 200
            assert response.body == b"Hello, world!"
            assert server.stop() == 0, server.describe()
            assert_clean_shutdown(server.log)
        assert not os.path.exists(path), "the socket file outlived the server"


def test_extra_headers_and_no_server_header(hello_dir: Path) -> None:
    args = [
        *("serve", "main:app", "--port", "0"),
        *("--header", "X-Test: yes", "--header", "x-other:2", "--no-server-header"),
    ]
    with xloop_process(args, cwd=hello_dir) as server:
        response = http_get(server.wait_port())
        assert server.stop() == 0, server.describe()
    assert response.body == b"Hello, world!"
    assert response.header(b"x-test") == b"yes"
    assert response.header(b"x-other") == b"2"
    assert response.header(b"server") is None
    assert response.header(b"date") is not None


SCOPE_APP = """\
import json


async def app(scope, receive, send):
    assert scope['type'] == 'http'
    body = json.dumps({'root_path': scope['root_path'], 'path': scope['path'],
                       'raw_path': scope['raw_path'].decode()}).encode()
    await send({'type': 'http.response.start', 'status': 200,
                'headers': [[b'content-type', b'application/json']]})
    await send({'type': 'http.response.body', 'body': body})
"""


def test_root_path(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(SCOPE_APP, encoding="utf-8")
    args = ["serve", "main:app", "--port", "0", "--root-path", "/api"]
    with xloop_process(args, cwd=tmp_path) as server:
        response = http_get(server.wait_port(), "/items?x=1")
        assert server.stop() == 0, server.describe()
    # like uvicorn: root_path is set and the path includes it (the ASGI spec's reading)
    assert json.loads(response.body) == {
        "root_path": "/api",
        "path": "/api/items",
        "raw_path": "/api/items",
    }


# -- finding the app ---------------------------------------------------------------------


FACTORY_APP = """\
async def app(scope, receive, send):
    assert scope['type'] == 'http'
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': b'made by the factory'})


def create_app():
    return app
"""


def test_factory(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(FACTORY_APP, encoding="utf-8")
    args = ["serve", "main:create_app", "--factory", "--port", "0"]
    with xloop_process(args, cwd=tmp_path) as server:
        assert http_get(server.wait_port()).body == b"made by the factory"
        assert server.stop() == 0, server.describe()
        assert_clean_shutdown(server.log)


def test_app_dir(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    write_hello(tmp_path / "src", "webapp.py")
    args = ["serve", "webapp:app", "--app-dir", "src", "--port", "0"]
    with xloop_process(args, cwd=tmp_path) as server:
        assert http_get(server.wait_port()).body == b"Hello, world!"
        assert server.stop() == 0, server.describe()
        assert_clean_shutdown(server.log)


LIFESPAN_APP = """\
import sys


async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        while True:
            message = await receive()
            if message['type'] == 'lifespan.startup':
                scope['state']['greeting'] = 'hello from lifespan'
                print('APP: startup', file=sys.stderr, flush=True)
                await send({'type': 'lifespan.startup.complete'})
            elif message['type'] == 'lifespan.shutdown':
                print('APP: shutdown', file=sys.stderr, flush=True)
                await send({'type': 'lifespan.shutdown.complete'})
                return
    body = scope['state']['greeting'].encode()
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': body})
"""


def test_lifespan_on(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text(LIFESPAN_APP, encoding="utf-8")
    args = ["serve", "main:app", "--lifespan", "on", "--port", "0"]
    with xloop_process(args, cwd=tmp_path) as server:
        assert http_get(server.wait_port()).body == b"hello from lifespan"
        assert server.stop() == 0, server.describe()
        log = server.log
    lines = log.splitlines()

    def index(part: str) -> int:
        return next(i for i, line in enumerate(lines) if part in line)

    assert index("APP: startup") < index("xloop serving on") < index("SIGINT received")
    assert index("SIGINT received") < index("APP: shutdown") < index("xloop stopped")
    assert_clean_shutdown(log)


# -- limits ------------------------------------------------------------------------------


def test_limit_max_requests_exits_by_itself(hello_dir: Path) -> None:
    args = ["serve", "main:app", "--limit-max-requests", "2", "--port", "0"]
    with xloop_process(args, cwd=hello_dir) as server:
        port = server.wait_port()
        assert http_get(port).body == b"Hello, world!"
        with connect(port) as sock:
            sock.sendall(get("/"))  # keep-alive: the server closes it when it stops
            reader = Reader(sock)
            assert reader.response().body == b"Hello, world!"
            assert server.wait_exit() == 0, server.describe()
            assert reader.at_eof()
        log = server.log
    assert "maximum number of requests reached (2); shutting down" in log, log
    assert "xloop stopped" in log.rstrip().splitlines()[-1], log
    assert "Traceback" not in log, log
    assert "received" not in log, log  # no signal was involved
