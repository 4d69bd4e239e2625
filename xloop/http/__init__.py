"""The sans-IO HTTP/1.1 layer: bytes in, events out; response messages in, bytes out.

Nothing here touches a socket or an event loop. Two adapters implement
:class:`~xloop.http.base.HTTPConnection`: one on h11, one on httptools (llhttp).
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
]

HTTP_NAMES = ("auto", "h11", "httptools")


def httptools_available() -> bool:
    """Whether the httptools parser can be imported here."""
    try:
        import httptools  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_http(name: str) -> str:
    """Map ``auto``/``h11``/``httptools`` to the parser that will run, or raise ConfigError."""
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
    raise ConfigError(
        f"unknown --http value {name!r}; valid: {', '.join(HTTP_NAMES)}",
        hint="auto picks httptools when installed, else h11",
    )


def connection_factory(name: str, limits: Limits) -> Callable[[], HTTPConnection]:
    """A zero-argument constructor of connections for a resolved parser name."""
    if resolve_http(name) == "httptools":
        from .httptools_conn import HttptoolsConnection

        return lambda: HttptoolsConnection(limits)
    from .h11_conn import H11Connection

    return lambda: H11Connection(limits)
