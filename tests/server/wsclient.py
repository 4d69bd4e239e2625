"""A blocking WebSocket client for tests over a real socket: websockets' sans-IO
``ClientProtocol`` does the framing; the test decides what is sent, raw bytes included,
and whether pings are answered."""

from __future__ import annotations

import socket
from typing import Any

from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import State
from websockets.uri import parse_uri

from .harness import TIMEOUT


class RawWebSocket:
    """One client connection: ``open`` does the handshake; ``next_frame`` reads."""

    def __init__(self, port: int, path: str = "/", *, deflate: bool = False, **options: Any):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.sock.settimeout(TIMEOUT)
        extensions = [ClientPerMessageDeflateFactory()] if deflate else None
        self.protocol = ClientProtocol(
            parse_uri(f"ws://127.0.0.1:{port}{path}"),
            extensions=extensions,
            max_size=None,
            **options,
        )
        self.response: Response | None = None
        #: False: pings are read but never answered (a client gone quiet).
        self.answer_pings = True
        self.eof = False
        self._frames: list[Frame] = []

    def __enter__(self) -> RawWebSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def handshake(self, *, extra: bytes = b"", headers: dict[str, str] | None = None) -> Response:
        """Send the opening handshake (and ``extra`` bytes in the same write); return the
        server's response."""
        request = self.protocol.connect()
        for name, value in (headers or {}).items():
            request.headers[name] = value
        self.protocol.send_request(request)
        self.sock.sendall(b"".join(self.protocol.data_to_send()) + extra)
        while self.response is None:
            if not self._read():
                raise EOFError("connection closed before a handshake response")
        return self.response

    def send(self, data: str | bytes) -> None:
        if isinstance(data, str):
            self.protocol.send_text(data.encode())
        else:
            self.protocol.send_binary(data)
        self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        self.protocol.send_close(code, reason)
        self._flush()

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.sock.sendall(data)

    def _read(self) -> bool:
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if data:
            self.protocol.receive_data(data)
        else:
            self.eof = True
            self.protocol.receive_eof()
        for event in self.protocol.events_received():
            if isinstance(event, Response):
                self.response = event
            elif isinstance(event, Frame):
                self._frames.append(event)
        out = self.protocol.data_to_send()  # pongs, the echo of a close frame
        if self.answer_pings:
            for chunk in out:
                if chunk:
                    try:
                        self.sock.sendall(chunk)
                    except OSError:
                        pass
        return bool(data)

    def next_frame(self) -> Frame | None:
        """The next frame from the server (pings included); None at EOF."""
        while not self._frames:
            if self.eof or not self._read():
                return None
        return self._frames.pop(0)

    def next_message(self) -> str | bytes:
        """The next data message (pings skipped); AssertionError for anything else."""
        parts: list[bytes] = []
        text = False
        while True:
            frame = self.next_frame()
            assert frame is not None, "EOF instead of a message"
            if frame.opcode in (Opcode.PING, Opcode.PONG):
                continue
            assert frame.opcode in (Opcode.TEXT, Opcode.BINARY, Opcode.CONT), frame
            if frame.opcode is Opcode.TEXT:
                text = True
            parts.append(bytes(frame.data))
            if frame.fin:
                data = b"".join(parts)
                return data.decode() if text else data

    def close_frame(self) -> tuple[int, str]:
        """Read up to the server's close frame: its code and reason (data skipped)."""
        while True:
            frame = self.next_frame()
            assert frame is not None, "EOF before a close frame"
            if frame.opcode is Opcode.CLOSE:
                received = self.protocol.close_rcvd
                assert received is not None
                return received.code, received.reason

    def wait_eof(self) -> None:
        """Read (and drop) until the server ends the TCP connection."""
        while self.next_frame() is not None:
            pass

    @property
    def open(self) -> bool:
        return self.protocol.state is State.OPEN
