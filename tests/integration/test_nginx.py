"""xloop behind a real nginx: forwarded client and scheme, upstream keep-alive, streamed
request bodies, WebSockets, and no 502 at the keep-alive boundary.

Each test runs with nginx reaching xloop over TCP (127.0.0.1, port 0) and over a UNIX
socket, with xloop in-process (tests/server/harness.py). The client nginx sees is a second
loopback address, 127.0.0.2, so a forwarded client differs from the proxy's own address.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import re
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.server.client import POST_HEAD, Reader, Response, exchange, get
from tests.server.harness import TIMEOUT, Backend, RunningServer, serving
from tests.server.wsclient import RawWebSocket
from xloop import Config
from xloop.types import Receive, Scope, Send

from ._nginx import PROXY_LOCATION, Nginx, require_nginx, running_nginx

CLIENT = "127.0.0.2"


@contextlib.contextmanager
def behind_nginx(
    app: Any,
    backend: Backend,
    transport: str,
    *,
    nginx: dict[str, Any] | None = None,
    allow_socket_path: bool = False,
    **options: Any,
) -> Iterator[tuple[RunningServer, Nginx]]:
    """xloop serving ``app`` on ``transport``, nginx in front of it (``allow_socket_path``:
    the UNIX socket's path added to --forwarded-allow-ips)."""
    require_nginx()
    directory = tempfile.mkdtemp(prefix="xl")
    upstream = ""
    try:
        if transport == "unix":
            path = os.path.join(directory, "x.sock")
            options["uds"] = path
            if allow_socket_path:
                options["forwarded_allow_ips"] = f"127.0.0.1,{path}"
            upstream = f"unix:{path}"
        with serving(app, backend, **options) as server:
            if transport == "tcp":
                upstream = f"127.0.0.1:{server.port}"
            with running_nginx(upstream, **(nginx or {})) as proxy:
                yield server, proxy
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def client_socket(proxy: Nginx) -> socket.socket:
    try:
        return proxy.connect(CLIENT)
    except OSError as exc:  # a loopback without 127.0.0.2 (not Linux)
        pytest.skip(f"cannot connect from {CLIENT}: {exc}")


def wait_for(condition: Callable[[], bool], what: str, limit: float = TIMEOUT) -> None:
    """Poll a server-side condition (bounded)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {limit}s")
        time.sleep(0.002)


def open_connections(server: RunningServer) -> int:
    state = server.server.state
    assert state is not None
    return len(state.connections)


def total_connections(server: RunningServer) -> int:
    state = server.server.state
    assert state is not None
    return state.total_connections


class ScopeApp:
    """HTTP: answers with its scope's client and scheme as JSON. WebSocket: accepts, keeps
    the scope, echoes text messages until the client leaves."""

    def __init__(self) -> None:
        self.websocket_scopes: list[dict[str, Any]] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.websocket_scopes.append(dict(scope))
            await receive()  # websocket.connect
            await send({"type": "websocket.accept"})
            while True:
                message = await receive()
                if message["type"] == "websocket.disconnect":
                    return
                await send({"type": "websocket.send", "text": message.get("text")})
        if scope["type"] != "http":
            return
        while (await receive()).get("more_body"):
            pass
        body = json.dumps({"client": scope["client"], "scheme": scope["scheme"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def trusted(transport: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(xloop options, nginx options) under which xloop takes nginx's forwarded headers.

    Over TCP xloop's default --forwarded-allow-ips (127.0.0.1) trusts nginx. A peer on a
    UNIX socket has no address, so only '*' trusts it; and '*' takes the leftmost
    X-Forwarded-For entry, so nginx must set the header to $remote_addr, not append to
    what the client sent."""
    if transport == "unix":
        return {"forwarded_allow_ips": "*"}, {"forwarded_for": "$remote_addr"}
    return {}, {}


def scope_through(proxy: Nginx, extra: str = "") -> dict[str, Any]:
    with client_socket(proxy) as sock:
        response = exchange(sock, get(extra=extra))
    assert response.status == 200, response
    result: dict[str, Any] = json.loads(response.body)
    return result


# 1. Proxy headers


def test_forwarded_client_and_scheme_from_the_trusted_proxy(
    backend: Backend, transport: str
) -> None:
    """nginx's X-Forwarded-For/-Proto become the scope's client and scheme (the proto is
    https as a TLS-terminating nginx would send it)."""
    options, nginx = trusted(transport)
    nginx["forwarded_proto"] = "https"
    with behind_nginx(ScopeApp(), backend, transport, nginx=nginx, **options) as (_, proxy):
        scope = scope_through(proxy)
    assert scope == {"client": [CLIENT, 0], "scheme": "https"}


@pytest.mark.parametrize(
    ("transport", "allow_socket_path"), [("tcp", False), ("unix", False), ("unix", True)]
)
def test_forwarded_headers_ignored_from_an_untrusted_proxy(
    backend: Backend, transport: str, allow_socket_path: bool
) -> None:
    """Over TCP with nginx not in --forwarded-allow-ips the client is nginx itself; over a
    UNIX socket the client is unknown: nothing but '*' trusts a peer without an address,
    not the socket's path in --forwarded-allow-ips either (as in uvicorn)."""
    options = {"forwarded_allow_ips": "10.0.0.1"} if transport == "tcp" else {}
    nginx = {"forwarded_proto": "https"}
    with behind_nginx(
        ScopeApp(), backend, transport, nginx=nginx, allow_socket_path=allow_socket_path, **options
    ) as (_, proxy):
        scope = scope_through(proxy)
    assert scope["scheme"] == "http"
    if transport == "tcp":
        host, port = scope["client"]
        assert host == "127.0.0.1"
        assert port != 0
    else:
        assert scope["client"] is None


FORGED = "203.0.113.9"


@pytest.mark.parametrize(
    ("transport", "allow", "forwarded_for", "client"),
    [
        # nginx appends the client's address: the rightmost untrusted entry is the client
        ("tcp", "127.0.0.1", "$proxy_add_x_forwarded_for", CLIENT),
        # ... unless that client is a trusted proxy too: then the chain names the client
        ("tcp", f"127.0.0.1,{CLIENT}", "$proxy_add_x_forwarded_for", FORGED),
        # nginx replaces the header: nothing the client sent survives
        ("tcp", "127.0.0.1", "$remote_addr", CLIENT),
        ("unix", "*", "$remote_addr", CLIENT),
        # '*' (a UNIX socket's only trust) takes the leftmost entry: appending would let
        # the client choose; why the README's UNIX socket setup has $remote_addr
        ("unix", "*", "$proxy_add_x_forwarded_for", FORGED),
    ],
)
def test_a_client_forged_forwarded_for(
    backend: Backend, transport: str, allow: str, forwarded_for: str, client: str
) -> None:
    nginx = {"forwarded_for": forwarded_for}
    with behind_nginx(ScopeApp(), backend, transport, nginx=nginx, forwarded_allow_ips=allow) as (
        _,
        proxy,
    ):
        scope = scope_through(proxy, extra=f"X-Forwarded-For: {FORGED}\r\n")
    assert scope["client"] == [client, 0]


# 2. Upstream keep-alive


@pytest.mark.parametrize(("pool", "most"), [("keepalive 4;", 4), ("", None)])
def test_upstream_connections_are_reused(
    backend: Backend, transport: str, pool: str, most: int | None
) -> None:
    """50 requests (on 5 client connections) reach xloop on at most the pool's 4
    connections; without nginx's ``keepalive`` each has its own (the count's control)."""
    nginx = {"upstream_extra": pool}
    with behind_nginx(ScopeApp(), backend, transport, nginx=nginx) as (server, proxy):
        for _ in range(5):
            with client_socket(proxy) as sock:
                for _ in range(10):
                    assert exchange(sock, get()).status == 200
        count = total_connections(server)
    if most is None:
        assert count == 50
    else:
        assert 1 <= count <= most


# 3. Streamed request bodies


class UploadApp:
    """Counts the body's http.request messages; says when the first part has arrived."""

    def __init__(self, first: int) -> None:
        self.first = first
        self.first_arrived = threading.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        sizes = []
        while True:
            message = await receive()
            assert message["type"] == "http.request", message
            sizes.append(len(message.get("body", b"")))
            if sum(sizes) >= self.first:
                self.first_arrived.set()
            if not message.get("more_body"):
                break
        body = json.dumps({"sizes": sizes}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def test_a_chunked_upload_is_streamed_to_the_app(backend: Backend, transport: str) -> None:
    """With ``proxy_request_buffering off`` the app reads the first part of a chunked
    upload while the client still holds the rest back."""
    first, rest = b"a" * 1000, [b"b" * 3000, b"c" * 500]
    app = UploadApp(len(first))
    nginx = {"location_extra": "proxy_request_buffering off;"}
    with (
        behind_nginx(app, backend, transport, nginx=nginx) as (_, proxy),
        client_socket(proxy) as sock,
    ):
        head = b"POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
        sock.sendall(head + chunk(first))
        assert app.first_arrived.wait(TIMEOUT), "the first part did not reach the app"
        sock.sendall(b"".join(chunk(part) for part in rest) + b"0\r\n\r\n")
        response = Reader(sock).response()
    assert response.status == 200, response
    sizes = json.loads(response.body)["sizes"]
    assert sum(sizes) == len(first) + sum(len(part) for part in rest)
    assert len([size for size in sizes if size]) >= 2, sizes


# 4. WebSocket


def test_a_websocket_through_nginx(backend: Backend, transport: str) -> None:
    """The upgrade passes through nginx; messages are echoed; the scope has the forwarded
    scheme (wss) and client."""
    app = ScopeApp()
    options, nginx = trusted(transport)
    nginx["forwarded_proto"] = "https"
    with (
        behind_nginx(app, backend, transport, nginx=nginx, **options) as (_, proxy),
        RawWebSocket(proxy.port, "/chat") as ws,
    ):
        assert ws.handshake().status_code == 101
        ws.send("hello through nginx")
        assert ws.next_message() == "hello through nginx"
        ws.send("twice")
        assert ws.next_message() == "twice"
        ws.close()
        assert ws.close_frame()[0] == 1000
    (scope,) = app.websocket_scopes
    assert scope["scheme"] == "wss"
    assert scope["client"] == ("127.0.0.1", 0)
    assert scope["path"] == "/chat"


# 5. The keep-alive boundary

POST = POST_HEAD % 5 + b"hello"


def race(server: RunningServer, proxy: Nginx, sock: socket.socket, request: bytes) -> Response:
    """``request`` reaches nginx before xloop closes nginx's idle upstream connection, and
    nginx sees the close only after it: nginx is stopped from before the request is sent
    until xloop has closed the connection, then goes on and handles the events in the
    order they came, the request first, on the connection it still believes open."""
    assert open_connections(server) == 1
    with proxy.frozen():
        sock.sendall(request)
        wait_for(lambda: open_connections(server) == 0, "xloop's keep-alive close")
    return Reader(sock).response()


RACE_LOGGED = ("upstream prematurely closed connection", "Connection reset by peer", "Broken pipe")


def test_a_get_on_a_connection_xloop_closed_is_retried(backend: Backend, transport: str) -> None:
    """xloop's keep-alive timeout (0.3 s) is shorter than nginx's for its upstream
    connections (60 s by default), so nginx can send a request on a connection xloop has
    just closed. No 502 for a GET: nginx's ngx_http_upstream_next() gives a request that
    failed on a cached keep-alive connection (``peer.cached``, an error) one more try, on a
    new connection, and a GET is idempotent, so ``proxy_next_upstream error`` (the
    default) applies. Three times over: each GET is a 200, each on a new connection, and
    nginx's log shows the failed first try."""
    with (
        behind_nginx(ScopeApp(), backend, transport, timeout_keep_alive=0.3) as (server, proxy),
        client_socket(proxy) as sock,
    ):
        assert exchange(sock, get()).status == 200
        for _ in range(3):
            assert race(server, proxy, sock, get()).status == 200
        assert total_connections(server) == 4
        log = proxy.log()
    assert any(line in log for line in RACE_LOGGED), log


def test_a_post_in_the_same_race_is_a_502(backend: Backend, transport: str) -> None:
    """A POST in the same race is a 502: it is not idempotent, and nginx sends it twice
    only with ``proxy_next_upstream non_idempotent`` (off by default). Hence the rule the
    README gives and the next test checks: nginx's upstream ``keepalive_timeout`` below
    xloop's --timeout-keep-alive, so xloop never closes a connection nginx could still use."""
    with (
        behind_nginx(ScopeApp(), backend, transport, timeout_keep_alive=0.3) as (server, proxy),
        client_socket(proxy) as sock,
    ):
        assert exchange(sock, get()).status == 200
        assert race(server, proxy, sock, POST).status == 502
        assert total_connections(server) == 1


def test_nginx_closing_idle_connections_first_means_no_502(
    backend: Backend, transport: str
) -> None:
    """The recommended setup: nginx's upstream ``keepalive_timeout`` (here 200 ms) below
    xloop's --timeout-keep-alive (its default, 5 s). nginx closes each idle upstream
    connection itself, well before xloop would; POSTs spaced across that boundary, each
    sent once the idle connection is gone, and each right after a previous one, all get a
    200."""
    nginx = {"upstream_extra": "keepalive 4;\n        keepalive_timeout 200ms;"}
    with (
        behind_nginx(ScopeApp(), backend, transport, nginx=nginx) as (server, proxy),
        client_socket(proxy) as sock,
    ):
        for round_ in range(3):
            assert exchange(sock, POST).status == 200
            assert exchange(sock, POST).status == 200
            # closed by nginx: xloop's own close would come only after 5 s
            wait_for(lambda: open_connections(server) == 0, "nginx's keep-alive close", 4.0)
            assert total_connections(server) == round_ + 1
        assert exchange(sock, POST).status == 200
        assert total_connections(server) == 4


def test_the_readme_shows_the_configuration_tested_here() -> None:
    """The README's "Behind nginx" block has this suite's proxy directives, and an upstream
    keepalive_timeout below xloop's default --timeout-keep-alive."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = readme.split("## Behind nginx", 1)[1].split("```nginx", 1)[1].split("```", 1)[0]
    lines = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    wanted = PROXY_LOCATION.format(
        forwarded_for="$proxy_add_x_forwarded_for", forwarded_proto="$scheme"
    )
    for directive in filter(None, (line.strip() for line in wanted.splitlines())):
        assert directive in lines, directive
    for directive in ("default upgrade;", "'' '';", "keepalive 16;"):
        assert directive in [" ".join(line.split()) for line in lines], directive
    (match,) = filter(None, (re.fullmatch(r"keepalive_timeout (\d+)s;", line) for line in lines))
    (field,) = [field for field in dataclasses.fields(Config) if field.name == "timeout_keep_alive"]
    assert isinstance(field.default, float)
    assert int(match.group(1)) < field.default
