"""CPU pinning for ``xloop compare``, checked on real processes (where the OS has affinity)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import psutil
import pytest

from xloop.compare.machine import Pinning, plan_pinning

HAS_AFFINITY = hasattr(psutil.Process(), "cpu_affinity")
needs_affinity = pytest.mark.skipif(not HAS_AFFINITY, reason="no CPU affinity API on this OS")


def affinity(process: psutil.Process) -> list[int]:
    """The CPUs ``process`` may run on (psutil has no cpu_affinity on macOS)."""
    cpus: list[int] = getattr(process, "cpu_affinity")()  # noqa: B009
    return sorted(cpus)


@pytest.fixture
def child() -> Iterator[psutil.Process]:
    """A Python process that waits for its stdin to close."""
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        yield psutil.Process(proc.pid)
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(10)


@needs_affinity
def test_apply_pins_a_running_process(child: psutil.Process) -> None:
    allowed = affinity(child)
    pinning = Pinning((allowed[0],), (allowed[-1],), "test")
    pinning.apply(child.pid, (allowed[-1],))
    assert affinity(child) == [allowed[-1]]
    pinning.apply(child.pid, None)  # not pinning: left as it is
    assert affinity(child) == [allowed[-1]]


@needs_affinity
def test_started_pins_only_without_taskset(child: psutil.Process) -> None:
    allowed = affinity(child)
    with_taskset = Pinning((allowed[0],), (allowed[-1],), "test", taskset="/usr/bin/taskset")
    with_taskset.started(child.pid, (allowed[0],))  # taskset pinned it already: nothing to do
    assert affinity(child) == allowed
    Pinning((allowed[0],), (allowed[-1],), "test").started(child.pid, (allowed[0],))
    assert affinity(child) == [allowed[0]]


def test_command_runs_through_taskset_only_when_pinning() -> None:
    pinning = Pinning((0,), (1, 2), "test", taskset="taskset")
    assert pinning.command(["python", "-V"], (1, 2)) == ["taskset", "-c", "1,2", "python", "-V"]
    assert pinning.command(["python", "-V"], None) == ["python", "-V"]
    assert Pinning((0,), (1,), "test").command(["python", "-V"], (1,)) == ["python", "-V"]


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs os.sched_setaffinity")
def test_one_usable_cpu_is_not_pinned() -> None:
    """With a single CPU allowed, server and client would share it: no pinning, and why."""
    code = (
        "import os\n"
        "cpu = min(os.sched_getaffinity(0))\n"
        "os.sched_setaffinity(0, {cpu})\n"
        "from xloop.compare.machine import plan_pinning\n"
        "p = plan_pinning()\n"
        "print(cpu, p.server, p.client, p.description, sep='|')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True
    )
    cpu, server, client, description = done.stdout.strip().split("|")
    assert (server, client) == ("None", "None")
    assert description == f"none (only CPU [{cpu}] is usable: server and client share it)"


def test_plan_server_on_the_first_cpu_client_on_the_others() -> None:
    pinning = plan_pinning()
    if pinning.server is None:
        pytest.skip(f"not pinned here: {pinning.description}")
    assert pinning.client is not None
    assert pinning.server[0] not in pinning.client
    assert pinning.description.startswith(f"server on CPU {pinning.server[0]}, client on CPU")
    assert plan_pinning(False) == Pinning(None, None, "none (--no-pin)")


def test_the_xloop_version_names_a_compiled_build() -> None:
    """A result file says which build ran: ``+compiled`` exactly when Python imported the
    request path from extension modules (``platforms/compile.py``)."""
    from xloop import __version__
    from xloop.compare.machine import describe_machine
    from xloop.server import cycle

    built = not cycle.__file__.endswith(".py")
    expected = __version__ + ("+compiled" if built else "")
    assert describe_machine().versions["xloop"] == expected
