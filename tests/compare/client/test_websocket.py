"""The load client's WebSocket connections without sockets: what it writes is read by
wsproto's server side (an independent RFC 6455 implementation), what it reads is fed at
every split."""

from __future__ import annotations

import asyncio
import os

import pytest
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from xloop.compare.client.framing import MAX_HEAD
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


def handshaking(
    messages: list[Outgoing] = MESSAGES, *, sending: bool = True
) -> tuple[Run, WebSocketClientConnection, FakeTransport, WSConnection]:
    """A client connection whose handshake request wsproto's server side has read, its
    101 not yet sent (``sending`` false: the run ended while the 101 was due)."""
    run = Run("127.0.0.1", 80, HEAD, messages=messages)
    protocol = WebSocketClientConnection(run, messages)
    transport = FakeTransport()
    protocol.connection_made(transport)
    run.sending = sending
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(transport.writes.pop())
    (request,) = server.events()
    assert isinstance(request, Request)
    assert request.target == "/ws"
    assert request.extensions == []  # no compression offered
    return run, protocol, transport, server


def opened(
    messages: list[Outgoing] = MESSAGES, *, sending: bool = True
) -> tuple[Run, WebSocketClientConnection, FakeTransport, WSConnection]:
    """A client connection whose handshake wsproto's server side accepted."""
    run, protocol, transport, server = handshaking(messages, sending=sending)
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


@pytest.mark.parametrize("size", [300, 70_000], ids=["16-bit-length", "64-bit-length"])
def test_long_echoes_split_inside_their_length_field(size: int) -> None:
    """An echo with an extended payload length, its first read ending inside the length
    field, then inside the payload: counted once, when whole."""
    messages = [Outgoing(0x2, os.urandom(size))]
    _, _, transport, server = opened(messages)
    (event,) = received(server, transport)
    echo = server.send(event)
    for split in (1, 3, 5, 9, len(echo) - 1):
        run, protocol, transport, server = opened(messages)
        received(server, transport)
        feed(protocol, echo[:split])
        assert run.responses == 0
        feed(protocol, echo[split:])
        assert run.errors == NO_ERRORS, (split, run.last_error)
        assert run.responses == 1
        (again,) = received(server, transport)  # the next message went out
        assert isinstance(again, BytesMessage)


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        pytest.param(bytes((0xC1, 1)) + b"x", "reserved bits 0x40", id="rsv1-without-extension"),
        pytest.param(bytes((0x83, 0)), "reserved opcode 0x3", id="reserved-opcode"),
        pytest.param(bytes((0x80, 1)) + b"x", "continuation frame out of place", id="lone-cont"),
        pytest.param(
            bytes((0x01, 1)) + b"a" + bytes((0x81, 1)) + b"b",
            "continuation frame out of place",
            id="text-inside-text",
        ),
    ],
)
def test_a_frame_that_breaks_rfc_6455_is_a_protocol_error(data: bytes, needle: str) -> None:
    """Counted once, the connection dropped, and nothing read after it counts."""
    run, protocol, transport, server = opened()
    (event,) = received(server, transport)
    feed(protocol, data)
    assert run.errors["protocol"] == 1
    assert needle in run.last_error
    assert transport.aborted
    feed(protocol, server.send(event))  # the echo, after the error: ignored
    assert run.responses == 0
    assert run.errors["protocol"] == 1


def test_an_unsolicited_pong_is_ignored() -> None:
    """RFC 6455 section 5.5.3: a pong nobody asked for needs no answer."""
    run, protocol, transport, server = opened()
    (event,) = received(server, transport)
    feed(protocol, server.send(Pong(payload=b"heartbeat")) + server.send(event))
    assert run.errors == NO_ERRORS
    assert run.responses == 1
    assert [type(e).__name__ for e in received(server, transport)] == ["BytesMessage"]


def test_the_101_and_a_ping_in_one_read() -> None:
    """What follows the 101 in the same read is framed: the first message goes out, then
    the ping's pong."""
    run, protocol, transport, server = handshaking()
    feed(protocol, server.send(AcceptConnection()) + server.send(Ping(payload=b"early")))
    assert protocol.upgraded
    events = received(server, transport)
    assert [type(e).__name__ for e in events] == ["TextMessage", "Pong"]
    assert events[1].payload == b"early"  # type: ignore[attr-defined]
    assert run.errors == NO_ERRORS


def test_a_handshake_response_byte_by_byte_then_one_without_an_end() -> None:
    """The 101 in one-byte reads opens the connection; a head that never ends is refused
    past MAX_HEAD, as a protocol error."""
    run, protocol, transport, server = handshaking()
    response = server.send(AcceptConnection())
    for index in range(len(response)):
        assert not protocol.upgraded
        feed(protocol, response[index : index + 1])
    assert protocol.upgraded
    assert run.errors == NO_ERRORS
    run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
    protocol = WebSocketClientConnection(run, MESSAGES)
    protocol.connection_made(transport := FakeTransport())
    feed(protocol, b"HTTP/1.1 101 Switching Protocols\r\n")
    feed(protocol, b"x-filler: " + b"y" * MAX_HEAD)
    assert not protocol.upgraded
    assert run.errors["protocol"] == 1
    assert run.last_error == "no end of the handshake response head"
    assert transport.aborted


def test_a_message_when_none_is_due_is_a_protocol_error() -> None:
    """The run ended while the 101 was due, so nothing was sent: a message from the server
    answers nothing."""
    run, protocol, transport, server = opened(sending=False)
    assert received(server, transport) == []
    feed(protocol, server.send(TextMessage(data="unasked")))
    assert run.errors["protocol"] == 1
    assert "a message nobody asked for" in run.last_error


def test_the_server_closing_an_idle_websocket_is_answered_not_counted() -> None:
    """Nothing due (the run ended during the handshake): the server's close is echoed with
    its code, no error; the end of the run then sends nothing more."""
    run, protocol, transport, server = opened(sending=False)
    feed(protocol, server.send(CloseConnection(code=1001, reason="going away")))
    (close,) = received(server, transport)
    assert isinstance(close, CloseConnection)
    assert close.code == 1001
    assert run.errors == NO_ERRORS
    protocol.end()
    assert transport.writes == []
    assert not transport.aborted


def test_a_connection_made_after_the_run_ended_closes_without_a_handshake() -> None:
    run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
    run.sending = False
    protocol = WebSocketClientConnection(run, MESSAGES)
    transport = FakeTransport()
    protocol.connection_made(transport)
    assert transport.writes == []
    assert transport.closed
    assert run.errors == NO_ERRORS


def test_the_end_of_the_run_during_the_handshake_closes_tcp() -> None:
    """No WebSocket yet, so no close frame: the TCP connection is closed, not counted."""
    run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
    protocol = WebSocketClientConnection(run, MESSAGES)
    transport = FakeTransport()
    protocol.connection_made(transport)
    transport.writes.clear()  # the handshake request
    protocol.end()
    assert transport.closed
    assert transport.writes == []
    assert run.errors == NO_ERRORS


def test_a_connection_lost_during_the_handshake_fails_its_opening() -> None:
    """What Run.connect awaits gets the reason, and counts it (once) as a failed connect."""
    loop = asyncio.new_event_loop()
    try:
        run = Run("127.0.0.1", 80, HEAD, messages=MESSAGES)
        protocol = WebSocketClientConnection(run, MESSAGES)
        protocol.opened = loop.create_future()
        protocol.connection_made(FakeTransport())
        protocol.connection_lost(None)
        with pytest.raises(ConnectionResetError, match="during the WebSocket handshake"):
            protocol.opened.result()
        assert protocol not in run.connections
        assert run.errors == NO_ERRORS
    finally:
        loop.close()
