"""Workarounds for loops whose transports do not behave as asyncio's do."""

from __future__ import annotations

import asyncio
import socket

__all__ = ["shut_if_left_open"]


def shut_if_left_open(transport: asyncio.BaseTransport, client: tuple[str, int]) -> None:
    """Shut down a socket its loop reported lost but left open (rloop 0.5 calls
    ``connection_lost`` and keeps the socket, so the client never sees the close).

    Run one loop turn after ``connection_lost``, when every other loop has closed it: a
    closed socket raises, and a descriptor number taken by a new connection answers with
    another peer; only this very connection, still open, is shut down.
    """
    try:
        sock = transport.get_extra_info("socket")
        if sock is None or tuple(sock.getpeername()[:2]) != client:
            return
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError, TypeError, AttributeError):
        return
