"""The lifespan protocol on its own: every answer an app can give, and what the server makes of it.

tests/server/test_lifecycle.py runs lifespan through a real server on every loop; these drive
:class:`xloop.server.lifespan.Lifespan` directly on a fresh asyncio loop, with real ASGI apps.
"""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest

from xloop.server.lifespan import Lifespan
from xloop.types import ASGIApp, Receive, Scope, Send


def run_lifespan(app: ASGIApp, mode: str = "on") -> tuple[Lifespan, bool]:
    """Startup, then (if it succeeded) shutdown; the Lifespan and what startup returned."""
    lifespan = Lifespan(app, mode, {})

    async def main() -> bool:
        started = await lifespan.startup()
        if started:
            await lifespan.shutdown()
        return started

    return lifespan, asyncio.run(main())


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="xloop.error")
    return caplog


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "xloop.error"]


def test_off_never_calls_the_app(logs: pytest.LogCaptureFixture) -> None:
    calls: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        calls.append(scope["type"])

    lifespan, started = run_lifespan(app, "off")
    assert started is True
    assert lifespan.supported is False
    assert calls == []
    assert messages(logs) == []


def test_on_app_that_returns_before_startup_fails_it(logs: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()

    lifespan, started = run_lifespan(app, "on")
    assert started is False
    assert lifespan.failed is True
    assert lifespan.error == "the app returned from the lifespan scope before startup completed"
    assert messages(logs)[-1] == f"Application startup failed: {lifespan.error}"


def test_shutdown_failed_is_logged_and_ends_shutdown(logs: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.failed", "message": "pool still busy"})

    lifespan, started = run_lifespan(app)
    assert started is True
    assert lifespan.failed is False
    assert messages(logs)[-1] == "Application shutdown failed: pool still busy"
    assert logs.records[-1].levelno == logging.ERROR


def test_unknown_message_type_is_an_error_in_the_app(logs: pytest.LogCaptureFixture) -> None:
    """The app's ``send`` raises, the app sees it; startup fails with the traceback logged."""
    seen: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        try:
            await send({"type": "lifespan.startup.done"})
        except RuntimeError as exc:
            seen.append(exc)
            raise

    lifespan, started = run_lifespan(app)
    assert started is False
    assert lifespan.failed is True
    assert [str(exc) for exc in seen] == [
        "unexpected ASGI lifespan message type 'lifespan.startup.done'"
    ]
    error = logs.records[-1]
    assert error.getMessage() == "Exception in 'lifespan' protocol"
    assert error.exc_info is not None
    assert error.exc_info[1] is seen[0]


def test_exception_during_shutdown_is_logged(logs: pytest.LogCaptureFixture) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        raise ConnectionError("lost the database while closing")

    lifespan, started = run_lifespan(app)
    assert started is True
    assert lifespan.failed is False  # startup had succeeded
    error = logs.records[-1]
    assert error.getMessage() == "Exception in 'lifespan' protocol"
    assert error.exc_info is not None
    assert isinstance(error.exc_info[1], ConnectionError)


def test_exception_after_shutdown_completed_is_not_reported(
    logs: pytest.LogCaptureFixture,
) -> None:
    """Once both phases are answered the server is done with the scope: nothing to report."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        await send({"type": "lifespan.startup.complete"})
        await receive()
        await send({"type": "lifespan.shutdown.complete"})
        raise RuntimeError("teardown noise")

    lifespan, started = run_lifespan(app)
    assert started is True
    assert lifespan.failed is False
    assert messages(logs) == [
        "Waiting for application startup.",
        "Application startup complete.",
        "Waiting for application shutdown.",
        "Application shutdown complete.",
    ]


@pytest.mark.parametrize("exc_type", [SystemExit, KeyboardInterrupt])
def test_exit_requested_by_the_app_is_not_swallowed(
    exc_type: type[BaseException], logs: pytest.LogCaptureFixture
) -> None:
    """The exit stops the loop (``xloop serve`` then exits with its code), logged once:
    asyncio does not print it a second time as a task exception never retrieved."""
    logs.set_level(logging.ERROR, logger="asyncio")

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        raise exc_type

    lifespan = Lifespan(app, "on", {})
    with pytest.raises(exc_type):
        asyncio.run(lifespan.startup())
    assert lifespan.failed is True
    assert messages(logs)[-1] == "Exception in 'lifespan' protocol"
    del lifespan  # the only reference to the task: collected now, not at a random later time
    gc.collect()
    assert [r.getMessage() for r in logs.records if r.name == "asyncio"] == []
