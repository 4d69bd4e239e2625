from __future__ import annotations

import pytest

from .harness import Backend, backends

BACKENDS = backends()


@pytest.fixture(params=BACKENDS, ids=[backend.id for backend in BACKENDS])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each loop (and selector) available here, with each parser."""
    result: Backend = request.param
    return result
