"""The ASGI lifespan protocol (startup/shutdown with ``state``), driven by events."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from ..logs import error_logger as logger

if TYPE_CHECKING:
    from ..types import ASGIApp, Message

__all__ = ["Lifespan"]


class Lifespan:
    """Runs the app's lifespan scope in a task and exchanges its messages.

    ``mode`` is ``on`` (the app must support lifespan), ``auto`` (an app that raises on the
    lifespan scope before answering is served without it, with one log line) or ``off``.
    """

    def __init__(self, app: ASGIApp, mode: str, state: dict[str, Any]) -> None:
        self.app = app
        self.mode = mode
        self.state = state
        self.supported = True
        self.failed = False
        self.error: str | None = None
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._startup_done = asyncio.Event()
        self._shutdown_done = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._started = False

    async def startup(self) -> bool:
        """Run startup; False if the server must not start."""
        if self.mode == "off":
            self.supported = False
            return True
        logger.info("Waiting for application startup.")
        self._task = asyncio.get_running_loop().create_task(self._main())
        self._task.add_done_callback(_retrieve_exit)
        await self._inbox.put({"type": "lifespan.startup"})
        await self._startup_done.wait()
        return not self.failed

    async def shutdown(self) -> None:
        """Run shutdown, if startup ran."""
        if not self.supported or self._task is None or self.failed:
            return
        logger.info("Waiting for application shutdown.")
        await self._inbox.put({"type": "lifespan.shutdown"})
        await self._shutdown_done.wait()

    async def _main(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self.app(scope, self._receive, self._send)
        except BaseException as exc:
            if not self._started and self.mode == "auto" and not self._startup_done.is_set():
                self.supported = False
                logger.info(
                    "ASGI 'lifespan' protocol appears unsupported (the app raised %s); "
                    "serving without it",
                    type(exc).__name__,
                )
            elif not self._startup_done.is_set() or not self._shutdown_done.is_set():
                self.failed = self.failed or not self._startup_done.is_set()
                logger.error("Exception in 'lifespan' protocol", exc_info=exc)
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
        else:
            if not self._startup_done.is_set() and self.mode == "auto":
                self.supported = False
                logger.info("ASGI 'lifespan' protocol returned before startup; serving without it")
            elif not self._startup_done.is_set():
                self.failed = True
                self.error = "the app returned from the lifespan scope before startup completed"
                logger.error("Application startup failed: %s", self.error)
        finally:
            self._startup_done.set()
            self._shutdown_done.set()

    async def _receive(self) -> Message:
        self._started = True
        return await self._inbox.get()

    async def _send(self, message: Message) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete":
            logger.info("Application startup complete.")
            self._startup_done.set()
        elif kind == "lifespan.startup.failed":
            self.failed = True
            self.error = str(message.get("message", "") or "startup failed")
            logger.error("Application startup failed: %s", self.error)
            self._startup_done.set()
        elif kind == "lifespan.shutdown.complete":
            logger.info("Application shutdown complete.")
            self._shutdown_done.set()
        elif kind == "lifespan.shutdown.failed":
            logger.error("Application shutdown failed: %s", message.get("message", ""))
            self._shutdown_done.set()
        else:
            raise RuntimeError(f"unexpected ASGI lifespan message type {kind!r}")


def _retrieve_exit(task: asyncio.Task[None]) -> None:
    """Mark an exit the app raised (SystemExit, KeyboardInterrupt) as seen: it stops the loop
    and is logged by ``_main``, so asyncio must not print it again as never retrieved."""
    with contextlib.suppress(asyncio.CancelledError):  # (a cancelled task has none)
        task.exception()
