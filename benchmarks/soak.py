"""Soak: a million requests of mixed traffic against one ``xloop serve``, RSS every 100k.

    python benchmarks/soak.py                          # 1,000,000 requests, auto loop/parser
    python benchmarks/soak.py --requests 200000 --loop asyncio --http h11

The mix, repeated by each client task: 10 keep-alive GETs, 8 pipelined GETs, one request on
a connection of its own (``Connection: close``), a 64 KiB upload, a streamed response, and a
connection reset (RST) in the middle of a request head, of a body, or of a response. The
server's resident set size is printed at each 100k requests; after warm-up it must stay flat
(the last sample within ``--tolerance`` of the first one after warm-up: exit 1 otherwise).
Every response is checked (status and body), so a wrong answer stops the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field

import psutil

from xloop import loops

UPLOAD = b"u" * 65536
GET = b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n"
GET_CLOSE = b"GET /json HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n"
POST = b"POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Length: %d\r\n\r\n" % len(UPLOAD) + UPLOAD
STREAM = b"GET /stream HTTP/1.1\r\nHost: soak\r\n\r\n"
SERVING = re.compile(rb"serving on http://127\.0\.0\.1:(\d+)")


@dataclass
class Counters:
    requests: int = 0
    resets: int = 0
    samples: list[tuple[int, float]] = field(default_factory=list)


async def _response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One response: (status, body), by Content-Length or chunked framing."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lowered = head.lower()
    match = re.search(rb"\r\ncontent-length: *(\d+)", lowered)
    if match is not None:
        return status, await reader.readexactly(int(match.group(1)))
    if b"transfer-encoding: chunked" in lowered:
        parts: list[bytes] = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return status, await reader.read()


def _check(status: int, body: bytes, what: str) -> None:
    if status != 200 or not body:
        raise AssertionError(f"{what}: status {status}, {len(body)} bytes")


async def _reset(port: int, payload: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    if payload is STREAM:
        await reader.readuntil(b"\r\n\r\n")  # mid-response
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


async def _client(port: int, counters: Counters, total: int) -> None:
    resets = [b"GET / HTTP/1.1\r\nHost: so", POST[: len(POST) // 2], STREAM]
    turn = 0
    while counters.requests < total:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(10):  # keep-alive
            writer.write(GET)
            _check(*await _response(reader), "keep-alive GET")
        writer.write(GET * 8)  # pipelined
        for _ in range(8):
            _check(*await _response(reader), "pipelined GET")
        writer.write(POST)  # upload
        _check(*await _response(reader), "upload")
        writer.write(STREAM)  # streamed response
        _check(*await _response(reader), "stream")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(GET_CLOSE)  # a connection of its own
        _check(*await _response(reader), "Connection: close")
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        await _reset(port, resets[turn % len(resets)])
        turn += 1
        counters.requests += 21
        counters.resets += 1


async def _soak(port: int, pid: int, args: argparse.Namespace) -> Counters:
    counters = Counters()
    process = psutil.Process(pid)
    clients = [
        asyncio.ensure_future(_client(port, counters, args.requests))
        for _ in range(args.connections)
    ]
    next_mark = args.every
    started = time.monotonic()
    while not all(task.done() for task in clients):
        await asyncio.wait(clients, timeout=0.2)
        for task in clients:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        while counters.requests >= next_mark:
            rss = process.memory_info().rss / 2**20
            counters.samples.append((next_mark, rss))
            rate = counters.requests / (time.monotonic() - started)
            print(f"{next_mark:>9,} requests  RSS {rss:7.1f} MiB  ({rate:,.0f} req/s)", flush=True)
            next_mark += args.every
    return counters


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000, help="RSS sample interval")
    parser.add_argument("--connections", type=int, default=32, help="concurrent client tasks")
    parser.add_argument("--loop", default="auto")
    parser.add_argument("--http", default="auto")
    parser.add_argument("--warmup", type=int, default=2, help="samples that are warm-up")
    parser.add_argument("--tolerance", type=float, default=0.05, help="allowed RSS growth")
    args = parser.parse_args()
    command = [sys.executable, "-m", "xloop", "serve", "--port", "0", "--no-access-log"]
    command += ["--loop", args.loop, "--http", args.http]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        stderr = server.stderr
        assert stderr is not None
        port = None
        for line in stderr:
            sys.stderr.write(line.decode(errors="replace"))
            if (match := SERVING.search(line)) is not None:
                port = int(match.group(1))
                break
        if port is None:
            print("soak: the server did not start", file=sys.stderr)
            return 2
        # Keep its log flowing (a full pipe would block the server), shown as it comes.
        drain = threading.Thread(
            target=lambda: [sys.stderr.write(raw.decode(errors="replace")) for raw in stderr],
            daemon=True,
        )
        drain.start()
        choice = loops.resolve("auto")
        counters = loops.run(_soak(port, server.pid, args), loop_factory=choice.factory)
    finally:
        server.terminate()
        server.wait(30)
    print(f"{counters.requests:,} requests and {counters.resets:,} resets, no wrong answer")
    steady = counters.samples[args.warmup :]
    if len(steady) < 2:
        print("soak: too few samples after warm-up to judge (raise --requests)")
        return 0
    first, last = steady[0][1], steady[-1][1]
    growth = (last - first) / first
    verdict = "flat" if growth <= args.tolerance else "GROWING"
    print(f"RSS after warm-up: {first:.1f} -> {last:.1f} MiB ({growth:+.1%}): {verdict}")
    return 0 if growth <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
