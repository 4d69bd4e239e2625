"""Back-pressure both ways: what the server buffers stays bounded when the client or the app
falls behind, and reading resumes once it catches up (no stall)."""

from __future__ import annotations

import asyncio
import threading

from xloop.types import Receive, Scope, Send

from .apps import read_body, wait_until
from .client import POST_HEAD, Reader, get
from .harness import TIMEOUT, Backend, RunningServer, needs, only_connection, serving


def _chunked_body(reader: Reader) -> bytes:
    body = b""
    while True:
        size = int(reader._line().split(b";")[0], 16)
        if not size:
            assert reader._line() == b""
            return body
        body += reader._exact(size)
        assert reader._line() == b""


def test_pipelined_responses_wait_for_the_client_to_read(backend: Backend) -> None:
    """A client that pipelines requests and never reads must not grow the server's memory.

    Each 40-byte request asks for a 1 MiB response sent in one message. ``send`` only
    waits for the transport to drain after a *streamed* chunk, and the next pipelined
    request is started as soon as a response is complete, so every response ends up in
    the transport's buffer. The test waits (bounded) for the app to have been called for
    every request, then reads everything and looks at the largest buffer seen.
    """
    count = 24
    block = b"r" * (1 << 20)
    buffered: list[int] = []
    all_called = threading.Event()
    running: list[RunningServer] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        buffered.append(only_connection(running[0]).transport.get_write_buffer_size())
        if len(buffered) == count:
            all_called.set()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": block})

    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sock.sendall(b"".join(get(f"/{i}") for i in range(count)))
        # Without back-pressure this is reached at once; with it, never before reading.
        all_called.wait(3.0)
        reader = Reader(sock)
        bodies = [reader.response().body for _ in range(count)]
    assert bodies == [block] * count
    assert max(buffered) <= 8 * len(block), max(buffered)


def test_slow_stream_with_a_pipelined_burst_behind_it(backend: Backend) -> None:
    """Reading pauses behind a slow response and resumes after it: no stall, all answered."""
    release = threading.Event()
    count = 200

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        body = await read_body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"] == "/slow":
            for part in (b"s", b"l", b"o"):
                await send({"type": "http.response.body", "body": part, "more_body": True})
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, release.wait, TIMEOUT)
        await send({"type": "http.response.body", "body": body or scope["path"].encode()})

    burst = b"".join(
        get(f"/{i}") if i % 2 else POST_HEAD % 1000 + bytes([65 + i % 26]) * 1000
        for i in range(count)
    )
    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get("/slow"))
        reader = Reader(sock)
        assert reader.head().status == 200
        sender = threading.Thread(target=sock.sendall, args=(burst,))
        sender.start()
        release.set()
        assert _chunked_body(reader) == b"slo/slow"
        bodies = [reader.response().body for _ in range(count)]
        sender.join(TIMEOUT)
    assert bodies == [
        f"/{i}".encode() if i % 2 else bytes([65 + i % 26]) * 1000 for i in range(count)
    ]


def test_large_body_read_slowly_is_not_buffered_whole(backend: Backend) -> None:
    """While the app does not read, the server stops reading: what it holds stays bounded,
    and reading resumes as the app reads (no stall)."""
    needs(backend, "pause_reading")
    size = 8 << 20
    held: list[int] = []
    running: list[RunningServer] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        protocol = only_connection(running[0])
        total = 0
        while True:
            await wait_until(lambda: protocol.read_paused or protocol.cycle.body_received)
            message = await receive()
            held.append(len(message["body"]))
            total += len(message["body"])
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"%d" % total})

    with serving(app, backend) as server, server.connect() as sock:
        running.append(server)
        sender = threading.Thread(target=sock.sendall, args=(POST_HEAD % size + b"b" * size,))
        sender.start()
        response = Reader(sock).response()
        sender.join(TIMEOUT)
    assert response.body == b"%d" % size
    assert max(held) <= (1 << 20), max(held)
