"""Listening sockets made before any loop exists: the supervisor's shared listener, and the
bind errors every way of listening reports the same way.

The single-process server lets its loop bind (``loop.create_server(host=..., port=...)``),
but on a loop capped by ``select()`` it binds here (:func:`bind_every`) to listen through
:class:`~xloop.server.capped.CappedListener`. A supervisor binds once here and hands the
socket to its workers (:mod:`xloop.server.worker`), so that every worker serves the same
port and a restarted worker finds it still open.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
from typing import TYPE_CHECKING, Any

from .. import loops
from ..errors import BindError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["bind_error", "bind_every", "bind_listener", "bind_uds", "describe_listener"]


def describe_listener(config: Config) -> str:
    """Where ``config`` listens, as the error messages say it."""
    if config.fd is not None:
        return f"fd {config.fd}"
    if config.uds is not None:
        return config.uds
    return f"{config.host}:{config.port}"


def bind_error(exc: OSError, config: Config) -> BindError:
    """The one-line error (with a hint) for a listener ``config`` could not get."""
    if exc.errno == errno.EADDRINUSE:
        hint = "another process is listening there; pick another --port (0: any free)"
    elif exc.errno in (errno.EACCES, errno.EPERM):
        hint = "ports below 1024 need privileges; pick a higher --port"
    elif exc.errno == errno.EADDRNOTAVAIL:
        hint = "this machine has no such address; check --host"
    else:
        hint = "check --host/--port/--uds/--fd"
    where = describe_listener(config)
    return BindError(f"cannot listen on {where}: {exc.strerror or exc}", hint=hint)


def bind_uds(path: str) -> socket.socket:
    """A UNIX stream socket bound to ``path`` (a stale socket file there is replaced),
    readable and writable by everyone, like uvicorn's."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.bind(path)
        os.chmod(path, 0o666)
    except OSError:
        sock.close()
        raise
    return sock


def bind_listener(config: Config) -> socket.socket:
    """Bind and listen on what ``config`` names (``--fd``, ``--uds`` or ``--host``/``--port``).

    TCP: the first address ``getaddrinfo`` gives for the host (:func:`_bind_tcp`). Raises
    :class:`~xloop.errors.BindError`.
    """
    try:
        if config.fd is not None:
            sock = socket.socket(fileno=config.fd)
        elif config.uds is not None:
            sock = bind_uds(config.uds)
        else:
            infos = socket.getaddrinfo(
                config.host or None,
                config.port,
                type=socket.SOCK_STREAM,
                flags=socket.AI_PASSIVE,
            )
            sock = _bind_tcp(infos[0])
        sock.listen(config.backlog)
    except socket.gaierror as exc:
        raise _no_such_address(exc, config) from None
    except OSError as exc:
        raise bind_error(exc, config) from None
    return sock


def bind_every(config: Config) -> list[socket.socket]:
    """Bind and listen on every address ``getaddrinfo`` gives for ``--host``/``--port``, as
    ``loop.create_server(host=..., port=...)`` does, for a server that needs its listening
    sockets in hand (:mod:`.capped`). Raises :class:`~xloop.errors.BindError`."""
    socks: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(
            config.host or None, config.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
        for info in dict.fromkeys(infos):  # the first of each, in getaddrinfo's order
            sock = _bind_tcp(info)
            socks.append(sock)
            sock.listen(config.backlog)
    except socket.gaierror as exc:
        raise _no_such_address(exc, config) from None
    except OSError as exc:
        for sock in socks:
            sock.close()
        raise bind_error(exc, config) from None
    return socks


def _bind_tcp(info: tuple[Any, ...]) -> socket.socket:
    """One TCP socket bound to a ``getaddrinfo`` result: ``SO_REUSEADDR`` on POSIX (as
    asyncio's ``create_server`` does), IPv6 sockets IPv6-only."""
    family, kind, proto, _, address = info
    sock = socket.socket(family, kind, proto)
    try:
        if not loops.IS_WINDOWS:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _no_such_address(exc: socket.gaierror, config: Config) -> BindError:
    return BindError(
        f"cannot listen on {describe_listener(config)}: {exc.strerror or exc}",
        hint="this machine has no such address; check --host",
    )
