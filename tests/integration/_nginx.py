"""nginx in front of an xloop server: a real reverse proxy, started by the test.

nginx runs in the foreground as one process (``master_process off``, so it never switches
to an unprivileged user that could not reach the test's temporary files), with its prefix,
temporary directories, pid file and error log in a directory of the test's own, on a port
picked free just before it starts (another if that one is taken by then: nginx says so and
exits, after its own retries). Where nginx is not
installed the tests that need it are skipped, saying so.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.server.harness import TIMEOUT

#: The settings a proxy location needs for xloop: HTTP/1.1 upstream with keep-alive (no
#: ``Connection: close`` passed on), WebSocket upgrades passed through, and the client's
#: address and scheme forwarded. What the README's "Behind nginx" section shows.
PROXY_LOCATION = """
        proxy_pass http://xloop;
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header Upgrade $http_upgrade;
        proxy_set_header Connection $connection_upgrade;
        proxy_set_header X-Forwarded-For {forwarded_for};
        proxy_set_header X-Forwarded-Proto {forwarded_proto};
"""

CONFIG = """
worker_processes 1;
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    map $http_upgrade $connection_upgrade {{
        default upgrade;
        '' '';
    }}
    upstream xloop {{
        server {upstream};
{upstream_extra}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
{location}
{location_extra}
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    """nginx on PATH, or where Debian installs it (/usr/sbin is not on every user's PATH)."""
    found = shutil.which("nginx")
    if found is None and os.access("/usr/sbin/nginx", os.X_OK):
        found = "/usr/sbin/nginx"
    return found


def require_nginx() -> str:
    binary = nginx_binary()
    if binary is None:
        pytest.skip("nginx is not installed (apt-get install nginx-light): no proxy to test behind")
    return binary


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Nginx:
    """A running nginx: where it listens, its process, its error log."""

    port: int
    process: subprocess.Popen[bytes]
    error_log: Path

    def log(self) -> str:
        """What nginx wrote to stderr before reading its configuration, then its error log."""
        text = []
        for path in (self.error_log.with_suffix(".stderr"), self.error_log):
            with contextlib.suppress(OSError):
                text.append(path.read_text(errors="replace"))
        return "".join(text)

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """nginx stopped (SIGSTOP) for the block: what reaches its sockets meanwhile waits
        in the kernel, in arrival order, for it to go on (SIGCONT)."""
        self.process.send_signal(signal.Signals["SIGSTOP"])
        try:
            yield
        finally:
            self.process.send_signal(signal.Signals["SIGCONT"])

    def connect(self, source: str = "127.0.0.1") -> socket.socket:
        """A connection to nginx from ``source`` (a loopback address: the client nginx sees)."""
        sock = socket.create_connection(
            ("127.0.0.1", self.port), timeout=TIMEOUT, source_address=(source, 0)
        )
        sock.settimeout(TIMEOUT)
        return sock


def _wait_started(process: subprocess.Popen[bytes], pid_file: Path) -> bool:
    """Whether nginx started (False: it exited), within TIMEOUT. nginx writes its pid file
    once its listening sockets are bound (main() after ngx_init_cycle()): a connection to
    the port before that could reach whoever else holds it."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if pid_file.exists():
            return True
        try:
            process.wait(0.01)  # also the pause between looks
            return False
        except subprocess.TimeoutExpired:
            pass
    raise AssertionError(f"nginx did not start within {TIMEOUT}s")


@contextlib.contextmanager
def running_nginx(
    upstream: str,
    *,
    upstream_extra: str = "keepalive 4;",
    location_extra: str = "",
    forwarded_for: str = "$proxy_add_x_forwarded_for",
    forwarded_proto: str = "$scheme",
) -> Iterator[Nginx]:
    """nginx proxying ``/`` to ``upstream`` (``127.0.0.1:PORT`` or ``unix:PATH``)."""
    binary = require_nginx()
    prefix = Path(tempfile.mkdtemp(prefix="xl-nginx-"))
    try:
        for _attempt in range(5):
            port = _free_port()
            conf = prefix / "nginx.conf"
            error_log = prefix / "error.log"
            location = PROXY_LOCATION.format(
                forwarded_for=forwarded_for, forwarded_proto=forwarded_proto
            )
            conf.write_text(
                CONFIG.format(
                    temp=prefix,
                    upstream=upstream,
                    upstream_extra=upstream_extra,
                    port=port,
                    location=location,
                    location_extra=location_extra,
                )
            )
            pid_file = prefix / "nginx.pid"
            pid_file.unlink(missing_ok=True)
            directives = f"daemon off; master_process off; pid {pid_file}; "
            directives += f"error_log {error_log} info;"
            # no -e (nginx 1.19.5+) for the log before the configuration is read: stderr
            command = [binary, "-p", str(prefix), "-c", str(conf), "-g", directives]
            with error_log.with_suffix(".stderr").open("wb") as stderr:
                process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
                )
            nginx = Nginx(port, process, error_log)
            try:
                if _wait_started(process, pid_file):
                    yield nginx
                    return
                if "Address already in use" not in nginx.log():
                    raise AssertionError(f"nginx did not start:\n{nginx.log()}")
            finally:
                if process.poll() is None:
                    process.kill()
                process.wait(TIMEOUT)
        raise AssertionError("nginx found no free port in 5 attempts")
    finally:
        shutil.rmtree(prefix, ignore_errors=True)
