"""Open-file limits: ``c10k`` needs thousands of sockets in the client and in each server."""

from __future__ import annotations

import importlib

__all__ = ["raise_fd_limit"]

MARGIN = 64
"""File descriptors wanted besides the sockets: the interpreter's own, pipes, logs."""


def raise_fd_limit(sockets: int) -> str | None:
    """Raise this process's RLIMIT_NOFILE (children inherit it) to hold ``sockets``; None
    when it does, else one line saying why not. Nothing to do where there is no such limit
    (Windows: its sockets are handles; its select() has a cap of its own)."""
    try:
        resource = importlib.import_module("resource")  # POSIX only
    except ImportError:  # pragma: no cover - Windows
        return None
    wanted = sockets + MARGIN
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return None
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (OSError, ValueError) as exc:  # pragma: no cover - a hard limit the OS enforces
        return f"RLIMIT_NOFILE is {soft} and could not be raised to {wanted}: {exc}"
    if target < wanted:
        return (
            f"RLIMIT_NOFILE could be raised only to its hard limit {hard}, "
            f"under the {wanted} that {sockets} sockets need (ulimit -Hn)"
        )
    return None
