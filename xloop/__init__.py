"""xloop: an ASGI server whose event loop is a first-class, visible, swappable choice."""

from __future__ import annotations

from ._version import __version__
from .config import Config
from .errors import AppLoadError, BindError, ConfigError, LoopUnavailable, StartupError, XloopError
from .server import ClientDisconnected, Server, run

__all__ = [
    "AppLoadError",
    "BindError",
    "ClientDisconnected",
    "Config",
    "ConfigError",
    "LoopUnavailable",
    "Server",
    "StartupError",
    "XloopError",
    "__version__",
    "run",
]
