"""``xloop.http``'s choice of parser: ``resolve_http`` and ``connection_factory``."""

from __future__ import annotations

import sys

import pytest

from xloop.errors import ConfigError
from xloop.http import (
    HTTP_NAMES,
    Limits,
    connection_factory,
    httptools_available,
    resolve_http,
    zttp_available,
)
from xloop.http.h11_conn import H11Connection


@pytest.fixture
def without_httptools(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as it would be without httptools: importing it raises ImportError."""
    monkeypatch.setitem(sys.modules, "httptools", None)


@pytest.mark.usefixtures("without_httptools")
def test_without_httptools_auto_is_h11() -> None:
    assert httptools_available() is False
    assert resolve_http("auto") == "h11"
    assert isinstance(connection_factory("auto", Limits())(), H11Connection)


@pytest.mark.usefixtures("without_httptools")
def test_without_httptools_asking_for_it_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match="httptools is not installed; available here: h11"
    ) as info:
        resolve_http("httptools")
    assert info.value.hint == "pip install 'xloop[httptools]'"
    assert info.value.exit_code == 2


@pytest.mark.skipif(not httptools_available(), reason="httptools not installed")
def test_with_httptools_auto_is_httptools() -> None:
    from xloop.http.httptools_conn import HttptoolsConnection

    assert resolve_http("auto") == "httptools"
    assert isinstance(connection_factory("auto", Limits())(), HttptoolsConnection)


@pytest.mark.parametrize("name", ["H11", "llhttp", ""])
def test_unknown_name(name: str) -> None:
    with pytest.raises(ConfigError, match=f"unknown --http value {name!r}") as info:
        resolve_http(name)
    assert "auto, h11, httptools, zttp" in info.value.message
    assert info.value.hint == "auto picks httptools when installed, else h11"


def test_names() -> None:
    assert HTTP_NAMES == ("auto", "h11", "httptools", "zttp")
    assert resolve_http("h11") == "h11"


@pytest.fixture
def without_zttp(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process as it would be without zttp: importing it raises ImportError."""
    monkeypatch.setitem(sys.modules, "zttp", None)


@pytest.mark.usefixtures("without_zttp")
def test_without_zttp_asking_for_it_is_a_config_error() -> None:
    assert zttp_available() is False
    with pytest.raises(ConfigError, match="zttp is not installed") as info:
        resolve_http("zttp")
    assert info.value.hint == "pip install 'xloop[zttp]'"
    assert info.value.exit_code == 2


@pytest.mark.skipif(not zttp_available(), reason="zttp not installed")
def test_with_zttp_it_is_chosen_by_name_only() -> None:
    from xloop.http.zttp_conn import ZttpConnection

    assert resolve_http("zttp") == "zttp"
    assert isinstance(connection_factory("zttp", Limits())(), ZttpConnection)
    assert resolve_http("auto") != "zttp"
