"""The data ``xloop compare`` produces and ``xloop report`` reads: schema ``xloop.compare/1``.

A result file is one JSON object::

    {
      "schema": "xloop.compare/1",
      "created": "2026-11-24T01:02:03+00:00",     # UTC, ISO 8601
      "command": "xloop compare --rounds 3",       # how it was made
      "machine": {                                 # where it was made
        "label": "linux-x86_64-py3.11",            # short name used when merging files
        "os": "Linux-6.1.0-x86_64-with-glibc2.36", "system": "Linux",
        "cpu_model": "...", "cpu_count": 2, "python": "CPython 3.11.7",
        "versions": {"xloop": "0.1.0", "uvloop": "0.23.0", "winloop": null,
                     "h11": "0.16.0", "httptools": "0.9.0", "zttp": null}
      },
      "settings": {                                # how it was measured
        "connections": 64, "duration_s": 3.0, "warmup_s": 1.0, "rounds": 3,
        "pipeline": 1, "client": "builtin", "pinning": "server on CPU 0, client on CPU 1",
        "baseline": "asyncio"
      },
      "results": [ {row}, ... ]
    }

Each row (:class:`Result`) is one (loop, selector, parser, workload, client) configuration
measured over ``rounds`` rounds. Its figures are medians over the rounds with their
spread (``requests_per_second_min``/``_max``); ``rounds`` keeps every round's figures.
``ratio`` is the ratio of its req/s median to the baseline row's, ``ratio_min``/``_max``
the spread of the same ratio taken round by round (how steady the machine was).
Keys a row always has: ``loop``, ``loop_class``, ``selector``, ``http``, ``workload``,
``client``, ``requests_per_second``, ``latency_p99_ms``, ``errors``, ``status``.
A figure that could not be measured is ``null``, never left out.

``status`` is ``"ok"``, ``"errors"`` (measured, but some requests failed or were not 2xx:
the figures are kept and flagged), ``"failed"`` (nothing measured: ``notes`` says why) or
``"skipped"`` (``--servers``: a server not installed, or a row it cannot run; ``--workers``:
more workers than CPUs for the server; ``notes`` says which). ``server`` names the server
(``xloop`` in files made before ``--servers``); ``workers`` its worker processes (``null``:
one process, as in files made before ``--workers``).
A row is never dropped.
"""

from __future__ import annotations

import dataclasses
import statistics
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SCHEMA", "Machine", "Result", "ResultFile", "Round", "median_or_none"]

SCHEMA = "xloop.compare/1"


def median_or_none(values: list[float | None]) -> float | None:
    """The median of the values that are not None (None when there are none)."""
    present = [value for value in values if value is not None]
    return statistics.median(present) if present else None


@dataclass
class Round:
    """One measurement of one configuration."""

    index: int = 0
    requests: int = 0
    """Responses counted in the measured window."""
    requests_per_second: float | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    errors: int = 0
    """Socket errors: connect, read, write, timeouts, malformed responses."""
    non_2xx: int = 0
    server_cpu_s: float | None = None
    """Server process CPU time (user + system) in the measured window."""
    client_cpu_percent: float | None = None
    """Load client CPU time / wall time in the window, in percent of one CPU."""
    error: str | None = None
    """Why this round measured nothing, or what went wrong in it (the last client error)."""


@dataclass
class Result:
    """One row: a configuration and its figures over all rounds."""

    loop: str
    """The loop name as given to ``--loops``: asyncio, selector, proactor, uvloop, ..."""
    loop_class: str | None
    """The class that resolved in the server process, e.g. ``uvloop.Loop``."""
    selector: str | None
    """The selectors class the selector loop drives (``EpollSelector``), else None."""
    http: str
    """``h11``, ``httptools`` or ``zttp``; ``tcp`` for the raw echo workload (no HTTP); for
    ``websocket`` the server's WebSocket engine (``websockets``, ``wsproto``, ``none``)."""
    workload: str
    client: str
    """``builtin``, ``wrk`` or ``oha``."""
    connections: int
    """Connections in flight."""
    pipeline: int = 1
    idle_connections: int | None = None
    """``c10k``: connections held open besides those in flight."""
    rounds: list[Round] = field(default_factory=list)
    requests_per_second: float | None = None
    """Median over rounds (for ``echo`` and ``websocket``: messages per second)."""
    requests_per_second_min: float | None = None
    requests_per_second_max: float | None = None
    latency_p50_ms: float | None = None
    latency_p90_ms: float | None = None
    latency_p99_ms: float | None = None
    latency_max_ms: float | None = None
    errors: int = 0
    """Sum over rounds."""
    non_2xx: int = 0
    """Sum over rounds."""
    server_cpu_ms_per_1k: float | None = None
    """Server CPU milliseconds per 1000 requests (median over rounds)."""
    server_peak_rss_mib: float | None = None
    client_cpu_percent: float | None = None
    """The highest client CPU use of any round, percent of one CPU."""
    client_saturated: bool = False
    """The client, not the server, may have set the pace (its CPU near 100%)."""
    server_requests: int | None = None
    """Requests the server itself counted over its life (warmup included); for
    ``websocket`` the messages its apps sent."""
    client_responses: int | None = None
    """Responses the client counted over all its runs against this server."""
    ratio: float | None = None
    """``requests_per_second`` / the baseline row's (same parser, workload, client)."""
    ratio_min: float | None = None
    """The lowest of the per-round ratios: each round's req/s over the baseline row's in the
    same round (rounds alternate between rows, so the two ran close in time); None with
    fewer than two rounds measured in both rows, and in files made before it."""
    ratio_max: float | None = None
    """The highest of the per-round ratios."""
    baseline: str | None = None
    """The ``loop`` of the row the ratio is against."""
    status: str = "ok"
    notes: list[str] = field(default_factory=list)
    selector_named: bool = False
    """The selector was asked for by name (``--selector poll``), so the label shows it."""
    server: str = "xloop"
    """The server that ran the app: ``xloop``, ``uvicorn``, ``granian`` or ``hypercorn``."""
    workers: int | None = None
    """``--workers``: the server's worker processes (``xloop serve --workers N`` or the
    other server's own flag), its CPU and memory the sums over them; None: one process,
    no supervisor (every row of a file made without ``--workers``)."""
    tls: bool = False
    """``--tls``: served and loaded over TLS."""

    @property
    def label(self) -> str:
        """``uvloop/httptools``, ``selector[poll]/h11``, ``asyncio[poll]/h11`` (a selector
        asked for by name), ``asyncio/tcp``; ``uvloop/httptools x2`` with 2 workers."""
        loop = self.loop
        if self.selector and (self.loop == "selector" or self.selector_named):
            loop = f"{self.loop}[{self.selector.removesuffix('Selector').lower()}]"
        label = f"{loop}/{self.http}"
        if self.workers is not None:
            label += f" x{self.workers}"
        if self.tls:
            label += " tls"
        return label if self.server == "xloop" else f"{self.server} {label}"

    def summarize(self) -> None:
        """Fill the median/spread/sum fields and ``status`` from ``rounds``."""
        measured = [r for r in self.rounds if r.requests_per_second is not None]
        rps = [r.requests_per_second for r in measured if r.requests_per_second is not None]
        self.requests_per_second = statistics.median(rps) if rps else None
        self.requests_per_second_min = min(rps) if rps else None
        self.requests_per_second_max = max(rps) if rps else None
        self.latency_p50_ms = median_or_none([r.latency_p50_ms for r in measured])
        self.latency_p90_ms = median_or_none([r.latency_p90_ms for r in measured])
        self.latency_p99_ms = median_or_none([r.latency_p99_ms for r in measured])
        self.latency_max_ms = max(
            (r.latency_max_ms for r in measured if r.latency_max_ms is not None), default=None
        )
        self.errors = sum(r.errors for r in self.rounds)
        self.non_2xx = sum(r.non_2xx for r in self.rounds)
        per_1k = [
            r.server_cpu_s * 1_000_000 / r.requests  # seconds -> ms, per 1000 requests
            if r.server_cpu_s is not None and r.requests
            else None
            for r in measured
        ]
        self.server_cpu_ms_per_1k = median_or_none(per_1k)
        client_cpu = [r.client_cpu_percent for r in measured if r.client_cpu_percent is not None]
        self.client_cpu_percent = max(client_cpu) if client_cpu else None
        if not measured:
            self.status = "failed"
        elif self.errors or self.non_2xx or any(r.error for r in self.rounds):
            self.status = "errors"
        else:
            self.status = "ok"

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["label"] = self.label
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        """Raises ValueError naming the first field of the wrong type."""
        if not isinstance(data, dict):
            raise ValueError("malformed: a result is not an object")
        _check_types(data, _RESULT_TYPES, "result")
        for item in data.get("rounds", []):
            if not isinstance(item, dict):
                raise ValueError("malformed: a round is not an object")
            _check_types(item, _ROUND_TYPES, "round")
        names = {f.name for f in dataclasses.fields(cls)}
        values = {key: value for key, value in data.items() if key in names}
        values["rounds"] = [
            Round(**{k: v for k, v in item.items() if k in _ROUND_FIELDS})
            for item in data.get("rounds", [])
        ]
        values["notes"] = list(data.get("notes", []))
        return cls(**values)


_ROUND_FIELDS = {f.name for f in dataclasses.fields(Round)}

_NUMBER = (int, float)
_TEXT = (str,)
_OPTIONAL_NUMBER = (int, float, type(None))
_OPTIONAL_TEXT = (str, type(None))


def _field_types(cls: type) -> dict[str, tuple[type, ...]]:
    """What a JSON value of each field of ``cls`` may be."""
    kinds = {
        "int": (int,),
        "float": _NUMBER,
        "float | None": _OPTIONAL_NUMBER,
        "int | None": (int, type(None)),
        "str": _TEXT,
        "str | None": _OPTIONAL_TEXT,
        "bool": (bool,),
        "list[str]": (list,),
        "list[Round]": (list,),
    }
    return {f.name: kinds[str(f.type)] for f in dataclasses.fields(cls) if str(f.type) in kinds}


def _check_types(data: dict[str, Any], types: dict[str, tuple[type, ...]], what: str) -> None:
    for name, allowed in types.items():
        if name not in data:
            continue
        value = data[name]
        # bool is an int to Python, never a figure here
        wrong = isinstance(value, bool) and bool not in allowed
        if wrong or not isinstance(value, allowed):
            raise ValueError(f"malformed: {what} field {name!r} is {value!r}")


_RESULT_TYPES = _field_types(Result)
_ROUND_TYPES = _field_types(Round)


@dataclass
class Machine:
    """Where a result file was made."""

    label: str
    os: str
    system: str
    cpu_model: str
    cpu_count: int | None
    python: str
    versions: dict[str, str | None] = field(default_factory=dict)


@dataclass
class ResultFile:
    """A whole ``--json`` file."""

    machine: Machine
    settings: dict[str, Any]
    results: list[Result]
    command: str = ""
    created: str = ""
    schema: str = SCHEMA

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "created": self.created,
            "command": self.command,
            "machine": dataclasses.asdict(self.machine),
            "settings": dict(self.settings),
            "results": [row.to_dict() for row in self.results],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ResultFile:
        """Raises ValueError (with a message fit for one line) on a file of another schema."""
        schema = data.get("schema")
        if schema != SCHEMA:
            raise ValueError(f"schema is {schema!r}, expected {SCHEMA!r}")
        machine_data = data.get("machine")
        if not isinstance(machine_data, dict):
            raise ValueError("no 'machine' object")
        machine_names = {f.name for f in dataclasses.fields(Machine)}
        try:
            machine = Machine(**{k: v for k, v in machine_data.items() if k in machine_names})
            results = [Result.from_dict(item) for item in data.get("results", [])]
        except TypeError as exc:
            raise ValueError(f"malformed: {exc}") from None
        return cls(
            machine=machine,
            settings=dict(data.get("settings", {})),
            results=results,
            command=str(data.get("command", "")),
            created=str(data.get("created", "")),
        )
