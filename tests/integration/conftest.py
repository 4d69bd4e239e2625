from __future__ import annotations

import pytest

from tests.server.harness import Backend, backends
from xloop import loops


def _proxy_backends() -> list[Backend]:
    """The default loop with each parser, and one other loop with its first parser: nginx
    sees the same bytes from all of them, so the whole matrix would only repeat itself."""
    everything = backends()
    default = loops.resolve("auto", "auto").backend
    chosen = [backend for backend in everything if backend.loop == default]
    others = [backend for backend in everything if backend.loop != default]
    if others:
        chosen.append(others[0])
    return chosen or everything[:1]


BACKENDS = _proxy_backends()


@pytest.fixture(params=BACKENDS, ids=[backend.id for backend in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """The loops and parsers the proxy tests run on."""
    result: Backend = request.param
    return result


@pytest.fixture(params=["tcp", "unix"])
def transport(request: pytest.FixtureRequest) -> str:
    """How nginx reaches xloop: 127.0.0.1:PORT or a UNIX socket."""
    result: str = request.param
    return result
