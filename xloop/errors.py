"""The exception tree.

Every error a user can cause surfaces as one line with a hint and a documented exit code:

==========  =====================================================================
exit code   meaning
==========  =====================================================================
0           clean exit (including a graceful shutdown on SIGINT/SIGTERM)
1           the server failed while running (lifespan startup failed, ...)
2           a usage error: bad option value, unknown or unavailable loop/parser
3           the application could not be loaded (module, attribute, callable)
4           the listening socket could not be bound (port in use, permission)
==========  =====================================================================

Client protocol errors never become exceptions here: the sans-IO layer maps them
to a status code at the boundary (see :mod:`xloop.http.events`).
"""

from __future__ import annotations

import sys
from typing import NoReturn

__all__ = [
    "AppLoadError",
    "BindError",
    "ClientDisconnected",
    "ConfigError",
    "LoopUnavailable",
    "StartupError",
    "XloopError",
    "fail",
]


def fail(message: str, code: int) -> NoReturn:
    """End the command line with its one line on stderr and ``code``."""
    print(f"xloop: error: {message}", file=sys.stderr)
    sys.exit(code)


class XloopError(Exception):
    """Base of every error xloop reports to a user."""

    exit_code: int = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def one_line(self) -> str:
        """The single line shown to a user: the message, then the hint if any."""
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class ConfigError(XloopError):
    """An option has a value xloop cannot use."""

    exit_code = 2


class LoopUnavailable(ConfigError):
    """The requested event loop backend does not exist on this machine."""


class AppLoadError(XloopError):
    """The ASGI application could not be imported or is not callable."""

    exit_code = 3


class BindError(XloopError):
    """The listening socket could not be created or bound."""

    exit_code = 4


class StartupError(XloopError):
    """The server could not start serving (e.g. lifespan startup failed)."""

    exit_code = 1


class ClientDisconnected(OSError):
    """Raised by an app's ``send`` when the client has gone away (ASGI spec 2.4).

    Defined here, not beside the cycle that raises it: a compiled build (see
    ``platforms/compile.py``) turns the server's hot modules into native classes, which
    cannot derive from ``OSError``."""
