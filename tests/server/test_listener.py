"""Listeners bound before any loop exists (a supervisor's, an accept thread's): what they
are, and the one-line error each way of failing gives."""

from __future__ import annotations

import socket

import pytest

from xloop import Config
from xloop.errors import BindError
from xloop.server.listener import bind_listener

from .harness import ONCE_UNDER_WINE, TIMEOUT, ipv6_loopback

pytestmark = ONCE_UNDER_WINE  # no loop: once per Wine run


def test_a_port_in_use_is_one_bind_error_with_a_hint() -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(BindError) as info:
            bind_listener(Config(host="127.0.0.1", port=port))
    assert info.value.message.startswith(f"cannot listen on 127.0.0.1:{port}: ")
    assert (
        info.value.hint == "another process is listening there; pick another --port (0: any free)"
    )


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback here")
def test_an_ipv6_listener_is_ipv6_only_and_accepts() -> None:
    with bind_listener(Config(host="::1", port=0)) as sock:
        assert sock.family == socket.AF_INET6
        assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 1
        port = sock.getsockname()[1]
        with socket.create_connection(("::1", port), timeout=TIMEOUT):
            accepted, _ = sock.accept()
            accepted.close()


def test_a_listener_from_a_descriptor_listens_on_its_socket() -> None:
    bound = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    bound.bind(("127.0.0.1", 0))
    port = bound.getsockname()[1]
    with bind_listener(Config(fd=bound.detach())) as sock:
        assert sock.getsockname()[1] == port
        with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT):
            accepted, _ = sock.accept()
            accepted.close()


def test_a_descriptor_that_is_no_socket_is_one_bind_error() -> None:
    spare = socket.socket()
    number = spare.fileno()
    spare.close()  # the number names nothing now
    with pytest.raises(BindError) as info:
        bind_listener(Config(fd=number))
    assert info.value.message.startswith(f"cannot listen on fd {number}: ")
    assert info.value.hint == "check --host/--port/--uds/--fd"
