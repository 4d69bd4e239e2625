"""Benchmark applications, as plain ASGI 3 callables.

The HTTP apps only speak ``http``, the WebSocket ones only ``websocket``: they raise
``AssertionError`` on any other scope (notably ``lifespan``), so servers running with
``lifespan=auto`` (the default of both xloop and uvicorn) detect that and skip the
lifespan protocol.

Use them as ``benchmarks.apps:hello`` or ``benchmarks.apps:json_app`` with the
repository root on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

# Local aliases (same shapes as xloop.types) so the apps do not depend on xloop.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

__all__ = ["hello", "json_app", "ws_echo", "ws_idle"]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """The seed hello world: ``200 text/plain``, no content-length."""
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [[b"content-type", b"text/plain"]],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


_JSON_BODY = json.dumps({"message": "Hello, world!"}, separators=(",", ":")).encode("ascii")
_JSON_HEADERS = [
    [b"content-type", b"application/json"],
    [b"content-length", str(len(_JSON_BODY)).encode("ascii")],
]


async def json_app(scope: Scope, receive: Receive, send: Send) -> None:
    """A small JSON body with ``content-type: application/json`` and a content-length."""
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": _JSON_HEADERS})
    await send({"type": "http.response.body", "body": _JSON_BODY})


async def ws_echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept and echo every message back (what Autobahn's fuzzing client expects)."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message.get("bytes") or b""})


async def ws_idle(scope: Scope, receive: Receive, send: Send) -> None:
    """Accept, then wait for the disconnect: an idle open WebSocket (memory per socket)."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    while (await receive())["type"] != "websocket.disconnect":
        pass
