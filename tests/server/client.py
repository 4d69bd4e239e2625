"""A tiny blocking HTTP/1.1 client for tests: raw bytes out, parsed responses in."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    raw_head: bytes = b""
    chunked: bool = False
    trailer: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def header_list(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]


class Reader:
    """Reads whole responses off a socket, keeping what follows for the next one."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed mid-line: {self.buffer!r}")
        index = self.buffer.index(b"\r\n")
        line = bytes(self.buffer[:index])
        del self.buffer[: index + 2]
        return line

    def _exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            if not self._fill():
                raise EOFError("connection closed mid-body")
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def head(self) -> Response:
        while b"\r\n\r\n" not in self.buffer:
            if not self._fill():
                raise EOFError(f"connection closed before a response head: {self.buffer!r}")
        index = self.buffer.index(b"\r\n\r\n")
        raw = bytes(self.buffer[:index])
        del self.buffer[: index + 4]
        lines = raw.split(b"\r\n")
        version, status, *reason = lines[0].split(b" ", 2)
        assert version == b"HTTP/1.1", lines[0]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name.strip().lower(), value.strip()))
        return Response(int(status), reason[0] if reason else b"", headers, raw_head=raw)

    def response(self, *, head_request: bool = False) -> Response:
        response = self.head()
        while 100 <= response.status < 200:
            response = self.head()
        if head_request or response.status in (204, 304):
            return response
        length = response.header(b"content-length")
        if response.header(b"transfer-encoding") == b"chunked":
            response.chunked = True
            parts = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while (line := self._line()) != b"":
                        name, _, value = line.partition(b":")
                        response.trailer.append((name.strip().lower(), value.strip()))
                    break
                parts.append(self._exact(size))
                assert self._line() == b""
            response.body = b"".join(parts)
        elif length is not None:
            response.body = self._exact(int(length))
        else:
            while self._fill():
                pass
            response.body = bytes(self.buffer)
            self.buffer.clear()
        return response

    def chunk(self) -> bytes:
        """The next chunk of a chunked body whose head :meth:`head` read; b"" for the last
        (its trailer is skipped)."""
        size = int(self._line().split(b";")[0], 16)
        if size == 0:
            while self._line() != b"":
                pass
            return b""
        data = self._exact(size)
        assert self._line() == b""
        return data

    def read_until_eof(self) -> bytes:
        """Everything (buffered or still to come) until the peer closes; a reset is a close."""
        try:
            while self._fill():
                pass
        except ConnectionResetError:
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def at_eof(self) -> bool:
        """True if the peer closed (after any buffered bytes); blocks until it decides."""
        if self.buffer:
            return False
        try:
            return not self._fill()
        except ConnectionResetError:
            return True


def exchange(sock: socket.socket, data: bytes, *, head_request: bool = False) -> Response:
    sock.sendall(data)
    return Reader(sock).response(head_request=head_request)


#: The head of a POST to ``/``: ``POST_HEAD % length``, then the body.
POST_HEAD = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: %d\r\n\r\n"


def get(path: str = "/", *, host: str = "test", extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
