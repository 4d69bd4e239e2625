"""What the client sees, and what is logged, when the app misbehaves."""

from __future__ import annotations

import gc
import logging
from typing import Any

import pytest

from .apps import echo, read_body
from .client import POST_HEAD, Reader, get
from .harness import Backend, serving, status_when_alone

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


STAGES = ["before-receive", "after-receive", "after-start", "mid-stream", "after-response"]


@pytest.mark.parametrize("stage", STAGES)
def test_exception_at_each_stage_of_the_request(
    backend: Backend, stage: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/next":
            await echo(scope, receive, send)
            return
        if stage == "before-receive":
            raise ValueError(stage)
        await read_body(receive)
        if stage == "after-receive":
            raise ValueError(stage)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if stage == "after-start":
            raise ValueError(stage)
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        if stage == "mid-stream":
            raise ValueError(stage)
        await send({"type": "http.response.body", "body": b""})
        raise ValueError(stage)

    with serving(app, backend, limit_concurrency=1) as server:
        with server.connect() as sock:
            sock.sendall((POST_HEAD % 4) + b"data")
            reader = Reader(sock)
            if stage == "mid-stream":
                head = reader.head()
                assert head.status == 200
                rest = reader.read_until_eof()
                assert not rest.endswith(b"0\r\n\r\n"), "a truncated body must not look complete"
            else:
                response = reader.response()
                if stage == "after-response":
                    assert (response.status, response.body) == (200, b"part")
                    sock.sendall(get("/next"))
                    assert reader.response().status == 200  # the connection goes on
                else:
                    assert response.status == 500
                    assert reader.at_eof()
        # limit_concurrency=1: a leaked request count would turn this into a 503.
        assert status_when_alone(server) == 200
    assert len(_tracebacks(caplog)) == 1


def test_exception_mid_stream_does_not_run_the_next_pipelined_request(backend: Backend) -> None:
    """After a response is cut short the connection closes: what was pipelined behind it
    must not reach the app (a POST would run and its client never learn it did)."""
    ran: list[str] = []

    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        if scope["path"] == "/fail":
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"part", "more_body": True})
            raise ValueError("boom")
        ran.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(
            get("/fail") + b"POST /charge HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nok"
        )
        reader = Reader(sock)
        assert reader.head().status == 200
        rest = reader.read_until_eof()
        assert b"done" not in rest
    assert ran == []


def test_exception_mid_stream_leaves_no_unhandled_task_error(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """The cut-short response must not make the server's own bookkeeping raise."""

    async def app(scope: dict[str, Any], receive: Any, send: Send) -> None:
        if scope["type"] != "http":
            raise RuntimeError("no lifespan")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"part", "more_body": True})
        raise ValueError("boom")

    with serving(app, backend) as server, server.connect() as sock:
        sock.sendall(get())
        reader = Reader(sock)
        assert reader.head().status == 200
        reader.read_until_eof()
    gc.collect()  # a failed task that nobody awaited reports itself when collected
    unexpected = [
        r for r in caplog.records if r.exc_info and "Exception in ASGI application" not in r.msg
    ]
    assert unexpected == [], [r.getMessage() for r in unexpected]
