"""Where the server listens: an inherited socket, Unix socket paths, IPv6, and the bind errors
a user meets, with the hint each one gets. Real sockets, every loop and parser."""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from collections.abc import Iterator

import pytest

from xloop import BindError, Config
from xloop.loops import IS_WINDOWS

from .apps import hello
from .client import exchange, get
from .harness import TIMEOUT, Backend, RunningServer, ipv6_loopback, needs, serving

unix_only = pytest.mark.skipif(
    IS_WINDOWS, reason="--uds needs socket.AF_UNIX, which CPython does not provide on Windows"
)


def config_for(backend: Backend, **options: object) -> Config:
    return Config(
        app=hello,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        log_level="warning",
        **options,  # type: ignore[arg-type]
    )


def serving_line(caplog: pytest.LogCaptureFixture) -> str:
    lines = [r.getMessage() for r in caplog.records if "xloop serving on" in r.getMessage()]
    assert len(lines) == 1, lines
    return lines[0]


def test_inherited_socket(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """``--fd``: a socket bound by someone else (a supervisor, systemd) is served as it is."""
    caplog.set_level(logging.INFO, logger="xloop")
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bound.bind(("127.0.0.1", 0))
    port = bound.getsockname()[1]
    fd = bound.detach()  # the server owns it now, and closes it
    with serving(hello, backend, fd=fd, log_level="info") as server:
        assert server.port == port
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
            sock.settimeout(TIMEOUT)
            assert exchange(sock, get()).body == b"Hello, world!"
    line = serving_line(caplog)
    assert line.startswith(f"xloop serving on fd {fd} (('127.0.0.1', {port}))"), line


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_ipv6_address_in_brackets(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xloop")
    with serving(hello, backend, host="::1", log_level="info") as server:
        with socket.create_connection(("::1", server.port), timeout=TIMEOUT) as sock:
            sock.settimeout(TIMEOUT)
            assert exchange(sock, get()).body == b"Hello, world!"
        port = server.port
    assert serving_line(caplog).startswith(f"xloop serving on http://[::1]:{port} "), caplog.text


def test_address_not_on_this_machine(backend: Backend) -> None:
    """192.0.2.1 is TEST-NET-1 (RFC 5737): never assigned to a machine."""
    config = config_for(backend, host="192.0.2.1", port=0)
    with pytest.raises(BindError) as info:
        RunningServer(config).start()
    assert info.value.message.startswith("cannot listen on 192.0.2.1:0: "), info.value.message
    assert info.value.exit_code == 4
    # The errno (EADDRNOTAVAIL) picks the specific hint. Newer asyncio (3.13, and 3.12's later
    # releases) skips an address it cannot assign, as a family not enabled, then raises
    # "could not bind on any address" without an errno: the generic hint, which names --host.
    if "could not bind on any address" in info.value.message:
        assert info.value.hint == "check --host/--port/--uds/--fd"
    else:
        assert info.value.hint == "this machine has no such address; check --host"


@pytest.fixture
def short_dir() -> Iterator[str]:
    """A directory with a short path (a Unix socket path is limited to about 100 bytes)."""
    directory = tempfile.mkdtemp(prefix="xl")
    yield directory
    for name in os.listdir(directory):
        os.unlink(os.path.join(directory, name))
    os.rmdir(directory)


@unix_only
def test_stale_unix_socket_file_is_replaced(backend: Backend, short_dir: str) -> None:
    """A socket file left by a server that died is taken over, not an 'address in use'."""
    needs(backend, "unix_sockets")
    path = os.path.join(short_dir, "s.sock")
    family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
    with socket.socket(family, socket.SOCK_STREAM) as dead:
        dead.bind(path)
    assert os.path.exists(path)
    running = RunningServer(config_for(backend, uds=path)).start()
    try:
        with pytest.raises(RuntimeError, match="not listening on a TCP socket"):
            _ = running.port
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            assert exchange(sock, get()).body == b"Hello, world!"
    finally:
        running.stop()
    assert not os.path.exists(path)


@unix_only
def test_unix_socket_file_that_is_not_a_socket_is_kept(backend: Backend, short_dir: str) -> None:
    """Only a stale socket is removed: a regular file at the path is a bind error."""
    path = os.path.join(short_dir, "notes.txt")
    with open(path, "w", encoding="utf-8") as file:
        file.write("mine")
    with pytest.raises(BindError, match=f"cannot listen on {path}: "):
        RunningServer(config_for(backend, uds=path)).start()
    with open(path, encoding="utf-8") as file:
        assert file.read() == "mine"


@unix_only
def test_unix_socket_in_a_missing_directory(backend: Backend, short_dir: str) -> None:
    path = os.path.join(short_dir, "missing", "s.sock")
    with pytest.raises(BindError) as info:
        RunningServer(config_for(backend, uds=path)).start()
    assert info.value.message == f"cannot listen on {path}: No such file or directory"
    assert info.value.hint == "check --host/--port/--uds/--fd"
