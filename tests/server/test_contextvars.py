"""Every request runs in a context of its own (what uvicorn's ``--reset-contextvars`` turns
on): a context variable set in the lifespan, or by an earlier request on the same
connection or another, is not seen."""

from __future__ import annotations

import contextvars
from typing import Any

from .client import exchange, get
from .harness import Backend, serving

VAR: contextvars.ContextVar[str] = contextvars.ContextVar("xloop_test_var", default="unset")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                VAR.set("set in the lifespan")
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    seen = VAR.get()
    VAR.set(f"set by {scope['path']}")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": seen.encode()})


def test_no_context_leaks_between_lifespan_and_requests(backend: Backend) -> None:
    with serving(app, backend, lifespan="on") as server:
        with server.connect() as sock:
            assert exchange(sock, get("/first")).body == b"unset"
            assert exchange(sock, get("/second")).body == b"unset"  # same connection
        with server.connect() as sock:
            assert exchange(sock, get("/third")).body == b"unset"
