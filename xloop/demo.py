"""The built-in demo app (``xloop.demo:app``), served by ``xloop serve`` without APP.

Routes:

- ``GET /`` and ``GET /plaintext``: ``Hello, world!`` as text/plain (TechEmpower style)
- ``GET /json``: ``{"message": "Hello, world!"}``
- ``POST /echo``: the request body back, streamed as it is read
- ``POST /upload``: reads the whole body, replies with its size in bytes (text/plain)
- ``GET /stream?chunks=N&size=S``: N chunks of S bytes, chunked transfer encoding
- ``GET /info``: the scope xloop built for this request, as JSON
- ``GET /sleep?ms=N``: ``Hello, world!`` after awaiting an N ms timer (``asyncio.sleep``)
- WebSocket ``/ws``: every message echoed back, text as text, bytes as bytes; ``GET /ws``
  as plain HTTP (a server without WebSocket support hands the upgrade to the app) gets
  426 saying so

It supports the lifespan protocol and marks its lifespan state (``state["demo"]``).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from .types import Receive, Scope, Send

__all__ = ["app"]

_PLAIN = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"13")]
_HELLO = b"Hello, world!"
_JSON_BODY = json.dumps({"message": "Hello, world!"}).encode()
_NO_WEBSOCKET = (
    b"/ws is a WebSocket route; this request came as plain HTTP (a server without WebSocket "
    b"support, e.g. xloop serve --ws none, hands upgrades to the app)"
)
_JSON = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_JSON_BODY))]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Route a request of the demo app."""
    kind = scope["type"]
    if kind == "lifespan":
        await _lifespan(scope, receive, send)
        return
    if kind == "websocket":
        await _websocket(scope, receive, send)
        return
    if kind != "http":
        raise RuntimeError(f"the demo app serves http and websocket, not {kind!r}")
    path = scope["path"]
    method = scope["method"]
    if path in ("/", "/plaintext") and method in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 200, "headers": _PLAIN})
        await send({"type": "http.response.body", "body": _HELLO})
    elif path == "/json" and method in ("GET", "HEAD"):
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": _JSON_BODY})
    elif path == "/echo" and method in ("POST", "PUT"):
        await _echo(scope, receive, send)
    elif path == "/upload" and method in ("POST", "PUT"):
        await _upload(receive, send)
    elif path == "/stream" and method in ("GET", "HEAD"):
        await _stream(scope, send)
    elif path == "/info" and method == "GET":
        await _info(scope, send)
    elif path == "/sleep" and method in ("GET", "HEAD"):
        await _sleep(scope, send)
    elif path == "/ws":
        await _text(send, 426, _NO_WEBSOCKET)
    else:
        await _text(send, 404, b"Not Found")


async def _text(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"text/plain; charset=utf-8")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    content_type = b"application/octet-stream"
    for name, value in scope["headers"]:
        if name == b"content-type":
            content_type = value
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", content_type)]}
    )
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return
        more = message.get("more_body", False)
        await send(
            {"type": "http.response.body", "body": message.get("body", b""), "more_body": True}
        )
    await send({"type": "http.response.body", "body": b""})


async def _upload(receive: Receive, send: Send) -> None:
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    await _text(send, 200, b"%d" % size)


async def _stream(scope: Scope, send: Send) -> None:
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        chunks = min(int(query.get("chunks", ["10"])[0]), 100_000)
        size = min(int(query.get("size", ["1024"])[0]), 1 << 20)
    except ValueError:
        await _text(send, 400, b"chunks and size must be integers")
        return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/octet-stream")],
        }
    )
    block = b"x" * size
    for _ in range(chunks):
        await send({"type": "http.response.body", "body": block, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def _sleep(scope: Scope, send: Send) -> None:
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        ms = min(max(int(query.get("ms", ["10"])[0]), 0), 60_000)
    except ValueError:
        await _text(send, 400, b"ms must be an integer")
        return
    await asyncio.sleep(ms / 1000)
    await send({"type": "http.response.start", "status": 200, "headers": _PLAIN})
    await send({"type": "http.response.body", "body": _HELLO})


async def _websocket(scope: Scope, receive: Receive, send: Send) -> None:
    message = await receive()  # websocket.connect
    if message["type"] != "websocket.connect":
        return
    if scope["path"] != "/ws":
        await send({"type": "websocket.close", "code": 1008})  # 403: no such route
        return
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return
        text = message.get("text")
        if text is not None:
            await send({"type": "websocket.send", "text": text})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def _info(scope: Scope, send: Send) -> None:
    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("latin-1")
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items() if key != "state"}
        return value

    body = json.dumps(plain(dict(scope)), indent=2).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _lifespan(scope: Scope, receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            scope.get("state", {})["demo"] = True
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
