"""The only I/O: the asyncio protocol, lifespan, signals, listeners and the run entry."""

from __future__ import annotations

from .connection import ClientDisconnected, HttpProtocol
from .run import run, run_server
from .server import Server

__all__ = ["ClientDisconnected", "HttpProtocol", "Server", "run", "run_server"]
