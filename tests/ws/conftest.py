from __future__ import annotations

import pytest

from ._support import ENGINES


@pytest.fixture(params=ENGINES)
def name(request: pytest.FixtureRequest) -> str:
    """Each WebSocket engine installed here."""
    result: str = request.param
    return result
