"""The request-target as the scope shows it (``path``, ``raw_path``, ``query_string``), and
the cache of targets already split: a cached target gives what splitting it gives, and the
cache stays bounded whatever targets clients send."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from xloop.config import Config
from xloop.http import Request, connection_factory
from xloop.server import cycle
from xloop.server.connection import Connection
from xloop.server.cycle import build_scope, split_target
from xloop.server.state import ServerState


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with a cache of its own (and leaves the module's as it was)."""
    monkeypatch.setattr(cycle, "_TARGETS", {})


def _scope(target: bytes, root_path: str = "") -> dict[str, Any]:
    # A real state and connection (a compiled build checks their types), never connected.
    connection = asyncio.run(_connection(root_path))
    request = Request("GET", target, "1.1", [(b"host", b"a")], True, False)
    return build_scope(connection, request)


async def _connection(root_path: str) -> Connection:
    config = Config(app="tests.server.test_targets:_app", root_path=root_path)
    factory = connection_factory("h11", config.limits())
    state = ServerState(config, _app, factory, {}, asyncio.Event())
    connection = Connection(state, asyncio.get_running_loop())
    connection.server = ("127.0.0.1", 8000)
    connection.client = ("127.0.0.1", 5000)
    return connection


async def _app(scope: Any, receive: Any, send: Any) -> None:
    """Never called: build_scope only reads the state."""


def _seen(scope: dict[str, Any]) -> tuple[object, ...]:
    return (scope["path"], scope["raw_path"], scope["query_string"])


@pytest.mark.parametrize(
    ("target", "split"),
    [
        (b"/", ("/", b"/", b"")),
        (b"/a/b?c=d&e=%20f", ("/a/b", b"/a/b", b"c=d&e=%20f")),
        (b"/%E2%82%AC/x%2Fy", ("/\u20ac/x/y", b"/%E2%82%AC/x%2Fy", b"")),
        (b"/bad-%FF", ("/bad-\ufffd", b"/bad-%FF", b"")),
        (b"*", ("*", b"*", b"")),
        (b"http://example.com/p?q=1", ("/p", b"/p", b"q=1")),
        (b"http://example.com", ("/", b"/", b"")),
    ],
)
def test_split_target(target: bytes, split: tuple[str, bytes, bytes]) -> None:
    assert split_target(target) == split
    # First from splitting, then from the cache: the same either way.
    assert _seen(_scope(target)) == split
    assert _seen(_scope(target)) == split


def test_a_cached_target_still_gets_the_root_path() -> None:
    assert _seen(_scope(b"/x?y")) == ("/x", b"/x", b"y")
    assert _seen(_scope(b"/x?y", root_path="/api")) == ("/api/x", b"/api/x", b"y")
    assert _seen(_scope(b"/x?y")) == ("/x", b"/x", b"y")


def test_a_target_urlsplit_cannot_take_is_refused_and_not_cached() -> None:
    for _ in range(2):
        with pytest.raises(ValueError, match=r"IPv6|IP-literal"):
            _scope(b"http://[::1/")
    assert cycle._TARGETS == {}


def test_only_short_targets_are_cached() -> None:
    short = b"/" + b"s" * (cycle._CACHED_TARGET_BYTES - 1)
    long = b"/" + b"l" * cycle._CACHED_TARGET_BYTES
    assert _scope(short)["path"] == short.decode()
    assert _scope(long)["path"] == long.decode()
    assert list(cycle._TARGETS) == [short]


def test_the_cache_stops_growing_at_its_size(monkeypatch: pytest.MonkeyPatch) -> None:
    # Filled to four short of its size (the size itself is a constant: a compiled build
    # has it in its code).
    size = cycle._CACHED_TARGETS
    full = {b"/old%d" % n: ("/", b"/", b"") for n in range(size - 4)}
    monkeypatch.setattr(cycle, "_TARGETS", full)
    for number in range(10):
        assert _scope(b"/%d?n" % number)["path"] == f"/{number}"
    assert len(cycle._TARGETS) == size
    assert list(cycle._TARGETS)[-4:] == [b"/0?n", b"/1?n", b"/2?n", b"/3?n"]
    assert _scope(b"/9?n")["query_string"] == b"n"  # past the size: split, not cached
