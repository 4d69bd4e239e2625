#!/usr/bin/env python3
"""Instructions per request of the server's Python path, without sockets, xloop and uvicorn
side by side.

Each server's own protocol object (xloop's ``Connection``, uvicorn's ``HttpToolsProtocol``
or ``H11Protocol``) runs on a real event loop over a transport that only counts what is
written: 16 connections each get a keep-alive GET, the loop turns until every app has
answered, again and again. Everything a request costs in Python and in the loop is
measured (parsing, the scope, the task, the app's two ``send`` calls, the response bytes,
going idle); the kernel's share of a real socket is not. ``valgrind --tool=callgrind``
counts the instructions of two runs of different lengths, and the difference is divided by
the difference of their request counts (start-up cancels out)::

    .venv/bin/python benchmarks/request_instructions.py
    .venv/bin/python benchmarks/request_instructions.py --servers xloop --loops uvloop --http h11
    .venv/bin/python benchmarks/request_instructions.py --time   # microseconds instead (noisy)

Needs valgrind (``apt-get install valgrind``) unless ``--time``; uvicorn only where installed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from email.utils import formatdate
from pathlib import Path
from typing import Any

REQUEST = b"GET / HTTP/1.1\r\nHost: 127.0.0.1:8000\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n"
CONNECTIONS = 16
HEADERS = [(b"content-type", b"text/plain; charset=utf-8")]


async def hello(scope: Any, receive: Any, send: Any) -> None:
    """The seed hello world (``benchmarks.apps:hello``), defined here to stand alone."""
    await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
    await send({"type": "http.response.body", "body": b"Hello, world!"})


class CountingTransport(asyncio.Transport):
    """A transport that accepts every write and counts the response heads in them (uvicorn
    writes a head and its body apart, xloop together)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes = 0
        self.closing = False

    def write(self, data: Any) -> None:
        self.writes += bytes(data[:9]) == b"HTTP/1.1 "

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 50000), "sockname": ("127.0.0.1", 8000)}.get(
            name, default
        )

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0


def xloop_protocol(http: str) -> Callable[[], asyncio.Protocol]:
    from xloop.config import Config
    from xloop.http import connection_factory
    from xloop.server.connection import Connection
    from xloop.server.idle import IdleQueue
    from xloop.server.state import ServerState

    loop = asyncio.get_running_loop()
    config = Config(app="benchmarks.apps:hello", http=http, access_log=False)
    limits = config.limits()
    state = ServerState(config, hello, connection_factory(http, limits), {}, asyncio.Event())
    # No parking: under callgrind a round runs about 50 times slower than at full speed, and
    # a connection idle for 50 ms of that slowed time would park between its requests,
    # which in a busy keep-alive loop at full speed it does not.
    timeouts = (state.timeout_keep_alive, state.timeout_request_header)
    state.idle = IdleQueue(loop, timeouts, park_after=float("inf"))
    return lambda: Connection(state, loop)


def uvicorn_protocol(http: str) -> Callable[[], asyncio.Protocol]:
    from uvicorn.config import Config
    from uvicorn.server import ServerState

    if http == "httptools":
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as protocol
    else:
        from uvicorn.protocols.http.h11_impl import H11Protocol as protocol  # type: ignore[assignment]

    config = Config(app=hello, http=http, access_log=False, lifespan="off")
    config.load()
    state = ServerState()
    # what uvicorn's main loop keeps there: its server and date headers
    date = formatdate(time.time(), usegmt=True).encode()
    state.default_headers = [(b"date", date), *config.encoded_headers]
    return lambda: protocol(config, state, {})


async def serve(server: str, http: str, rounds: int) -> list[float]:
    """Answer ``rounds`` x CONNECTIONS GETs; the seconds per request of each round."""
    factory = xloop_protocol(http) if server == "xloop" else uvicorn_protocol(http)
    connections = []
    for _ in range(CONNECTIONS):
        protocol, transport = factory(), CountingTransport()
        protocol.connection_made(transport)
        connections.append((protocol, transport))
    times: list[float] = []
    for _ in range(rounds):
        start = time.perf_counter()
        for protocol, _transport in connections:
            protocol.data_received(REQUEST)
        for _turn in range(100):
            await asyncio.sleep(0)
            if all(t.writes > len(times) for _, t in connections):
                break
        else:
            raise RuntimeError("a response was not written within 100 loop turns")
        times.append((time.perf_counter() - start) / CONNECTIONS)
    written = sum(t.writes for _, t in connections)
    if written != rounds * CONNECTIONS:
        raise RuntimeError(f"{written} responses written for {rounds * CONNECTIONS} requests")
    return times


def run(loop: str, coro: Any) -> Any:
    if loop == "uvloop":
        import uvloop

        return uvloop.run(coro)
    return asyncio.run(coro)


def instructions(server: str, loop: str, http: str, rounds: int) -> int:
    command = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    command += [sys.executable, __file__, "--child", server, loop, http, str(rounds)]
    env = dict(os.environ, PYTHONHASHSEED="0")
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    match = re.search(r"Collected : (\d+)", done.stderr)
    if match is None:
        raise RuntimeError(f"no callgrind total in:\n{done.stderr[-2000:]}")
    return int(match.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="xloop,uvicorn")
    parser.add_argument("--loops", default="asyncio,uvloop")
    parser.add_argument("--http", default="httptools,h11")
    parser.add_argument("--small", type=int, default=20, help="rounds of the short run")
    parser.add_argument("--large", type=int, default=220, help="rounds of the long run")
    parser.add_argument("--time", action="store_true", help="microseconds, not instructions")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        server, loop, http, rounds = args.child
        run(loop, serve(server, http, int(rounds)))
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    servers = [s for s in args.servers.split(",") if s == "xloop" or importlib.util.find_spec(s)]
    unit = "us per request (median)" if args.time else "instructions per request"
    print(f"{'loop':8} {'http':10} " + " ".join(f"{s:>10}" for s in servers) + f"   {unit}")
    for loop in args.loops.split(","):
        for http in args.http.split(","):
            figures = []
            for server in servers:
                if args.time:
                    times = run(loop, serve(server, http, args.large))
                    figures.append(statistics.median(times[args.small :]) * 1e6)
                else:
                    small = instructions(server, loop, http, args.small)
                    large = instructions(server, loop, http, args.large)
                    per = (large - small) / ((args.large - args.small) * CONNECTIONS)
                    figures.append(per)
            cells = " ".join(f"{f:10,.1f}" if args.time else f"{f:10,.0f}" for f in figures)
            ratio = f"   uvicorn/xloop {figures[1] / figures[0]:.2f}" if len(figures) == 2 else ""
            print(f"{loop:8} {http:10} {cells}{ratio}")


if __name__ == "__main__":
    main()
