"""Real servers on 127.0.0.1 port 0, in a thread, on every loop and parser available here.

``XLOOP_TEST_LOOPS`` (comma-separated backends, e.g. ``selector`` or ``uvloop``) and
``XLOOP_TEST_HTTP`` (``h11``/``httptools``/``zttp``) narrow the matrix; tox's loop factors use them.
Every loop runs with every parser; the selector loop's other selectors (poll and select
beside epoll on Linux) with one parser, httptools, unless ``XLOOP_TEST_MATRIX=full`` (tox's
environments) or ``XLOOP_TEST_HTTP`` names the parsers: a selector changes how readiness is
polled, which no parser sees.
The helpers at the end look at a running server: its connection, its slots, its log.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from xloop import Config, Server, loops
from xloop.http import httptools_available, zttp_available

from .client import exchange, get

TIMEOUT = 10.0


def _under_wine() -> bool:
    """True on Wine (platforms/wine.sh): its ntdll exports ``wine_get_version``."""
    if not loops.IS_WINDOWS:
        return False
    import ctypes

    try:
        return hasattr(ctypes.CDLL("ntdll"), "wine_get_version")
    except OSError:  # pragma: no cover
        return False


#: Windows under Wine: the same code paths as Windows, not always the same socket semantics.
UNDER_WINE = _under_wine()
#: For a backend-independent test in a suite the Wine run repeats per backend: run it once,
#: with the first backend (each Windows Python start there takes seconds).
ONCE_UNDER_WINE = pytest.mark.skipif(
    UNDER_WINE and os.environ.get("XLOOP_TEST_LOOPS", "proactor") != "proactor",
    reason="backend-independent: under Wine it runs once, in the proactor pass",
)
#: Why a test that resets its connection cannot hold on the selector loop under Wine.
WINE_RST_READS_AS_EOF = (
    "Wine: recv() on a connection reset by the peer (RST) returns b'' (an EOF) where Windows "
    "raises WSAECONNRESET, so the selector loop sees a half-close, not a connection error"
)


@dataclass(frozen=True)
class Backend:
    loop: str
    selector: str | None
    http: str

    @property
    def id(self) -> str:
        loop = f"{self.loop}[{self.selector}]" if self.selector else self.loop
        return f"{loop}-{self.http}"


def _wanted(variable: str) -> set[str] | None:
    value = os.environ.get(variable, "").strip()
    if not value:
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


def backends() -> list[Backend]:
    """Every (loop, selector) x parser combination to test here."""
    wanted_loops = _wanted("XLOOP_TEST_LOOPS")
    wanted_http = _wanted("XLOOP_TEST_HTTP")
    parsers = ["h11"] + (["httptools"] if httptools_available() else [])
    parsers += ["zttp"] if zttp_available() else []
    full = wanted_http is not None or os.environ.get("XLOOP_TEST_MATRIX", "") == "full"
    one_parser = "httptools" if "httptools" in parsers else "h11"
    first_selector: str | None = None  # the platform's best: every parser on it
    result = []
    for loop, selector in loops.matrix():
        if loop == "selector" and first_selector is None:
            first_selector = selector
        if wanted_loops is not None and loop not in wanted_loops:
            continue
        for http in parsers:
            if wanted_http is not None and http not in wanted_http:
                continue
            lean = not full and loop == "selector" and selector != first_selector
            if lean and http != one_parser:
                continue
            result.append(Backend(loop, selector, http))
    return result


@functools.cache
def ipv6_loopback() -> bool:
    """Whether this machine can bind ``::1`` (IPv6 tests skip where it cannot)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


@functools.cache
def probed(loop: str, selector: str | None, capability: str) -> tuple[str, str]:
    """What ``xloop which-loop --capabilities`` probes for one capability of a loop, live
    (once per process): (result, detail)."""
    from xloop.loops.capabilities import probe

    (found,) = probe(loop, selector or "auto", [capability])
    return found.result, found.detail


def needs(backend: Backend, *capabilities: str) -> None:
    """Skip the test where the backend's loop lacks one of ``capabilities``, probed live,
    with what the probe saw as the reason."""
    for capability in capabilities:
        result, detail = probed(backend.loop, backend.selector, capability)
        if result not in ("works", "fallback"):
            pytest.skip(f"{backend.loop} lacks {capability} (probed: {result}: {detail})")


class RunningServer:
    """A server running in its own thread with its own loop."""

    def __init__(self, config: Config, **server_options: Any) -> None:
        self.config = config
        self.server = Server(config, **server_options)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        choice = loops.resolve(self.config.loop, self.config.selector)
        try:
            loops.run(self.server.serve(), loop_factory=choice.factory)
        except BaseException as exc:
            self.error = exc
        finally:
            self.server.ready.set()  # never leave a waiter hanging

    def start(self) -> RunningServer:
        self.thread.start()
        if not self.server.ready.wait(TIMEOUT):
            raise RuntimeError("server did not start")
        if self.error is not None:
            raise self.error
        return self

    @property
    def port(self) -> int:
        return self.server.port

    def stop(self) -> None:
        self.server.request_shutdown()
        self.join()

    def join(self, timeout: float = TIMEOUT) -> None:
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError("server thread did not stop")

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT)
        sock.settimeout(TIMEOUT)
        return sock


@contextlib.contextmanager
def serving(
    app: Any, backend: Backend, server_options: dict[str, Any] | None = None, **options: Any
) -> Iterator[RunningServer]:
    """Run ``app`` on ``backend`` at 127.0.0.1:0 (unless ``options`` say where) for the
    duration of the block; ``server_options`` go to :class:`~xloop.server.Server` itself."""
    options.setdefault("log_level", "warning")
    options.setdefault("host", "127.0.0.1")
    options.setdefault("port", 0)
    config = Config(
        app=app,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        **options,
    )
    running = RunningServer(config, **(server_options or {})).start()
    try:
        yield running
    finally:
        if running.thread.is_alive():
            running.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Wait for a condition of the server's state (read across threads), with a timeout."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.002)


def only_connection(running: RunningServer) -> Any:
    """The server's one open connection (its protocol object), read from the server's state."""
    state = running.server.state
    assert state is not None
    (protocol,) = state.connections
    return protocol


def status_when_alone(server: RunningServer) -> int:
    """The status of a GET on a new connection once the server has let go of the earlier
    ones (with limit_concurrency=1 a connection it still holds means a 503: retry a few
    times; a leaked request count means a 503 every time)."""
    status = 0
    for _ in range(50):
        with server.connect() as sock:
            status = exchange(sock, get("/next")).status
        if status != 503:
            break
    return status


def logged_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The messages of the records logged at ERROR or above."""
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
