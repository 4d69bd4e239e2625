"""``--transport``: xloop's own transport on the selector loop, or the loop's own."""

from __future__ import annotations

import pytest

from xloop import Config
from xloop.errors import ConfigError
from xloop.loops.serving import own_transport
from xloop.server.transport import SelectorListener, SocketTransport

from .apps import hello
from .client import Reader, get
from .harness import Backend, only_connection, serving


@pytest.mark.parametrize("transport", ["auto", "loop"])
def test_the_transport_serves_what_it_says(backend: Backend, transport: str) -> None:
    """auto: xloop's transport wherever ``own_transport`` (and which-loop) says so; loop:
    the loop's own everywhere (asyncio's selector transport on the selector loop)."""
    with serving(hello, backend, transport=transport) as running, running.connect() as sock:
        reader = Reader(sock)
        for number in range(3):
            sock.sendall(get(f"/{number}"))
            assert reader.response().status == 200
        state = running.server.state
        assert state is not None
        ours = transport == "auto" and own_transport(state.loop)
        carrier = only_connection(running).transport
        assert isinstance(carrier, SocketTransport) == ours, type(carrier)
        listeners = running.server.listeners
        assert any(isinstance(listener, SelectorListener) for listener in listeners) == ours


def test_an_unknown_transport_is_refused() -> None:
    with pytest.raises(ConfigError, match="transport"):
        Config(app=hello, transport="ours")
