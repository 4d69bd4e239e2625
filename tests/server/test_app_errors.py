"""What the client sees, and what is logged, when the app misbehaves."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from .client import Reader, get
from .harness import Backend, serving

Send = Any


def _tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info and r.name.startswith("xloop")]


def test_exception_before_the_response_gives_500_and_one_traceback(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        assert scope["type"] == "http"
        raise ValueError("boom")

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 500
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
    records = _tracebacks(caplog)
    assert len(records) == 1
    assert "Exception in ASGI application" in records[0].getMessage()


def test_exception_after_the_response_started_closes_the_connection(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise ValueError("boom")

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        head = reader.head()
        assert head.status == 200
        assert head.header(b"transfer-encoding") == b"chunked"
        sizes = []
        try:  # the chunked body never terminates: the connection closes mid-body
            while True:
                sizes.append(int(reader._line(), 16))
                reader._exact(sizes[-1] + 2)
        except EOFError:
            pass
        assert 0 not in sizes, "a truncated response must not look complete"
        assert sizes[:1] == [7]
    assert len(_tracebacks(caplog)) == 1


@pytest.mark.parametrize("mode", ["nothing", "start-only", "value"])
def test_app_returning_without_a_complete_response(
    backend: Backend, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> Any:
        assert scope["type"] == "http"
        if mode == "start-only":
            await send({"type": "http.response.start", "status": 200, "headers": []})
        if mode == "value":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
            return 42
        return None

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        response = reader.response()
        if mode == "value":
            assert response.status == 200
        else:
            assert response.status == 500
            assert reader.at_eof()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "ASGI callable returned" in errors[0]


def test_wrong_message_order_is_an_app_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        assert scope["type"] == "http"
        await send({"type": "http.response.body", "body": b"no start"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        assert Reader(sock).response().status == 500
    assert "http.response.start" in str(_tracebacks(caplog)[0].exc_info)


def test_content_length_mismatch_never_sends_a_wrong_response(backend: Backend) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        assert scope["type"] == "http"
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"too long"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        assert reader.response().status == 500
        assert reader.at_eof()
