"""Random and mutated requests, cut into random reads, over real sockets on every backend:
no traceback, no hang, every answer a well-formed status line, and the server goes on."""

from __future__ import annotations

import itertools
import logging
import re
import socket
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .client import exchange, get
from .harness import Backend, RunningServer, serving

SEEDS = [
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /p?q=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
    b"POST /e HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"POST /e HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
    b"POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc",
    b"GET / HTTP/1.0\r\n\r\n",
    b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
]
SPECIAL = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b"\x7f", b"\xff", b"0", b"-", b";"]
STATUS_LINE = re.compile(rb"HTTP/1\.1 [1-5][0-9][0-9] ")


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(b"".join(draw(st.lists(st.sampled_from(SEEDS), min_size=1, max_size=3))))
    for _ in range(draw(st.integers(0, 4))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "repeat"]))
        if action == "insert":
            token = draw(st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=8))
            data[position:position] = token
        elif action == "delete":
            del data[position : position + draw(st.integers(1, 8))]
        elif action == "replace" and position < len(data):
            data[position : position + 1] = draw(st.sampled_from(SPECIAL))
        else:
            data[position:position] = data[position : position + draw(st.integers(1, 40))]
    return bytes(data)


async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the body it read; a client that goes away mid-body just ends it."""
    if scope["type"] != "http":
        raise RuntimeError("no lifespan")
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message["body"]
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _splits(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points) if b > a]


def _answers(running: RunningServer, pieces: list[bytes]) -> bytes:
    """Send the pieces, half-close, read everything until the server closes."""
    with running.connect() as sock:
        for piece in pieces:
            try:
                sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered and closed early: fine
        try:
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        received = bytearray()
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return bytes(received)


def test_random_requests_in_random_reads(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xloop")
    with serving(echo, backend, timeout_request_header=2.0, timeout_keep_alive=2.0) as running:

        @settings(
            max_examples=60,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(data=mutated(), cuts=st.lists(st.integers(0, 10_000), max_size=6))
        def check(data: bytes, cuts: list[int]) -> None:
            answer = _answers(running, _splits(data, cuts))
            if answer:
                assert STATUS_LINE.match(answer), answer[:80]
            # ... and the server still serves a clean request on a new connection.
            with running.connect() as sock:
                assert exchange(sock, get()).status == 200

        check()
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not problems, [r.getMessage() for r in problems]
