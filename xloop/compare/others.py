"""The other ASGI servers ``xloop compare --servers`` can run beside xloop: uvicorn, granian,
hypercorn, each started with its own documented flags for a row's loop and parser.

Each runs the same app as its own process (``--workers``: with its own ``--workers``
flag). None of them reports on xloop's status pipe, so compare waits until its port
accepts a connection (and, with workers, until they all run), and cannot check the
client's count against the server's. A server that is not installed, or a row it cannot
do (hypercorn with httptools, a loop it has no flag for), stays in the table with the
reason.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

from .workloads import Workload

__all__ = ["OWN_PARSER", "SERVERS", "SPECS", "ServerSpec", "command", "installed", "why_not"]

SERVERS = ("xloop", "uvicorn", "granian", "hypercorn")

OWN_PARSER = "own"
"""The parser column of a granian row: its own HTTP parser (Rust), no h11/httptools choice."""


@dataclass(frozen=True)
class ServerSpec:
    name: str
    module: str
    loops: tuple[str, ...]
    """The loops of ``--loops`` it has a flag for."""
    parsers: tuple[str, ...] | None
    """The parsers it can use; None: its own only."""
    engines: tuple[str, ...] | None
    """The WebSocket engines of ``--ws`` it can use; None: its own only."""

    @property
    def pip(self) -> str:
        return f"pip install {self.name}"


SPECS = {
    "uvicorn": ServerSpec("uvicorn", "uvicorn", ("asyncio", "uvloop"), ("h11", "httptools"),
                          ("websockets", "wsproto", "none")),
    "granian": ServerSpec("granian", "granian", ("asyncio", "uvloop"), None, None),
    "hypercorn": ServerSpec("hypercorn", "hypercorn", ("asyncio", "uvloop"), ("h11",),
                            ("wsproto",)),
}  # fmt: skip


def serving_children(name: str, workers: int | None) -> int:
    """How many child processes serve for server ``name`` run with ``workers`` (None: no
    ``--workers``): uvicorn serves in its own process unless it runs more than one worker;
    granian and hypercorn always serve from children."""
    if name == "uvicorn":
        return workers if workers is not None and workers > 1 else 0
    return workers or 1


def installed(name: str) -> bool:
    """The server's module can be imported by the interpreter compare runs."""
    return name == "xloop" or importlib.util.find_spec(SPECS[name].module) is not None


def why_not(
    name: str, loop: str, selector: str, parser: str, ws: str | None, workload: Workload
) -> str | None:
    """Why server ``name`` cannot run this row (None: it can)."""
    if name == "xloop":
        return None
    spec = SPECS[name]
    if not installed(name):
        return f"{name} is not installed: {spec.pip}"
    if workload.kind == "tcp":
        return f"{workload.name} is raw TCP, xloop's own echo server: not an HTTP server's"
    if loop not in spec.loops or selector != "auto":
        what = f"loop {loop}" if selector == "auto" else f"selector {selector}"
        return f"{what} not supported by {name} (it runs {', '.join(spec.loops)})"
    if workload.kind == "websocket":
        if spec.engines is not None and ws not in spec.engines:
            return f"WebSocket engine {ws} not supported by {name}"
    elif spec.parsers is not None and parser not in spec.parsers:
        return f"{parser} not supported by {name}"
    return None


def command(
    name: str,
    *,
    app: str,
    factory: bool,
    loop: str,
    parser: str,
    ws: str | None,
    host: str,
    port: int,
    keep_alive: float | None,
    workers: int | None = None,
    tls: tuple[str, str] | None = None,
) -> list[str]:
    """The arguments after ``python -m`` that run server ``name`` for one row; ``workers``:
    its own ``--workers`` (None: its default, one process serving); ``tls``: (certificate,
    key), given with its own flags."""
    many = [] if workers is None else ["--workers", str(workers)]
    secure: list[str] = []
    if tls is not None:
        cert, key = tls
        secure = {
            "uvicorn": ["--ssl-certfile", cert, "--ssl-keyfile", key],
            "granian": ["--ssl-certificate", cert, "--ssl-keyfile", key],
        }.get(name, ["--certfile", cert, "--keyfile", key])
    if name == "uvicorn":
        command = ["uvicorn", app, "--loop", loop, "--http", parser, "--ws", ws or "none"]
        command += ["--no-access-log", "--lifespan", "auto", "--host", host, "--port", str(port)]
        if factory:
            command.append("--factory")
        if keep_alive is not None:
            command += ["--timeout-keep-alive", f"{keep_alive:g}"]
        return command + many + secure
    if name == "granian":
        command = ["granian", "--interface", "asgi", "--loop", loop, "--http", "1"]
        command += ["--workers", str(workers or 1), "--runtime-threads", "1"]
        command += ["--ws" if ws is not None else "--no-ws", "--host", host, "--port", str(port)]
        if factory:
            command.append("--factory")
        return [*command, *secure, app]
    # hypercorn: a factory is named APP() on its command line
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    command = ["hypercorn", "--worker-class", loop, "--bind", bind, *many, *secure]
    if keep_alive is not None:
        command += ["--keep-alive", f"{keep_alive:g}"]
    return [*command, f"{app}()" if factory else app]
