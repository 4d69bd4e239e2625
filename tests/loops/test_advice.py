"""Advice for the app at hand: libraries meet loops, checked by live probes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from xloop import loops
from xloop.loops import advice
from xloop.loops.advice import KNOWN, check_app, worth_checking


class NoReadersLoop(asyncio.SelectorEventLoop):
    """A real loop without add_reader, as the Windows proactor loop is."""

    def add_reader(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        raise NotImplementedError("no readers here")


def test_every_row_cites_the_library_and_names_a_probe() -> None:
    from xloop.loops.capabilities import PROBES

    for row in KNOWN:
        assert row.source.startswith("https://"), row
        assert row.needs in PROBES, row


def test_a_library_that_needs_add_reader_on_a_loop_without_it() -> None:
    found = check_app(NoReadersLoop, "NoReadersLoop", {"psycopg": object()})
    assert len(found) == 1
    line = found[0].line()
    assert "psycopg 3 (async)" in line
    assert "no add_reader (no readers here)" in line
    assert "use --loop selector" in line
    assert "psycopg.org" in line


def test_no_warning_where_the_loop_has_what_the_library_needs() -> None:
    factory = loops.resolve("selector").factory
    assert check_app(factory, "selector", {"psycopg": object(), "aiodns": object()}) == []


def test_nothing_to_check_without_a_known_library() -> None:
    assert not worth_checking({"json": object()})
    assert worth_checking({"aiodns": object()})


def test_a_policy_set_by_the_app_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    class AppPolicy(asyncio.DefaultEventLoopPolicy):  # type: ignore[name-defined,misc,unused-ignore]
        pass

    monkeypatch.setattr(asyncio.events, "_event_loop_policy", AppPolicy())
    found = check_app(loops.resolve("selector").factory, "the selector loop", {})
    assert len(found) == 1
    assert "AppPolicy, which xloop does not use" in found[0].line()
    assert "--loop" in found[0].fix
    monkeypatch.setattr(asyncio.events, "_event_loop_policy", None)
    assert advice._policy_warning("x") is None
