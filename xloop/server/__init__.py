"""The only I/O: connections and their ASGI cycles, lifespan, signals, listeners, run."""

from __future__ import annotations

from .connection import Connection
from .cycle import ClientDisconnected
from .run import run, run_server
from .server import Server

__all__ = ["ClientDisconnected", "Connection", "Server", "run", "run_server"]
