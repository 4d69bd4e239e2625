from __future__ import annotations

import os
from importlib.machinery import EXTENSION_SUFFIXES

__version__ = "0.1.0"


def compiled() -> bool:
    """Whether the request path runs compiled: an extension module sits beside
    ``xloop/server/cycle.py``, and Python imports it first (``platforms/compile.py``)."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server")
    return any(os.path.exists(os.path.join(folder, "cycle" + s)) for s in EXTENSION_SUFFIXES)


def version_line() -> str:
    """What ``xloop --version`` prints."""
    return f"xloop {__version__} (compiled: {'yes' if compiled() else 'no'})"
