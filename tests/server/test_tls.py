"""TLS on every loop and parser: https with trustme certificates, ALPN, client
certificates, a plain HTTP request on the TLS port, the handshake timeout, bad TLS options.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from xloop import Config
from xloop.errors import ConfigError
from xloop.server.tls import ssl_context

from . import tls_files
from .client import exchange, get
from .harness import TIMEOUT, Backend, RunningServer, logged_errors, serving


async def scheme_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    body = json.dumps({"scheme": scope["scheme"], "path": scope["path"]}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


class Certificates:
    def __init__(self, directory: Path) -> None:
        self.ca_file = directory / "ca.pem"
        self.cert_file = directory / "server.pem"
        self.key_file = directory / "server.key"
        self.chain_file = directory / "server-chain.pem"
        self.client_file = directory / "client.pem"

    def options(self, **extra: Any) -> dict[str, Any]:
        return {"ssl_certfile": str(self.cert_file), "ssl_keyfile": str(self.key_file), **extra}

    def client_context(self, *, with_certificate: bool = False) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.ca_file))
        context.set_alpn_protocols(["http/1.1"])
        if with_certificate:
            context.load_cert_chain(str(self.client_file))
        return context


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certificates:
    return Certificates(tls_files.directory(tmp_path_factory))


@contextlib.contextmanager
def tls_serving(app: Any, backend: Backend, **options: Any) -> Iterator[RunningServer]:
    """``serving`` over TLS; skipped where the loop itself says it cannot serve TLS (its
    ``create_server`` takes no ``ssl``: rloop 0.5), from the server's own error."""
    with contextlib.ExitStack() as stack:
        try:
            server = stack.enter_context(serving(app, backend, **options))
        except ConfigError as exc:
            if "cannot serve TLS" not in str(exc):
                raise
            pytest.skip(str(exc))
        yield server


def _tls_connect(port: int, context: ssl.SSLContext) -> ssl.SSLSocket:
    raw = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
    sock.settimeout(TIMEOUT)
    return sock


def _closed_without_response(sock: socket.socket | ssl.SSLSocket) -> bool:
    """True when the server closes (or resets, or fails TLS on) the connection without a
    byte of an HTTP response."""
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ssl.SSLError, ConnectionError):
        pass
    return not data.startswith(b"HTTP/")


def test_https_serves_with_scheme_https_and_alpn(backend: Backend, certs: Certificates) -> None:
    with (
        tls_serving(scheme_app, backend, **certs.options()) as server,
        _tls_connect(server.port, certs.client_context()) as sock,
    ):
        assert sock.selected_alpn_protocol() == "http/1.1"
        for path in ("/a", "/b"):  # keep-alive over TLS
            response = exchange(sock, get(path))
            assert response.status == 200
            assert json.loads(response.body) == {"scheme": "https", "path": path}


def test_a_certificate_chain_file_with_the_key_in_it(backend: Backend, certs: Certificates) -> None:
    with (
        tls_serving(scheme_app, backend, ssl_certfile=str(certs.chain_file)) as server,
        _tls_connect(server.port, certs.client_context()) as sock,
    ):
        assert exchange(sock, get()).status == 200


def test_client_certificates_required(backend: Backend, certs: Certificates) -> None:
    options = certs.options(ssl_cert_reqs=ssl.CERT_REQUIRED, ssl_ca_certs=str(certs.ca_file))
    with tls_serving(scheme_app, backend, **options) as server:
        with _tls_connect(server.port, certs.client_context(with_certificate=True)) as sock:
            assert exchange(sock, get()).status == 200
        # without a certificate: TLS 1.3 finishes the client's side of the handshake, then
        # the server refuses: never a response
        try:
            sock = _tls_connect(server.port, certs.client_context())
        except (ssl.SSLError, ConnectionError):
            return
        with sock:
            try:
                sock.sendall(get())
            except (ssl.SSLError, ConnectionError):
                return
            assert _closed_without_response(sock)


def test_plain_http_on_the_tls_port_is_closed_without_a_traceback(
    backend: Backend, certs: Certificates, caplog: pytest.LogCaptureFixture
) -> None:
    with tls_serving(scheme_app, backend, **certs.options()) as server:
        with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
            sock.settimeout(TIMEOUT)
            sock.sendall(get())
            assert _closed_without_response(sock)
        # the server still serves TLS clients afterwards
        with _tls_connect(server.port, certs.client_context()) as tls:
            assert exchange(tls, get()).status == 200
    assert logged_errors(caplog) == []
    assert "Traceback" not in caplog.text


def test_a_client_that_never_finishes_the_handshake_is_dropped(
    backend: Backend, certs: Certificates
) -> None:
    with (
        tls_serving(scheme_app, backend, timeout_ssl_handshake=0.3, **certs.options()) as server,
        socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock,
    ):
        sock.settimeout(TIMEOUT)
        assert sock.recv(1) == b""  # closed by the server, well before the client's timeout


# -- the options, without sockets -------------------------------------------------------------


def test_an_encrypted_key_needs_its_password(tmp_path: Path, certs: Certificates) -> None:
    serialization = pytest.importorskip(
        "cryptography.hazmat.primitives.serialization",
        reason="cryptography does not import",
        exc_type=ImportError,
    )

    key = serialization.load_pem_private_key(certs.key_file.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"s3cret"),
        )
    )
    base: dict[str, Any] = {"ssl_certfile": str(certs.cert_file), "ssl_keyfile": str(encrypted)}
    assert ssl_context(Config(ssl_keyfile_password="s3cret", **base)) is not None
    with pytest.raises(ConfigError, match="cannot load the certificate and key"):
        ssl_context(Config(ssl_keyfile_password="wrong", **base))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"ssl_keyfile": "k.pem"}, "--ssl-keyfile needs --ssl-certfile"),
        ({"ssl_cert_reqs": 2, "ssl_certfile": "c.pem"}, "--ssl-cert-reqs needs --ssl-ca-certs"),
        ({"ssl_cert_reqs": 3}, "ssl_cert_reqs|ssl-cert-reqs"),
    ],
)
def test_tls_option_mistakes_are_config_errors(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Config(**options)


def test_missing_files_and_bad_ciphers_are_one_line_errors(
    tmp_path: Path, certs: Certificates
) -> None:
    with pytest.raises(ConfigError, match="no such file"):
        ssl_context(Config(ssl_certfile=str(tmp_path / "missing.pem")))
    with pytest.raises(ConfigError, match="no cipher matches"):
        ssl_context(Config(ssl_ciphers="NOT-A-CIPHER", **certs.options()))
    with pytest.raises(ConfigError, match="no such file"):
        ssl_context(
            Config(ssl_cert_reqs=2, ssl_ca_certs=str(tmp_path / "none.pem"), **certs.options())
        )


def test_a_websocket_over_tls(backend: Backend, certs: Certificates) -> None:
    """wss: the scope says so, messages go both ways, and a close ends the connection (TLS
    cannot half-close: the server closes it once the closing handshake is done).

    The client is websockets' asyncio one: its sync client reads in a thread of its own while
    the caller writes, and an ssl socket is not safe for that (a run here failed the opening
    handshake's write with "[SSL] internal error")."""
    pytest.importorskip("websockets")
    from websockets.asyncio.client import connect

    told: list[tuple[str, dict[str, Any]]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()
        await send({"type": "websocket.accept"})
        message = await receive()
        await send({"type": "websocket.send", "text": message["text"].upper()})
        told.append((scope["scheme"], await receive()))

    with tls_serving(app, backend, **certs.options()) as server:
        context = ssl.create_default_context(cafile=str(certs.ca_file))
        url = f"wss://127.0.0.1:{server.port}/"

        async def talk() -> str:
            async with connect(url, ssl=context, open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
                await ws.send("over tls")
                answer = await asyncio.wait_for(ws.recv(), TIMEOUT)
                await ws.close(1000, "bye")
            return str(answer)

        assert asyncio.run(talk()) == "OVER TLS"
        state = server.server.state
        assert state is not None
        deadline = time.monotonic() + TIMEOUT
        while state.connections and time.monotonic() < deadline:
            time.sleep(0.002)  # the server's side of the close, read across threads
        assert not state.connections
    assert told == [("wss", {"type": "websocket.disconnect", "code": 1000, "reason": "bye"})]
