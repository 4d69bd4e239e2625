"""The load client's connections and framing, without sockets: responses fed at every split."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from xloop.compare.client import connection as connection_module
from xloop.compare.client.connection import ClientConnection, EchoClientConnection
from xloop.compare.client.framing import CHUNKED, INTERIM, MAX_HEAD, UNTIL_CLOSE, parse_head
from xloop.compare.client.run import ERROR_KINDS, Run
from xloop.compare.workloads import ECHO_MESSAGE_SIZE

# -- framing, without sockets -----------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Records what the protocol does to its transport."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted


REQUEST = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n"
DATE = b"Date: Tue, 24 Nov 2026 00:57:30 GMT\r\n"
PLAIN = b"HTTP/1.1 200 OK\r\n" + DATE + b"Content-Length: 13\r\n\r\nHello, world!"
NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\n\r\nNot Found"
NO_CONTENT = b"HTTP/1.1 204 No Content\r\n" + DATE + b"\r\n"
CHUNKED_BODY = (
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5;name=value\r\nhello\r\nA\r\n0123456789\r\n0\r\n\r\n"
)
CHUNKED_TRAILERS = (
    b"HTTP/1.1 201 Created\r\nTRANSFER-ENCODING: gzip, chunked\r\n\r\n"
    b"1F\r\n" + b"x" * 31 + b"\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n"
)
CONTINUE_THEN_OK = b"HTTP/1.1 100 Continue\r\n\r\n" + PLAIN
SHOUTING = b"HTTP/1.1 500 Internal Server Error\r\nCONTENT-LENGTH:   4 \r\n\r\nboom"
KEEP_ALIVE_10 = b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok"
NO_REASON = b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n"
NOT_MODIFIED = b"HTTP/1.1 304 Not Modified\r\nContent-Length: 999\r\n\r\n"

SEQUENCE = [
    PLAIN,
    NOT_FOUND,
    NO_CONTENT,
    CHUNKED_BODY,
    CHUNKED_TRAILERS,
    CONTINUE_THEN_OK,
    SHOUTING,
    KEEP_ALIVE_10,
    NO_REASON,
    NOT_MODIFIED,
    PLAIN,
]
SEQUENCE_STATUSES = {b"200": 6, b"404": 1, b"204": 1, b"201": 1, b"500": 1, b"304": 1}
STREAM = b"".join(SEQUENCE)
NO_ERRORS = dict.fromkeys(ERROR_KINDS, 0)


def connected(
    pipeline: int = 1, request: bytes = REQUEST
) -> tuple[Run, ClientConnection, FakeTransport]:
    run = Run("127.0.0.1", 80, request, pipeline=pipeline)
    protocol = ClientConnection(run)
    transport = FakeTransport()
    protocol.connection_made(transport)
    assert transport.writes == [request * pipeline]
    return run, protocol, transport


def feed(protocol: ClientConnection, *chunks: bytes) -> None:
    for chunk in chunks:
        protocol.data_received(bytes(bytearray(chunk)))  # a fresh object, as from a socket


def assert_whole_sequence(run: Run, protocol: ClientConnection, transport: FakeTransport) -> None:
    assert run.errors == NO_ERRORS, run.last_error
    assert run.responses == len(SEQUENCE)
    assert run.statuses == SEQUENCE_STATUSES
    assert len(transport.writes) == 2  # the first batch, then the next once all came back
    assert protocol.pending == len(SEQUENCE)
    assert protocol.state == connection_module._HEAD
    assert protocol.buf == b""
    assert not transport.closed
    assert not transport.aborted
    assert sum(run.counts) == len(SEQUENCE)  # one latency per response


def test_several_responses_in_one_read() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    feed(protocol, STREAM)
    assert_whole_sequence(run, protocol, transport)
    assert run.bytes_received == len(STREAM)


def test_split_at_every_byte_offset() -> None:
    for offset in range(1, len(STREAM)):
        run, protocol, transport = connected(pipeline=len(SEQUENCE))
        feed(protocol, STREAM[:offset], STREAM[offset:])
        assert_whole_sequence(run, protocol, transport)


def test_one_byte_at_a_time() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    feed(protocol, *(STREAM[i : i + 1] for i in range(len(STREAM))))
    assert_whole_sequence(run, protocol, transport)


def test_split_in_three_around_every_chunk_boundary() -> None:
    run, protocol, transport = connected(pipeline=len(SEQUENCE))
    cuts = sorted({0, *range(0, len(STREAM), 7), len(STREAM)})
    feed(protocol, *(STREAM[a:b] for a, b in itertools.pairwise(cuts)))
    assert_whole_sequence(run, protocol, transport)


def test_one_response_per_batch_sends_the_next_request_each_time() -> None:
    run, protocol, transport = connected()
    for response in SEQUENCE:
        feed(protocol, response)
    assert run.errors == NO_ERRORS
    assert run.responses == len(SEQUENCE)
    assert len(transport.writes) == len(SEQUENCE) + 1
    assert set(transport.writes) == {REQUEST}


def test_repeated_identical_response_takes_the_fast_path_and_counts_the_same() -> None:
    run, protocol, transport = connected()
    feed(protocol, PLAIN)
    assert protocol.memo == PLAIN
    feed(protocol, PLAIN, PLAIN, NOT_FOUND, PLAIN)
    assert run.responses == 5
    assert run.statuses == {b"200": 4, b"404": 1}
    assert len(transport.writes) == 6
    # pipelined: a read holding one response of the batch counts once, not as a batch
    run, protocol, transport = connected(pipeline=3)
    feed(protocol, PLAIN * 3)
    feed(protocol, PLAIN, PLAIN)
    assert run.responses == 5
    assert protocol.pending == 1
    assert len(transport.writes) == 2
    feed(protocol, PLAIN)
    assert protocol.pending == 3
    assert len(transport.writes) == 3
    assert run.errors == NO_ERRORS


def test_fast_path_never_skips_a_partial_head() -> None:
    run, protocol, transport = connected()
    feed(protocol, PLAIN)
    feed(protocol, PLAIN[:5])  # the start of a head is waiting...
    feed(protocol, PLAIN)  # ... so these bytes are not a whole response
    assert run.errors["protocol"] == 1
    assert transport.aborted


def test_connection_close_ends_the_connection_without_an_error() -> None:
    closing = PLAIN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    run, protocol, transport = connected(pipeline=3)
    feed(protocol, closing + b"ignored")
    assert run.responses == 1
    assert not transport.is_closing()  # the server closes first: TIME_WAIT stays there
    assert run.unanswered == 2  # the server will not answer the rest of the batch
    assert protocol.pending == 0
    assert protocol.eof_received() is None  # then asyncio closes the transport
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert len(transport.writes) == 1


def test_http_10_without_keep_alive_closes() -> None:
    run, protocol, transport = connected()
    feed(protocol, b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
    assert not transport.is_closing()
    assert protocol.closing
    assert protocol.pending == 0
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert run.responses == 1


def test_body_until_the_server_closes() -> None:
    run, protocol, _transport = connected()
    feed(protocol, b"HTTP/1.1 200 OK\r\n\r\nsome", b" body")
    assert run.responses == 0
    assert protocol.eof_received() is None
    assert run.responses == 1
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS


def test_server_closing_mid_response_is_a_read_error() -> None:
    run, protocol, _transport = connected()
    feed(protocol, PLAIN[:30])
    protocol.connection_lost(None)
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.last_error == "connection closed by the server"
    assert run.unanswered == 1


def test_server_closing_mid_response_it_said_it_would_close_after_is_a_read_error() -> None:
    closing = PLAIN.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    run, protocol, _transport = connected()
    feed(protocol, closing[:-3])
    protocol.connection_lost(None)
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.responses == 0


def test_server_closing_with_responses_due_is_a_read_error() -> None:
    run, protocol, _transport = connected(pipeline=2)
    feed(protocol, PLAIN)
    protocol.connection_lost(ConnectionResetError(104, "Connection reset by peer"))
    assert run.errors == {**NO_ERRORS, "read": 1}
    assert run.responses == 1


def test_broken_pipe_is_a_write_error() -> None:
    run, protocol, _transport = connected()
    protocol.connection_lost(BrokenPipeError(32, "Broken pipe"))
    assert run.errors == {**NO_ERRORS, "write": 1}


def test_at_the_end_of_the_run_the_connection_closes_once_answered() -> None:
    run, protocol, transport = connected(pipeline=2)
    run.sending = False
    feed(protocol, PLAIN)
    assert not transport.is_closing()
    feed(protocol, PLAIN)
    assert transport.is_closing()
    assert len(transport.writes) == 1
    protocol.connection_lost(None)
    assert run.errors == NO_ERRORS
    assert run.unanswered == 0


@pytest.mark.parametrize(
    "response",
    [
        b"garbage\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX0\r\n\r\n",
        PLAIN + PLAIN,  # one request sent, two responses back
        b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD + 1),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 70_000,
    ],
)
def test_unparseable_is_a_protocol_error(response: bytes) -> None:
    run, protocol, transport = connected()
    feed(protocol, response)
    assert run.errors == {**NO_ERRORS, "protocol": 1}, run.last_error
    assert run.last_error.startswith("malformed response: ")
    assert transport.aborted
    feed(protocol, PLAIN)  # ignored: the connection is being dropped
    protocol.connection_lost(None)
    assert run.errors["protocol"] == 1
    assert sum(run.errors.values()) == 1


def test_parse_head() -> None:
    assert parse_head(PLAIN.split(b"\r\n\r\n")[0]) == (b"200", 13, False)
    assert parse_head(b"HTTP/1.1 404 Not Found\r\nconnection: Close") == (b"404", UNTIL_CLOSE, True)
    assert parse_head(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked") == (b"200", CHUNKED, False)
    assert parse_head(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip") == (b"200", UNTIL_CLOSE, True)
    assert parse_head(b"HTTP/1.1 100 Continue") == (b"100", INTERIM, False)
    assert parse_head(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5") == (b"200", 5, False)
    assert parse_head(b"HTTP/1.0 200 OK\r\nContent-Length: 5") == (b"200", 5, True)
    assert parse_head(b"HTTP/1.1 204 No Content") == (b"204", 0, False)
    for bad in (b"", b"HTTP/1.1 20", b"HTTP/1.1  200 OK", b"HTTP/1.1 200X", b"HTTP/1.1 099 X"):
        with pytest.raises(ValueError, match=r"."):
            parse_head(bad)


def test_echo_counts_a_message_when_all_its_bytes_are_back() -> None:
    message = b"x" * ECHO_MESSAGE_SIZE
    run = Run("127.0.0.1", 80, message, pipeline=2, tcp=True)
    protocol = EchoClientConnection(run)
    transport = FakeTransport()
    protocol.connection_made(transport)
    assert transport.writes == [message * 2]
    assert len(protocol.get_buffer(-1)) >= 2 * ECHO_MESSAGE_SIZE
    protocol.buffer_updated(1000)
    assert run.responses == 0
    protocol.buffer_updated(2 * ECHO_MESSAGE_SIZE - 1000)
    assert run.responses == 2
    assert len(transport.writes) == 2
    protocol.buffer_updated(2 * ECHO_MESSAGE_SIZE + 1)  # more than was sent
    assert run.errors == {**NO_ERRORS, "protocol": 1}
    assert transport.aborted
