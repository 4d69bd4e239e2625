"""The load client's WebSocket connections: a real opening handshake, then masked client
frames (RFC 6455), one message at a time, text and binary in turn, each awaiting its echo.

A small framer of its own rather than wsproto's client: per message wsproto's
``send`` plus ``receive_data`` and its event iteration cost several times what building one
masked frame and comparing the echo to the bytes expected costs, and the client must stay
far from being what sets the pace (``benchmarks/ws_client_cost.py`` measures both).

Each frame gets a fresh masking key from ``os.urandom`` (section 5.3). The echo of a
message is known in advance (an unmasked frame with the same payload), so the fast path
compares a read with it; anything else goes through the general reader: fragmented
messages, pings (answered with a pong), the server's close (answered, and an error while a
message is due).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
from time import perf_counter_ns
from typing import Final, cast

from ..histogram import LAST, LINEAR, SUB_BITS
from .connection import BaseConnection, Run, set_nodelay
from .framing import MAX_HEAD, Violation

__all__ = [
    "ACCEPT_GUID",
    "MASKS",
    "Outgoing",
    "WebSocketClientConnection",
    "accept_value",
    "client_frame",
    "server_frame",
]

ACCEPT_GUID: Final = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

_SHIFT_BIAS = SUB_BITS + 1
_TEXT = 0x1
_BINARY = 0x2
_CLOSE = 0x8
_PING = 0x9
_PONG = 0xA


def accept_value(key: bytes) -> bytes:
    """The ``Sec-WebSocket-Accept`` a server must answer ``key`` with."""
    return base64.b64encode(hashlib.sha1(key + ACCEPT_GUID).digest())


def client_frame(opcode: int, payload: bytes, mask: bytes) -> bytes:
    """One whole (FIN) client frame of ``payload``, masked with the 4 bytes ``mask``."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    if not n:
        return head + mask
    key = int.from_bytes((mask * (n // 4 + 1))[:n], "big")
    return head + mask + (int.from_bytes(payload, "big") ^ key).to_bytes(n, "big")


class Outgoing:
    """One message the client sends again and again, with what can be computed once:
    its frame head, its payload as an int, and the echo expected back."""

    __slots__ = ("echo", "head", "n", "opcode", "payload", "repeat", "shift", "value")

    def __init__(self, opcode: int, payload: bytes) -> None:
        n = self.n = len(payload)
        self.opcode = opcode
        self.payload = payload
        self.head = client_frame(opcode, payload, b"\0\0\0\0")[: -4 - n]
        self.value = int.from_bytes(payload, "big")
        words = (n + 3) // 4
        # mask * repeat >> shift: the 4-byte key repeated over n bytes, as an int
        self.repeat = sum(1 << (32 * k) for k in range(words))
        self.shift = 8 * (4 * words - n)
        self.echo = server_frame(opcode, payload)

    def frame(self, mask: bytes) -> bytes:
        """The masked frame, with ``mask`` as its key (section 5.3)."""
        key = (int.from_bytes(mask, "big") * self.repeat) >> self.shift
        return self.head + mask + (self.value ^ key).to_bytes(self.n, "big")


class MaskPool:
    """Fresh masking keys from ``os.urandom``, drawn 1024 at a time (one system call per
    1024 frames, each key used once)."""

    __slots__ = ("at", "pool")

    def __init__(self) -> None:
        self.pool = b""
        self.at = 0

    def next(self) -> bytes:
        at = self.at
        if at >= len(self.pool):
            self.pool, at = os.urandom(4096), 0
        self.at = at + 4
        return self.pool[at : at + 4]


MASKS = MaskPool()


def server_frame(opcode: int, payload: bytes) -> bytes:
    """What the server's echo of ``payload`` looks like: one unmasked FIN frame."""
    n = len(payload)
    if n < 126:
        return bytes((0x80 | opcode, n)) + payload
    if n < 65536:
        return bytes((0x80 | opcode, 126)) + n.to_bytes(2, "big") + payload
    return bytes((0x80 | opcode, 127)) + n.to_bytes(8, "big") + payload


class WebSocketClientConnection(BaseConnection, asyncio.Protocol):
    """One WebSocket: handshake, then send a message, await its echo, send the next."""

    __slots__ = (
        "buf",
        "expected",
        "fragments",
        "key",
        "messages",
        "opened",
        "turn",
        "upgraded",
    )

    def __init__(self, run: Run, messages: list[Outgoing]) -> None:
        super().__init__(run)
        self.messages = messages
        """The messages sent in turn."""
        self.turn = 0
        self.expected = b""
        """The echo the message in flight should come back as."""
        self.buf = b""
        self.fragments: list[bytes] | None = None
        self.upgraded = False
        self.key = base64.b64encode(os.urandom(16))
        self.opened: asyncio.Future[None] | None = None
        """Done once the handshake is (exception: why it failed)."""

    # -- handshake -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = tcp = cast("asyncio.Transport", transport)
        set_nodelay(tcp)
        run = self.run
        run.connections.add(self)
        if not run.sending:
            self.closing = True
            tcp.close()
            return
        self.close_after = True  # for Run.watch: the 101 is due
        tcp.write(run.handshake(self.key))

    def _handshake(self, data: bytes) -> None:
        data = self.buf + data
        end = data.find(b"\r\n\r\n")
        if end < 0:
            if len(data) > MAX_HEAD:
                self._refused("no end of the handshake response head")
            self.buf = data
            return
        head, rest = data[:end], data[end + 4 :]
        self.buf = b""
        status_line, _, fields = head.partition(b"\r\n")
        if status_line[9:12] != b"101":
            said = rest[:200].decode("utf-8", "replace").strip()
            line = status_line.decode("latin-1")
            self._refused(f"the server refused the WebSocket handshake: {line}" + (
                f": {said}" if said else ""
            ))  # fmt: skip
            return
        accept = b""
        for item in fields.split(b"\r\n"):
            name, _, value = item.partition(b":")
            if name.strip().lower() == b"sec-websocket-accept":
                accept = value.strip()
        if accept != accept_value(self.key):
            self._refused(f"wrong Sec-WebSocket-Accept {accept[:40]!r}")
            return
        self.upgraded = True
        self.close_after = False
        opened = self.opened
        if opened is not None and not opened.done():
            opened.set_result(None)
        if self.run.sending:
            self.send(perf_counter_ns())
        if rest:
            self.data_received(rest)

    def _refused(self, reason: str) -> None:
        opened = self.opened
        if opened is None or opened.done():
            self.fail("protocol", reason)
            return
        opened.set_exception(Violation(reason))  # Run.connect counts it, once
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        opened = self.opened
        if opened is not None and not opened.done():
            why = "connection closed during the WebSocket handshake"
            opened.set_exception(exc or ConnectionResetError(why))
        super().connection_lost(exc)

    # -- messages ------------------------------------------------------------------------

    def send(self, now: int) -> None:
        message = self.messages[self.turn]
        self.turn = (self.turn + 1) % len(self.messages)
        self.expected = message.echo
        self.pending = 1
        self.sent_at = now
        self.transport.write(message.frame(MASKS.next()))  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        self.reads += 1
        self.run.bytes_received += len(data)
        if self.closing and not self.close_after:
            return
        if not self.upgraded:
            self._handshake(data)
            return
        if data == self.expected and not self.buf and self.pending:
            self._echoed()  # the fast path: the read is exactly the echo
            return
        try:
            self._frames(self.buf + data)
        except Violation as exc:
            self.fail("protocol", f"malformed WebSocket frame: {exc}")

    def _frames(self, data: bytes) -> None:
        """The general reader: every whole frame in ``data``, the rest kept."""
        pos, n = 0, len(data)
        while n - pos >= 2:
            first, second = data[pos], data[pos + 1]
            if second & 0x80:
                raise Violation("a masked frame from the server")
            length, at = second & 0x7F, pos + 2
            if length == 126:
                if n - at < 2:
                    break
                length, at = int.from_bytes(data[at : at + 2], "big"), at + 2
            elif length == 127:
                if n - at < 8:
                    break
                length, at = int.from_bytes(data[at : at + 8], "big"), at + 8
            if n - at < length:
                break
            payload = data[at : at + length]
            pos = at + length
            self._frame(first, payload)
            if self.closing and not self.close_after:
                return
        self.buf = data[pos:]

    def _frame(self, first: int, payload: bytes) -> None:
        opcode, fin = first & 0x0F, first & 0x80
        if first & 0x70:
            raise Violation(f"reserved bits {first & 0x70:#x}")
        if opcode == _PING:
            self.transport.write(client_frame(_PONG, payload, MASKS.next()))  # type: ignore[union-attr]
        elif opcode == _PONG:
            pass
        elif opcode == _CLOSE:
            self._server_closed(payload)
        elif opcode in (_TEXT, _BINARY, 0):
            if (opcode == 0) == (self.fragments is None):
                raise Violation("a continuation frame out of place")
            if not fin:
                self.fragments = [*(self.fragments or []), payload]
                if opcode:
                    self.fragments.insert(0, bytes((0x80 | opcode,)))
                return
            if self.fragments is not None:  # the last fragment: compare the whole message
                first_byte, *parts = self.fragments
                self.fragments = None
                opcode, payload = first_byte[0] & 0x0F, b"".join([*parts, payload])
            if not self.pending:
                raise Violation("a message nobody asked for")
            if server_frame(opcode, payload) != self.expected:
                raise Violation(f"the echo differs from the message: {payload[:40]!r}")
            self._echoed()
        else:
            raise Violation(f"reserved opcode {opcode:#x}")

    def _echoed(self) -> None:
        """The echo of the message in flight came back: count it, send the next."""
        now = perf_counter_ns()
        latency = now - self.sent_at
        run = self.run
        if latency < LINEAR:
            run.counts[latency] += 1
        else:
            shift = latency.bit_length() - _SHIFT_BIAS
            index = (shift << SUB_BITS) + (latency >> shift)
            run.counts[index if index < LAST else LAST] += 1
        histogram = run.histogram
        if latency > histogram.max_ns:  # noqa: PLR1730 - cheaper than max()
            histogram.max_ns = latency
        run.responses += 1
        self.pending = 0
        if run.sending:
            self.send(now)
        else:
            self._end()

    # -- closing -------------------------------------------------------------------------

    def _server_closed(self, payload: bytes) -> None:
        code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
        if self.close_after:  # our close, answered: the server ends TCP next
            self.closing = True
            return
        reason = payload[2:].decode("utf-8", "replace")
        if self.pending:
            self.fail("read", f"the server closed the WebSocket: {code} {reason}".rstrip())
            return
        self.closing = True
        self.transport.write(client_frame(_CLOSE, payload[:2], MASKS.next()))  # type: ignore[union-attr]

    def _end(self) -> None:
        """The run is over: the closing handshake (close 1000; the server answers it and
        ends TCP; :meth:`Run.watch` aborts a connection whose server never does)."""
        self.pending = 0
        if self.closing or self.transport is None:
            return
        if not self.upgraded:
            super()._end()
            return
        self.closing = True
        self.close_after = True
        self.transport.write(client_frame(_CLOSE, (1000).to_bytes(2, "big"), MASKS.next()))

    def eof_received(self) -> bool | None:
        return None  # close
