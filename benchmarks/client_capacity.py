"""Is the built-in client of ``xloop compare`` fast enough not to be the bottleneck?

Starts ``xloop serve`` (uvloop + httptools, no access log) pinned to CPU 0 and loads it
from CPU 1, alternating the built-in client (``python -m xloop.compare.client``) and
``wrk -t1``, ``--rounds`` times each, and prints the medians: the two req/s should agree
(the server sets the pace for both), and the client's CPU use hints at its capacity
(req/s / CPU share; an underestimate, since a client that waits pays for every wakeup).
Then the same client with ``--pipeline 16``; then both clients against a canned-response
server (a uvloop protocol that answers every request head with fixed bytes) where the
client saturates its CPU: what it reaches there is a lower bound of its capacity; then
the ``echo`` workload against ``python -m xloop.compare.echo --loop uvloop``.

    .venv/bin/python benchmarks/client_capacity.py [--rounds 5] [--duration 5]

Linux only (taskset, wrk). Other load on the machine skews everything: run it idle.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import psutil

from xloop.compare.external import children_cpu
from xloop.status import StatusPipe, StatusWriter, loop_fields

MAX_FOREIGN = 10.0
"""Other processes may use this much of a CPU (percent) during a run, else it runs again."""


@contextlib.contextmanager
def server(command: list[str]) -> Iterator[tuple[int, int]]:
    """Run ``command`` pinned to CPU 0; yield (pid, port) once it reports ``ready`` on its
    status pipe (``--status-fd``, xloop.status)."""
    status = StatusPipe()
    try:
        proc = subprocess.Popen(
            ["taskset", "-c", "0", sys.executable, *command, "--status-fd", str(status.child_fd)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **status.popen_kwargs(),
        )
    finally:
        status.start()
    try:
        ready = status.wait_for("ready", 20)
        if ready is None:
            raise SystemExit(f"server did not start: {command}")
        yield proc.pid, int(ready["port"])
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _busy() -> float:
    """CPU seconds the whole machine has been busy (all CPUs)."""
    times = psutil.cpu_times()
    return float(sum(times) - times.idle - getattr(times, "iowait", 0.0))


def _children_cpu() -> float:
    cpu = children_cpu()
    if cpu is None:  # pragma: no cover - not POSIX
        raise SystemExit("this benchmark needs POSIX getrusage")
    return cpu


def _clean(command: list[str], server_pid: int, attempts: int = 4) -> tuple[str, float]:
    """Run ``command``; retry while other processes used more than MAX_FOREIGN of a CPU.

    Returns its stdout and its own CPU use (percent of one CPU, whole run).
    """
    server = psutil.Process(server_pid)  # taskset execs: the pid is the server's
    for attempt in range(attempts):
        busy, mine, theirs = _busy(), _children_cpu(), server.cpu_times()
        wall = time.perf_counter()
        out = subprocess.run(command, capture_output=True, check=True, text=True).stdout
        wall = time.perf_counter() - wall
        after = server.cpu_times()
        client = _children_cpu() - mine
        served = after.user + after.system - theirs.user - theirs.system
        foreign = (_busy() - busy - client - served) / wall * 100
        if foreign <= MAX_FOREIGN or attempt == attempts - 1:
            if foreign > MAX_FOREIGN:
                print(f"  (other load {foreign:.0f}% of a CPU: figures skewed)", file=sys.stderr)
            return out, client / wall * 100
        print(f"  other load {foreign:.0f}% of a CPU: run again", file=sys.stderr)
        time.sleep(2)
    raise AssertionError("unreachable")


def builtin(port: int, pid: int, workload: str, args: argparse.Namespace, *extra: str) -> Any:
    command = [
        "taskset", "-c", "1", sys.executable, "-m", "xloop.compare.client",
        "--port", str(port), "--workload", workload,
        "--connections", str(args.connections),
        "--duration", str(args.duration), "--warmup", str(args.warmup),
        "--server-pid", str(pid), *extra,
    ]  # fmt: skip
    return json.loads(_clean(command, pid)[0])


def wrk(port: int, pid: int, args: argparse.Namespace) -> tuple[float, float]:
    """wrk's req/s and its CPU use (percent of one CPU)."""
    command = [
        "taskset", "-c", "1", "wrk", "-t1", f"-c{args.connections}",
        f"-d{round(args.duration)}s", f"http://127.0.0.1:{port}/",
    ]  # fmt: skip
    out, cpu = _clean(command, pid)
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match, out
    return float(match.group(1)), cpu


def summary(name: str, runs: list[Any]) -> float:
    rps = float(statistics.median(r["requests_per_second"] for r in runs))
    cpu = statistics.median(r["client_cpu_percent"] for r in runs)
    server = [r["server_cpu_s"] / r["elapsed_s"] * 100 for r in runs if r["server_cpu_s"]]
    errors = sum(sum(r["errors"].values()) for r in runs)
    print(
        f"{name:>34}: {rps:>9,.0f} req/s  client CPU {cpu:5.1f}%  "
        f"(capacity ~{rps / (cpu / 100):>7,.0f} req/s)  "
        f"server CPU {statistics.median(server) if server else float('nan'):5.1f}%  "
        f"errors {errors}  runs {[round(r['requests_per_second']) for r in runs]}",
        flush=True,
    )
    return rps


def versus_wrk(name: str, port: int, pid: int, args: argparse.Namespace) -> None:
    """Alternate the built-in client and wrk against one server; print both medians."""
    ours: list[Any] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(args.rounds):
        ours.append(builtin(port, pid, "plaintext", args))
        theirs.append(wrk(port, pid, args))
    rps = summary(f"builtin {name}", ours)
    median = statistics.median(x for x, _ in theirs)
    cpu = statistics.median(c for _, c in theirs)
    print(
        f"{'wrk -t1 ' + name:>34}: {median:>9,.0f} req/s  wrk CPU {cpu:5.1f}%  "
        f"builtin/wrk = {rps / median:.3f}  runs {[round(x) for x, _ in theirs]}",
        flush=True,
    )


CANNED = (
    b"HTTP/1.1 200 OK\r\nserver: canned\r\ndate: Tue, 24 Nov 2026 00:00:00 GMT\r\n"
    b"content-type: text/plain; charset=utf-8\r\ncontent-length: 13\r\n\r\nHello, world!"
)


def serve_canned(status_fd: int) -> None:
    """An HTTP server as cheap as it gets: the same response for each request head."""
    import asyncio

    from xloop import loops

    class Canned(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport: asyncio.Transport = transport  # type: ignore[assignment]

        def data_received(self, data: bytes) -> None:
            count = data.count(b"\r\n\r\n")
            if count:
                self.transport.write(CANNED * count)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(Canned, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        StatusWriter.open(status_fd).write("ready", port=port, **loop_fields(loop))
        await asyncio.Event().wait()

    loops.run(main(), loop_factory=loops.resolve("uvloop").factory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument(
        "--skip", default="", help="comma-separated parts: xloop,pipeline,canned,echo"
    )
    parser.add_argument("--serve-canned", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--status-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_canned:
        serve_canned(args.status_fd)
        return
    skip = set(args.skip.split(","))
    if not shutil.which("taskset") or not shutil.which("wrk"):
        raise SystemExit("needs taskset and wrk on PATH")
    serve = [
        "-m", "xloop", "serve", "--port", "0", "--no-access-log",
        "--loop", "uvloop", "--http", "httptools", "--log-level", "info",
    ]  # fmt: skip
    if not {"xloop", "pipeline"} <= skip:
        with server(serve) as (pid, port):
            if "xloop" not in skip:
                versus_wrk("plaintext (xloop)", port, pid, args)
            if "pipeline" not in skip:
                runs = [
                    builtin(port, pid, "plaintext", args, "--pipeline", "16")
                    for _ in range(args.rounds)
                ]
                summary("builtin plaintext --pipeline 16", runs)
    if "canned" not in skip:
        # both sides saturate: what the client reaches here is a lower bound of its capacity
        with server([__file__, "--serve-canned"]) as (pid, port):
            versus_wrk("plaintext (canned)", port, pid, args)
    if "echo" not in skip:
        echo = ["-m", "xloop.compare.echo", "--loop", "uvloop", "--port", "0"]
        with server(echo) as (pid, port):
            runs = [builtin(port, pid, "echo", args) for _ in range(args.rounds)]
            summary("builtin echo", runs)


if __name__ == "__main__":
    main()
