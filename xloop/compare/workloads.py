"""What ``xloop compare`` asks of each server: the workloads.

Every HTTP workload is one request, sent again and again on keep-alive connections;
its bytes are built once (:func:`request_bytes`). ``echo`` is not HTTP: a raw TCP echo
server on the loop under test (:mod:`xloop.compare.echo`) and a client that sends a
message and waits for it to come back, so it shows the loop's own ceiling.

``io`` is an HTTP request whose app awaits a 10 ms timer before answering, with many
connections in flight: the loop's timers and scheduling. ``c10k`` holds thousands of
keep-alive connections open (``--c10k-connections``) while a few requests at a time rotate
over them: what every registered socket costs the loop (select() collapses, poll() slows).
``websocket`` echoes small messages, text and binary in turn, over WebSocket connections
(the server's ``--ws`` engine, one row per engine): the client sends one, waits for the
echo, sends the next.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass

__all__ = [
    "C10K_CONNECTIONS",
    "UPLOAD_SIZE",
    "WORKLOADS",
    "WS_MESSAGES",
    "WS_PATH",
    "Workload",
    "get",
    "request_bytes",
]

UPLOAD_SIZE = 1 << 20
"""The body ``upload`` POSTs: 1 MiB."""

ECHO_MESSAGE_SIZE = 1024
"""The message ``echo`` sends and waits for."""

DEFAULT_CONNECTIONS = 64
"""Connections in flight, unless the workload or ``--connections`` says otherwise."""

C10K_CONNECTIONS = 2000
"""Connections ``c10k`` holds open by default (``--c10k-connections``)."""

IO_SLEEP_MS = 10
"""What the ``io`` app awaits before it answers."""

WS_PATH = "/ws"
"""The demo app's WebSocket echo route."""

WS_MESSAGES = ("Hello, WebSocket! " * 2, b"\x00\x01binary\xfe\xff" * 3)
"""What ``websocket`` sends, in turn: a 36-character text and a 30-byte binary message."""


@dataclass(frozen=True)
class Workload:
    name: str
    kind: str
    """``http`` or ``websocket`` (served by ``xloop serve``), or ``tcp`` (the raw echo
    server)."""
    method: str
    path: str
    """The default target; ``--path`` replaces it for an app with other routes."""
    body_size: int
    description: str
    connections: int = DEFAULT_CONNECTIONS
    """Connections in flight when ``--connections`` is not given."""


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload("plaintext", "http", "GET", "/", 0, "GET of a 13-byte text/plain body"),
        Workload("json", "http", "GET", "/json", 0, "GET of a small JSON document"),
        Workload("upload", "http", "POST", "/upload", UPLOAD_SIZE, "POST of 1 MiB, small reply"),
        Workload(
            "stream",
            "http",
            "GET",
            "/stream?chunks=16&size=4096",
            0,
            "GET of a chunked 64 KiB response in 16 chunks",
        ),
        Workload(
            "echo",
            "tcp",
            "",
            "",
            ECHO_MESSAGE_SIZE,
            "raw TCP echo of 1 KiB messages, no HTTP: the loop's ceiling",
        ),
        Workload(
            "websocket",
            "websocket",
            "GET",
            WS_PATH,
            0,
            "WebSocket echo of small text and binary messages in turn",
        ),
        Workload(
            "io",
            "http",
            "GET",
            f"/sleep?ms={IO_SLEEP_MS}",
            0,
            f"GET whose app awaits a {IO_SLEEP_MS} ms timer, 256 connections in flight",
            connections=256,
        ),
        Workload(
            "c10k",
            "http",
            "GET",
            "/",
            0,
            "plaintext GETs, 16 at a time, rotating over thousands of idle keep-alive connections",
            connections=16,
        ),
    )
}
"""The workloads by name, in the order they are listed and run."""


def handshake_request(head: str, key: bytes) -> bytes:
    """A WebSocket opening handshake (RFC 6455 section 4.1) after ``head`` (its request
    line and Host), offering no extension."""
    return (
        head.encode("ascii")
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
        + b"Sec-WebSocket-Key: "
        + key
        + b"\r\n\r\n"
    )


def get(name: str) -> Workload:
    """The workload called ``name``; KeyError if there is none."""
    return WORKLOADS[name]


def request_bytes(workload: Workload, host: str, port: int, path: str | None = None) -> bytes:
    """The bytes of one request of ``workload`` (for ``tcp``: one echo message; for
    ``websocket``: an opening handshake, with a fresh key)."""
    if workload.kind == "tcp":
        return b"x" * workload.body_size
    target = path or workload.path
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = f"{workload.method} {target} HTTP/1.1\r\nHost: {authority}\r\n"
    if workload.kind == "websocket":
        return handshake_request(head, base64.b64encode(os.urandom(16)))
    if workload.body_size:
        head += (
            f"Content-Type: application/octet-stream\r\nContent-Length: {workload.body_size}\r\n"
        )
    return head.encode("ascii") + b"\r\n" + b"u" * workload.body_size
