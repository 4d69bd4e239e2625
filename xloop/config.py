"""The options of ``xloop serve`` and :func:`xloop.run`, declared once, and their validation.

Each option is a field of :class:`Config` declared with :func:`xloop.options.option`: its
type, default, help text, valid choices and bounds. The command line (``xloop serve
--port``), the environment (``XLOOP_PORT``) and ``xloop.run(app, port=...)`` all derive
from that one declaration; :meth:`Config.__post_init__` validates whichever way it came in.
``--loop``, ``--selector`` and ``--workers`` are borrowed from :mod:`xloop.loops.declared`,
which ``xloop which-loop`` shares without importing this module.

Config is data: no logging setup, no socket, no import of the app happens here.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, ClassVar

from .access import DEFAULT_FORMAT as DEFAULT_ACCESS_FORMAT
from .access import AccessFormat
from .errors import ConfigError
from .http import HTTP_NAMES, Limits
from .loops import LOOP_NAMES
from .loops.declared import LOOP_PANEL, WORKERS_PANEL, LoopOptions
from .options import borrow, option, validate
from .ws import WS_NAMES

__all__ = ["INTERFACES", "LIFESPAN_MODES", "LOG_LEVELS", "Config"]

LIFESPAN_MODES = ("auto", "on", "off")
INTERFACES = ("auto", "asgi3", "asgi2", "wsgi")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")

_LIMITS = Limits()
"""The request-head limits' defaults (declared on :class:`xloop.http.Limits`)."""

_SERVER = "Server"
_APPLICATION = "Application"
_LOOP = LOOP_PANEL
_HTTP = "HTTP"
_WEBSOCKET = "WebSocket"
_LIMITS_PANEL = "Limits and timeouts"
_LOGGING = "Logging"
_WORKERS = WORKERS_PANEL
_TLS = "TLS"


@dataclass
class Config:
    """Everything ``xloop serve`` and :func:`xloop.run` accept."""

    ENV_PREFIX: ClassVar[str] = "XLOOP_"

    app: Any = option(
        "The ASGI app as module:attribute (dotted attribute allowed); "
        "default: the built-in demo app.",
        default="xloop.demo:app",
        argument=True,
        metavar="APP",
    )
    factory: bool = option(
        "Treat APP as a factory: call it with no arguments to get the app.",
        default=False,
        panel=_APPLICATION,
    )
    app_dir: str = option(
        "Look for APP and a --loop module:factory in this directory (put first on sys.path).",
        default=".",
        panel=_APPLICATION,
    )
    host: str = option("Bind to this address.", default="127.0.0.1", panel=_SERVER)
    port: int = option(
        "Bind to this TCP port (0: any free port).",
        default=8000,
        minimum=0,
        maximum=65535,
        panel=_SERVER,
    )
    uds: str | None = option("Bind to this UNIX domain socket.", default=None, panel=_SERVER)
    fd: int | None = option(
        "Serve on this already bound socket file descriptor.",
        default=None,
        minimum=0,
        panel=_SERVER,
    )
    backlog: int = option(
        "Listen backlog: connections the kernel queues before accept.",
        default=2048,
        minimum=1,
        panel=_SERVER,
    )
    gc_freeze: bool = option(
        "Once the app has started, freeze what the process holds (gc.freeze()): the "
        "garbage collector's full collections skip those objects, so their pauses under "
        "load shrink; reference cycles among them are never collected.",
        default=False,
        flag="--gc-freeze",
        secondary="--no-gc-freeze",
        panel=_SERVER,
    )
    loop: str = borrow(LoopOptions, "loop")
    selector: str = borrow(LoopOptions, "selector")
    http: str = option(
        "HTTP/1.1 parser (auto: httptools if installed, else h11; zttp only by name).",
        default="auto",
        choices=HTTP_NAMES,
        panel=_LOOP,
    )
    transport: str = option(
        "What carries plain (not TLS) connections on the asyncio selector loop (auto: "
        "xloop's own accept and transport where the loop allows, as which-loop says; loop: "
        "the loop's own, through loop.create_server, as other servers use it). Other loops "
        "always use their own.",
        default="auto",
        choices=("auto", "loop"),
        noun="transport",
        panel=_LOOP,
    )
    ws: str = option(
        "WebSocket engine (auto: websockets if installed, else wsproto; none: upgrade "
        "requests are answered as plain HTTP).",
        default="auto",
        choices=WS_NAMES,
        panel=_WEBSOCKET,
    )
    ws_max_size: int = option(
        "Largest incoming WebSocket message in bytes (close 1009 above).",
        default=16 * 1024 * 1024,
        minimum=1,
        panel=_WEBSOCKET,
    )
    ws_max_queue: int = option(
        "Received WebSocket messages the app has not read yet above which reading "
        "pauses until it calls receive.",
        default=32,
        minimum=1,
        panel=_WEBSOCKET,
    )
    ws_ping_interval: float | None = option(
        "Seconds between the server's pings on an idle or busy WebSocket (0: none).",
        default=20.0,
        minimum=0.0,
        panel=_WEBSOCKET,
    )
    ws_ping_timeout: float | None = option(
        "Close a WebSocket with 1011 when a ping is not answered within this many "
        "seconds (0: never).",
        default=20.0,
        minimum=0.0,
        panel=_WEBSOCKET,
    )
    ws_per_message_deflate: bool = option(
        "Compress WebSocket messages (permessage-deflate, small zlib windows) when the "
        "client offers it.",
        default=True,
        flag="--ws-per-message-deflate",
        secondary="--no-ws-per-message-deflate",
        panel=_WEBSOCKET,
    )
    ssl_certfile: str | None = option(
        "TLS: the server's certificate chain (PEM); serving https and wss.",
        default=None,
        panel=_TLS,
        metavar="FILE",
    )
    ssl_keyfile: str | None = option(
        "TLS: the private key (PEM), if not in --ssl-certfile.",
        default=None,
        panel=_TLS,
        metavar="FILE",
    )
    ssl_keyfile_password: str | None = option(
        "TLS: the password of an encrypted --ssl-keyfile.", default=None, panel=_TLS
    )
    ssl_version: int = option(
        "TLS: the ssl module's protocol constant (default 17: PROTOCOL_TLS_SERVER, the "
        "versions both sides support).",
        default=17,
        minimum=0,
        panel=_TLS,
    )
    ssl_cert_reqs: int = option(
        "TLS: client certificates: 0 none (CERT_NONE), 1 optional, 2 required; checked "
        "against --ssl-ca-certs.",
        default=0,
        minimum=0,
        maximum=2,
        panel=_TLS,
    )
    ssl_ca_certs: str | None = option(
        "TLS: the CA certificates (PEM) client certificates are checked against.",
        default=None,
        panel=_TLS,
        metavar="FILE",
    )
    ssl_ciphers: str | None = option(
        "TLS: an OpenSSL cipher list (default: OpenSSL's safe defaults).",
        default=None,
        panel=_TLS,
    )
    timeout_ssl_handshake: float = option(
        "TLS: a client that has not finished its handshake this many seconds after connecting "
        "is dropped.",
        default=10.0,
        above=0.0,
        finite=True,
        panel=_TLS,
    )
    interface: str = option(
        "What APP is: asgi3, asgi2 (a class or callable taking the scope), wsgi (served "
        "through a2wsgi's thread pool), or auto: detected from its signature.",
        default="auto",
        choices=INTERFACES,
        panel=_APPLICATION,
    )
    wsgi_threads: int = option(
        "With a WSGI app: the threads that run it (requests beyond wait for one).",
        default=10,
        minimum=1,
        panel=_APPLICATION,
    )
    lifespan: str = option(
        "ASGI lifespan protocol.", default="auto", choices=LIFESPAN_MODES, panel=_APPLICATION
    )
    root_path: str = option(
        "ASGI root_path, for an app mounted below a path by a proxy.",
        default="",
        panel=_APPLICATION,
    )
    proxy_headers: bool = option(
        "Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.",
        default=True,
        flag="--proxy-headers",
        secondary="--no-proxy-headers",
        panel=_HTTP,
    )
    forwarded_allow_ips: str = option(
        "Comma-separated IPs or networks trusted for proxy headers ('*': all).",
        default="127.0.0.1",
        panel=_HTTP,
    )
    server_header: bool = option(
        "Send 'server: xloop'.",
        default=True,
        flag="--server-header",
        secondary="--no-server-header",
        panel=_HTTP,
    )
    date_header: bool = option(
        "Send a 'date' header.",
        default=True,
        flag="--date-header",
        secondary="--no-date-header",
        panel=_HTTP,
    )
    header: list[str] = option(
        "Extra response header NAME:VALUE (repeatable).",
        default_factory=list,
        panel=_HTTP,
        metavar="NAME:VALUE",
    )
    timeout_keep_alive: float = option(
        "Close idle keep-alive connections after this many seconds.",
        default=5.0,
        minimum=0.0,
        panel=_LIMITS_PANEL,
    )
    timeout_graceful_shutdown: float | None = option(
        "On shutdown, wait at most this many seconds for in-flight requests and streams, "
        "then cut them.",
        default=30.0,
        minimum=0.0,
        panel=_LIMITS_PANEL,
    )
    timeout_request_header: float = option(
        "Seconds a client has to send a whole request head, from accept or from the end "
        "of the previous response (408 above).",
        default=10.0,
        minimum=0.0,
        panel=_LIMITS_PANEL,
    )
    timeout_request_body: float = option(
        "Longest gap while a request body is being read (408 if no response started, "
        "else the connection closes).",
        default=30.0,
        minimum=0.0,
        panel=_LIMITS_PANEL,
    )
    timeout_send: float = option(
        "Drop a client that reads none of a pending response for this many seconds "
        "(the app's send raises ClientDisconnected).",
        default=30.0,
        minimum=0.0,
        panel=_LIMITS_PANEL,
    )
    limit_request_body: int | None = option(
        "Largest request body accepted, in bytes (413 above, before the app reads it).",
        default=None,
        minimum=0,
        panel=_LIMITS_PANEL,
    )
    limit_concurrency: int | None = option(
        "Answer 503 above this many concurrent connections or requests.",
        default=None,
        minimum=1,
        panel=_LIMITS_PANEL,
    )
    limit_max_requests: int | None = option(
        "Shut down gracefully after this many requests.",
        default=None,
        minimum=1,
        panel=_LIMITS_PANEL,
    )
    limit_max_requests_jitter: int = option(
        "With --workers: add a random 0..N to each worker's --limit-max-requests, so the "
        "workers do not all restart together.",
        default=0,
        minimum=0,
        panel=_WORKERS,
    )
    limit_request_line: int = option(
        "Longest request-target accepted (414 above).",
        default=_LIMITS.max_request_line,
        minimum=16,
        panel=_LIMITS_PANEL,
    )
    limit_request_field_size: int = option(
        "Most bytes of header fields in one request (431 above).",
        default=_LIMITS.max_header_bytes,
        minimum=64,
        panel=_LIMITS_PANEL,
    )
    limit_request_fields: int = option(
        "Most header fields in one request (431 above).",
        default=_LIMITS.max_header_count,
        minimum=1,
        panel=_LIMITS_PANEL,
    )
    workers: int | None = borrow(LoopOptions, "workers")
    timeout_worker_healthcheck: float = option(
        "With --workers: replace a worker whose event loop has not answered the "
        "supervisor's heartbeat for this many seconds.",
        default=5.0,
        above=0.0,
        finite=True,
        panel=_WORKERS,
    )
    limit_worker_memory: int | None = option(
        "With --workers: replace a worker (gracefully, a new one first) once its resident "
        "memory is above this many MiB.",
        default=None,
        minimum=1,
        panel=_WORKERS,
    )
    reload: bool = option(
        "Restart the server when a watched file changes (development; watchfiles).",
        default=False,
        panel=_WORKERS,
    )
    reload_dir: list[str] = option(
        "Directory to watch with --reload (repeatable; default: the current directory).",
        default_factory=list,
        panel=_WORKERS,
        metavar="DIR",
    )
    reload_include: list[str] = option(
        "Glob of files whose change reloads (repeatable; default: *.py).",
        default_factory=list,
        panel=_WORKERS,
        metavar="GLOB",
    )
    reload_exclude: list[str] = option(
        "Glob of files or directories never watched (repeatable; default: .*, .py[cod], "
        ".sw.*, ~*, __pycache__).",
        default_factory=list,
        panel=_WORKERS,
        metavar="GLOB",
    )
    reload_delay: float = option(
        "Seconds to wait for more changes before reloading.",
        default=0.25,
        minimum=0.0,
        finite=True,
        panel=_WORKERS,
    )
    log_level: str = option("Log level.", default="info", choices=LOG_LEVELS, panel=_LOGGING)
    access_log: bool = option(
        "Log one line per request.",
        default=True,
        flag="--access-log",
        secondary="--no-access-log",
        panel=_LOGGING,
    )
    log_config: str | None = option(
        "A logging configuration file, applied after xloop's own: JSON or YAML (dictConfig), "
        "or INI (fileConfig).",
        default=None,
        panel=_LOGGING,
        metavar="FILE",
    )
    use_colors: bool | None = option(
        "Colour the log's levels (default: when stderr is a terminal).",
        default=None,
        flag="--use-colors",
        secondary="--no-use-colors",
        panel=_LOGGING,
    )
    env_file: str | None = option(
        "Load environment variables from this .env file (python-dotenv) before the app is "
        "imported; workers inherit them.",
        default=None,
        panel=_APPLICATION,
        metavar="FILE",
    )
    access_log_format: str = option(
        "The access log line: a %-format of named fields (client, method, path, "
        "http_version, request_line, status, reason, size, duration_ms, user_agent, referer, "
        "host, pid); client text is escaped.",
        default=DEFAULT_ACCESS_FORMAT,
        panel=_LOGGING,
    )
    status_fd: int | None = option(
        "Write one JSON line per lifecycle event to this file descriptor (on Windows an "
        "inheritable OS handle), for supervisors and tools: ready (pid, address, port, loop "
        "class, parser), then stopped (requests, connections).",
        default=None,
        minimum=0,
        panel=_LOGGING,
    )

    def __post_init__(self) -> None:
        validate(self)
        if self.loop not in LOOP_NAMES and ":" not in self.loop:
            raise ConfigError(
                f"unknown --loop value {self.loop!r}; valid: {', '.join(LOOP_NAMES)}",
                hint="or module:callable for a loop factory",
            )
        if self.uds is not None and not hasattr(socket, "AF_UNIX"):
            raise ConfigError(
                "--uds needs UNIX domain sockets, which Python does not offer on this OS",
                hint="use --host/--port, or --fd with a socket you bound",
            )
        if self.uds is not None and self.fd is not None:
            raise ConfigError("--uds and --fd cannot be used together", hint="pick one listener")
        if isinstance(self.app, str) and ":" not in self.app:
            raise ConfigError(
                f"APP must be module:attribute, got {self.app!r}",
                hint="e.g. 'main:app' for the variable app in main.py",
            )
        self.extra_headers()  # validates --header
        AccessFormat(self.access_log_format)  # validates --access-log-format
        if self.proxy_headers:
            self.trusted_proxies()
        tls_only = ("ssl_keyfile", "ssl_keyfile_password", "ssl_ca_certs", "ssl_ciphers")
        given = [name for name in tls_only if getattr(self, name) is not None]
        if self.ssl_cert_reqs:
            given.append("ssl_cert_reqs")
        if given and self.ssl_certfile is None:
            flag = "--" + given[0].replace("_", "-")
            raise ConfigError(
                f"{flag} needs --ssl-certfile", hint="TLS starts with the server's certificate"
            )
        if self.ssl_cert_reqs and self.ssl_ca_certs is None:
            raise ConfigError(
                "--ssl-cert-reqs needs --ssl-ca-certs",
                hint="the CA certificates client certificates are checked against",
            )
        if (self.workers is not None or self.reload) and not isinstance(self.app, str):
            raise ConfigError(
                "--workers and --reload need the app as an import string",
                hint="pass 'module:app' instead of the app object",
            )
        if self.workers is not None and self.reload:
            raise ConfigError(
                "--reload and --workers cannot be used together",
                hint="use --reload while developing, --workers in production",
            )

    # -- derived values ----------------------------------------------------------------------

    def extra_headers(self) -> list[tuple[bytes, bytes]]:
        """--header NAME:VALUE entries as lowercased byte pairs."""
        result = []
        for entry in self.header:
            name, sep, value = entry.partition(":")
            name = name.strip()
            if not sep or not name:
                raise ConfigError(f"invalid --header {entry!r}", hint="use NAME:VALUE")
            try:
                pair = (name.lower().encode("latin-1"), value.strip().encode("latin-1"))
            except UnicodeEncodeError:
                raise ConfigError(f"invalid --header {entry!r}: not latin-1") from None
            from .http import ResponseError
            from .http.response import validate_value, validated_name

            try:
                validated_name(pair[0])
                validate_value(pair[1])
            except ResponseError as exc:
                raise ConfigError(f"invalid --header {entry!r}: {exc}") from None
            result.append(pair)
        return result

    def trusted_proxies(self) -> list[str]:
        """--forwarded-allow-ips as a list, each entry checked."""
        import ipaddress

        entries = [item.strip() for item in self.forwarded_allow_ips.split(",") if item.strip()]
        for item in entries:
            if item == "*" or item.startswith(("/", "unix:")):
                continue
            try:
                if "/" in item:
                    ipaddress.ip_network(item, strict=False)
                else:
                    ipaddress.ip_address(item)
            except ValueError:
                raise ConfigError(
                    f"invalid --forwarded-allow-ips entry {item!r}",
                    hint="IP addresses or networks, comma-separated, or '*'",
                ) from None
        return entries

    def limits(self) -> Limits:
        """The limits on what a client may send: head and body."""
        return Limits(
            max_request_line=self.limit_request_line,
            max_header_bytes=self.limit_request_field_size,
            max_header_count=self.limit_request_fields,
            max_body_size=self.limit_request_body,
        )
