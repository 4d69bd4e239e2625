"""The built-in load client: its framing without sockets, then real runs against real servers.

The runs start ``python -m xloop.compare.client`` as a subprocess (short warmup and
window) against a server in this process, on 127.0.0.1 port 0, and check the JSON it
prints against what the server itself counted.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import importlib.util
import itertools
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
from xloop.compare import client as client_module
from xloop.compare.client import (
    CHUNKED,
    INTERIM,
    UNTIL_CLOSE,
    EchoProtocol,
    HttpProtocol,
    Run,
    parse_head,
)
from xloop.compare.workloads import ECHO_MESSAGE_SIZE
from xloop.http import httptools_available
from xloop.types import Receive, Scope, Send

from ..server import harness

# -- framing, without sockets -----------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Records what the protocol does to its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"
DATE = b"Date: Tue, 24 Nov 2026 00:57:30 GMT\r\n"
PLAIN = b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Length: 13\r\n\r\nHello, world!"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nNot Found"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n" + DATE + b"\r\n"
CHUNKED_BODY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n"
)
CHUNKED_TRAILERS = (
    b"HTTP/1.1 201 Created\r\nTRANSFER-ENCODING: gzip, chunked\r\n\r\n"
    b"1F\r\n" + b"x" * 31 + b"\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
)
CONTINUE_THEN_OK = b"HTTP/1.1 100 Continue\r\n\r\n" + PLAIN
SHOUTING = b"HTTP/1.1 500 Internal Server Error\r\nCONTENT-LENGTH:   4 \r\n\r\nboom"
KEEP_ALIVE_10 = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
NO_REASON = b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 999\r\n\r\n"

SEQUENCE = [
    PLAIN,
    NOT_FOUND,
    NO_CONTENT,
    CHUNKED_BODY,
    CHUNKED_TRAILERS,
    CONTINUE_THEN_OK,
    SHOUTING,
    KEEP_ALIVE_10,
    NO_REASON,
    NOT_MODIFIED,
    PLAIN,
]
SEQUENCE_STATUSES = {b"200": 6, b"404": 1, b"204": 1, b"201": 1, b"500": 1, b"304": 1}
STREAM = b"".join(SEQUENCE)
NO_ERRORS = dict.fromkeys(client_module.ERROR_KINDS, 0)


def connected(
    pipeline: int = 1, request: bytes = REQUEST
) -> tuple[Run, HttpProtocol, FakeTransport]:
    run = Run("127.0.0.1", 80, request, pipeline=pipeline)
    protocol = HttpProtocol(run)
    transport = FakeTransport()
    protocol.connection_made(transport)
    assert transport.writes == [request * pipeline]
    return run, protocol, transport


def feed(protocol: HttpProtocol, *chunks: bytes) -> None:
    for chunk in chunks:
        protocol.data_received(bytes(bytearray(chunk)))  # a fresh object, as from a socket


def assert_whole_sequence(run: Run, protocol: HttpProtocol, transport: FakeTransport) -> None:
    assert run.errors == NO_ERRORS, run.last_error
    assert run.responses == len(SEQUENCE)
    assert run.statuses == SEQUENCE_STATUSES
    assert len(transport.writes) == 2  # the first batch, then the next once all came back
    assert protocol.pending == len(SEQUENCE)
    assert protocol.state == client_module._HEAD
    assert protocol.buf == b""
    assert not transport.closed
    assert not transport.aborted
    assert sum(run.counts) == len(SEQUENCE)  # one latency per response


def test_several_responses_in_one_read() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    feed(protocol, STREAM)
    assert_whole_sequence(run, protocol, transport)
    assert run.bytes_received == len(STREAM)


def test_split_at_every_byte_offset() -> None:
    for offset in range(1, len(STREAM)):
        run, protocol, transport = connected(pipeline=len(SEQUENCE))
        feed(protocol, STREAM[:offset], STREAM[offset:])
        assert_whole_sequence(run, protocol, transport)


def test_one_byte_at_a_time() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    feed(protocol, *(STREAM[i : i + 1] for i in range(len(STREAM))))
    assert_whole_sequence(run, protocol, transport)


def test_split_in_three_around_every_chunk_boundary() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    cuts = sorted({0, *range(0, len(STREAM), 7), len(STREAM)})
    feed(protocol, *(STREAM[a:b] for a, b in itertools.pairwise(cuts)))
    assert_whole_sequence(run, protocol, transport)


def test_one_response_per_batch_sends_the_next_request_each_time() -> None:
    run, protocol, transport = connected()
    for response in SEQUENCE:
        feed(protocol, response)
    assert run.errors == NO_ERRORS
    assert run.responses == len(SEQUENCE)
    assert len(transport.writes) == len(SEQUENCE) + 1
    assert set(transport.writes) == {REQUEST}


def test_repeated_identical_response_takes_the_fast_path_and_counts_the_same() -> None:
    run, protocol, transport = connected()
    feed(protocol, PLAIN)
    assert protocol.memo == PLAIN
    feed(protocol, PLAIN, PLAIN, NOT_FOUND, PLAIN)
    assert run.responses == 5
    assert run.statuses == {b"200": 4, b"404": 1}
    assert len(transport.writes) == 6
    # pipelined: a read holding one response of the batch counts once, not as a batch
    run, protocol, transport = connected(pipeline=3)
    feed(protocol, PLAIN * 3)
    feed(protocol, PLAIN, PLAIN)
    assert run.responses == 5
    assert protocol.pending == 1
    assert len(transport.writes) == 2
    feed(protocol, PLAIN)
    assert protocol.pending == 3
    assert len(transport.writes) == 3
    assert run.errors == NO_ERRORS


def test_fast_path_never_skips_a_partial_head() -> None:
    run, protocol, transport = connected()
    feed(protocol, PLAIN)
    feed(protocol, PLAIN[:5])  # the start of a head is waiting...
    feed(protocol, PLAIN)  # ... so these bytes are not a whole response
    assert run.errors["protocol"] == 1
    assert transport.aborted


def test_connection_close_ends_the_connection_without_an_error() -> None:
    closing = PLAIN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    run, protocol, transport = connected(pipeline=3)
    feed(protocol, closing + b"ignored")
    assert run.responses == 1
    assert not transport.is_closing()  # the server closes first: TIME_WAIT stays there
    assert run.unanswered == 2  # the server will not answer the rest of the batch
    assert protocol.pending == 0
    assert protocol.eof_received() is None  # then asyncio closes the transport
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert len(transport.writes) == 1


def test_http_10_without_keep_alive_closes() -> None:
    run, protocol, transport = connected()
    feed(protocol, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert not transport.is_closing()
    assert protocol.closing
    assert protocol.pending == 0
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert run.responses == 1


def test_body_until_the_server_closes() -> None:
    run, protocol, _transport = connected()
    feed(protocol, b"HTTP/1.1 200 OK\r\n\r\nsome", b" body")
    assert run.responses == 0
    assert protocol.eof_received() is None
    assert run.responses == 1
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS


def test_server_closing_mid_response_is_a_read_error() -> None:
    run, protocol, _transport = connected()
    feed(protocol, PLAIN[:30])
    protocol.connection_lost(None)
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.last_error == "connection closed by the server"
    assert run.unanswered == 1


def test_server_closing_mid_response_it_said_it_would_close_after_is_a_read_error() -> None:
    closing = PLAIN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    run, protocol, _transport = connected()
    feed(protocol, closing[:-3])
    protocol.connection_lost(None)
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.responses == 0


def test_server_closing_with_responses_due_is_a_read_error() -> None:
    run, protocol, _transport = connected(pipeline=2)
    feed(protocol, PLAIN)
    protocol.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.responses == 1


def test_broken_pipe_is_a_write_error() -> None:
    run, protocol, _transport = connected()
    protocol.connection_lost(BrokenPipeError(32, "Broken pipe"))
    assert run.errors == {**NO_ERRORS, "write": 1}


def test_at_the_end_of_the_run_the_connection_closes_once_answered() -> None:
    run, protocol, transport = connected(pipeline=2)
    run.sending = False
    feed(protocol, PLAIN)
    assert not transport.is_closing()
    feed(protocol, PLAIN)
    assert transport.is_closing()
    assert len(transport.writes) == 1
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert run.unanswered == 0


@pytest.mark.parametrize(
    "response",
    [
        b"garbage\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
        PLAIN + PLAIN,  # one request sent, two responses back
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (client_module.MAX_HEAD + 1),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 70_000,
    ],
)
def test_unparseable_is_a_protocol_error(response: bytes) -> None:
    run, protocol, transport = connected()
    feed(protocol, response)
    assert run.errors == {**NO_ERRORS, "protocol": 1}, run.last_error
    assert run.last_error.startswith("malformed response: ")
    assert transport.aborted
    feed(protocol, PLAIN)  # ignored: the connection is being dropped
    protocol.connection_lost(None)
    assert run.errors["protocol"] == 1
    assert sum(run.errors.values()) == 1


def test_parse_head() -> None:
    assert parse_head(PLAIN.split(b"\r\n\r\n")[0]) == (b"200", 13, False)
    assert parse_head(b"HTTP/1.1 404 Not Found\r\nconnection: Close") == (b"404", UNTIL_CLOSE, True)
    assert parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked") == (b"200", CHUNKED, False)
    assert parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip") == (b"200", UNTIL_CLOSE, True)
    assert parse_head(b"HTTP/1.1 100 Continue") == (b"100", INTERIM, False)
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5") == (b"200", 5, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 5") == (b"200", 5, True)
    assert parse_head(b"HTTP/1.1 204 No Content") == (b"204", 0, False)
    for bad in (b"", b"HTTP/1.1 20", b"HTTP/1.1  200 OK", b"HTTP/1.1 200X", b"HTTP/1.1 099 X"):
        with pytest.raises(ValueError, match=r"."):
            parse_head(bad)


def test_echo_counts_a_message_when_all_its_bytes_are_back() -> None:
    message = b"x" * ECHO_MESSAGE_SIZE
    run = Run("127.0.0.1", 80, message, pipeline=2, tcp=True)
    protocol = EchoProtocol(run)
    transport = FakeTransport()
    protocol.connection_made(transport)
    assert transport.writes == [message * 2]
    assert len(protocol.get_buffer(-1)) >= 2 * ECHO_MESSAGE_SIZE
    protocol.buffer_updated(1000)
    assert run.responses == 0
    protocol.buffer_updated(2 * ECHO_MESSAGE_SIZE - 1000)
    assert run.responses == 2
    assert len(transport.writes) == 2
    protocol.buffer_updated(2 * ECHO_MESSAGE_SIZE + 1)  # more than was sent
    assert run.errors == {**NO_ERRORS, "protocol": 1}
    assert transport.aborted


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
    assert data["errors"] == dict.fromkeys(client_module.ERROR_KINDS, 0), data["last_error"]
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
    assert data["errors"] == dict.fromkeys(client_module.ERROR_KINDS, 0)
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
    assert data["errors"] == dict.fromkeys(client_module.ERROR_KINDS, 0)
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
    assert data["errors"] == dict.fromkeys(client_module.ERROR_KINDS, 0)
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
