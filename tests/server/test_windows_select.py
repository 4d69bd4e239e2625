"""The selector loop on Windows is limited by select() to 512 sockets: said and enforced.

The limit is decided by the loop shim (``xloop.loops.socket_limit``), so here it is tested
by making the shim believe it runs on Windows; under Wine the real path runs.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from xloop import Config, ConfigError, Server, loops

from .apps import hello


def _start(config: Config) -> None:
    async def main() -> None:
        server = Server(config)
        await server.start()
        await server.stop()

    loops.run(main(), loop_factory=loops.resolve("selector").factory)


def test_socket_limit_only_for_the_windows_selector_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = asyncio.SelectorEventLoop()
    try:
        assert loops.socket_limit(loop) == (512 if loops.IS_WINDOWS else None)
        monkeypatch.setattr(loops, "IS_WINDOWS", True)
        assert loops.socket_limit(loop) == 512
    finally:
        loop.close()


def test_limit_concurrency_above_select_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(loops, "IS_WINDOWS", True)
    config = Config(
        app=hello, port=0, loop="selector", limit_concurrency=1000, log_level="critical"
    )
    with pytest.raises(ConfigError, match=r"limited by select\(\) to 512 sockets") as info:
        _start(config)
    assert info.value.hint is not None
    assert "--limit-concurrency 500" in info.value.hint


def test_startup_log_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(loops, "IS_WINDOWS", True)
    caplog.set_level(logging.INFO, logger="xloop")
    _start(Config(app=hello, port=0, loop="selector", limit_concurrency=100, log_level="info"))
    assert any("limited to 512 sockets" in r.getMessage() for r in caplog.records)
