"""The options of ``xloop compare`` and ``xloop report``, declared once.

:class:`Settings` is what a comparison measures (recorded in its result file);
:class:`Outputs` where ``compare`` and ``report`` write their results, and
:class:`CompareOutputs` adds ``compare``'s ``--quiet``; :class:`ReportFiles` the files
``report`` reads. The command line and the validation derive from the declarations
(:mod:`xloop.options`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from ..http import HTTP_NAMES
from ..options import option, validate
from ..ws import WS_NAMES, WS_SYNONYMS
from .others import SERVERS
from .workloads import C10K_CONNECTIONS, WORKLOADS

__all__ = [
    "CLIENTS",
    "ENGINES",
    "PARSERS",
    "CompareOutputs",
    "Outputs",
    "ReportFiles",
    "Settings",
]

CLIENTS = ("builtin", "wrk", "oha")
PARSERS = tuple(name for name in HTTP_NAMES if name != "auto")
ENGINES = tuple(name for name in WS_NAMES if name != "auto" and name not in WS_SYNONYMS)

_WHAT = "What to compare"
_LOAD = "Load"
_OUTPUT = "Output"


@dataclass
class Settings:
    """Everything ``xloop compare`` measures, and how."""

    app: str | None = option(
        "The ASGI app as module:attribute (default: the built-in demo app).",
        default=None,
        argument=True,
        metavar="APP",
    )
    servers: list[str] = option(
        "Comma-separated servers run on each loop and parser (xloop, uvicorn, granian: "
        "one worker unless --workers, one runtime thread, its own parser; hypercorn: h11 "
        "only); those not installed are rows that say so.",
        default_factory=lambda: ["xloop"],
        split=True,
        choices=SERVERS,
        noun="server",
        hint="e.g. --servers xloop,uvicorn",
        panel=_WHAT,
    )
    loops: list[str] | None = option(
        "Comma-separated loop names (default: asyncio and every other loop available here); "
        "all: every loop this OS can have, a missing one as a row that says why.",
        default=None,
        split=True,
        panel=_WHAT,
    )
    selectors: list[str] = option(
        "Comma-separated selectors for the selector loop (epoll, kqueue, poll, select): "
        "one row each.",
        default_factory=lambda: ["auto"],
        flag="--selector",
        split=True,
        panel=_WHAT,
    )
    http: list[str] | None = option(
        "Comma-separated parsers (default: h11, and httptools where installed; zttp by name).",
        default=None,
        split=True,
        choices=PARSERS,
        noun="parser",
        hint="leave --http out to compare h11 and httptools",
        panel=_WHAT,
    )
    ws: list[str] | None = option(
        "Comma-separated WebSocket engines for the websocket workload (default: every one "
        "installed; none: a row that shows the server without one).",
        default=None,
        split=True,
        choices=ENGINES,
        noun="WebSocket engine",
        hint="leave --ws out to compare every engine installed",
        panel=_WHAT,
    )
    workloads: list[str] = option(
        "Comma-separated workloads (echo: raw TCP, the loop's own ceiling; websocket; io: "
        "a 10 ms timer per request; c10k: thousands of idle connections).",
        default_factory=lambda: ["plaintext"],
        flag="--workload",
        split=True,
        choices=tuple(WORKLOADS),
        noun="workload",
        hint="several at once: --workload plaintext,json",
        panel=_WHAT,
    )
    workers: int | None = option(
        "Measure each server with 1, 2, ... N worker processes (xloop serve --workers; the "
        "other servers' own --workers): a row per count, each pinned to as many server "
        "CPUs besides the client's. Default: one process, no supervisor.",
        default=None,
        minimum=1,
        hint="e.g. --workers 4",
        panel=_WHAT,
    )
    tls: bool = option(
        "Serve and load every HTTP and WebSocket row over TLS (https, wss; a certificate "
        "made for the run with trustme): what TLS costs on each loop.",
        default=False,
        panel=_WHAT,
    )
    baseline: str | None = option(
        "The loop the ratio column is against (default: asyncio).", default=None, panel=_WHAT
    )
    path: str | None = option(
        "Request target for the HTTP workloads, for an app with other routes.",
        default=None,
        panel=_WHAT,
    )
    app_dir: str | None = option("Look for APP in this directory.", default=None, panel=_WHAT)
    factory: bool = option("APP is a factory returning the app.", default=False, panel=_WHAT)
    connections: int | None = option(
        "Connections in flight (default: 64; io 256; c10k 16, rotating over the "
        "--c10k-connections held open).",
        default=None,
        minimum=1,
        hint="e.g. 64",
        panel=_LOAD,
    )
    c10k_connections: int = option(
        "Keep-alive connections the c10k workload holds open (most of them idle).",
        default=C10K_CONNECTIONS,
        minimum=1,
        hint="e.g. 2000",
        panel=_LOAD,
    )
    duration: float = option(
        "Seconds measured per round.",
        default=3.0,
        above=0,
        finite=True,
        hint="e.g. --duration 3",
        panel=_LOAD,
    )
    warmup: float = option(
        "Seconds of load before each measurement.",
        default=1.0,
        minimum=0,
        finite=True,
        hint="0 turns warming up off",
        panel=_LOAD,
    )
    rounds: int = option(
        "Rounds; they alternate between configurations, figures are medians.",
        default=3,
        minimum=1,
        hint="e.g. --rounds 3",
        panel=_LOAD,
    )
    pipeline: int = option(
        "Requests sent at once per connection (plaintext only).",
        default=1,
        minimum=1,
        hint="1 sends one at a time",
        panel=_LOAD,
    )
    clients: list[str] = option(
        "Load client (wrk and oha: from PATH); several (builtin,wrk) measure each "
        "configuration with each.",
        default_factory=lambda: ["builtin"],
        flag="--client",
        split=True,
        choices=CLIENTS,
        noun="client",
        hint="builtin needs nothing installed",
        panel=_LOAD,
    )
    client_workers: int | None = option(
        "Built-in client processes sharing the connections (default: one per CPU left to "
        "the client, at most 4).",
        default=None,
        minimum=1,
        hint="leave it out for one per client CPU",
        panel=_LOAD,
    )
    host: str = option("Address the servers bind.", default="127.0.0.1", panel=_LOAD)
    port: int = option(
        "First port (servers take port, port+1, ...); 0: free ports.",
        default=0,
        minimum=0,
        maximum=65535,
        hint="0 takes free ports",
        panel=_LOAD,
    )
    pin: bool = option(
        "Pin servers and client to different CPUs where the OS allows.",
        default=True,
        flag="--pin",
        secondary="--no-pin",
        panel=_LOAD,
    )
    timeout: float = option(
        "Seconds without progress before a client connection counts a timeout.",
        default=10.0,
        above=0,
        finite=True,
        hint="e.g. 10",
        panel=_LOAD,
    )

    def __post_init__(self) -> None:
        validate(self)
        if "c10k" in self.workloads and self.c10k_connections < self.connections_for("c10k"):
            raise ConfigError(
                f"--c10k-connections {self.c10k_connections} is fewer than the "
                f"{self.connections_for('c10k')} connections in flight",
                hint="hold more open (--c10k-connections 2000) or send on fewer (--connections)",
            )
        if self.pipeline > 1 and any(name != "plaintext" for name in self.workloads):
            raise ConfigError(
                "--pipeline applies to the plaintext workload only",
                hint="run pipelined plaintext on its own: --workload plaintext --pipeline 16",
            )

    def connections_for(self, workload: str) -> int:
        """Connections in flight for ``workload``: ``--connections``, else its default."""
        return self.connections or WORKLOADS[workload].connections


@dataclass
class Outputs:
    """The files ``xloop compare`` and ``xloop report`` write (``-``: stdout, for one)."""

    json: str | None = option(
        "Write the results as JSON (compare: schema xloop.compare/1; report: the merged "
        "xloop.report/1); - for stdout.",
        default=None,
        metavar="FILE",
        panel=_OUTPUT,
    )
    csv: str | None = option(
        "Write CSV, one line per row (- for stdout).", default=None, metavar="FILE", panel=_OUTPUT
    )
    markdown: str | None = option(
        "Write one Markdown table (- for stdout, e.g. >> $GITHUB_STEP_SUMMARY).",
        default=None,
        metavar="FILE",
        panel=_OUTPUT,
    )
    plot: str | None = option(
        "Draw a bar chart, a panel per machine (needs the plot extra: "
        "pip install 'xloop\\[plot]').",
        default=None,
        metavar="FILE.svg|png",
        panel=_OUTPUT,
    )


@dataclass
class CompareOutputs(Outputs):
    """``xloop compare``'s outputs: the files, and the progress bar."""

    quiet: bool = option("No progress bar.", default=False, short="-q", panel=_OUTPUT)


@dataclass
class ReportFiles:
    """What ``xloop report`` reads."""

    files: list[str] = option(
        "Result files of xloop compare --json (or of xloop report --json).",
        argument=True,
        metavar="FILE",
    )
