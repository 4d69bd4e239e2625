"""The app's call on CPython 3.12+: an interpreted coroutine, in every build.

The compiled build (``platforms/compile.py``) passes an exception thrown into one of its
coroutines on to what that coroutine awaits as ``throw(type, value, traceback)``: mypyc's
runtime does. CPython 3.12 deprecated that form for coroutines, generators and futures,
with a ``DeprecationWarning`` that ``-W error`` (an app's test run, often) raises in place of
the exception thrown. A compiled :meth:`Cycle.run_asgi <xloop.server.cycle.Cycle.run_asgi>`
awaiting the app would then lose the task's cancellation (a graceful shutdown's deadline, a
forced stop): the app would never be told, and would hold the server. This module is never
compiled, so the interpreter awaits the app here and passes a cancellation on as it should.
Before 3.12 the compiled method runs (the form is not deprecated there, and on 3.10 an
interpreted frame per request costs more). What the compiled code awaits itself (a future:
``receive`` and ``drain``) it awaits through :class:`~.output.FutureWait`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..types import ASGIApp, Receive, Scope, Send
    from .cycle import Cycle

__all__ = ["run_asgi"]


async def run_asgi(cycle: Cycle, app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """Run ``app`` on ``cycle``, as :meth:`Cycle.run_asgi` does; the caller (compiled)
    passes the cycle's scope, ``receive`` and ``send``, which it reads faster."""
    try:
        runner: Callable[..., Awaitable[object]] = app
        result = await runner(scope, receive, send)
    except BaseException as exc:
        if cycle.app_raised(exc):
            raise
        return
    cycle.app_done(result)
