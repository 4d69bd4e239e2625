"""Facts about the machine a comparison runs on, and how processes are pinned to CPUs."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import psutil

from .. import __version__, loops
from .._version import compiled
from .model import Machine

__all__ = ["Pinning", "cpu_model", "describe_machine", "plan_pinning", "version_of"]

_VERSIONED = ("uvloop", "winloop", "h11", "httptools", "zttp")


def cpu_model() -> str:
    """The CPU's marketing name where the OS tells it, else the architecture."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for key in ("model name", "Hardware", "Processor", "cpu model"):
        for line in text.splitlines():
            name, sep, value = line.partition(":")
            if sep and name.strip() == key and value.strip():
                return value.strip()
    return platform.processor() or platform.machine() or "unknown"


def version_of(dist: str) -> str | None:
    """The installed version of a distribution, None when it is not installed."""
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def describe_machine() -> Machine:
    """This machine, for the ``machine`` object of a result file."""
    system = platform.system() or "unknown"
    python = f"{platform.python_implementation()} {platform.python_version()}"
    short = ".".join(platform.python_version_tuple()[:2])
    label = f"{system.lower()}-{platform.machine().lower() or 'unknown'}-py{short}"
    # A compiled build (platforms/compile.py) says so as a local version label: its figures
    # are not the pure-Python build's.
    build = "+compiled" if compiled() else ""
    versions: dict[str, str | None] = {"xloop": __version__ + build}
    versions.update({name: version_of(name) for name in _VERSIONED})
    return Machine(
        label=label,
        os=platform.platform(),
        system=system,
        cpu_model=cpu_model(),
        cpu_count=os.cpu_count(),
        python=python,
        versions=versions,
    )


@dataclass(frozen=True)
class Pinning:
    """Which CPUs the servers and the load client run on (None: not pinned)."""

    server: tuple[int, ...] | None
    client: tuple[int, ...] | None
    description: str
    taskset: str | None = None
    """The taskset program, when processes are pinned through it."""

    def server_for(self, workers: int | None) -> tuple[int, ...] | None:
        """The CPUs a server with ``workers`` worker processes is pinned to: the first
        ``workers`` server CPUs (one process: the first)."""
        if self.server is None:
            return None
        return self.server[: workers or 1]

    def lacks(self, workers: int | None) -> str | None:
        """Why a server with ``workers`` workers cannot be pinned beside the client (more
        workers than server CPUs), or None when it can (or nothing is pinned)."""
        if self.server is None or self.client is None or (workers or 1) <= len(self.server):
            return None
        return (
            f"needs {workers} CPUs for the server besides the client's; this machine has "
            f"{len(self.server) + len(self.client)} (--no-pin runs it, the workers and the "
            "client sharing the CPUs)"
        )

    def apply(self, pid: int, cpus: tuple[int, ...] | None) -> None:
        """Pin process ``pid`` to ``cpus`` (no-op when not pinning or the process is gone)."""
        if cpus is None:
            return
        try:
            affinity = getattr(psutil.Process(pid), "cpu_affinity", None)
            if affinity is not None:  # not on macOS
                affinity(list(cpus))
        except (psutil.Error, OSError):  # pragma: no cover - raced an exit
            pass

    def command(self, argv: list[str], cpus: tuple[int, ...] | None) -> list[str]:
        """``argv`` run through ``taskset -c CPUS`` where that exists (Linux), so the process
        and every thread it starts are pinned from their first instruction."""
        if cpus is None or self.taskset is None:
            return argv
        return [self.taskset, "-c", ",".join(map(str, cpus)), *argv]

    def started(self, pid: int, cpus: tuple[int, ...] | None) -> None:
        """Pin a process just started with :meth:`command` where taskset could not."""
        if self.taskset is None:
            self.apply(pid, cpus)


def _allowed_cpus() -> list[int] | None:
    """The CPUs this process may use, or None where the OS has no affinity API (macOS)."""
    getter = getattr(os, "sched_getaffinity", None)
    if getter is not None:
        return sorted(getter(0))
    affinity = getattr(psutil.Process(), "cpu_affinity", None)
    if affinity is None:  # macOS
        return None
    try:
        return sorted(affinity())
    except (psutil.Error, OSError):
        return None


def _cpus(cpus: tuple[int, ...]) -> str:
    return f"CPU {cpus[0]}" if len(cpus) == 1 else f"CPUs {','.join(map(str, cpus))}"


def plan_pinning(enabled: bool = True, workers: int | None = None) -> Pinning:
    """Server on the first allowed CPU, the client on the others, where the OS allows.

    With ``workers`` (``--workers N``): the servers get the first N CPUs (a server with w
    workers the first w), the client the rest, keeping at least one; a server with more
    workers than that is not pinned here (:meth:`Pinning.lacks`)."""
    shared = ": each server's workers and the client share the CPUs unpinned" if workers else ""
    if not enabled:
        return Pinning(None, None, f"none (--no-pin){shared}")
    allowed = _allowed_cpus()
    if allowed is None:
        return Pinning(None, None, f"none ({loops.OS_NAME} has no CPU affinity API){shared}")
    if len(allowed) < 2:
        return Pinning(
            None,
            None,
            f"none (only CPU {allowed} is usable: server and client share it){shared}",
        )
    count = max(1, min(workers or 1, len(allowed) - 1))
    server = tuple(allowed[:count])
    client = tuple(allowed[count:])
    where = f"server on {_cpus(server)}"
    if workers:
        where = f"servers on {_cpus(server)}"
        if len(server) > 1:
            where += " (w workers on the first w)"
    taskset = shutil.which("taskset") if hasattr(os, "sched_getaffinity") else None
    return Pinning(server, client, f"{where}, client on {_cpus(client)}", taskset)
