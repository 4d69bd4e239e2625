"""The load client, real runs: ``python -m xloop.compare.client`` as a subprocess (short warmup
and window) against a server in this process, on 127.0.0.1 port 0, its JSON checked against
what the server itself counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import json
import os
import re
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from xloop import demo, loops
from xloop.compare.client.run import ERROR_KINDS
from xloop.compare.workloads import ECHO_MESSAGE_SIZE
from xloop.http import httptools_available
from xloop.types import Receive, Scope, Send

from ...server import harness

# -- real runs ----------------------------------------------------------------------------------

KEYS = {
    "requests",
    "warmup_requests",
    "responses_total",
    "elapsed_s",
    "requests_per_second",
    "latency",
    "errors",
    "non_2xx",
    "statuses",
    "client_cpu_s",
    "client_cpu_percent",
    "client_loop",
    "server_cpu_s",
    "bytes_received",
}
LATENCY_KEYS = {"p50_ms", "p90_ms", "p99_ms", "max_ms", "count", "histogram"}
SHORT = ("--warmup", "0.2", "--duration", "0.5", "--connections", "4", "--timeout", "10")
PREFIX = "xloop compare client: error: "


def server_backend() -> harness.Backend:
    """The fastest backend here: what ``xloop compare`` would measure the client against."""
    available = loops.available_backends()
    loop = "uvloop" if "uvloop" in available else "selector"
    return harness.Backend(loop, None, "httptools" if httptools_available() else "h11")


def run_client(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "xloop.compare.client", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def measured(*args: str) -> dict[str, Any]:
    """Run the client; it must succeed and print exactly one JSON object."""
    done = run_client(*args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert len(lines) == 1, done.stdout
    data: dict[str, Any] = json.loads(lines[0])
    assert data.keys() >= KEYS
    assert data["latency"].keys() >= LATENCY_KEYS
    return data


def assert_clean(data: dict[str, Any]) -> None:
    assert data["requests"] > 0
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0), data["last_error"]
    assert data["non_2xx"] == 0
    assert data["statuses"] == {"200": data["requests"]}
    assert data["responses_total"] >= data["requests"] + data["warmup_requests"]
    assert 0.45 <= data["elapsed_s"] < 5
    assert data["requests_per_second"] == pytest.approx(data["requests"] / data["elapsed_s"])
    latency = data["latency"]
    assert latency["count"] == data["requests"]
    assert 0 < latency["p50_ms"] <= latency["p90_ms"] <= latency["p99_ms"] <= latency["max_ms"]
    assert latency["histogram"]["count"] == data["requests"]
    assert data["client_cpu_s"] >= 0
    assert data["client_cpu_percent"] >= 0
    assert data["bytes_received"] > 0


@pytest.fixture
def demo_server() -> Iterator[harness.RunningServer]:
    with harness.serving(demo.app, server_backend(), access_log=False) as server:
        yield server


def answered(server: harness.RunningServer) -> int:
    """Requests the server itself answered (every one the client sent, once it is done)."""
    state = server.server.state
    assert state is not None
    return state.total_requests


@pytest.mark.parametrize(
    ("workload", "min_bytes"),
    [("plaintext", 13), ("json", 20), ("upload", 1), ("stream", 16 * 4096)],
)
def test_each_http_workload_against_the_demo_app(
    demo_server: harness.RunningServer, workload: str, min_bytes: int
) -> None:
    data = measured("--port", str(demo_server.port), "--workload", workload, *SHORT)
    assert_clean(data)
    assert data["responses_total"] == answered(demo_server)
    assert data["bytes_received"] > data["requests"] * min_bytes
    assert data["server_cpu_s"] is None  # no --server-pid
    expected_loop = "uvloop.Loop" if "uvloop" in loops.available_backends() else None
    if expected_loop:
        assert data["client_loop"] == expected_loop


def test_pipelining_and_server_cpu(demo_server: harness.RunningServer) -> None:
    data = measured(
        "--port", str(demo_server.port), "--workload", "plaintext", "--pipeline", "8",
        "--server-pid", str(os.getpid()),  # the server runs in this process
        *SHORT,
    )  # fmt: skip
    assert_clean(data)
    assert data["responses_total"] == answered(demo_server)
    assert data["responses_total"] % 8 == 0  # whole batches only, and every one drained
    if importlib.util.find_spec("psutil") is None:  # a stale environment without it
        assert data["server_cpu_s"] is None
    else:
        assert isinstance(data["server_cpu_s"], float)
        assert data["server_cpu_s"] >= 0


def test_stdlib_loop(demo_server: harness.RunningServer) -> None:
    data = measured(
        "--port", str(demo_server.port), "--workload", "json", "--loop", "asyncio", *SHORT
    )
    assert_clean(data)
    assert data["responses_total"] == answered(demo_server)
    assert data["client_loop"].startswith("asyncio.")


def test_not_found_counts_as_non_2xx(demo_server: harness.RunningServer) -> None:
    data = measured(
        "--port", str(demo_server.port), "--workload", "plaintext", "--path", "/nope", *SHORT
    )
    assert data["requests"] > 0
    assert data["non_2xx"] == data["requests"]
    assert data["statuses"] == {"404": data["requests"]}
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0)
    assert data["responses_total"] == answered(demo_server)


async def closing_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Every response says ``Connection: close``."""
    if scope["type"] != "http":
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", b"2"), (b"connection", b"close")],
        }
    )
    await send({"type": "http.response.body", "body": b"ok"})


def test_server_closing_after_each_response_is_not_an_error() -> None:
    with harness.serving(closing_app, server_backend(), access_log=False) as server:
        data = measured("--port", str(server.port), "--workload", "plaintext", *SHORT)
        assert_clean(data)
        assert data["reconnects"] >= data["requests"] - 4
        assert data["responses_total"] == answered(server)


class EchoServer:
    """The asyncio documentation's echo server, in a thread, counting the bytes it got."""

    def __init__(self, loop_name: str) -> None:
        self.choice = loops.resolve(loop_name)
        self.received = 0
        self.port = 0
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stop: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        loops.run(self._serve(), loop_factory=self.choice.factory)

    async def _serve(self) -> None:
        outer = self

        class EchoServerProtocol(asyncio.Protocol):
            def connection_made(self, transport: asyncio.BaseTransport) -> None:
                self.transport: asyncio.Transport = transport  # type: ignore[assignment]

            def data_received(self, data: bytes) -> None:
                outer.received += len(data)
                self.transport.write(data)

        self.loop = asyncio.get_running_loop()
        self.stop = asyncio.Event()
        server = await self.loop.create_server(EchoServerProtocol, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        async with server:
            await self.stop.wait()

    @contextlib.contextmanager
    def running(self) -> Iterator[EchoServer]:
        self.thread.start()
        assert self.ready.wait(harness.TIMEOUT)
        try:
            yield self
        finally:
            assert self.loop is not None
            assert self.stop is not None
            self.loop.call_soon_threadsafe(self.stop.set)
            self.thread.join(harness.TIMEOUT)


@pytest.mark.parametrize("client_loop", ["auto", "asyncio"])
def test_echo(client_loop: str) -> None:
    with EchoServer("auto").running() as server:
        data = measured(
            "--port", str(server.port), "--workload", "echo", "--loop", client_loop, *SHORT
        )
    assert data["requests"] > 0
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0)
    assert data["non_2xx"] == 0
    assert data["statuses"] == {}
    assert data["latency"]["count"] == data["requests"]
    assert server.received == data["responses_total"] * ECHO_MESSAGE_SIZE
    # the window may cut a message in two: its bytes are the window's, its count is not
    window_bytes = data["requests"] * ECHO_MESSAGE_SIZE
    assert abs(data["bytes_received"] - window_bytes) < 4 * ECHO_MESSAGE_SIZE


def test_echo_pipelined() -> None:
    with EchoServer("auto").running() as server:
        data = measured("--port", str(server.port), "--workload", "echo", "--pipeline", "4", *SHORT)
    assert data["requests"] > 0
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0)
    assert server.received == data["responses_total"] * ECHO_MESSAGE_SIZE
    assert data["responses_total"] % 4 == 0


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_closed_port_is_one_line_and_exit_1() -> None:
    port = closed_port()
    done = run_client("--port", str(port), "--workload", "plaintext", *SHORT)
    assert done.returncode == 1
    assert done.stdout == ""
    assert re.fullmatch(
        rf"{re.escape(PREFIX)}cannot connect to 127\.0\.0\.1:{port}: \[Errno \d+\] .+\n",
        done.stderr,
    ), done.stderr


def test_silent_server_gives_timeouts_not_a_hang() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)  # accepted by the kernel, never read, never answered
        port = listener.getsockname()[1]
        data = measured(
            "--port", str(port), "--workload", "plaintext", "--connections", "2",
            "--warmup", "0", "--duration", "1", "--timeout", "0.2",
        )  # fmt: skip
    assert data["requests"] == 0
    assert data["errors"]["timeout"] >= 1
    assert data["responses_total"] == 0


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--port", "1", "--workload", "nope"], "invalid choice: 'nope'"),
        (["--workload", "plaintext"], "the following arguments are required: --port"),
        (["--port", "1", "--workload", "plaintext", "--connections", "0"], "at least 1"),
        (["--port", "1", "--workload", "plaintext", "--duration", "x"], "'x' is not a valid"),
        (["--port", "1", "--workload", "plaintext", "--loop", "nope"], "unknown loop 'nope'"),
    ],
)
def test_usage_errors_are_one_line_exit_1(args: list[str], needle: str) -> None:
    done = run_client(*args)
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(PREFIX)
    assert needle in lines[0]


def test_histogram_of_a_run_reads_back(demo_server: harness.RunningServer) -> None:
    from xloop.compare.histogram import Histogram

    data = measured("--port", str(demo_server.port), "--workload", "plaintext", *SHORT)
    histogram = Histogram.from_dict(data["latency"]["histogram"])
    assert histogram.count == data["requests"]
    assert histogram.percentile(50) == data["latency"]["p50_ms"]
    assert histogram.max == data["latency"]["max_ms"]
    counted = collections.Counter(data["statuses"])
    assert sum(counted.values()) == data["requests"]


# -- websocket and c10k --------------------------------------------------------------------------


def test_websocket_echoes_counted_by_both_sides(demo_server: harness.RunningServer) -> None:
    data = measured("--port", str(demo_server.port), "--workload", "websocket", *SHORT)
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0)
    assert data["requests"] > 0
    assert data["connections_open"] == 4
    state = demo_server.server.state
    assert state is not None
    assert state.total_ws_messages == data["responses_total"]  # every echo, both counts
    assert state.total_requests == 4  # the four handshakes


class PerConnection:
    """Plaintext, counting the requests per client port (per connection)."""

    def __init__(self) -> None:
        self.by_port: collections.Counter[int] = collections.Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        self.by_port[scope["client"][1]] += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def test_c10k_rotates_requests_over_every_held_connection() -> None:
    app = PerConnection()
    with harness.serving(app, server_backend(), access_log=False) as server:
        data = measured(
            "--port", str(server.port), "--workload", "c10k", "--connections", "4",
            "--hold", "300", "--warmup", "0.3", "--duration", "0.7", "--timeout", "10",
        )  # fmt: skip
        state = server.server.state
        assert state is not None
        assert state.total_connections == 300
        assert state.total_requests == data["responses_total"]
    assert data["connections_open"] == 300
    assert data["errors"] == dict.fromkeys(ERROR_KINDS, 0)
    total = data["responses_total"]
    assert total >= 600, total  # twice round the ring at least, on a slow machine too
    # requests go round the ring: every connection got its turn, none more than its share
    assert len(app.by_port) == 300
    assert max(app.by_port.values()) - min(app.by_port.values()) <= 1 + 4


@pytest.mark.skipif(loops.IS_WINDOWS, reason="RLIMIT_NOFILE is POSIX")
def test_c10k_says_when_the_fd_limit_cannot_be_raised(
    demo_server: harness.RunningServer,
) -> None:
    resource: Any = importlib.import_module("resource")  # POSIX only

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))

    done = subprocess.run(
        [sys.executable, "-m", "xloop.compare.client", "--port", str(demo_server.port),
         "--workload", "c10k", "--hold", "300", *SHORT],
        capture_output=True, text=True, timeout=120, check=False, preexec_fn=low_limit,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["fd_limit"] == (
        "RLIMIT_NOFILE could be raised only to its hard limit 100, "
        "under the 364 that 300 sockets need (ulimit -Hn)"
    )
    assert data["errors"]["connect"] > 0  # the sockets past the limit, from the failure
    assert data["connections_open"] < 300
