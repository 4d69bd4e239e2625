#!/usr/bin/env python3
"""The garbage collector's pauses under load: xloop, xloop ``--gc-freeze`` and uvicorn side
by side, on the same loop, parser and app.

    .venv/bin/python benchmarks/gc_pauses.py                     # json app, uvloop + h11
    .venv/bin/python benchmarks/gc_pauses.py --loop asyncio --http httptools --rounds 5
    .venv/bin/python benchmarks/gc_pauses.py --servers xloop,xloop-gc-freeze

Each server runs in its own process, pinned to CPU 0, with wrk on CPU 1 (``-t1``,
``--connections``, ``--latency``). A probe (``gc.callbacks``, from a ``sitecustomize``
module this script writes to a temporary directory on the servers' ``PYTHONPATH``) times
every collection and writes them out on ``SIGUSR1``; only the collections inside
the measured window count. Rounds alternate between the servers; each figure is the median
of the rounds: requests/s and p99 latency (wrk), then per generation the collections per
10,000 requests and the mean and longest pause.

Under load, young collections come from the objects the requests in flight hold; their
survivors lead to full collections, which walk every object the process holds (its modules,
the app). ``--gc-freeze`` moves those out of the collector's reach once the app has started.

Linux (taskset, wrk); run it on an idle machine.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PROBE = """
import gc, os, signal, time

_out = os.environ.get("GC_PAUSES_OUT")
_seen = []
_start = [0.0]


def _probe(phase, info):
    if phase == "start":
        _start[0] = time.perf_counter()
    else:
        _seen.append((info["generation"], time.time(), time.perf_counter() - _start[0]))


def _write():
    with open(_out, "w", encoding="ascii") as file:
        for generation, at, took in _seen:
            file.write(f"{generation} {at:.6f} {took:.9f}\\n")


if _out:
    gc.callbacks.append(_probe)
    signal.signal(signal.SIGUSR1, lambda *_: _write())
"""

SERVERS = {
    "xloop": ["-m", "xloop", "serve"],
    "xloop-gc-freeze": ["-m", "xloop", "serve", "--gc-freeze"],
    "uvicorn": ["-m", "uvicorn"],
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_port(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"a server exited at start-up (exit code {process.returncode})")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # (polling a port that is not open yet: no event to wait on)
    raise SystemExit(f"no server on port {port} after 30 s")


def _wait_file(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while not path.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)  # (a file another process writes: no event to wait on)


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(port: int, connections: int, seconds: float, path: str) -> tuple[float, float, int]:
    """Requests/s, p99 in ms and requests of one wrk run."""
    url = f"http://127.0.0.1:{port}{path}"
    wrk = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", url]
    out = subprocess.run(
        ["taskset", "-c", "1", *wrk],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    total = re.search(r"(\d+) requests in", out)
    if rate is None or p99 is None or total is None:
        raise SystemExit(f"wrk's output was not understood:\n{out}")
    return float(rate.group(1)), _ms(p99.group(1), p99.group(2)), int(total.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", default="xloop,xloop-gc-freeze,uvicorn")
    parser.add_argument("--loop", default="uvloop")
    parser.add_argument("--http", default="h11")
    parser.add_argument("--app", default="benchmarks.apps:json_app")
    parser.add_argument("--path", default="/")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per round")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if not hasattr(signal, "SIGUSR1"):
        raise SystemExit("POSIX only: the probe is read on SIGUSR1")
    if not shutil.which("taskset") or not shutil.which("wrk"):
        raise SystemExit("needs taskset and wrk (Linux: apt-get install wrk)")
    names = [name.strip() for name in args.servers.split(",") if name.strip()]
    unknown = [name for name in names if name not in SERVERS]
    if unknown:
        raise SystemExit(f"unknown server {unknown[0]!r}: one of {', '.join(SERVERS)}")

    with tempfile.TemporaryDirectory(prefix="gc-pauses-") as scratch:
        probe_dir = Path(scratch)
        (probe_dir / "sitecustomize.py").write_text(PROBE, encoding="utf-8")
        processes: dict[str, tuple[subprocess.Popen[bytes], int, Path]] = {}
        try:
            for name in names:
                port = _free_port()
                out = probe_dir / f"{name}.txt"
                env = dict(os.environ, GC_PAUSES_OUT=str(out))
                env["PYTHONPATH"] = os.pathsep.join(
                    filter(None, [str(probe_dir), str(ROOT), env.get("PYTHONPATH")])
                )
                command = ["taskset", "-c", "0", sys.executable, *SERVERS[name], args.app]
                command += ["--loop", args.loop, "--http", args.http, "--port", str(port)]
                command += ["--no-access-log", "--log-level", "warning"]
                process = subprocess.Popen(command, cwd=ROOT, env=env)
                processes[name] = (process, port, out)
            for process, port, _ in processes.values():
                _wait_port(port, process)
            windows: dict[str, list[tuple[float, float, float, float, int]]] = {
                name: [] for name in names
            }
            for _ in range(args.rounds):
                for name, (_, port, _) in processes.items():
                    if args.warmup > 0:
                        _wrk(port, args.connections, args.warmup, args.path)
                    begin = time.time()
                    rate, p99, total = _wrk(port, args.connections, args.duration, args.path)
                    windows[name].append((begin, time.time(), rate, p99, total))
        finally:
            # The probe writes what it saw on SIGUSR1 (uvicorn ends itself by its stop signal
            # once it has shut down: no atexit there).
            for process, _, out in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.Signals["SIGUSR1"])
                    _wait_file(out, process)
                    process.send_signal(signal.SIGTERM)
            for process, _, _ in processes.values():
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        print(
            f"{args.app} on {args.loop} + {args.http}, {args.connections} connections, "
            f"{args.rounds} rounds of {args.duration:g} s (medians)"
        )
        print(
            f"{'server':16} {'req/s':>8} {'p99 ms':>7}   "
            + "   ".join(f"gen{g}: per 10k, mean ms, max ms" for g in range(3))
        )
        for name, (_, _, out) in processes.items():
            collections = [line.split() for line in out.read_text().splitlines()]
            rows = windows[name]
            cells = []
            for generation in range(3):
                per_10k, means, longest = [], [], []
                for begin, end, _, _, total in rows:
                    took = [
                        float(pause) * 1000
                        for gen, at, pause in collections
                        if int(gen) == generation and begin <= float(at) <= end
                    ]
                    per_10k.append(len(took) * 10_000 / total)
                    means.append(statistics.fmean(took) if took else 0.0)
                    longest.append(max(took, default=0.0))
                cells.append(
                    f"{statistics.median(per_10k):6.1f} {statistics.median(means):6.2f} "
                    f"{statistics.median(longest):6.2f}"
                )
            rate = statistics.median(row[2] for row in rows)
            p99 = statistics.median(row[3] for row in rows)
            print(f"{name:16} {rate:8.0f} {p99:7.2f}   " + "   ".join(f"{c:>31}" for c in cells))


if __name__ == "__main__":
    main()
