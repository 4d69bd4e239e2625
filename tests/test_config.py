"""``xloop.Config`` (what ``xloop.run()`` takes): the values it derives and the ones it refuses.

tests/cli/test_errors.py checks the refusals as ``xloop serve`` prints them; these use the
validated config itself.
"""

from __future__ import annotations

import pytest

from xloop import Config, ConfigError
from xloop.http import Limits


def test_extra_headers_are_lowercased_byte_pairs() -> None:
    config = Config(header=["X-Frame-Options: DENY", "x-empty:", "Via:1.1 proxy"])
    assert config.extra_headers() == [
        (b"x-frame-options", b"DENY"),
        (b"x-empty", b""),
        (b"via", b"1.1 proxy"),
    ]


def test_extra_header_value_may_be_latin1() -> None:
    assert Config(header=["X-City: Zürich"]).extra_headers() == [(b"x-city", b"Z\xfcrich")]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("X-Name: 名前", "invalid --header 'X-Name: 名前': not latin-1"),
        ("X Bad: 1", "invalid --header 'X Bad: 1': invalid response header name b'x bad'"),
        ("X-Nul: a\0b", "invalid --header 'X-Nul: a\\x00b': "),
        (": value", "invalid --header ': value'"),
    ],
)
def test_extra_header_refused(entry: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(header=[entry])
    assert info.value.message.startswith(message), info.value.message
    assert info.value.exit_code == 2


def test_trusted_proxies_take_addresses_networks_and_socket_paths() -> None:
    config = Config(forwarded_allow_ips="127.0.0.1, 10.0.0.0/8,::1, /run/p.sock,unix:/x, *,")
    assert config.trusted_proxies() == [
        "127.0.0.1",
        "10.0.0.0/8",
        "::1",
        "/run/p.sock",
        "unix:/x",
        "*",
    ]


@pytest.mark.parametrize("value", ["10.0.0.0/33", "localhost", "10.0.0.0/8,bogus"])
def test_trusted_proxies_refused(value: str) -> None:
    with pytest.raises(ConfigError, match="invalid --forwarded-allow-ips entry") as info:
        Config(forwarded_allow_ips=value)
    assert info.value.hint == "IP addresses or networks, comma-separated, or '*'"


def test_trusted_proxies_not_checked_without_proxy_headers() -> None:
    assert Config(forwarded_allow_ips="bogus", proxy_headers=False).proxy_headers is False


def test_limits() -> None:
    config = Config(
        limit_request_line=100,
        limit_request_field_size=200,
        limit_request_fields=3,
        limit_request_body=4000,
    )
    assert config.limits() == Limits(
        max_request_line=100, max_header_bytes=200, max_header_count=3, max_body_size=4000
    )
