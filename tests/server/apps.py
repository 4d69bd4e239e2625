"""ASGI apps the server tests run, and helpers for the apps a test writes itself."""

from __future__ import annotations

import asyncio
import json
import queue
import threading
from typing import Any

from xloop.types import Receive, Scope, Send

from .harness import TIMEOUT


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    """The seed's hello world (raises on lifespan: served without it under auto)."""
    assert scope["type"] == "http"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [[b"content-type", b"text/plain"]],
        }
    )
    await send({"type": "http.response.body", "body": b"Hello, world!"})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    """Reads the whole body, answers with it and the path, in one message."""
    if scope["type"] != "http":
        return
    chunks = []
    while True:
        message = await receive()
        assert message["type"] == "http.request", message
        chunks.append(message["body"])
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"x-path", scope["path"].encode()), (b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def scope_json(scope: Scope, receive: Receive, send: Send) -> None:
    """Answers with the scope as JSON."""
    if scope["type"] != "http":
        return

    def plain(value: Any) -> Any:
        if isinstance(value, bytes):
            return value.decode("latin-1")
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        return value

    body = json.dumps(plain(dict(scope))).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Recorder:
    """An app that records every message it receives; optionally waits before answering."""

    def __init__(self, *, read_body: bool = True, respond: bool = True) -> None:
        self.read_body = read_body
        self.respond = respond
        self.calls = 0
        self.messages: queue.Queue[dict[str, Any]] = queue.Queue()
        self.release = threading.Event()
        self.wait_for_release = False
        self.started = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        self.calls += 1
        self.started.set()
        if self.read_body:
            while True:
                message = await receive()
                self.messages.put(dict(message))
                if message["type"] == "http.disconnect" or not message.get("more_body"):
                    break
        if self.wait_for_release and scope["path"] != "/fast":
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, self.release.wait, 10.0)
        if self.respond:
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})


async def read_body(receive: Receive) -> bytes:
    """The whole request body, for an app (raises if the client disconnects first)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RuntimeError("disconnected")
        chunks.append(message["body"])
        if not message.get("more_body", False):
            return b"".join(chunks)


async def wait_until(predicate: Any, limit: float = TIMEOUT) -> None:
    """Poll a server-side condition from inside the app (bounded)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.001)
