"""Shared helpers for the sans-IO protocol tests: adapters, feeding, a driver, a client parser."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

import h11
import pytest

from xloop.http import (
    END_OF_MESSAGE,
    Body,
    DefaultHeaders,
    Limits,
    ProtocolError,
    Request,
    connection_factory,
    httptools_available,
    zttp_available,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from xloop.http import Event, HTTPConnection

__all__ = [
    "ADAPTERS",
    "DEFAULTS",
    "LIMITS",
    "Driver",
    "Exchange",
    "ParsedResponse",
    "Summary",
    "adapter_params",
    "available",
    "feed_in_pieces",
    "make",
    "parse_response",
    "requests_of",
    "respond",
    "split_in_two",
    "summarize",
]

#: Small limits so the size cases stay small; the ordinary cases are far below them.
LIMITS: Final = Limits(max_request_line=200, max_header_bytes=600, max_header_count=10)

DEFAULTS: Final = DefaultHeaders([(b"server", b"xloop")])

_NO_HTTPTOOLS = pytest.mark.skipif(not httptools_available(), reason="httptools not installed")
_NO_ZTTP = pytest.mark.skipif(not zttp_available(), reason="zttp not installed")

#: Every parser xloop has, installed here or not.
ADAPTERS: Final = ("h11", "httptools", "zttp")


def available(name: str) -> bool:
    """Whether the parser ``name`` is installed here."""
    return {"h11": True, "httptools": httptools_available(), "zttp": zttp_available()}[name]


def adapter_params() -> list[object]:
    """``h11``, ``httptools`` and ``zttp`` as pytest params (skipped when not installed)."""
    return [
        pytest.param("h11", id="h11"),
        pytest.param("httptools", id="httptools", marks=_NO_HTTPTOOLS),
        pytest.param("zttp", id="zttp", marks=_NO_ZTTP),
    ]


def make(adapter: str, limits: Limits = LIMITS) -> HTTPConnection:
    return connection_factory(adapter, limits)()


def feed_in_pieces(conn: HTTPConnection, data: bytes, size: int) -> list[Event]:
    """Feed ``data`` in pieces of ``size`` bytes; all events, in order."""
    events: list[Event] = []
    for start in range(0, len(data), size):
        events += conn.receive_data(data[start : start + size])
    return events


def split_in_two(
    conn_factory: Callable[[], HTTPConnection], raw: bytes
) -> Iterator[tuple[int, list[Event]]]:
    """For every cut point: the events of ``raw`` fed to a fresh connection in two reads."""
    for cut in range(1, len(raw)):
        conn = conn_factory()
        yield cut, conn.receive_data(raw[:cut]) + conn.receive_data(raw[cut:])


def requests_of(events: Iterable[Event]) -> list[Request]:
    return [event for event in events if isinstance(event, Request)]


Summary = tuple[object, ...]


def summarize(events: Iterable[Event]) -> list[Summary]:
    """Events as comparable tuples; consecutive Body events merged (chunking may differ)."""
    out: list[Summary] = []
    for event in events:
        if isinstance(event, Request):
            out.append(
                (
                    "request",
                    event.method,
                    event.target,
                    event.http_version,
                    tuple(event.headers),
                    event.keep_alive,
                    event.expect_continue,
                )
            )
        elif isinstance(event, Body):
            # bytes() so that a bytearray (see test_event_field_types) compares equal here.
            if out and out[-1][0] == "body":
                previous = out[-1][1]
                assert isinstance(previous, bytes)
                out[-1] = ("body", previous + bytes(event.data))
            else:
                out.append(("body", bytes(event.data)))
        elif event is END_OF_MESSAGE:
            out.append(("end",))
        else:
            assert isinstance(event, ProtocolError)
            out.append(("error", event.status))
    return out


def respond(
    conn: HTTPConnection,
    request: Request,
    status: int = 200,
    body: bytes = b"",
    *,
    close: bool = False,
) -> bytes:
    """A complete, known-length response to ``request``."""
    conn.begin_response(request)
    data = conn.response_head(status, [], DEFAULTS, len(body), close)
    data += conn.response_body(body)
    return data + conn.response_end()


@dataclass
class Exchange:
    """One request as released by the connection, with its body."""

    request: Request
    body: bytes = b""
    complete: bool = False


@dataclass
class Driver:
    """Plays the server: collects events, answers each complete request, starts the next cycle.

    It asserts the event grammar on the way: a Body or END_OF_MESSAGE only inside a request,
    nothing after END_OF_MESSAGE in the same batch, nothing at all after a ProtocolError.
    """

    conn: HTTPConnection
    exchanges: list[Exchange] = field(default_factory=list)
    error: ProtocolError | None = None
    closed: bool = False

    def feed(self, data: bytes) -> None:
        self._handle(self.conn.receive_data(data))

    def feed_all(self, pieces: Sequence[bytes]) -> None:
        for piece in pieces:
            self.feed(piece)

    def _handle(self, events: list[Event]) -> None:
        while events:
            following: list[Event] = []
            for index, event in enumerate(events):
                assert self.error is None, f"event {event!r} after {self.error!r}"
                assert not self.closed, f"event {event!r} after the connection was done"
                current = self.exchanges[-1] if self.exchanges else None
                if isinstance(event, Request):
                    assert current is None or current.complete, "Request inside a request"
                    self.exchanges.append(Exchange(event))
                elif isinstance(event, Body):
                    assert current is not None, "Body before any Request"
                    assert not current.complete, "Body after END_OF_MESSAGE"
                    current.body += bytes(event.data)
                elif event is END_OF_MESSAGE:
                    assert current is not None, "END_OF_MESSAGE before any Request"
                    assert not current.complete, "END_OF_MESSAGE twice"
                    assert index == len(events) - 1, f"events after END_OF_MESSAGE: {events}"
                    current.complete = True
                    respond(self.conn, current.request)
                    if self.conn.keep_alive:
                        following = self.conn.start_next_cycle()
                    else:
                        self.closed = True
                else:
                    assert isinstance(event, ProtocolError)
                    assert 400 <= event.status <= 599, event
                    self.error = event
            events = following

    def outcome(self) -> list[tuple[str, bytes, str, tuple[tuple[bytes, bytes], ...], bytes, bool]]:
        return [
            (
                exchange.request.method,
                exchange.request.target,
                exchange.request.http_version,
                tuple(exchange.request.headers),
                exchange.body,
                exchange.complete,
            )
            for exchange in self.exchanges
        ]


@dataclass
class ParsedResponse:
    """A response as an independent client (h11) understood it."""

    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes
    complete: bool
    #: The client may send another request on this connection.
    reusable: bool
    informational: list[int]
    #: Bytes the client saw after the end of the response.
    trailing: bytes

    def header(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]


def parse_response(raw: bytes, *, method: bytes = b"GET", eof: bool = False) -> ParsedResponse:
    """Parse server output with h11 as a client; raises if it is not valid HTTP/1.1."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target=b"/", headers=[(b"host", b"test")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    if eof:
        client.receive_data(b"")
    informational: list[int] = []
    response: h11.Response | None = None
    body = b""
    complete = False
    while True:
        event = client.next_event()
        if event is h11.NEED_DATA or event is h11.PAUSED:
            break
        if isinstance(event, h11.InformationalResponse):
            informational.append(event.status_code)
        elif isinstance(event, h11.Response):
            response = event
        elif isinstance(event, h11.Data):
            body += bytes(event.data)
        elif isinstance(event, h11.EndOfMessage):
            complete = True
        else:
            assert isinstance(event, h11.ConnectionClosed), event
            break
    assert response is not None, f"no final response in {raw!r}"
    return ParsedResponse(
        status=response.status_code,
        headers=[(bytes(name), bytes(value)) for name, value in response.headers],
        body=body,
        complete=complete,
        reusable=complete and client.their_state is h11.DONE,
        informational=informational,
        trailing=bytes(client.trailing_data[0]),
    )
