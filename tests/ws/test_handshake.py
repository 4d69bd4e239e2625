"""The opening handshake, checked alike for both engines (no sockets)."""

from __future__ import annotations

import pytest

from xloop.http import DefaultHeaders, ResponseError
from xloop.ws import HandshakeError, MessageError
from xloop.ws.handshake import (
    Offer,
    _extension_list,
    accept_token,
    check_close,
    check_request,
    rejection,
    subprotocols,
)

from ._support import ACCEPT, ENGINES, KEY, build, handshake


def test_the_rfc_example_key_gives_the_rfc_accept() -> None:
    assert accept_token(KEY) == ACCEPT.decode()


def test_a_valid_handshake_passes() -> None:
    check_request(handshake())


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"version": b"8"}, 426),
        ({"version": None}, 426),
        ({"version": b"13, 8"}, 426),
        ({"key": None}, 400),
        ({"key": b"not base64!"}, 400),
        ({"key": b"c2hvcnQ="}, 400),  # 5 bytes, not 16
        ({"http_version": "1.0"}, 400),
    ],
)
def test_an_invalid_handshake_is_refused(request_kwargs: dict[str, object], status: int) -> None:
    with pytest.raises(HandshakeError) as caught:
        check_request(handshake(**request_kwargs))  # type: ignore[arg-type]
    assert caught.value.status == status
    if status == 426:
        assert caught.value.headers == [(b"sec-websocket-version", b"13")]


def test_two_keys_are_refused() -> None:
    with pytest.raises(HandshakeError) as caught:
        check_request(handshake((b"sec-websocket-key", KEY)))
    assert caught.value.status == 400


def test_subprotocols_in_order_across_fields() -> None:
    request = handshake(
        (b"sec-websocket-protocol", b"chat, superchat"), (b"sec-websocket-protocol", b" v2 ,")
    )
    assert subprotocols(request) == ["chat", "superchat", "v2"]


def test_the_rejection_response_names_its_status_and_headers() -> None:
    data = rejection(426, "bad version", DefaultHeaders([(b"server", b"xloop")]), [(b"a", b"b")])
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 426 Upgrade Required\r\nserver: xloop\r\na: b\r\n")
    assert b"connection: close" in head
    assert b"content-length: %d" % len(body) in head


@pytest.mark.parametrize(("code", "reason"), [(1005, ""), (1006, ""), (999, ""), (5000, "")])
def test_close_codes_an_app_may_not_send(code: int, reason: str) -> None:
    with pytest.raises(MessageError):
        check_close(code, reason)


def test_close_reasons_are_bounded() -> None:
    assert check_close(4000, "é" * 61) == (4000, "é" * 61)
    with pytest.raises(MessageError):
        check_close(1000, "é" * 62)
    with pytest.raises(MessageError):
        check_close(1000, b"bytes")
    assert check_close(1000, None) == (1000, "")


def test_accept_writes_the_101(name: str) -> None:
    engine = build(name, (b"sec-websocket-protocol", b"chat"))
    assert engine.subprotocols == ["chat"]
    assert not engine.open
    data = engine.accept("chat", [(b"server", b"xloop"), (b"x-extra", b"1")])
    head = data.decode("latin-1").lower()
    assert head.startswith("http/1.1 101 switching protocols\r\n")
    assert f"sec-websocket-accept: {ACCEPT.decode().lower()}\r\n" in head
    assert "sec-websocket-protocol: chat\r\n" in head
    assert "x-extra: 1\r\n" in head
    assert head.endswith("\r\n\r\n")
    assert engine.open


def test_accept_refuses_what_cannot_be_a_header(name: str) -> None:
    with pytest.raises(MessageError):
        build(name).accept("two words", [])
    with pytest.raises(ResponseError):
        build(name).accept(None, [(b"x-bad", b"a\r\nb")])


@pytest.mark.parametrize("deflate", [True, False])
def test_permessage_deflate_is_negotiated_when_enabled(name: str, deflate: bool) -> None:
    offer = (b"sec-websocket-extensions", b"permessage-deflate; client_max_window_bits")
    data = build(name, offer, per_message_deflate=deflate).accept(None, [])
    extensions = [
        line for line in data.decode().lower().split("\r\n") if "sec-websocket-extensions" in line
    ]
    if deflate:
        assert len(extensions) == 1
        assert "permessage-deflate" in extensions[0]
        assert "client_max_window_bits=12" in extensions[0]
    else:
        assert extensions == []


def _extensions(response: bytes) -> list[str]:
    lines = response.decode("latin-1").lower().split("\r\n")
    return [line for line in lines if line.startswith("sec-websocket-extensions:")]


def test_an_extension_the_server_does_not_know_is_declined(name: str) -> None:
    """Only permessage-deflate is negotiated: another offer gets a 101 without it."""
    offer = (b"sec-websocket-extensions", b"x-webkit-deflate-frame")
    assert _extensions(build(name, offer).accept(None, [])) == []


@pytest.mark.parametrize("name", ENGINES)
def test_an_extensions_header_that_does_not_parse_is_a_400(name: str) -> None:
    """A bad handshake is answered before the app, alike on both engines (an unterminated
    quoted string is no RFC 6455 section 9.1 extension list)."""
    with pytest.raises(HandshakeError) as caught:
        build(name, (b"sec-websocket-extensions", b'permessage-deflate; a="unterminated'))
    assert caught.value.status == 400
    assert "Sec-WebSocket-Extensions" in str(caught.value)


@pytest.mark.parametrize("name", ENGINES)
def test_a_quoted_deflate_parameter_is_accepted(name: str) -> None:
    """RFC 7692 section 7.1: ``server_max_window_bits="10"`` is the same offer as ``=10``."""
    offer = (b"sec-websocket-extensions", b'permessage-deflate; server_max_window_bits="10"')
    (extension,) = _extensions(build(name, offer).accept(None, []))
    assert "permessage-deflate" in extension
    assert "server_max_window_bits=10" in extension


def _terms(response: bytes) -> list[Offer] | None:
    """The extension answered in a 101, parsed (None: none)."""
    lines = _extensions(response)
    if not lines:
        return None
    (line,) = lines
    offers = _extension_list(line.split(":", 1)[1])
    return [(name, sorted(params, key=lambda param: param[0])) for name, params in offers]


_SERVER_12 = ("server_max_window_bits", "12")


@pytest.mark.parametrize(
    ("offer", "terms"),
    [
        pytest.param("permessage-deflate", [_SERVER_12], id="bare"),
        pytest.param(
            "permessage-deflate; client_max_window_bits",
            [("client_max_window_bits", "12"), _SERVER_12],
            id="client-bits-no-value",
        ),
        pytest.param(
            "permessage-deflate; client_max_window_bits=10; server_max_window_bits=15",
            [("client_max_window_bits", "10"), _SERVER_12],
            id="windows-capped",
        ),
        pytest.param(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            [
                ("client_no_context_takeover", None),
                _SERVER_12,
                ("server_no_context_takeover", None),
            ],
            id="no-context-takeover",
        ),
        pytest.param("permessage-deflate; server_max_window_bits=8", None, id="8-bits-declined"),
        pytest.param("permessage-deflate; x=1", None, id="unknown-parameter-declined"),
        pytest.param(
            "permessage-deflate; client_no_context_takeover=1", None, id="value-where-none-belongs"
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            None,
            id="repeated-parameter-declined",
        ),
        pytest.param("permessage-deflate; server_max_window_bits=016", None, id="leading-zero"),
        pytest.param(
            "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=9",
            [("server_max_window_bits", "9")],
            id="first-acceptable-offer",
        ),
        pytest.param(
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
            [("server_max_window_bits", "10")],
            id="first-offer-wins",
        ),
    ],
)
def test_both_engines_agree_on_the_deflate_terms(
    offer: str, terms: list[tuple[str, str | None]] | None
) -> None:
    """RFC 7692 section 7 negotiated alike on both engines: the first offer this server can
    accept, windows at most 12 bits, an offer with an unknown or repeated parameter or a bad
    value declined (a 101 without compression when none is left)."""
    header = (b"sec-websocket-extensions", offer.encode())
    expected = None if terms is None else [("permessage-deflate", terms)]
    for name in ENGINES:
        assert _terms(build(name, header).accept(None, [])) == expected, name
