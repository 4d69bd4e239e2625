"""The load client's WebSocket connections without sockets: what it writes is read by
wsproto's server side (an independent RFC 6455 implementation), what it reads is fed at
every split."""

from __future__ import annotations

import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Request,
    TextMessage,
)

from xloop.compare.client.run import ERROR_KINDS, Run
from xloop.compare.client.websocket import (
    Outgoing,
    WebSocketClientConnection,
    accept_value,
    client_frame,
    server_frame,
)
from xloop.compare.workloads import WS_MESSAGES

from .test_connection import FakeTransport

NO_ERRORS = dict.fromkeys(ERROR_KINDS, 0)
HEAD = b"GET /ws HTTP/1.1\r\nHost: test\r\n"
MESSAGES = [
    Outgoing(0x1, m.encode()) if isinstance(m, str) else Outgoing(0x2, m) for m in WS_MESSAGES
]


def test_frames_are_masked_per_rfc_6455() -> None:
    # RFC 6455 section 5.7: "Hello" masked with 37 fa 21 3d
    assert client_frame(0x1, b"Hello", bytes.fromhex("37fa213d")) == bytes.fromhex(
        "818537fa213d7f9f4d5158"
    )
    for n in (0, 1, 3, 4, 5, 36, 125, 126, 1000, 65535, 65536):
        payload = os.urandom(n)
        mask = os.urandom(4)
        frame = Outgoing(0x2, payload).frame(mask)
        assert frame == client_frame(0x2, payload, mask)
        body = frame[len(frame) - n :] if n else b""
        assert bytes(b ^ mask[i % 4] for i, b in enumerate(body)) == payload
    assert server_frame(0x1, b"Hello") == bytes.fromhex("810548656c6c6f")


def opened() -> tuple[Run, WebSocketClientConnection, FakeTransport, WSConnection]:
    """A client connection whose handshake wsproto's server side accepted."""
    run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
    protocol = WebSocketClientConnection(run, MESSAGES)
    transport = FakeTransport()
    protocol.connection_made(transport)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(transport.writes.pop())
    (request,) = server.events()
    assert isinstance(request, Request)
    assert request.target == "/ws"
    assert request.extensions == []  # no compression offered
    feed(protocol, server.send(AcceptConnection()))
    assert protocol.upgraded
    return run, protocol, transport, server


def feed(protocol: WebSocketClientConnection, *chunks: bytes) -> None:
    for chunk in chunks:
        protocol.data_received(bytes(bytearray(chunk)))


def received(server: WSConnection, transport: FakeTransport) -> list[Event]:
    for data in transport.writes:
        server.receive_data(data)
    transport.writes.clear()
    return list(server.events())


def test_messages_alternate_text_and_binary_and_each_echo_sends_the_next() -> None:
    run, protocol, transport, server = opened()
    for turn in range(6):
        (event,) = received(server, transport)
        expected = WS_MESSAGES[turn % 2]
        assert isinstance(event, TextMessage if isinstance(expected, str) else BytesMessage)
        assert event.data == expected
        feed(protocol, server.send(event))  # the echo
    assert run.responses == 6
    assert run.errors == NO_ERRORS
    assert sum(run.counts) == 6


@pytest.mark.parametrize("extra", ["ping", "fragments", "none"])
def test_echoes_at_every_split(extra: str) -> None:
    """The 101 and the first echo in one stream (with a ping, or the echo in fragments),
    split at every byte."""
    run, protocol, transport, server = opened()
    (event,) = received(server, transport)
    assert isinstance(event, TextMessage)
    stream = b""
    if extra == "ping":
        stream += server.send(Ping(payload=b"live"))
    if extra == "fragments":
        data = event.data.encode()
        stream += bytes((0x01, 4)) + data[:4] + bytes((0x80, len(data) - 4)) + data[4:]
    else:
        stream += server.send(event)
    for offset in range(1, len(stream)):
        run, protocol, transport, server = opened()
        received(server, transport)
        feed(protocol, stream[:offset], stream[offset:])
        assert run.errors == NO_ERRORS, (offset, run.last_error)
        assert run.responses == 1
        events = received(server, transport)
        if extra == "ping":  # answered with a masked pong, then the next message
            assert [type(e).__name__ for e in events] == ["Pong", "BytesMessage"]
            assert events[0].payload == b"live"  # type: ignore[attr-defined]
        else:
            assert [type(e).__name__ for e in events] == ["BytesMessage"]
        assert not transport.closed


def test_a_wrong_echo_or_a_masked_frame_is_a_protocol_error() -> None:
    run, protocol, transport, server = opened()
    received(server, transport)
    feed(protocol, server_frame(0x1, b"something else"))
    assert run.errors["protocol"] == 1
    assert "differs" in run.last_error
    assert transport.aborted
    run, protocol, transport, server = opened()
    received(server, transport)
    feed(protocol, client_frame(0x1, b"x", b"abcd"))
    assert run.errors["protocol"] == 1
    assert "masked" in run.last_error


def test_the_server_closing_while_an_echo_is_due_is_an_error() -> None:
    run, protocol, transport, server = opened()
    received(server, transport)
    feed(protocol, server.send(CloseConnection(code=1012, reason="restart")))
    assert run.errors["read"] == 1
    assert run.last_error == "the server closed the WebSocket: 1012 restart"


def test_the_end_of_the_run_is_a_closing_handshake() -> None:
    run, protocol, transport, server = opened()
    (event,) = received(server, transport)
    run.sending = False
    feed(protocol, server.send(event))
    assert run.responses == 1
    (close,) = received(server, transport)
    assert isinstance(close, CloseConnection)
    assert close.code == 1000
    feed(protocol, server.send(close.response()))
    assert run.errors == NO_ERRORS
    assert not transport.aborted


@pytest.mark.parametrize(
    ("response", "needle"),
    [
        (
            b"HTTP/1.1 426 Upgrade Required\r\ncontent-length: 2\r\n\r\nno",
            "refused the WebSocket handshake: HTTP/1.1 426 Upgrade Required: no",
        ),
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Sec-WebSocket-Accept: d3Jvbmc=\r\n\r\n",
            "wrong Sec-WebSocket-Accept",
        ),
    ],
)
def test_a_refused_or_wrong_handshake_fails_the_connection(response: bytes, needle: str) -> None:
    run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
    protocol = WebSocketClientConnection(run, MESSAGES)
    transport = FakeTransport()
    protocol.connection_made(transport)
    feed(protocol, response)
    assert not protocol.upgraded
    assert run.errors["protocol"] == 1
    assert needle in run.last_error
    assert transport.aborted


def test_accept_value_matches_the_rfc_example() -> None:
    assert accept_value(b"dGhlIHNhbXBsZSBub25jZQ==") == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
