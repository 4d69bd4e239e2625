#!/usr/bin/env python3
"""Benchmark xloop against uvicorn on the same app, event loop and HTTP parser.

Run from anywhere with the project's interpreter, for example::

    .venv/bin/python benchmarks/vs_uvicorn.py
    .venv/bin/python benchmarks/vs_uvicorn.py --servers uvicorn --rounds 1 --duration 2 --warmup 1

Each measurement starts a fresh server process (pinned to one CPU when possible),
warms it up with ``wrk``, measures it with ``wrk --latency`` (pinned to another CPU)
and stops it again. Servers are run in alternating order from round to round and
the reported figure is the median over rounds. See ``benchmarks/README.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import importlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from types import FrameType

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(REPO_ROOT))

from xloop.compare import external  # noqa: E402
from xloop.compare.machine import cpu_model, version_of  # noqa: E402

HOST = "127.0.0.1"

SERVERS = ("xloop", "uvicorn")
LOOPS = ("asyncio", "uvloop")
PARSERS = ("h11", "httptools")

# Loop names as given on each server's command line, per matrix loop.
# xloop accepts ``asyncio`` (the stdlib default loop, i.e. the selector loop on
# Linux), which is exactly what uvicorn's ``--loop asyncio`` means too.
XLOOP_LOOP_ARG = {"asyncio": "asyncio", "uvloop": "uvloop"}
UVICORN_LOOP_ARG = {"asyncio": "asyncio", "uvloop": "uvloop"}

READY_TIMEOUT_S = 20.0
READY_POLL_INTERVAL_S = 0.05
STOP_TIMEOUT_S = 10.0
# A "handful" of wrk socket timeouts is tolerated (noted, not flagged); more are flagged.
TOLERATED_TIMEOUTS = 10
LOG_TAIL_LINES = 20

INSTALL_WRK_HINT = "wrk not found on PATH: install it with `apt-get install wrk` and re-run."


class BenchmarkError(Exception):
    """A problem that makes the benchmark run itself invalid (e.g. a server won't start)."""


# --------------------------------------------------------------------------- pinning


@dataclass(frozen=True)
class Pinning:
    server_prefix: tuple[str, ...]
    wrk_prefix: tuple[str, ...]
    description: str


def choose_pinning() -> Pinning:
    taskset = shutil.which("taskset")
    ncpu = os.cpu_count() or 1
    if taskset is None:
        return Pinning((), (), "none (taskset not found on PATH)")
    if ncpu < 2:
        return Pinning((), (), f"none (os.cpu_count() = {ncpu} < 2)")
    server_cpu, wrk_cpu = 0, 1
    if hasattr(os, "sched_getaffinity"):
        allowed = sorted(os.sched_getaffinity(0))
        if len(allowed) < 2:
            return Pinning((), (), f"none (only CPUs {allowed} are usable by this process)")
        if not {0, 1} <= set(allowed):
            server_cpu, wrk_cpu = allowed[0], allowed[1]
    return Pinning(
        (taskset, "-c", str(server_cpu)),
        (taskset, "-c", str(wrk_cpu)),
        f"server on CPU {server_cpu}, wrk on CPU {wrk_cpu} (taskset -c)",
    )


# --------------------------------------------------------------------------- machine facts


def dist_version(dist: str) -> str:
    return version_of(dist) or "not installed"


def xloop_version() -> str:
    """The version of the xloop the servers will import (the repository checkout)."""
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    for module_name in ("xloop", "xloop._version"):
        saved, sys.dont_write_bytecode = sys.dont_write_bytecode, True  # no .pyc in xloop/
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        except Exception as exc:  # a half-written package must not kill the benchmark
            return f"import failed ({type(exc).__name__}: {exc})"
        finally:
            sys.dont_write_bytecode = saved
        version = getattr(module, "__version__", None)
        if version is not None:
            return str(version)
    try:
        return importlib.metadata.version("xloop")
    except importlib.metadata.PackageNotFoundError:
        return "absent (not importable)"


def wrk_version(wrk: str) -> str:
    try:
        proc = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"unknown ({exc})"
    first = (proc.stdout or proc.stderr).strip().splitlines()
    if not first:
        return "unknown"
    line = first[0].split("Copyright")[0].strip()
    return line.removeprefix("wrk").strip() or line


def machine_facts(wrk: str) -> dict[str, str]:
    affinity = ""
    if hasattr(os, "sched_getaffinity"):
        affinity = ",".join(str(c) for c in sorted(os.sched_getaffinity(0)))
    return {
        "cpu_model": cpu_model(),
        "cpu_count": str(os.cpu_count()),
        "cpu_affinity": affinity or "n/a",
        "os": platform.platform(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "python_executable": sys.executable,
        "xloop": xloop_version(),
        "uvicorn": dist_version("uvicorn"),
        "uvloop": dist_version("uvloop"),
        "httptools": dist_version("httptools"),
        "h11": dist_version("h11"),
        "wrk": wrk_version(wrk),
    }


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    returncode: int
    requests_per_sec: float | None = None
    total_requests: int | None = None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    socket_errors: dict[str, int] = field(default_factory=dict)
    non_2xx_3xx: int = 0


def parse_wrk(output: str, returncode: int) -> WrkResult:
    """wrk's report (parsed by xloop compare's own parser) in this script's terms."""
    result = WrkResult(returncode=returncode)
    try:
        run = external.parse_wrk(output)
    except ValueError:  # no Requests/sec line: the measurement is flagged as invalid
        return result
    result.requests_per_sec = run.requests_per_second
    result.total_requests = run.requests
    result.latency_p50_ms = run.latency_p50_ms
    result.latency_p99_ms = run.latency_p99_ms
    result.socket_errors = run.error_detail
    result.non_2xx_3xx = run.non_2xx
    return result


def run_wrk(cmd: Sequence[str], timeout: float) -> tuple[int, str]:
    try:
        proc = subprocess.run(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, str) else ""
        return -1, out + f"\n[wrk did not finish within {timeout:.0f}s]"
    return proc.returncode, proc.stdout


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def server_command(
    server: str, *, app: str, port: int, loop: str, parser: str, access_log: bool
) -> list[str]:
    log_flag = "--access-log" if access_log else "--no-access-log"
    common_tail = ["--http", parser, log_flag, "--log-level", "warning"]
    if server == "xloop":
        return [
            sys.executable, "-m", "xloop", "serve", app,
            "--host", HOST, "--port", str(port),
            "--loop", XLOOP_LOOP_ARG[loop], *common_tail,
        ]  # fmt: skip
    if server == "uvicorn":
        return [
            sys.executable, "-m", "uvicorn", app,
            "--host", HOST, "--port", str(port),
            "--loop", UVICORN_LOOP_ARG[loop], *common_tail,
        ]  # fmt: skip
    raise ValueError(f"unknown server {server!r}")


def server_env() -> dict[str, str]:
    env = dict(os.environ)
    old = env.get("PYTHONPATH")
    env["PYTHONPATH"] = str(REPO_ROOT) + (os.pathsep + old if old else "")
    # Debug modes would distort the numbers of whichever server they hit, and the
    # servers' own environment-variable settings would override the command lines.
    for name in list(env):
        if name in {"PYTHONASYNCIODEBUG", "PYTHONDEVMODE"} or name.startswith(
            ("XLOOP_", "UVICORN_")
        ):
            del env[name]
    return env


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def http_get_status(port: int, timeout: float = 2.0) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()  # the TCP connect
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, log_path: Path, cmd: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    last = "no attempt yet"
    while True:
        rc = proc.poll()
        if rc is not None:
            raise BenchmarkError(
                f"server exited with code {rc} before answering 200.\n"
                f"  command: {cmd}\n  output tail:\n{_indent(log_tail(log_path))}"
            )
        try:
            status = http_get_status(port)
        except (OSError, http.client.HTTPException) as exc:
            last = f"{type(exc).__name__}: {exc}"
        else:
            if status == 200:
                return
            last = f"HTTP {status}"
        if time.monotonic() >= deadline:
            raise BenchmarkError(
                f"server did not answer 200 within {READY_TIMEOUT_S:.0f}s (last: {last}).\n"
                f"  command: {cmd}\n  output tail:\n{_indent(log_tail(log_path))}"
            )
        time.sleep(READY_POLL_INTERVAL_S)


def stop_server(proc: subprocess.Popen[bytes]) -> bool:
    """SIGINT, then SIGKILL after a timeout. Returns True if SIGKILL was needed."""
    killed = False
    try:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                killed = True
                proc.kill()
                proc.wait()
    except BaseException:  # e.g. a second Ctrl+C while waiting: never leave it running
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        raise
    return killed


@dataclass
class ServerRun:
    proc: subprocess.Popen[bytes]
    killed: bool = False


@contextlib.contextmanager
def running_server(
    cmd: Sequence[str], prefix: Sequence[str], log_path: Path, port: int
) -> Iterator[ServerRun]:
    full = [*prefix, *cmd]
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            full,
            cwd=REPO_ROOT,
            env=server_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # terminal Ctrl+C reaches us; we stop the server
        )
    run = ServerRun(proc)
    try:
        wait_ready(proc, port, log_path, shlex.join(full))
        yield run
    finally:
        run.killed = stop_server(proc)


# --------------------------------------------------------------------------- measurements


@dataclass
class Measurement:
    round: int
    loop: str
    http: str
    server: str
    server_command: list[str]
    wrk_command: list[str]
    requests_per_sec: float | None
    total_requests: int | None
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    socket_errors: dict[str, int]
    non_2xx_3xx: int
    wrk_returncode: int
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    server_output_tail: str = ""
    wrk_output: str = ""

    @property
    def valid(self) -> bool:
        return not self.flags and self.requests_per_sec is not None


@dataclass(frozen=True)
class Settings:
    app: str
    loops: list[str]
    http: list[str]
    servers: list[str]
    rounds: int
    duration: int
    warmup: int
    connections: int
    threads: int
    access_log: bool


def judge(m: Measurement, server_alive: bool) -> None:
    if m.wrk_returncode != 0:
        m.flags.append(f"wrk exited with code {m.wrk_returncode}")
    if m.requests_per_sec is None:
        m.flags.append("no Requests/sec in wrk output")
    elif not m.total_requests:
        m.flags.append("zero requests completed")
    if m.non_2xx_3xx:
        m.flags.append(f"{m.non_2xx_3xx} non-2xx/3xx responses")
    hard = {k: v for k, v in m.socket_errors.items() if k != "timeout" and v}
    if hard:
        m.flags.append("socket errors: " + ", ".join(f"{k} {v}" for k, v in hard.items()))
    timeouts = m.socket_errors.get("timeout", 0)
    if timeouts > TOLERATED_TIMEOUTS:
        m.flags.append(f"{timeouts} socket timeouts (> {TOLERATED_TIMEOUTS} tolerated)")
    elif timeouts:
        m.notes.append(f"{timeouts} socket timeout(s) (tolerated)")
    if not server_alive:
        m.flags.append("server process died during the measurement")


def measure(
    settings: Settings,
    *,
    round_no: int,
    loop: str,
    parser: str,
    server: str,
    pinning: Pinning,
    wrk: str,
    log_dir: Path,
) -> Measurement:
    port = free_port()
    url = f"http://{HOST}:{port}/"
    cmd = server_command(
        server,
        app=settings.app,
        port=port,
        loop=loop,
        parser=parser,
        access_log=settings.access_log,
    )
    warm_cmd = [*pinning.wrk_prefix, wrk, "-t1", f"-c{settings.connections}"]
    warm_cmd += [f"-d{settings.warmup}s", url]
    wrk_cmd = [*pinning.wrk_prefix, wrk, f"-t{settings.threads}", f"-c{settings.connections}"]
    wrk_cmd += [f"-d{settings.duration}s", "--latency", url]
    log_path = log_dir / f"r{round_no}-{loop}-{parser}-{server}.log"
    notes: list[str] = []

    with running_server(cmd, pinning.server_prefix, log_path, port) as run:
        if settings.warmup > 0:
            rc, out = run_wrk(warm_cmd, timeout=settings.warmup + 30)
            if rc != 0:
                notes.append(f"warmup wrk exited with code {rc}: {out.strip()[-200:]}")
        rc, out = run_wrk(wrk_cmd, timeout=settings.duration + 30)
        alive = run.proc.poll() is None

    parsed = parse_wrk(out, rc)
    m = Measurement(
        round=round_no,
        loop=loop,
        http=parser,
        server=server,
        server_command=[*pinning.server_prefix, *cmd],
        wrk_command=wrk_cmd,
        requests_per_sec=parsed.requests_per_sec,
        total_requests=parsed.total_requests,
        latency_p50_ms=parsed.latency_p50_ms,
        latency_p99_ms=parsed.latency_p99_ms,
        socket_errors=parsed.socket_errors,
        non_2xx_3xx=parsed.non_2xx_3xx,
        wrk_returncode=rc,
        notes=notes,
        wrk_output=out,
    )
    judge(m, alive)
    if run.killed:
        m.notes.append(f"server ignored SIGINT for {STOP_TIMEOUT_S:.0f}s and was SIGKILLed")
    tail = log_tail(log_path)
    if tail:
        m.server_output_tail = tail
        m.notes.append(f"server wrote output (last line: {tail.splitlines()[-1][:160]!r})")
    return m


# --------------------------------------------------------------------------- reporting


@dataclass
class ServerSummary:
    server: str
    valid: int
    total: int
    median_rps: float | None
    min_rps: float | None
    max_rps: float | None
    median_p50_ms: float | None
    median_p99_ms: float | None


@dataclass
class ConfigSummary:
    loop: str
    http: str
    servers: list[ServerSummary]
    ratio: float | None  # median xloop / median uvicorn


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(
    measurements: Sequence[Measurement], loop: str, parser: str, servers: Sequence[str]
) -> ConfigSummary:
    per_server: list[ServerSummary] = []
    for server in servers:
        ms = [m for m in measurements if (m.loop, m.http, m.server) == (loop, parser, server)]
        good = [m for m in ms if m.valid]
        rps = [m.requests_per_sec for m in good if m.requests_per_sec is not None]
        per_server.append(
            ServerSummary(
                server=server,
                valid=len(good),
                total=len(ms),
                median_rps=statistics.median(rps) if rps else None,
                min_rps=min(rps) if rps else None,
                max_rps=max(rps) if rps else None,
                median_p50_ms=_median([m.latency_p50_ms for m in good]),
                median_p99_ms=_median([m.latency_p99_ms for m in good]),
            )
        )
    by_name = {s.server: s for s in per_server}
    ratio = None
    if "xloop" in by_name and "uvicorn" in by_name:
        x, u = by_name["xloop"].median_rps, by_name["uvicorn"].median_rps
        if x is not None and u:
            ratio = x / u
    return ConfigSummary(loop, parser, per_server, ratio)


def _indent(text: str, prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in text.splitlines()) if text else prefix + "(none)"


def _num(value: float | None, fmt: str = ",.1f") -> str:
    return "n/a" if value is None else format(value, fmt)


def print_config_table(summary: ConfigSummary, app: str, command: str) -> None:
    print()
    print(f"=== loop={summary.loop}  http={summary.http}  app={app} ===")
    header = (
        f"{'server':<9} {'median req/s':>13} {'min - max req/s':>23} {'spread':>7} "
        f"{'p50 ms':>8} {'p99 ms':>8} {'valid':>6}"
    )
    print(header)
    print("-" * len(header))
    for s in summary.servers:
        if s.min_rps is not None and s.max_rps is not None:
            span = f"{s.min_rps:,.1f} - {s.max_rps:,.1f}"
        else:
            span = "n/a"
        spread = "n/a"
        if s.median_rps and s.min_rps is not None and s.max_rps is not None:
            spread = f"{(s.max_rps - s.min_rps) / s.median_rps:.1%}"
        print(
            f"{s.server:<9} {_num(s.median_rps):>13} {span:>23} {spread:>7} "
            f"{_num(s.median_p50_ms, '.2f'):>8} {_num(s.median_p99_ms, '.2f'):>8} "
            f"{f'{s.valid}/{s.total}':>6}"
        )
    if len(summary.servers) == 2:
        print(f"ratio of medians xloop/uvicorn: {_num(summary.ratio, '.3f')}")
    print(f"command: {command}")


def print_overall(summaries: Sequence[ConfigSummary], servers: Sequence[str]) -> None:
    print()
    print("=== summary: median req/s ===")
    cols = "".join(f" {s:>12}" for s in servers)
    both = len(servers) == 2
    header = f"{'loop':<8} {'http':<10}{cols}" + (f" {'xloop/uvicorn':>14}" if both else "")
    print(header)
    print("-" * len(header))
    for cs in summaries:
        row = f"{cs.loop:<8} {cs.http:<10}"
        row += "".join(f" {_num(s.median_rps):>12}" for s in cs.servers)
        if both:
            row += f" {_num(cs.ratio, '.3f'):>14}"
        print(row)


def progress_line(m: Measurement, rounds: int) -> str:
    text = (
        f"[round {m.round}/{rounds}] {m.loop:<7} {m.http:<9} {m.server:<7} "
        f"{_num(m.requests_per_sec):>11} req/s  p50 {_num(m.latency_p50_ms, '.2f')} ms  "
        f"p99 {_num(m.latency_p99_ms, '.2f')} ms"
    )
    if m.flags:
        text += "  FLAGGED (excluded): " + "; ".join(m.flags)
    if m.notes:
        text += "  note: " + "; ".join(m.notes)
    return text


# --------------------------------------------------------------------------- CLI


def _csv(choices: Sequence[str], what: str) -> Any:
    def parse(value: str) -> list[str]:
        items = [v.strip() for v in value.split(",") if v.strip()]
        if not items:
            raise argparse.ArgumentTypeError(f"empty {what} list")
        bad = [v for v in items if v not in choices]
        if bad:
            raise argparse.ArgumentTypeError(
                f"unknown {what} {', '.join(bad)} (choose from {', '.join(choices)})"
            )
        if len(set(items)) != len(items):
            raise argparse.ArgumentTypeError(f"duplicate {what} in {value!r}")
        return items

    return parse


def _positive(minimum: int) -> Any:
    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {value!r}") from None
        if number < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {number}")
        return number

    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="vs_uvicorn.py",
        description="Benchmark xloop against uvicorn (same app, loop and parser) with wrk.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--loops", type=_csv(LOOPS, "loop"), default=list(LOOPS), help="comma-separated event loops"
    )
    p.add_argument(
        "--http",
        type=_csv(PARSERS, "parser"),
        default=list(PARSERS),
        help="comma-separated HTTP parsers",
    )
    p.add_argument(
        "--servers",
        type=_csv(SERVERS, "server"),
        default=list(SERVERS),
        help="comma-separated servers; the first one goes first in round 1",
    )
    p.add_argument("--app", default="benchmarks.apps:hello", help="ASGI app as module:attr")
    p.add_argument("--rounds", type=_positive(1), default=5, help="rounds per configuration")
    p.add_argument("--duration", type=_positive(1), default=5, help="seconds per measured wrk run")
    p.add_argument(
        "--warmup",
        type=_positive(0),
        default=2,
        help="seconds of wrk warmup before each measurement (0: none)",
    )
    p.add_argument("--connections", type=_positive(1), default=50, help="wrk connections")
    p.add_argument("--threads", type=_positive(1), default=1, help="wrk threads")
    p.add_argument(
        "--access-log",
        action=argparse.BooleanOptionalAction,
        default=False,
        help="enable the access log on both servers",
    )
    p.add_argument(
        "--json",
        metavar="FILE",
        type=Path,
        default=None,
        help="write all measurements and summaries to FILE",
    )
    p.add_argument(
        "--check-floor",
        action="store_true",
        help="exit 1 if any xloop/uvicorn ratio of medians is < 1.0 (or missing)",
    )
    return p


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # unwinds through the try/finally blocks


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.threads > args.connections:
        parser.error("--threads must not exceed --connections")
    if ":" not in args.app:
        parser.error("--app must look like module:attribute")
    if args.check_floor and set(args.servers) != set(SERVERS):
        parser.error("--check-floor needs both servers (--servers xloop,uvicorn)")

    wrk = shutil.which("wrk")
    if wrk is None:
        print(INSTALL_WRK_HINT, file=sys.stderr)
        return 2

    settings = Settings(
        app=args.app,
        loops=args.loops,
        http=args.http,
        servers=args.servers,
        rounds=args.rounds,
        duration=args.duration,
        warmup=args.warmup,
        connections=args.connections,
        threads=args.threads,
        access_log=args.access_log,
    )
    command = shlex.join(sys.orig_argv)
    pinning = choose_pinning()
    facts = machine_facts(wrk)

    print(f"command: {command}")
    print("machine:")
    for key, value in facts.items():
        print(f"  {key:<18} {value}")
    print(f"pinning: {pinning.description}")
    configs = [(loop, parser_) for loop in settings.loops for parser_ in settings.http]
    per_run = settings.warmup + settings.duration
    total = len(configs) * len(settings.servers) * settings.rounds
    print(
        f"plan: {len(configs)} configuration(s) x {len(settings.servers)} server(s) x "
        f"{settings.rounds} round(s) = {total} measurement(s), >= {total * per_run}s of load; "
        f"wrk -t{settings.threads} -c{settings.connections} -d{settings.duration}s "
        f"after -t1 -c{settings.connections} -d{settings.warmup}s warmup; "
        f"access log {'on' if settings.access_log else 'off'}"
    )
    print()

    measurements: list[Measurement] = []
    with tempfile.TemporaryDirectory(prefix="xloop-bench-") as tmp:
        for round_no in range(1, settings.rounds + 1):
            order = settings.servers if round_no % 2 == 1 else settings.servers[::-1]
            for loop, parser_ in configs:
                for server in order:
                    m = measure(
                        settings,
                        round_no=round_no,
                        loop=loop,
                        parser=parser_,
                        server=server,
                        pinning=pinning,
                        wrk=wrk,
                        log_dir=Path(tmp),
                    )
                    measurements.append(m)
                    print(progress_line(m, settings.rounds), flush=True)

    summaries = [summarize(measurements, loop, p_, settings.servers) for loop, p_ in configs]
    for cs in summaries:
        print_config_table(cs, settings.app, command)
    print_overall(summaries, settings.servers)

    flagged = [m for m in measurements if not m.valid]
    if flagged:
        print()
        print(f"WARNING: {len(flagged)} measurement(s) flagged and excluded from the medians:")
        for m in flagged:
            print(f"  round {m.round} {m.loop}/{m.http} {m.server}: {'; '.join(m.flags)}")
            if m.server_output_tail:
                print(_indent(m.server_output_tail, "      | "))
    print()
    print(f"command: {command}")

    if args.json is not None:
        payload = {
            "command": command,
            "machine": facts,
            "pinning": pinning.description,
            "settings": asdict(settings),
            "summaries": [asdict(cs) for cs in summaries],
            "measurements": [{**asdict(m), "valid": m.valid} for m in measurements],
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"results written to {args.json}")

    if args.check_floor:
        failing = [cs for cs in summaries if cs.ratio is None or cs.ratio < 1.0]
        if failing:
            for cs in failing:
                print(
                    f"FLOOR FAILED: loop={cs.loop} http={cs.http} "
                    f"xloop/uvicorn = {_num(cs.ratio, '.3f')} (< 1.0 or missing)",
                    file=sys.stderr,
                )
            return 1
        print("floor check passed: xloop/uvicorn >= 1.0 in every configuration")
    return 0


def main() -> None:
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = run()
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        code = 130
    sys.exit(code)


if __name__ == "__main__":
    main()
