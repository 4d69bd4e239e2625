"""The sans-IO HTTP/1.1 layer: bytes in, events out; response messages in, bytes out.

Nothing here touches a socket or an event loop. Three adapters implement
:class:`~xloop.http.base.HTTPConnection`: on h11, on httptools (llhttp) and on zttp.
"""

from __future__ import annotations

from collections.abc import Callable

from ..errors import ConfigError
from .base import HTTPConnection
from .events import END_OF_MESSAGE, Body, EndOfMessage, Event, ProtocolError, Request, ResponseError
from .head import Limits
from .response import DefaultHeaders

__all__ = [
    "END_OF_MESSAGE",
    "HTTP_NAMES",
    "Body",
    "DefaultHeaders",
    "EndOfMessage",
    "Event",
    "HTTPConnection",
    "Limits",
    "ProtocolError",
    "Request",
    "ResponseError",
    "connection_factory",
    "httptools_available",
    "resolve_http",
    "zttp_available",
]

HTTP_NAMES = ("auto", "h11", "httptools", "zttp")


def httptools_available() -> bool:
    """Whether the httptools parser can be imported here."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def zttp_available() -> bool:
    """Whether the zttp parser can be imported here."""
    try:
        import zttp  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_http(name: str) -> str:
    """Map ``auto``/``h11``/``httptools``/``zttp`` to the parser that will run, or raise
    ConfigError. ``auto`` never picks zttp: choose it by name."""
    if name == "auto":
        return "httptools" if httptools_available() else "h11"
    if name == "h11":
        return "h11"
    if name == "httptools":
        if not httptools_available():
            raise ConfigError(
                "httptools is not installed; available here: h11",
                hint="pip install 'xloop[httptools]'",
            )
        return "httptools"
    if name == "zttp":
        if not zttp_available():
            raise ConfigError(
                "zttp is not installed (it needs CPython 3.11+)",
                hint="pip install 'xloop[zttp]'",
            )
        return "zttp"
    raise ConfigError(
        f"unknown --http value {name!r}; valid: {', '.join(HTTP_NAMES)}",
        hint="auto picks httptools when installed, else h11",
    )


def connection_factory(name: str, limits: Limits) -> Callable[[], HTTPConnection]:
    """A zero-argument constructor of connections for a resolved parser name."""
    resolved = resolve_http(name)
    if resolved == "httptools":
        from .httptools_conn import HttptoolsConnection

        return lambda: HttptoolsConnection(limits)
    if resolved == "zttp":
        from .zttp_conn import ZttpConnection

        return lambda: ZttpConnection(limits)
    from .h11_conn import H11Connection

    return lambda: H11Connection(limits)
