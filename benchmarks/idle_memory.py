"""Memory per idle open connection: xloop and uvicorn side by side, on the same loop.

    python benchmarks/idle_memory.py                      # HTTP keep-alive, 10,000 connections
    python benchmarks/idle_memory.py --protocol ws        # WebSockets, 10,000 sockets
    python benchmarks/idle_memory.py --protocol ws --details wsproto --connections 2000
    python benchmarks/idle_memory.py --protocol ws --deflate  # clients offer permessage-deflate

``--protocol http``: each connection sends one ``GET`` to ``benchmarks.apps:hello``, reads
the whole response and stays open (keep-alive, idle), per loop and parser (``--details``:
h11, httptools). ``--protocol ws``: each server runs ``benchmarks.apps:ws_idle`` (accept,
then wait in ``receive``) with the same loop, parser (httptools) and WebSocket library
(``--details``: engines): xloop's ``websockets`` engine beside uvicorn's
``websockets-sansio`` (both on websockets' sans-IO protocol), xloop's ``wsproto`` beside
uvicorn's ``wsproto``.

Each server runs in its own process. The client opens the connections in batches, waits
until the server has taken them all (its RSS settles), and reports the server's resident
set growth divided by the number of connections: KiB per idle connection, each figure the
median of ``--rounds`` runs. Servers alternate which goes first from round to round.

The open-files limit is raised to its hard limit for this process and the servers (10,000
sockets need more than the common 1024: ``ulimit -Hn`` must allow about connections + 100).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from xloop import loops

ROOT = Path(__file__).resolve().parent.parent
STARTED = re.compile(r"(?:serving on|running on) http://127\.0\.0\.1:(\d+)")
UVICORN_WS = {"websockets": "websockets-sansio", "wsproto": "wsproto"}
UVICORN_LOOP = {"uvloop": "uvloop", "asyncio": "asyncio", "selector": "asyncio"}
DETAILS = {"http": "h11,httptools", "ws": "websockets,wsproto"}
NOUN = {"http": "keep-alive HTTP connection", "ws": "WebSocket"}


def raise_open_files(wanted: int) -> None:
    """Raise the open-files limit to its hard limit (Windows has no limit of this kind)."""
    if loops.IS_WINDOWS:
        return
    resource = importlib.import_module("resource")  # POSIX only
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(wanted, soft)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if target < wanted:
        raise SystemExit(f"open-files hard limit {hard} is below the {wanted} needed")


def start(
    server: str, loop: str, protocol: str, detail: str, log: Path
) -> tuple[subprocess.Popen[bytes], int]:
    """Start ``server``; ``detail`` is the parser (http) or the WebSocket engine (ws)."""
    if protocol == "ws":
        app, parser = "benchmarks.apps:ws_idle", "httptools"
        ws = detail if server == "xloop" else UVICORN_WS[detail]
    else:
        app, parser, ws = "benchmarks.apps:hello", detail, "none"
    if server == "xloop":
        command = [sys.executable, "-m", "xloop", "serve", app, "--loop", loop]
    else:
        command = [sys.executable, "-m", "uvicorn", app, "--loop", UVICORN_LOOP[loop]]
    command += ["--http", parser, "--ws", ws, "--backlog", "4096"]
    command += ["--no-access-log", "--lifespan", "off", "--port", "0"]
    command += ["--timeout-keep-alive", "600"]  # no idle connection closes while measured
    stream = log.open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stream, stderr=stream)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        match = STARTED.search(log.read_text())
        if match:
            return process, int(match.group(1))
        if process.poll() is not None:
            break
        time.sleep(0.05)
    process.kill()
    raise SystemExit(f"{server} did not start:\n{log.read_text()}")


async def open_sockets(
    port: int, count: int, protocol: str, deflate: bool
) -> list[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    extension = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def one() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        if protocol == "http":
            writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"not served: {head[:80]!r}")
            length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
            if length is None:
                await reader.readuntil(b"0\r\n\r\n")  # chunked: the body, whole
            else:
                await reader.readexactly(int(length.group(1)))
            opened.append((reader, writer))
            return
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            (
                f"GET /idle HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n{extension if deflate else ''}\r\n"
            ).encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise RuntimeError(f"not accepted: {head[:80]!r}")
        opened.append((reader, writer))

    batch = 250
    for start_at in range(0, count, batch):
        await asyncio.gather(*(one() for _ in range(min(batch, count - start_at))))
    return opened


def settled_rss(process: psutil.Process, seconds: float = 1.0) -> int:
    """The RSS once it has stopped moving (the last of the accepts processed)."""
    last = process.memory_info().rss
    while True:
        time.sleep(seconds)
        now = process.memory_info().rss
        if abs(now - last) < 64 * 1024:
            return now
        last = now


def measure(
    server: str, loop: str, protocol: str, detail: str, count: int, deflate: bool, logs: Path
) -> float:
    log = logs / f"{server}-{loop}-{protocol}-{detail}.log"
    process, port = start(server, loop, protocol, detail, log)
    try:
        watched = psutil.Process(process.pid)
        # Warm up: the first connections import what the parser or engine needs.
        warm = asyncio.run(_open_and_close(port, 20, protocol, deflate))
        assert warm == 20
        before = settled_rss(watched)
        opened_at = time.monotonic()
        rss_after, opened = asyncio.run(_open_and_hold(port, count, protocol, deflate, watched))
        elapsed = time.monotonic() - opened_at
        per_socket = (rss_after - before) / opened / 1024
        print(
            f"  {server:8} {loop:9} {detail:11} {opened:>6} sockets in {elapsed:5.1f}s: RSS "
            f"{before / 2**20:7.1f} -> {rss_after / 2**20:7.1f} MiB = {per_socket:6.2f} KiB each",
            flush=True,
        )
        return per_socket
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


async def _open_and_close(port: int, count: int, protocol: str, deflate: bool) -> int:
    sockets = await open_sockets(port, count, protocol, deflate)
    for _, writer in sockets:
        writer.close()
    return len(sockets)


async def _open_and_hold(
    port: int, count: int, protocol: str, deflate: bool, watched: psutil.Process
) -> tuple[int, int]:
    sockets = await open_sockets(port, count, protocol, deflate)
    rss = await asyncio.to_thread(settled_rss, watched)
    for _, writer in sockets:
        writer.close()
    return rss, len(sockets)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=10_000)
    parser.add_argument(
        "--loops", default="uvloop,selector", help=f"some of {','.join(UVICORN_LOOP)}"
    )
    parser.add_argument("--protocol", choices=("http", "ws"), default="http")
    parser.add_argument(
        "--details",
        default=None,
        help="parsers (http; default h11,httptools) or engines (ws; default websockets,wsproto)",
    )
    parser.add_argument("--servers", default="xloop,uvicorn")
    parser.add_argument("--rounds", type=int, default=1, help="runs per figure (median)")
    parser.add_argument("--deflate", action="store_true", help="clients offer permessage-deflate")
    args = parser.parse_args()
    unknown = set(args.loops.split(",")) - set(UVICORN_LOOP)
    if unknown:
        known = ",".join(UVICORN_LOOP)
        parser.error(f"--loops: unknown {','.join(sorted(unknown))}; known: {known}")
    raise_open_files(args.connections + 200)
    protocol = args.protocol
    details = (args.details or DETAILS[protocol]).split(",")
    logs = Path(tempfile.mkdtemp(prefix="idle-memory-"))
    table: dict[tuple[str, str, str], list[float]] = {}
    for loop in args.loops.split(","):
        for detail in details:
            for round_ in range(args.rounds):
                servers = args.servers.split(",")
                if round_ % 2:
                    servers.reverse()  # A B, B A: neither always goes first
                for server in servers:
                    figure = measure(
                        server, loop, protocol, detail, args.connections, args.deflate, logs
                    )
                    table.setdefault((server, loop, detail), []).append(figure)
    print()
    print(
        f"KiB of server RSS per idle {NOUN[protocol]} ({args.connections} connections"
        f"{', permessage-deflate' if args.deflate else ''}; median of {args.rounds})"
    )
    servers = args.servers.split(",")
    column = "engine" if protocol == "ws" else "parser"
    print(f"{'loop':9} {column:11} " + " ".join(f"{s:>9}" for s in servers))
    for loop in args.loops.split(","):
        for detail in details:
            figures = [statistics.median(table[(s, loop, detail)]) for s in servers]
            print(f"{loop:9} {detail:11} " + " ".join(f"{f:9.2f}" for f in figures))
    print(f"logs: {logs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
