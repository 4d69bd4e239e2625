"""The sans-IO WebSocket layer: bytes in, events out; messages in, bytes out.

Nothing here touches a socket or an event loop. Two engines implement
:class:`~xloop.ws.base.WebSocketEngine`: one on websockets' ``ServerProtocol``, one on
wsproto's ``Connection``. Neither is imported until an engine is built.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import ConfigError
from .base import Settings, WebSocketEngine
from .events import (
    Closed,
    ConnectionClosed,
    Event,
    HandshakeError,
    Message,
    MessageError,
    Pong,
)

if TYPE_CHECKING:
    from ..http import Request

__all__ = [
    "WS_NAMES",
    "WS_SYNONYMS",
    "Closed",
    "ConnectionClosed",
    "Event",
    "HandshakeError",
    "Message",
    "MessageError",
    "Pong",
    "Settings",
    "WebSocketEngine",
    "engine_available",
    "engine_factory",
    "resolve_ws",
]

WS_NAMES = ("auto", "websockets", "websockets-sansio", "wsproto", "none")
#: uvicorn's name for its sans-IO websockets implementation, which xloop's websockets
#: engine always is (websockets' ``ServerProtocol``): accepted as a synonym.
WS_SYNONYMS = {"websockets-sansio": "websockets"}
_ENGINES = ("websockets", "wsproto")


def engine_available(name: str) -> bool:
    """Whether the library behind engine ``name`` can be imported here."""
    return importlib.util.find_spec(name) is not None


def resolve_ws(name: str) -> str:
    """Map ``auto``/``websockets``/``wsproto``/``none`` to the engine that will run (``none``
    when no engine is installed for ``auto``), or raise ConfigError."""
    name = WS_SYNONYMS.get(name, name)
    if name == "none":
        return "none"
    if name == "auto":
        return next((engine for engine in _ENGINES if engine_available(engine)), "none")
    if name in _ENGINES:
        if not engine_available(name):
            raise ConfigError(
                f"{name} is not installed; installed here: "
                + (", ".join(e for e in _ENGINES if engine_available(e)) or "no WebSocket engine"),
                hint=f"pip install 'xloop[{'standard' if name == 'websockets' else 'wsproto'}]'",
            )
        return name
    raise ConfigError(
        f"unknown --ws value {name!r}; valid: {', '.join(WS_NAMES)}",
        hint="auto picks websockets when installed, else wsproto",
    )


def engine_factory(name: str, settings: Settings) -> Callable[[Request], WebSocketEngine] | None:
    """A constructor of engines for a handshake request, for an engine name (None for
    ``none``: upgrades are then answered as plain HTTP)."""
    resolved = resolve_ws(name)
    if resolved == "websockets":
        from .websockets_engine import WebsocketsEngine

        return lambda request: WebsocketsEngine(request, settings)
    if resolved == "wsproto":
        from .wsproto_engine import WsprotoEngine

        return lambda request: WsprotoEngine(request, settings)
    return None
