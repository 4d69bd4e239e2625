"""Both engines, fed client bytes at every split: messages, control frames between
fragments, limits, protocol errors and the closing handshake. No sockets."""

from __future__ import annotations

import random
import zlib

import pytest

from xloop.ws import Closed, ConnectionClosed, Event, Message, Pong, WebSocketEngine

from ._support import (
    BINARY,
    CLOSE,
    CONT,
    PING,
    PONG,
    TEXT,
    build,
    close_payload,
    deflate,
    engine,
    frame,
    server_frames,
    splits,
)

TEXT_MESSAGE = "héllo, wörld ✓"
ENCODED = TEXT_MESSAGE.encode()

#: A text message in three fragments with a ping and a pong between them, a binary
#: message, then a close: what every split of it must come out as.
STREAM = b"".join(
    (
        frame(TEXT, ENCODED[:3], fin=False),  # splits inside a UTF-8 sequence
        frame(PING, b"are you there"),
        frame(CONT, ENCODED[3:9], fin=False),
        frame(PONG, b"pong!"),
        frame(CONT, ENCODED[9:]),
        frame(BINARY, bytes(range(200))),  # a 16-bit length
        frame(CLOSE, close_payload(1000, "bye")),
    )
)
EXPECTED: list[Event] = [
    Pong(b"pong!"),
    Message(TEXT_MESSAGE),
    Message(bytes(range(200))),
    Closed(1000, "bye"),
]


def feed(engine: WebSocketEngine, pieces: list[bytes]) -> tuple[list[Event], bytes]:
    events: list[Event] = []
    sent = b""
    for piece in pieces:
        if piece:
            events.extend(engine.receive_data(piece))
            sent += engine.data_to_send()
    return events, sent


def test_every_split_gives_the_same_events_and_answers(name: str) -> None:
    for pieces in splits(STREAM):
        ws = engine(name)
        events, sent = feed(ws, pieces)
        assert events == EXPECTED, [len(piece) for piece in pieces]
        answers = server_frames(sent)
        assert [(f.opcode.value, bytes(f.data)) for f in answers] == [
            (PONG, b"are you there"),
            (CLOSE, close_payload(1000, "bye")),
        ]
        assert ws.closed
        assert not ws.open


def test_a_large_message_with_a_64_bit_length(name: str) -> None:
    data = b"x" * 70000
    events, _ = feed(engine(name), [frame(BINARY, data)])
    assert events == [Message(data)]


def test_an_empty_text_message_and_an_empty_close(name: str) -> None:
    ws = engine(name)
    events, sent = feed(ws, [frame(TEXT, b""), frame(CLOSE, b"")])
    assert events == [Message(""), Closed(1005, "")]
    (echo,) = server_frames(sent)
    assert (echo.opcode.value, bytes(echo.data)) == (CLOSE, b"")


def test_what_the_server_sends(name: str) -> None:
    ws = engine(name)
    ws.send_message("text ✓")
    ws.send_message(b"\x00\x01")
    ws.send_ping(b"1234")
    frames = server_frames(ws.data_to_send())
    assert [(f.opcode.value, bytes(f.data)) for f in frames] == [
        (TEXT, "text ✓".encode()),
        (BINARY, b"\x00\x01"),
        (PING, b"1234"),
    ]
    assert ws.data_to_send() == b""


def test_the_server_closes_first(name: str) -> None:
    ws = engine(name)
    ws.close(4001, "done")
    (sent,) = server_frames(ws.data_to_send())
    assert bytes(sent.data) == close_payload(4001, "done")
    assert not ws.open
    assert not ws.closed  # waiting for the client's close frame
    with pytest.raises(ConnectionClosed):
        ws.send_message("late")
    # Messages after our close are not delivered; the client's close ends it.
    events, sent_after = feed(ws, [frame(TEXT, b"late"), frame(CLOSE, close_payload(4001))])
    assert [event for event in events if not isinstance(event, Message)] == [Closed(4001, "")]
    assert sent_after == b""  # nothing to echo: our close went first
    assert ws.closed


def test_eof_without_a_close_frame_is_1006(name: str) -> None:
    ws = engine(name)
    assert ws.receive_data(frame(TEXT, b"a", fin=False)) == []
    assert ws.receive_data(b"") == [Closed(1006, "")]
    assert ws.closed
    assert ws.receive_data(b"") == []


def test_fail_sends_the_code_and_stops(name: str) -> None:
    ws = engine(name)
    ws.fail(1011, "keepalive ping timeout")
    (sent,) = server_frames(ws.data_to_send())
    assert bytes(sent.data) == close_payload(1011, "keepalive ping timeout")
    assert ws.closed
    assert not ws.open
    events = ws.receive_data(frame(TEXT, b"ignored"))
    assert events == [Closed(1011, "keepalive ping timeout")]
    assert ws.receive_data(frame(TEXT, b"ignored")) == []


def test_a_close_between_fragments_closes_normally(name: str) -> None:
    """Autobahn 7.1.5: the close is a control frame, legal between fragments."""
    ws = engine(name)
    events, sent = feed(
        ws,
        [
            frame(TEXT, b"fragment1", fin=False),
            frame(CLOSE, close_payload(1000)),
            frame(CONT, b"2"),
        ],
    )
    assert events == [Closed(1000, "")]
    (echo,) = server_frames(sent)
    assert bytes(echo.data) == close_payload(1000)


# -- limits ----------------------------------------------------------------------------------


def _closed_with(ws: WebSocketEngine, data: bytes, code: int) -> None:
    events, sent = feed(ws, [data])
    assert events
    assert isinstance(events[-1], Closed)
    assert events[-1].code == code
    assert not any(isinstance(event, Message) for event in events)
    frames = server_frames(sent)
    assert frames, "no close frame was sent"
    assert frames[-1].opcode.value == CLOSE
    assert int.from_bytes(bytes(frames[-1].data)[:2], "big") == code
    assert ws.closed


def test_a_message_over_max_size_is_1009(name: str) -> None:
    _closed_with(engine(name, max_size=1000), frame(BINARY, b"x" * 1001), 1009)


def test_a_message_at_max_size_passes(name: str) -> None:
    events, _ = feed(engine(name, max_size=1000), [frame(TEXT, b"x" * 1000)])
    assert events == [Message("x" * 1000)]


def test_fragments_adding_up_over_max_size_are_1009(name: str) -> None:
    data = frame(TEXT, b"x" * 600, fin=False) + frame(CONT, b"x" * 600)
    _closed_with(engine(name, max_size=1000), data, 1009)


def test_a_compressed_bomb_stops_at_max_size(name: str) -> None:
    offer = (b"sec-websocket-extensions", b"permessage-deflate")
    ws = engine(name, offer, max_size=100_000)
    _closed_with(ws, frame(BINARY, deflate(b"\0" * 10_000_000), rsv=4), 1009)


def test_a_client_window_of_15_bits_is_inflated_when_the_offer_sets_none(name: str) -> None:
    """An offer without client_max_window_bits leaves the client its 32 KiB window: a
    message referring back into the one before it further than 4 KiB (the 12-bit window
    this server asks for when it may) is inflated whole."""
    offer = (b"sec-websocket-extensions", b"permessage-deflate")
    block = random.Random(7).randbytes(6000)  # incompressible: only the repeat compresses
    compressor = zlib.compressobj(wbits=-15)  # one context for both messages (RFC 7692 7.2.1)
    first, second = (
        (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]
        for data in (block, block)
    )
    assert len(second) < 100  # a reference 6,000 bytes back, into the first message
    frames = [frame(BINARY, first, rsv=4), frame(BINARY, second, rsv=4)]
    events, _ = feed(engine(name, offer), frames)
    assert events == [Message(block), Message(block)]


def test_a_compressed_message_is_inflated(name: str) -> None:
    offer = (b"sec-websocket-extensions", b"permessage-deflate")
    events, _ = feed(engine(name, offer), [frame(TEXT, deflate(ENCODED), rsv=4)])
    assert events == [Message(TEXT_MESSAGE)]


# -- protocol errors: the right close code, never an exception --------------------------------

BAD_UTF8 = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(TEXT, BAD_UTF8), id="whole"),
        pytest.param(frame(TEXT, BAD_UTF8[:12], fin=False) + frame(CONT, BAD_UTF8[12:]), id="frag"),
        pytest.param(frame(TEXT, b"\xff", fin=False), id="first-fragment"),
        pytest.param(frame(CLOSE, close_payload(1000) + b"\xff"), id="close-reason"),
    ],
)
def test_invalid_utf8_is_1007(name: str, data: bytes) -> None:
    _closed_with(engine(name), data, 1007)


def test_utf8_split_across_fragments_is_valid(name: str) -> None:
    data = frame(TEXT, "✓".encode()[:1], fin=False) + frame(CONT, "✓".encode()[1:])
    assert feed(engine(name), [data])[0] == [Message("✓")]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(frame(TEXT, b"unmasked", mask=False), id="unmasked"),
        pytest.param(frame(0x3, b""), id="reserved-opcode"),
        pytest.param(frame(0xB, b""), id="reserved-control-opcode"),
        pytest.param(frame(TEXT, b"a", rsv=2), id="rsv-without-extension"),
        pytest.param(frame(CONT, b"nothing to continue"), id="lone-continuation"),
        pytest.param(frame(TEXT, b"a", fin=False) + frame(TEXT, b"b"), id="text-inside-text"),
        pytest.param(frame(PING, b"a", fin=False), id="fragmented-ping"),
        pytest.param(frame(PING, b"x" * 126), id="ping-over-125"),
        pytest.param(frame(CLOSE, b"\x03"), id="close-one-byte"),
        pytest.param(frame(CLOSE, close_payload(999)), id="close-code-999"),
        pytest.param(frame(CLOSE, close_payload(1005)), id="close-code-1005"),
        pytest.param(frame(CLOSE, close_payload(5000)), id="close-code-5000"),
    ],
)
def test_a_bad_frame_is_1002(name: str, data: bytes) -> None:
    _closed_with(engine(name), data, 1002)


def test_nothing_after_a_protocol_error_is_processed(name: str) -> None:
    ws = engine(name)
    events, _ = feed(ws, [frame(CONT, b"bad") + frame(TEXT, b"after")])
    assert len(events) == 1
    assert isinstance(events[0], Closed)
    assert events[0].code == 1002
    assert ws.receive_data(frame(TEXT, b"later")) == []


# -- binary fragments, and what a connection that is not open refuses --------------------------


def test_a_fragmented_binary_message_at_every_split(name: str) -> None:
    """A binary message in three fragments (one empty) with a ping between them comes out
    whole, as bytes; the ping is answered."""
    data = b"".join(
        (
            frame(BINARY, b"\x00\x01", fin=False),
            frame(PING, b"p"),
            frame(CONT, b"", fin=False),
            frame(CONT, b"\xff" * 130),  # a 16-bit length
            frame(TEXT, b"after"),
        )
    )
    for pieces in splits(data):
        ws = engine(name)
        events, sent = feed(ws, pieces)
        assert events == [Message(b"\x00\x01" + b"\xff" * 130), Message("after")]
        assert [(f.opcode.value, bytes(f.data)) for f in server_frames(sent)] == [(PONG, b"p")]


def test_nothing_is_sent_on_a_connection_that_is_not_open(name: str) -> None:
    """Before the 101 and after the client's close, a message, a ping and a close raise
    ConnectionClosed and queue nothing."""
    not_accepted = build(name)
    ws = engine(name)
    feed(ws, [frame(CLOSE, close_payload(1000))])
    ws.data_to_send()  # the echo of the client's close
    for closed in (not_accepted, ws):
        assert not closed.open
        with pytest.raises(ConnectionClosed):
            closed.send_message("late")
        with pytest.raises(ConnectionClosed):
            closed.send_ping(b"late")
        with pytest.raises(ConnectionClosed):
            closed.close(1000, "late")
        assert closed.data_to_send() == b""


def test_fail_after_our_close_sends_no_second_close_frame(name: str) -> None:
    """The server closed, the client never answered, and the server gives up (fail): the
    close frame already sent stays the only one, and the connection ends as 1006."""
    ws = engine(name)
    ws.close(4000, "bye")
    (sent,) = server_frames(ws.data_to_send())
    assert bytes(sent.data) == close_payload(4000, "bye")
    ws.fail(1011, "no answer")
    assert ws.data_to_send() == b""
    assert ws.closed
    assert ws.receive_data(b"") == [Closed(1006, "")]


def test_a_second_fail_changes_nothing(name: str) -> None:
    """Failing a failed connection sends nothing more; the first code is the one reported."""
    ws = engine(name)
    ws.fail(1011, "first")
    (sent,) = server_frames(ws.data_to_send())
    assert bytes(sent.data) == close_payload(1011, "first")
    ws.fail(1002, "second")
    assert ws.data_to_send() == b""
    assert ws.receive_data(b"") == [Closed(1011, "first")]


#: What each engine closes with on compressed data that does not inflate: websockets calls
#: it a protocol error, wsproto invalid payload data (RFC 7692 names no code for it).
CORRUPT_DEFLATE_CODE = {"websockets": 1002, "wsproto": 1007}


def test_compressed_data_that_does_not_inflate_closes_the_connection(name: str) -> None:
    offer = (b"sec-websocket-extensions", b"permessage-deflate")
    data = frame(BINARY, b"\xff\xff\xff\xff not deflate", rsv=4)
    _closed_with(engine(name, offer), data, CORRUPT_DEFLATE_CODE[name])
