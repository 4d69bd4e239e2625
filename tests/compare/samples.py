"""Sample compare results for the renderer, table and report tests, and helpers to read
what they render."""

from __future__ import annotations

import io

from rich.console import Console
from rich.table import Table

from xloop.compare.model import Machine, Result, ResultFile, Round


def make_machine(label: str = "linux-x86_64-py3.11") -> Machine:
    return Machine(
        label=label,
        os="Linux-6.1.0-x86_64-with-glibc2.36",
        system="Linux",
        cpu_model="Intel(R) Xeon(R) CPU @ 2.20GHz",
        cpu_count=2,
        python="CPython 3.11.7",
        versions={"xloop": "0.1.0", "uvloop": "0.23.0", "winloop": None, "h11": "0.16.0"},
    )


SETTINGS = {
    "connections": 64,
    "duration_s": 3.0,
    "warmup_s": 1.0,
    "rounds": 3,
    "pipeline": 1,
    "client": "builtin",
    "pinning": "server on CPU 0, client on CPU 1",
    "baseline": "asyncio",
}


def measured(
    loop: str,
    http: str,
    rps: list[float],
    *,
    workload: str = "plaintext",
    selector: str | None = None,
    loop_class: str | None = "asyncio.unix_events._UnixSelectorEventLoop",
    errors: int = 0,
    non_2xx: int = 0,
    client_cpu: float = 60.0,
) -> Result:
    row = Result(
        loop=loop,
        loop_class=loop_class,
        selector=selector,
        http=http,
        workload=workload,
        client="builtin",
        connections=64,
        rounds=[
            Round(
                index=i,
                requests=int(value * 3),
                requests_per_second=value,
                latency_p50_ms=1.25 + i,
                latency_p90_ms=2.5,
                latency_p99_ms=12.5 + i,
                latency_max_ms=40.0 + i,
                errors=errors if i == 0 else 0,
                non_2xx=non_2xx if i == 0 else 0,
                server_cpu_s=value * 3 / 20_000,
                client_cpu_percent=client_cpu,
            )
            for i, value in enumerate(rps)
        ],
        server_peak_rss_mib=41.5,
        server_requests=100_000,
        client_responses=99_000,
    )
    row.summarize()
    return row


def sample_rows() -> list[Result]:
    base = measured("asyncio", "h11", [12_000, 12_345, 12_700])
    base.ratio, base.baseline = 1.0, "asyncio"
    fast = measured(
        "uvloop", "httptools", [30_000, 31_000, 29_500], loop_class="uvloop.Loop", client_cpu=97.0
    )
    fast.client_saturated = True
    fast.ratio, fast.baseline = 2.51, "asyncio"
    poll = measured("selector", "h11", [11_000], selector="PollSelector")
    poll.ratio, poll.baseline = 0.89, "asyncio"
    broken = measured("asyncio", "httptools", [9_000, 9_100, 9_050], errors=3, non_2xx=2)
    broken.notes = ["3 timeouts | 2 resets", "second note"]
    failed = Result(
        loop="winloop",
        loop_class=None,
        selector=None,
        http="h11",
        workload="plaintext",
        client="builtin",
        connections=64,
        rounds=[Round(index=0, error="server did not start")],
        notes=["server did not start: winloop is not installed"],
    )
    failed.summarize()
    echo = measured("asyncio", "tcp", [55_000, 56_000, 54_000], workload="echo")
    echo.ratio, echo.baseline = 1.0, "asyncio"
    unmeasured = Result(
        loop="proactor",
        loop_class="asyncio.windows_events.ProactorEventLoop",
        selector=None,
        http="h11",
        workload="json",
        client="builtin",
        connections=64,
        requests_per_second=5_000.0,
    )
    return [base, fast, poll, broken, failed, echo, unmeasured]


def sample_file(label: str = "linux-x86_64-py3.11") -> ResultFile:
    return ResultFile(
        machine=make_machine(label),
        settings=dict(SETTINGS),
        results=sample_rows(),
        command="xloop compare --rounds 3",
        created="2026-11-24T01:02:03+00:00",
    )


def render_text(table: Table, width: int = 400) -> str:
    console = Console(width=width, record=True, color_system=None, file=io.StringIO())
    console.print(table)
    return console.export_text()


def markdown_table_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("|")]


def split_cells(line: str) -> list[str]:
    """The cells of a GFM table line: split on pipes not escaped by a backslash."""
    cells, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char == "|":
            cells.append(current.strip())
            current = ""
        else:
            current += char
    cells.append(current.strip())
    return cells
