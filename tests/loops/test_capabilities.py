"""Live capability probes on every loop here (``xloop which-loop --capabilities``)."""

from __future__ import annotations

import sys

import pytest

from xloop import loops
from xloop.loops import capabilities
from xloop.loops.capabilities import Capability, probe

RESULTS = {"works", "fallback", "not implemented", "unsupported", "limited", "failed"}
#: The loops held to "nothing fails" here; what the others lack is declared per OS in
#: platforms/*.toml and checked there (test_check.py, xloop which-loop --check).
SOUND = {"asyncio", "selector", "proactor", "uvloop", "winloop"}
LOOPS = loops.matrix()


def _by_name(found: list[Capability]) -> dict[str, Capability]:
    return {capability.name: capability for capability in found}


@pytest.mark.parametrize(
    ("loop", "selector"), LOOPS, ids=[f"{loop}[{sel}]" if sel else loop for loop, sel in LOOPS]
)
def test_every_probe_reports_on_every_loop(loop: str, selector: str | None) -> None:
    found = _by_name(probe(loop, selector or "auto"))
    assert list(found) == list(capabilities.PROBES)
    stdlib = loop in ("asyncio", "selector", "proactor")
    for capability in found.values():
        if loop not in SOUND:
            assert capability.result in RESULTS | {"hung", "crashed"}, capability
        elif capability.name == "eager_tasks" and not stdlib:
            # uvloop on 3.13 passes eager_start to asyncio's eager factory, which refuses
            # it: a real incompatibility, reported as "failed" with the TypeError.
            assert capability.result in RESULTS, capability
        else:
            assert capability.result in RESULTS - {"failed"}, capability
        assert capability.detail, capability
    # What every loop on every OS does here.
    for name in ("udp", "sock_recv_into", "shutdown_default_executor"):
        assert found[name].result == "works", found[name]
    if stdlib:
        expected_eager = "works" if sys.version_info >= (3, 12) else "unsupported"
        assert found["eager_tasks"].result == expected_eager, found["eager_tasks"]


@pytest.mark.skipif(loops.IS_WINDOWS, reason="the Unix loops' own capabilities")
def test_what_the_unix_selector_loop_can_do() -> None:
    found = _by_name(probe("selector", "auto"))
    for name in ("add_reader", "subprocess", "signal_handler", "unix_sockets", "start_tls"):
        assert found[name].result == "works", found[name]
    assert found["sendfile"].result == "works"  # os.sendfile on a plain socket
    assert found["socket_cap"].result == "works"  # epoll/kqueue: no cap


@pytest.mark.skipif(loops.IS_WINDOWS, reason="select() on Unix: fd numbers above FD_SETSIZE")
def test_the_select_selector_meets_fd_setsize() -> None:
    (cap,) = probe("selector", "select", ["socket_cap"])
    assert cap.result == "limited", cap
    assert "select" in cap.detail


@pytest.mark.skipif(not loops.IS_WINDOWS, reason="the Windows loops")
def test_what_the_windows_loops_cannot_do() -> None:
    proactor = _by_name(probe("proactor", "auto", ["add_reader", "subprocess", "unix_sockets"]))
    assert proactor["add_reader"].result == "not implemented"
    assert proactor["subprocess"].result == "works"
    selector = _by_name(probe("selector", "auto", ["subprocess", "socket_cap"]))
    assert selector["subprocess"].result == "not implemented"
    assert selector["socket_cap"].result == "limited"


def test_a_probe_that_blocks_the_loop_is_reported_hung_and_the_rest_still_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(capabilities, "PROBE_TIMEOUT", 0.5)
    found = probe("asyncio", "auto", ["tests.loops.probes:blocks_the_loop", "udp"])
    assert [c.result for c in found] == ["hung", "works"], found


def test_a_probe_that_kills_the_interpreter_is_reported_crashed() -> None:
    found = probe("asyncio", "auto", ["tests.loops.probes:kills_the_interpreter", "udp"])
    assert [c.result for c in found] == ["crashed", "works"], found
    assert "exited with 7" in found[0].detail


def test_not_implemented_and_failures_are_told_apart() -> None:
    found = probe("asyncio", "auto", ["tests.loops.probes:not_here", "tests.loops.probes:breaks"])
    assert [c.result for c in found] == ["not implemented", "failed"], found
    assert found[0].detail == "this loop has no such thing"
    assert found[1].detail == "RuntimeError: it went wrong"
