"""The scope a request becomes, for the request-target forms and peers not covered elsewhere,
and an app that sends after its response completed. Real sockets, every loop and parser."""

from __future__ import annotations

import json
import logging
import os
import socket
import tempfile
from typing import Any

import pytest

from xloop import Config
from xloop.loops import IS_WINDOWS
from xloop.types import Receive, Scope, Send

from .apps import scope_json
from .client import Reader, exchange, get
from .harness import TIMEOUT, Backend, RunningServer, needs, serving


def scope_of(backend: Backend, raw: bytes, **options: Any) -> dict[str, Any]:
    with serving(scope_json, backend, **options) as server, server.connect() as sock:
        response = exchange(sock, raw)
    assert response.status == 200, response
    scope: dict[str, Any] = json.loads(response.body)
    return scope


def test_asterisk_form(backend: Backend) -> None:
    """``OPTIONS *`` (RFC 9112 section 3.2.4) asks about the server, not a resource."""
    scope = scope_of(backend, b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (scope["method"], scope["path"], scope["raw_path"]) == ("OPTIONS", "*", "*")
    assert scope["query_string"] == ""


def test_absolute_form_with_an_ipv6_literal(backend: Backend) -> None:
    scope = scope_of(backend, b"GET http://[2001:db8::1]:8080/v6?a=b HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (scope["path"], scope["query_string"]) == ("/v6", "a=b")


def test_forwarded_values_that_say_nothing_are_ignored(backend: Backend) -> None:
    extra = "X-Forwarded-Proto: gopher\r\nX-Forwarded-For: , \r\n"
    scope = scope_of(backend, get(extra=extra))
    assert scope["scheme"] == "http"
    assert scope["client"][0] == "127.0.0.1"


@pytest.mark.skipif(
    IS_WINDOWS, reason="--uds needs socket.AF_UNIX, which CPython does not provide on Windows"
)
def test_unix_socket_peer(backend: Backend) -> None:
    """On a Unix socket the server is the path (ASGI: ``[path, None]``), the client unknown."""
    needs(backend, "unix_sockets")
    directory = tempfile.mkdtemp(prefix="xl")
    path = os.path.join(directory, "s.sock")
    config = Config(
        app=scope_json,
        uds=path,
        loop=backend.loop,
        selector=backend.selector or "auto",
        http=backend.http,
        log_level="warning",
    )
    running = RunningServer(config).start()
    try:
        family: int = socket.AF_UNIX  # type: ignore[attr-defined,unused-ignore]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
            scope = json.loads(exchange(sock, get()).body)
    finally:
        running.stop()
        os.rmdir(directory)
    assert scope["server"] == [path, None]
    assert scope["client"] is None


def test_body_after_the_response_completed_is_an_app_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """The client has its whole response, and the connection stays usable; the extra body
    goes nowhere and is reported."""
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        try:
            await send({"type": "http.response.body", "body": b"more"})
        except RuntimeError as exc:
            errors.append(exc)
            raise

    with serving(app, backend) as server, server.connect() as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(get())
            response = reader.response()
            assert (response.status, response.body) == (200, b"done")
    assert [str(exc) for exc in errors] == 2 * ["ASGI app sent a body after the response completed"]
    logged = [r for r in caplog.records if r.exc_info and r.levelno >= logging.ERROR]
    assert [r.exc_info[1] for r in logged if r.exc_info] == errors
