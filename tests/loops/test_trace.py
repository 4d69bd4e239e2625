"""``xloop which-loop --trace``: the live call chain of one connection on each loop."""

from __future__ import annotations

import importlib.util
import json

import pytest

from xloop import loops
from xloop.loops.cli import which_loop
from xloop.loops.trace import trace


def _first(names: list[str], wanted: str, after: int = -1) -> int:
    for index, name in enumerate(names):
        if index > after and name == wanted:
            return index
    raise AssertionError(f"{wanted} not after step {after}: {names}")


@pytest.mark.skipif(loops.IS_WINDOWS, reason="the selector loop's walk on Unix")
def test_the_selector_loop_walk_in_the_order_it_ran() -> None:
    described, steps = trace("selector")
    assert "SelectorEventLoop" in described
    names = [step.name for step in steps]
    # The seed's questions, answered by what ran: create_server reaches _start_serving;
    # the accept callback runs from the ready queue inside _run_once, after the selector.
    at = _first(names, "BaseEventLoop.create_server")
    at = _first(names, "BaseSelectorEventLoop._start_serving", at)
    run_once = _first(names, "BaseEventLoop._run_once", at)
    at = _first(names, "BaseSelectorEventLoop._accept_connection", run_once)
    at = _first(names, "BaseEventLoop.call_soon", at)
    at = _first(names, "TraceProtocol.connection_made", at)
    at = _first(names, "TraceProtocol.data_received", at)
    at = _first(names, "_SelectorSocketTransport.write", at)
    accept = steps[names.index("BaseSelectorEventLoop._accept_connection")]
    handle_run = max(
        i
        for i in range(names.index("BaseSelectorEventLoop._accept_connection"))
        if names[i] == "Handle._run"
    )
    assert steps[handle_run].depth < accept.depth  # run by a Handle from the ready queue
    write = steps[names.index("_SelectorSocketTransport.write")]
    assert write.where == "asyncio.selector_events"
    assert not any(step.note for step in steps)  # Python sees the whole stdlib loop
    # where Python ends: the socket's own calls, the read and the write among them
    native = [step.name for step in steps if step.where == "native (socket)"]
    assert native.index("socket.recv") < native.index("socket.send"), native
    read = steps[names.index("_SelectorSocketTransport._read_ready__data_received")]
    recv = next(step for step in steps if step.name == "socket.recv")
    assert recv.depth == read.depth + 1  # called by the transport's read


@pytest.mark.skipif(importlib.util.find_spec("uvloop") is None, reason="uvloop not installed")
def test_a_compiled_loop_shows_where_python_stops_seeing() -> None:
    _, steps = trace("uvloop")
    assert steps[0].name == "Loop.create_server"
    assert steps[0].note == "compiled: Python sees no calls inside"
    protocol = [step for step in steps if step.where == "protocol"]
    assert [step.name for step in protocol] == [
        "TraceProtocol.connection_made",
        "TraceProtocol.data_received",
    ]
    assert {step.note for step in protocol} == {"called from native code"}


def test_trace_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    which_loop(loop="asyncio", trace=True, as_json=True)
    record = json.loads(capsys.readouterr().out)
    assert record["schema"] == "xloop.which-loop.trace/1"
    calls = [step["call"] for step in record["steps"]]
    assert "TraceProtocol.data_received" in calls
    if loops.IS_WINDOWS:  # asyncio is the proactor loop there: IOCP's own steps show
        assert any("Proactor" in call for call in calls), calls
    which_loop(loop="asyncio", trace=True)
    assert "one connection, one request, one write on" in capsys.readouterr().out
