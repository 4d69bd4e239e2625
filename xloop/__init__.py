"""xloop: an ASGI server whose event loop is a first-class, visible, swappable choice.

The public names are imported on first use (PEP 562), so ``xloop --version`` and
``xloop which-loop`` do not pay for the server, the parsers and the WebSocket engines.
"""

from __future__ import annotations

import importlib

from ._version import __version__

TYPE_CHECKING = False  # not typing's: ``xloop --version`` does not import typing
if TYPE_CHECKING:
    from typing import Any

    from .config import Config
    from .errors import (
        AppLoadError,
        BindError,
        ConfigError,
        LoopUnavailable,
        StartupError,
        XloopError,
    )
    from .server import ClientDisconnected, Server
    from .server.run import run

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

_WHERE = {
    "AppLoadError": ".errors",
    "BindError": ".errors",
    "ConfigError": ".errors",
    "LoopUnavailable": ".errors",
    "StartupError": ".errors",
    "XloopError": ".errors",
    "Config": ".config",
    "ClientDisconnected": ".server",
    "Server": ".server",
    "run": ".server",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'xloop' has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
