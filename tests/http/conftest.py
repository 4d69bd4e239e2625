"""Fixtures: every protocol test runs against both adapters (h11 and httptools)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from xloop.http import connection_factory

from ._support import LIMITS, adapter_params

if TYPE_CHECKING:
    from collections.abc import Callable

    from xloop.http import HTTPConnection


@pytest.fixture(params=adapter_params())
def adapter(request: pytest.FixtureRequest) -> str:
    """The parser name under test."""
    name: str = request.param
    return name


@pytest.fixture
def conn_factory(adapter: str) -> Callable[[], HTTPConnection]:
    """A zero-argument constructor of connections for the adapter under test."""
    return connection_factory(adapter, LIMITS)
