"""The which-loop report: inspect_choice and inspect_all."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import platform
import selectors
import sys
from typing import Any

import pytest

from xloop import loops
from xloop.loops.inspect import (
    ALL_SCHEMA,
    METHODS,
    SCHEMA,
    inspect_all,
    inspect_choice,
    method_owners,
)

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
linux_only = pytest.mark.skipif(loops.OS_NAME != "Linux", reason="Linux-specific expectations")

BASE = "asyncio.base_events.BaseEventLoop"
SELECTOR_BASE = "asyncio.selector_events.BaseSelectorEventLoop"
UNIX_SELECTOR_LOOP = "asyncio.unix_events._UnixSelectorEventLoop"

CREATED: list[asyncio.AbstractEventLoop] = []


def recording_factory() -> asyncio.AbstractEventLoop:
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    CREATED.append(loop)
    return loop


def _check_platform_fields(report: dict[str, Any]) -> None:
    assert report["python"] == {
        "version": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    assert report["os"] == {
        "system": platform.system(),
        "release": platform.release(),
        "machine": platform.machine(),
    }


@linux_only
@pytest.mark.parametrize("selector", ["epoll", "poll", "select"])
def test_inspect_the_linux_selector_loop(selector: str) -> None:
    report = inspect_choice(loops.resolve("selector", selector))
    class_name = f"{selector.capitalize()}Selector"
    assert list(report) == [
        "schema",
        "requested",
        "backend",
        "reason",
        "loop_class",
        "mro",
        "driver",
        "methods",
        "transport",
        "app_tasks",
        "python",
        "os",
    ]
    assert report["schema"] == SCHEMA == "xloop.which-loop/1"
    assert (report["requested"], report["backend"]) == ("selector", "selector")
    assert report["reason"] == "selector: the stdlib selector loop was requested"
    assert report["loop_class"] == UNIX_SELECTOR_LOOP
    assert report["mro"] == [
        UNIX_SELECTOR_LOOP,
        SELECTOR_BASE,
        BASE,
        "asyncio.events.AbstractEventLoop",
        "builtins.object",
    ]
    assert report["driver"] == {"kind": "selector", "class": f"selectors.{class_name}"}
    assert report["methods"] == {
        "create_server": BASE,
        "run_forever": BASE,
        "run_until_complete": BASE,
        "_run_once": BASE,
        "call_soon": BASE,
        "_start_serving": SELECTOR_BASE,
        "sock_accept": SELECTOR_BASE,
        "create_connection": BASE,
    }
    if selector == "select":  # capped: the loop's transports, through a capped listener
        assert report["transport"]["owner"] == "loop"
        assert report["transport"]["why"].startswith("select() is capped")
    else:
        assert report["transport"] == {
            "owner": "xloop",
            "class": "xloop.server.transport.SocketTransport",
            "why": "the selector loop: xloop accepts and reads itself; TLS: the loop's",
        }
    assert report["app_tasks"]["start"] == "eager"  # (xloop's before 3.12, asyncio's after)
    _check_platform_fields(report)
    assert json.loads(json.dumps(report)) == report


@needs_uvloop
def test_inspect_uvloop() -> None:
    report = inspect_choice(loops.resolve("auto"))
    assert (report["requested"], report["backend"]) == ("auto", "uvloop")
    assert report["reason"] == "auto: uvloop is installed"
    assert report["loop_class"] == "uvloop.Loop"
    assert report["mro"][0] == "uvloop.Loop"
    assert report["mro"][-2:] == ["asyncio.events.AbstractEventLoop", "builtins.object"]
    assert report["driver"] == {"kind": None, "class": None}
    assert report["methods"]["create_server"] == "uvloop.loop.Loop"
    assert report["methods"]["_run_once"] is None
    assert report["methods"]["_start_serving"] is None
    assert report["transport"] == {
        "owner": "loop",
        "class": "",
        "why": "the loop's own (create_server)",
    }
    # before 3.12 uvloop keeps the scheduled first step (cheaper there than xloop's start)
    assert report["app_tasks"]["start"] == ("eager" if sys.version_info >= (3, 12) else "scheduled")


def test_inspect_closes_the_loop_it_created() -> None:
    CREATED.clear()
    report = inspect_choice(loops.resolve(f"{__name__}:recording_factory"))
    assert report["backend"] == "custom"
    assert report["driver"] == {"kind": "selector", "class": "selectors.SelectSelector"}
    assert len(CREATED) == 1
    assert CREATED[0].is_closed()


def test_method_owners_of_a_class_that_defines_none() -> None:
    assert method_owners(object) == dict.fromkeys(METHODS)


def test_method_owners_prefer_the_most_derived_class() -> None:
    custom = type(
        "Custom",
        (asyncio.SelectorEventLoop,),
        {"__module__": __name__, "call_soon": asyncio.SelectorEventLoop.call_soon},
    )
    owners = method_owners(custom)
    assert owners["call_soon"] == f"{__name__}.Custom"
    assert owners["create_server"] == BASE


def test_inspect_all_shape() -> None:
    report = inspect_all()
    assert list(report) == ["schema", "backends", "selectors", "python", "os"]
    assert report["schema"] == ALL_SCHEMA == "xloop.which-loop.all/1"
    assert [entry["name"] for entry in report["backends"]] == list(loops.LOOP_NAMES)
    availability = loops.availability()
    for entry in report["backends"]:
        assert list(entry) == ["name", "available", "why", "loop_class", "driver"]
        assert (entry["available"], entry["why"]) == availability[entry["name"]]
        if entry["available"]:
            assert isinstance(entry["loop_class"], str)
            assert set(entry["driver"]) == {"kind", "class"}
        else:
            assert entry["loop_class"] is None
            assert entry["driver"] is None
    assert [entry["name"] for entry in report["selectors"]] == list(loops.SELECTOR_NAMES[1:])
    _check_platform_fields(report)
    assert json.loads(json.dumps(report)) == report


@linux_only
def test_inspect_all_on_linux() -> None:
    report = inspect_all()
    by_name = {entry["name"]: entry for entry in report["backends"]}
    assert by_name["selector"]["loop_class"] == UNIX_SELECTOR_LOOP
    assert by_name["selector"]["driver"] == {
        "kind": "selector",
        "class": "selectors.EpollSelector",
    }
    assert by_name["asyncio"]["loop_class"] == UNIX_SELECTOR_LOOP
    assert by_name["proactor"] == {
        "name": "proactor",
        "available": False,
        "why": "proactor needs Windows (IOCP)",
        "loop_class": None,
        "driver": None,
    }
    assert by_name["winloop"]["why"] == "winloop needs Windows"
    assert by_name["auto"]["loop_class"] == ("uvloop.Loop" if HAS_UVLOOP else UNIX_SELECTOR_LOOP)
    assert report["selectors"] == [
        {
            "name": "epoll",
            "available": True,
            "default": True,
            "class": "selectors.EpollSelector",
            "why": "selectors.DefaultSelector here",
        },
        {
            "name": "kqueue",
            "available": False,
            "default": False,
            "class": None,
            "why": "kqueue selector needs macOS or BSD",
        },
        {
            "name": "devpoll",
            "available": False,
            "default": False,
            "class": None,
            "why": "devpoll selector needs Solaris or illumos",
        },
        {
            "name": "poll",
            "available": True,
            "default": False,
            "class": "selectors.PollSelector",
            "why": "available here",
        },
        {
            "name": "select",
            "available": True,
            "default": False,
            "class": "selectors.SelectSelector",
            "why": "available here",
        },
    ]


@linux_only
def test_inspect_all_without_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uvloop", None)
    by_name = {entry["name"]: entry for entry in inspect_all()["backends"]}
    assert by_name["uvloop"]["available"] is False
    assert by_name["uvloop"]["why"] == "uvloop is not installed (pip install 'xloop[uvloop]')"
    assert by_name["auto"]["loop_class"] == UNIX_SELECTOR_LOOP
    assert by_name["auto"]["why"].startswith("auto: uvloop is not installed")


class _BrokenClose(asyncio.SelectorEventLoop):
    def close(self) -> None:
        super().close()
        raise RuntimeError("failed to join loop runtime thread")


def _no_loop() -> asyncio.AbstractEventLoop:
    raise RuntimeError("this loop needs a newer OS")


def test_a_loop_that_cannot_be_created_is_one_error_line() -> None:
    from xloop.errors import StartupError

    choice = loops.LoopChoice("broken", "custom", _no_loop, "asked for", None)
    with pytest.raises(StartupError) as caught:
        inspect_choice(choice)
    assert caught.value.one_line().startswith(
        "the custom loop could not be created: RuntimeError: this loop needs a newer OS"
    )


def test_a_loop_that_cannot_be_closed_is_one_error_line() -> None:
    from xloop.errors import StartupError

    choice = loops.LoopChoice("broken", "custom", _BrokenClose, "asked for", None)
    with pytest.raises(StartupError, match="could not be closed: RuntimeError: failed to join"):
        inspect_choice(choice)


@pytest.mark.parametrize("factory", [_no_loop, _BrokenClose])
def test_every_backend_report_survives_a_broken_loop(
    monkeypatch: pytest.MonkeyPatch, factory: Any
) -> None:
    """An installed loop that fails here is a row that says why, not a traceback."""
    import xloop.loops.inspect as inspect_module

    def resolve(name: str, selector: str = "auto") -> loops.LoopChoice:
        return loops.LoopChoice(name, name, factory, "test", None)

    monkeypatch.setattr(inspect_module, "resolve", resolve)
    report = inspect_all()
    rows = [row for row in report["backends"] if row["why"].startswith(("its loop failed", "the "))]
    assert rows, report["backends"]
    for row in rows:
        assert row["available"] is False
        assert "RuntimeError" in row["why"]
