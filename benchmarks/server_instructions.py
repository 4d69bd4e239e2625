#!/usr/bin/env python3
"""Instructions one ``xloop serve`` process spends per keep-alive GET, counted by callgrind.

Wall-clock and CPU-time figures on a shared machine move with the neighbours; instruction
counts do not. This starts the demo app under ``valgrind --tool=callgrind`` twice, sends
``--small`` and then ``--large`` GETs of ``/`` one after another on one keep-alive
connection, stops the server with SIGINT, and divides the difference of the two totals by
the difference of the request counts (start-up and shutdown cancel out)::

    .venv/bin/python benchmarks/server_instructions.py --http httptools,zttp --loop asyncio,uvloop

With ``--connections N`` the GETs go in rounds, one on each of N connections before any
response is read: the server's polls then find several connections ready, as under a
load generator's concurrency, and per-poll costs (a loop turn, a deferred write's flush)
are shared as they are there. ``--small`` and ``--large`` should be multiples of N.

With ``--servers xloop,uvicorn,granian`` the other servers run the same app under
callgrind with the flags ``xloop compare --servers`` starts them with (granian: one worker,
one runtime thread; its own parser, so one row per loop); children are counted too
(``--trace-children``: granian serves from one), and so are all threads. Instructions are
not time: a server that hands each request between threads (granian: Rust to Python and
back) also pays for the system calls and wake-ups that brings, which callgrind does not
count (``strace -c -f`` shows them), so the req/s ratio of ``xloop compare`` can run above
the instruction ratio.

Needs valgrind (``apt-get install valgrind``); each run takes a minute or so.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from xloop.compare import others

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
_LENGTH = re.compile(rb"content-length: *(\d+)", re.IGNORECASE)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _connect(port: int, timeout: float) -> socket.socket:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_connection(("127.0.0.1", port))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)  # the server under valgrind takes seconds to start listening


def _response(sock: socket.socket, buffer: bytes) -> bytes:
    """Read one response on ``sock``; what was read beyond it."""
    while True:
        end = buffer.find(b"\r\n\r\n")
        if end >= 0:
            match = _LENGTH.search(buffer, 0, end)
            if match is None:
                raise RuntimeError(f"no Content-Length in {buffer[:end]!r}")
            total = end + 4 + int(match.group(1))
            if len(buffer) >= total:
                return buffer[total:]
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("the server closed the connection")
        buffer += chunk


def _get(socks: list[socket.socket], count: int) -> None:
    """``count`` GETs in rounds: one on each connection, then each one's response."""
    buffers = [b""] * len(socks)
    for _ in range(count // len(socks)):
        for sock in socks:
            sock.sendall(REQUEST)
        for index, sock in enumerate(socks):
            buffers[index] = _response(sock, buffers[index])


def _server(name: str, http: str, loop: str, port: int, transport: str) -> list[str]:
    """The command that serves the demo app with server ``name``."""
    if name == "xloop":
        command = [str(Path(sys.executable).with_name("xloop")), "serve", "xloop.demo:app"]
        command += ["--port", str(port), "--http", http, "--loop", loop, "--no-access-log"]
        return [*command, "--log-level", "warning", "--lifespan", "off", "--transport", transport]
    arguments = others.command(
        name,
        app="xloop.demo:app",
        factory=False,
        loop=loop,
        parser=http,
        ws=None,
        host="127.0.0.1",
        port=port,
        keep_alive=None,
    )
    return [sys.executable, "-m", *arguments, "--log-level", "warning"]


def instructions(
    http: str,
    loop: str,
    count: int,
    connections: int = 1,
    transport: str = "auto",
    server: str = "xloop",
) -> int:
    """Instructions of a whole server (its processes and threads) that answered ``count``
    GETs, sent in rounds of one on each of ``connections``."""
    port = _free_port()
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += ["--trace-children=yes", *_server(server, http, loop, port, transport)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, text=True
    ) as process:
        socks = [_connect(port, 120.0) for _ in range(connections)]
        try:
            _get(socks, count)
        finally:
            for sock in socks:
                sock.close()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=120)
    totals = re.findall(r"Collected : (\d+)", err)  # (one a process)
    if not totals:
        raise RuntimeError(f"no callgrind total in:\n{err[-2000:]}")
    return sum(int(total) for total in totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--http", default="httptools", help="comma-separated parsers")
    parser.add_argument("--loop", default="asyncio", help="comma-separated loops")
    parser.add_argument("--small", type=int, default=300)
    parser.add_argument("--large", type=int, default=1500)
    parser.add_argument(
        "--connections",
        type=int,
        default=1,
        help="keep-alive connections; each round sends a GET on every one before reading "
        "the responses, so one poll of the server finds several ready, as under load",
    )
    parser.add_argument(
        "--transport",
        default="auto",
        choices=("auto", "loop"),
        help="xloop serve --transport: loop measures the selector loop's own transport",
    )
    parser.add_argument(
        "--servers",
        default="xloop",
        help="comma-separated: xloop, uvicorn, granian (as xloop compare --servers runs them)",
    )
    args = parser.parse_args()
    connections = args.connections
    for server in args.servers.split(","):
        if not others.installed(server):
            print(f"{server:8} not installed: pip install {server}")
            continue
        for loop in args.loop.split(","):
            parsers = args.http.split(",")
            if server != "xloop" and others.SPECS[server].parsers is None:
                parsers = [others.OWN_PARSER]  # (its own parser: one row a loop)
            for http in parsers:
                counts = [
                    instructions(http, loop, count, connections, args.transport, server)
                    for count in (args.small, args.large)
                ]
                per_request = (counts[1] - counts[0]) / (args.large - args.small)
                print(
                    f"{server:8} {loop:8} {http:9} {per_request:9,.0f} instructions per"
                    f" keep-alive GET ({connections} connection{'s' if connections > 1 else ''})"
                )


if __name__ == "__main__":
    main()
