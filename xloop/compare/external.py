"""``--client wrk`` and ``--client oha``: the same measurement with an external load tool.

Both run as their own process, like the built-in client; their output is parsed into
the same :class:`~xloop.compare.model.Round` figures. Their CPU use comes from
``getrusage(RUSAGE_CHILDREN)`` around the run (POSIX; None elsewhere).
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import ConfigError
from .model import Round
from .workloads import Workload

__all__ = [
    "EXTERNAL_CLIENTS",
    "ExternalRun",
    "children_cpu",
    "find_tool",
    "oha_command",
    "parse_oha",
    "parse_wrk",
    "wrk_command",
]

EXTERNAL_CLIENTS = ("wrk", "oha")

_INSTALL_HINTS = {
    "wrk": "install it (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk), "
    "or use --client builtin",
    "oha": "install it (cargo install oha, or a release binary), or use --client builtin",
}


@dataclass
class ExternalRun(Round):
    """What one external tool run measured: a round, with the tool's own error breakdown."""

    error_detail: dict[str, int] = field(default_factory=dict)

    def as_round(self) -> Round:
        """The same figures as a plain :class:`Round` (what a result file keeps)."""
        return Round(**{f.name: getattr(self, f.name) for f in dataclasses.fields(Round)})


def find_tool(name: str) -> str:
    """The path of ``wrk``/``oha`` on PATH, or a ConfigError with how to get it."""
    path = shutil.which(name)
    if path is None:
        raise ConfigError(f"--client {name}: {name} is not on PATH", hint=_INSTALL_HINTS[name])
    return path


def check_workload(client: str, workload: Workload, pipeline: int) -> None:
    """Refuse what the tool cannot do, before anything starts."""
    if workload.kind != "http" or workload.name == "c10k":
        what = {
            "tcp": "is raw TCP",
            "websocket": "speaks WebSocket",
            "http": "holds idle connections open while a few rotate",
        }[workload.kind]
        raise ConfigError(
            f"--client {client} speaks HTTP, one connection per request stream; the "
            f"{workload.name} workload {what}",
            hint=f"use --client builtin for --workload {workload.name}",
        )
    if client == "oha" and pipeline > 1:
        raise ConfigError(
            "--client oha cannot pipeline requests", hint="use --client builtin or wrk"
        )


def children_cpu() -> float | None:
    """CPU seconds (user + system) of this process's waited-for children, POSIX only."""
    try:
        resource = importlib.import_module("resource")
    except ImportError:  # pragma: no cover - Windows
        return None
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(usage.ru_utime + usage.ru_stime)


# -- wrk ---------------------------------------------------------------------------------

_WRK_SCRIPT = """\
wrk.method = "{method}"
{body}
local pipeline = {pipeline}
local batch
init = function(args)
  local requests = {{}}
  for i = 1, pipeline do requests[i] = wrk.format(nil, {path}) end
  batch = table.concat(requests)
end
request = function() return batch end
"""


def wrk_command(
    wrk: str,
    url_base: str,
    workload: Workload,
    *,
    path: str | None,
    connections: int,
    threads: int,
    duration: float,
    pipeline: int,
    scratch: Path,
    timeout: float = 10.0,
) -> list[str]:
    """The wrk command line; a Lua script when the request is not a plain GET."""
    target = path or workload.path
    command = [
        wrk,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration))}s",
        "--latency",
        "--timeout",
        f"{max(1, round(timeout))}s",
    ]
    if workload.method != "GET" or workload.body_size or pipeline > 1:
        body = ""
        if workload.body_size:
            body = (
                f'wrk.body = string.rep("u", {workload.body_size})\n'
                'wrk.headers["Content-Type"] = "application/octet-stream"'
            )
        script = scratch / f"wrk-{workload.name}-{pipeline}.lua"
        script.write_text(
            _WRK_SCRIPT.format(
                method=workload.method, body=body, pipeline=pipeline, path=_lua_string(target)
            ),
            encoding="utf-8",
        )
        command += ["-s", str(script)]
    return [*command, url_base + target]


def _lua_string(text: str) -> str:
    """``text`` as a Lua string literal (every byte escaped as ``\\ddd`` but the plain ones)."""
    safe = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/?&=.-_~%+,;:@!")
    return '"' + "".join(chr(b) if b in safe else f"\\{b:03d}" for b in text.encode()) + '"'


_TIME_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_RE_RPS = re.compile(r"^Requests/sec:\s*([0-9.]+)", re.MULTILINE)
_RE_TOTAL = re.compile(r"^\s*(\d+) requests in ", re.MULTILINE)
_RE_PCT = re.compile(r"^\s*(50|90|99)(?:\.0+)?%\s+([0-9.]+)(us|ms|s|m|h)\s*$", re.MULTILINE)
_RE_LATENCY = re.compile(
    r"^\s*Latency\s+[0-9.]+\w+\s+[0-9.]+\w+\s+([0-9.]+)(us|ms|s|m|h)", re.MULTILINE
)
_RE_SOCKET = re.compile(
    r"^\s*Socket errors:\s*connect (\d+), read (\d+), write (\d+), timeout (\d+)", re.MULTILINE
)
_RE_NON2XX = re.compile(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", re.MULTILINE)


def parse_wrk(output: str) -> ExternalRun:
    """wrk's ``--latency`` report; ValueError when it has no Requests/sec line."""
    match = _RE_RPS.search(output)
    if match is None:
        last = output.strip().splitlines()[-1:] or ["no output"]
        raise ValueError(f"wrk measured nothing: {last[0]}")
    run = ExternalRun(requests_per_second=float(match.group(1)))
    if match := _RE_TOTAL.search(output):
        run.requests = int(match.group(1))
    for match in _RE_PCT.finditer(output):
        value = float(match.group(2)) * _TIME_UNITS_MS[match.group(3)]
        setattr(run, f"latency_p{match.group(1)}_ms", value)
    if match := _RE_LATENCY.search(output):
        run.latency_max_ms = float(match.group(1)) * _TIME_UNITS_MS[match.group(2)]
    if match := _RE_SOCKET.search(output):
        names = ("connect", "read", "write", "timeout")
        run.error_detail = {
            name: int(value) for name, value in zip(names, match.groups(), strict=True)
        }
        run.errors = sum(run.error_detail.values())
    if match := _RE_NON2XX.search(output):
        run.non_2xx = int(match.group(1))
    return run


# -- oha ---------------------------------------------------------------------------------


def oha_command(
    oha: str,
    url_base: str,
    workload: Workload,
    *,
    path: str | None,
    connections: int,
    duration: float,
    scratch: Path,
    json_flag: str = "--output-format=json",
) -> list[str]:
    """The oha command line (JSON output, no TUI)."""
    target = path or workload.path
    # whole milliseconds: older oha releases take no fractional seconds
    command = [oha, "-z", f"{round(duration * 1000)}ms", "-c", str(connections), "--no-tui"]
    command.append(json_flag)
    command += ["-m", workload.method]
    if workload.body_size:
        body = scratch / f"oha-{workload.name}.body"
        body.write_bytes(b"u" * workload.body_size)
        command += ["-D", str(body), "-T", "application/octet-stream"]
    return [*command, url_base + target]


def parse_oha(output: str) -> ExternalRun:
    """oha's JSON report; ValueError when it is not one."""
    try:
        data: dict[str, Any] = json.loads(output)
        summary = data["summary"]
    except (ValueError, KeyError, TypeError):
        raise ValueError("oha did not print its JSON report") from None
    statuses = {str(k): int(v) for k, v in (data.get("statusCodeDistribution") or {}).items()}
    errors = {str(k): int(v) for k, v in (data.get("errorDistribution") or {}).items()}
    percentiles = data.get("latencyPercentiles") or {}

    def ms(value: Any) -> float | None:
        return None if value is None else float(value) * 1000.0

    # oha counts requests cut off by the deadline as errors ("aborted due to deadline").
    errors = {k: v for k, v in errors.items() if "deadline" not in k}
    return ExternalRun(
        requests=sum(statuses.values()),
        requests_per_second=float(summary["requestsPerSec"]),
        latency_p50_ms=ms(percentiles.get("p50")),
        latency_p90_ms=ms(percentiles.get("p90")),
        latency_p99_ms=ms(percentiles.get("p99")),
        latency_max_ms=ms(summary.get("slowest")),
        errors=sum(errors.values()),
        non_2xx=sum(v for k, v in statuses.items() if not k.startswith("2")),
        error_detail=errors,
    )


def run_tool(
    command: list[str],
    *,
    timeout: float,
    on_start: Callable[[int], None] | None = None,
) -> tuple[int, str, str, float | None]:
    """Run a tool to the end: (exit code, stdout, stderr, its CPU seconds or None)."""
    each = None if on_start is None else (lambda pid, _number: on_start(pid))
    ((code, stdout, stderr),), cpu = run_tools([command], timeout=timeout, on_start=each)
    return code, stdout, stderr, cpu


def run_tools(
    commands: list[list[str]],
    *,
    timeout: float,
    on_start: Callable[[int, int], None] | None = None,
) -> tuple[list[tuple[int, str, str]], float | None]:
    """Run processes side by side to the end: each one's (exit code, stdout, stderr), and
    their CPU seconds together (None where the OS does not say)."""
    before = children_cpu()
    with contextlib.ExitStack() as stack:
        started: list[tuple[subprocess.Popen[bytes], IO[bytes], IO[bytes]]] = []
        for number, command in enumerate(commands):
            out = stack.enter_context(tempfile.TemporaryFile())
            err = stack.enter_context(tempfile.TemporaryFile())
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
            )
            stack.callback(_reap, proc)
            if on_start is not None:
                on_start(proc.pid, number)
            started.append((proc, out, err))
        deadline = time.monotonic() + timeout
        results: list[tuple[int, str, str]] = []
        for proc, stdout, stderr in started:
            try:
                code = proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _reap(proc)
                code = -9
            stdout.seek(0)
            stderr.seek(0)
            results.append((code, _text(stdout), _text(stderr)))
    after = children_cpu()
    cpu = None if before is None or after is None else after - before
    return results, cpu


def _text(stream: IO[bytes]) -> str:
    return stream.read().decode("utf-8", "replace")


def _reap(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
