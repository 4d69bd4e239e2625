"""The option declarations and the validated configuration.

Each option is declared exactly once, as a field of :class:`Config`: its type, default and
``metadata`` (help text, valid choices, bounds). The command line (``xloop serve --port``),
the environment (``XLOOP_PORT``) and ``xloop.run(app, port=...)`` are all derived from
that one declaration; :meth:`Config.__post_init__` validates whichever way it came in.

Config is data: no logging setup, no socket, no import of the app happens here.
"""

from __future__ import annotations

import dataclasses
import math
import socket
from dataclasses import dataclass, field
from typing import Any

from .errors import ConfigError
from .http import HTTP_NAMES, Limits
from .loops import LOOP_NAMES, SELECTOR_NAMES
from .ws import WS_NAMES

__all__ = ["LIFESPAN_MODES", "LOG_LEVELS", "Config", "OptionSpec", "option_specs"]

LIFESPAN_MODES = ("auto", "on", "off")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")
ENV_PREFIX = "XLOOP_"


def _opt(
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    flag: str | None = None,
    secondary: str | None = None,
    panel: str = "Server",
    argument: bool = False,
    metavar: str | None = None,
) -> dict[str, Any]:
    return {
        "help": help,
        "choices": choices,
        "minimum": minimum,
        "maximum": maximum,
        "flag": flag,
        "secondary": secondary,
        "panel": panel,
        "argument": argument,
        "metavar": metavar,
    }


@dataclass
class Config:
    """Everything ``xloop serve`` and :func:`xloop.run` accept."""

    app: Any = field(
        default="xloop.demo:app",
        metadata=_opt(
            "The ASGI app as module:attribute (dotted attribute allowed); "
            "default: the built-in demo app.",
            argument=True,
            metavar="APP",
        ),
    )
    factory: bool = field(
        default=False,
        metadata=_opt(
            "Treat APP as a factory: call it with no arguments to get the app.", panel="Application"
        ),
    )
    app_dir: str = field(
        default=".",
        metadata=_opt(
            "Look for APP in this directory (put first on sys.path).", panel="Application"
        ),
    )
    host: str = field(default="127.0.0.1", metadata=_opt("Bind to this address."))
    port: int = field(
        default=8000,
        metadata=_opt("Bind to this TCP port (0: any free port).", minimum=0, maximum=65535),
    )
    uds: str | None = field(default=None, metadata=_opt("Bind to this UNIX domain socket."))
    fd: int | None = field(
        default=None,
        metadata=_opt("Serve on this already bound socket file descriptor.", minimum=0),
    )
    backlog: int = field(
        default=2048,
        metadata=_opt("Listen backlog: connections the kernel queues before accept.", minimum=1),
    )
    loop: str = field(
        default="auto",
        metadata=_opt(
            "Event loop: auto, asyncio, selector, proactor, uvloop, winloop, or "
            "module:callable (a loop factory).",
            panel="Event loop and parser",
        ),
    )
    selector: str = field(
        default="auto",
        metadata=_opt(
            "selectors class for the selector loop.",
            choices=SELECTOR_NAMES,
            panel="Event loop and parser",
        ),
    )
    http: str = field(
        default="auto",
        metadata=_opt(
            "HTTP/1.1 parser (auto: httptools if installed, else h11).",
            choices=HTTP_NAMES,
            panel="Event loop and parser",
        ),
    )
    ws: str = field(
        default="auto",
        metadata=_opt(
            "WebSocket engine (auto: websockets if installed, else wsproto; none: upgrade "
            "requests are answered as plain HTTP).",
            choices=WS_NAMES,
            panel="WebSocket",
        ),
    )
    ws_max_size: int = field(
        default=16 * 1024 * 1024,
        metadata=_opt(
            "Largest incoming WebSocket message in bytes (close 1009 above).",
            minimum=1,
            panel="WebSocket",
        ),
    )
    ws_max_queue: int = field(
        default=32,
        metadata=_opt(
            "Received WebSocket messages the app has not read yet above which reading "
            "pauses until it calls receive.",
            minimum=1,
            panel="WebSocket",
        ),
    )
    ws_ping_interval: float | None = field(
        default=20.0,
        metadata=_opt(
            "Seconds between the server's pings on an idle or busy WebSocket (0: none).",
            minimum=0.0,
            panel="WebSocket",
        ),
    )
    ws_ping_timeout: float | None = field(
        default=20.0,
        metadata=_opt(
            "Close a WebSocket with 1011 when a ping is not answered within this many "
            "seconds (0: never).",
            minimum=0.0,
            panel="WebSocket",
        ),
    )
    ws_per_message_deflate: bool = field(
        default=True,
        metadata=_opt(
            "Compress WebSocket messages (permessage-deflate, small zlib windows) when the "
            "client offers it.",
            flag="--ws-per-message-deflate",
            secondary="--no-ws-per-message-deflate",
            panel="WebSocket",
        ),
    )
    lifespan: str = field(
        default="auto",
        metadata=_opt("ASGI lifespan protocol.", choices=LIFESPAN_MODES, panel="Application"),
    )
    root_path: str = field(
        default="",
        metadata=_opt(
            "ASGI root_path, for an app mounted below a path by a proxy.", panel="Application"
        ),
    )
    proxy_headers: bool = field(
        default=True,
        metadata=_opt(
            "Trust X-Forwarded-For/-Proto from --forwarded-allow-ips.",
            flag="--proxy-headers",
            secondary="--no-proxy-headers",
            panel="HTTP",
        ),
    )
    forwarded_allow_ips: str = field(
        default="127.0.0.1",
        metadata=_opt(
            "Comma-separated IPs or networks trusted for proxy headers ('*': all).", panel="HTTP"
        ),
    )
    server_header: bool = field(
        default=True,
        metadata=_opt(
            "Send 'server: xloop'.",
            flag="--server-header",
            secondary="--no-server-header",
            panel="HTTP",
        ),
    )
    date_header: bool = field(
        default=True,
        metadata=_opt(
            "Send a 'date' header.",
            flag="--date-header",
            secondary="--no-date-header",
            panel="HTTP",
        ),
    )
    header: list[str] = field(
        default_factory=list,
        metadata=_opt(
            "Extra response header NAME:VALUE (repeatable).", panel="HTTP", metavar="NAME:VALUE"
        ),
    )
    timeout_keep_alive: float = field(
        default=5.0,
        metadata=_opt(
            "Close idle keep-alive connections after this many seconds.",
            minimum=0.0,
            panel="Limits and timeouts",
        ),
    )
    timeout_graceful_shutdown: float | None = field(
        default=30.0,
        metadata=_opt(
            "On shutdown, wait at most this many seconds for in-flight requests and "
            "streams, then cut them.",
            minimum=0.0,
            panel="Limits and timeouts",
        ),
    )
    timeout_request_header: float = field(
        default=10.0,
        metadata=_opt(
            "Seconds a client has to send a whole request head, from accept or from the "
            "end of the previous response (408 above).",
            minimum=0.0,
            panel="Limits and timeouts",
        ),
    )
    timeout_request_body: float = field(
        default=30.0,
        metadata=_opt(
            "Longest gap while a request body is being read (408 if no response started, "
            "else the connection closes).",
            minimum=0.0,
            panel="Limits and timeouts",
        ),
    )
    timeout_send: float = field(
        default=30.0,
        metadata=_opt(
            "Drop a client that reads none of a pending response for this many seconds "
            "(the app's send raises ClientDisconnected).",
            minimum=0.0,
            panel="Limits and timeouts",
        ),
    )
    limit_request_body: int | None = field(
        default=None,
        metadata=_opt(
            "Largest request body accepted, in bytes (413 above, before the app reads it).",
            minimum=0,
            panel="Limits and timeouts",
        ),
    )
    limit_concurrency: int | None = field(
        default=None,
        metadata=_opt(
            "Answer 503 above this many concurrent connections or requests.",
            minimum=1,
            panel="Limits and timeouts",
        ),
    )
    limit_max_requests: int | None = field(
        default=None,
        metadata=_opt(
            "Shut down gracefully after this many requests.", minimum=1, panel="Limits and timeouts"
        ),
    )
    limit_request_line: int = field(
        default=8190,
        metadata=_opt(
            "Longest request-target accepted (414 above).", minimum=16, panel="Limits and timeouts"
        ),
    )
    limit_request_field_size: int = field(
        default=65536,
        metadata=_opt(
            "Most bytes of header fields in one request (431 above).",
            minimum=64,
            panel="Limits and timeouts",
        ),
    )
    limit_request_fields: int = field(
        default=100,
        metadata=_opt(
            "Most header fields in one request (431 above).", minimum=1, panel="Limits and timeouts"
        ),
    )
    log_level: str = field(
        default="info",
        metadata=_opt("Log level.", choices=LOG_LEVELS, panel="Logging"),
    )
    access_log: bool = field(
        default=True,
        metadata=_opt(
            "Log one line per request.",
            flag="--access-log",
            secondary="--no-access-log",
            panel="Logging",
        ),
    )

    def __post_init__(self) -> None:
        for spec in option_specs():
            value = getattr(self, spec.name)
            if value is None:
                continue
            if spec.choices is not None and value not in spec.choices:
                raise ConfigError(
                    f"invalid --{spec.cli_name} value {value!r}; valid: {', '.join(spec.choices)}",
                    hint=spec.help,
                )
            if (
                spec.minimum is not None
                and isinstance(value, (int, float))
                and not (
                    value >= spec.minimum and not (isinstance(value, float) and math.isnan(value))
                )
            ):
                raise ConfigError(
                    f"--{spec.cli_name} must be >= {spec.minimum:g}, got {value}", hint=spec.help
                )
            if (
                spec.maximum is not None
                and isinstance(value, (int, float))
                and not value <= spec.maximum
            ):
                raise ConfigError(
                    f"--{spec.cli_name} must be <= {spec.maximum:g}, got {value}", hint=spec.help
                )
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
        if self.proxy_headers:
            self.trusted_proxies()

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
        """The request-head limits."""
        return Limits(
            max_request_line=self.limit_request_line,
            max_header_bytes=self.limit_request_field_size,
            max_header_count=self.limit_request_fields,
        )

    def replace(self, **changes: Any) -> Config:
        """A copy with some options changed (validated again)."""
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class OptionSpec:
    """One option as the CLI and the environment see it, read off a :class:`Config` field."""

    name: str
    annotation: str
    default: Any
    help: str
    choices: tuple[str, ...] | None
    minimum: float | None
    maximum: float | None
    flag: str | None
    secondary: str | None
    panel: str
    argument: bool
    metavar: str | None

    @property
    def cli_name(self) -> str:
        return self.name.replace("_", "-")

    @property
    def envvar(self) -> str:
        return ENV_PREFIX + self.name.upper()


def option_specs() -> list[OptionSpec]:
    """Every option, in declaration order."""
    specs = []
    for item in dataclasses.fields(Config):
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:  # pragma: no cover - every option has a default
            default = None
        meta = item.metadata
        specs.append(
            OptionSpec(
                name=item.name,
                annotation=str(item.type),
                default=default,
                help=meta["help"],
                choices=meta["choices"],
                minimum=meta["minimum"],
                maximum=meta["maximum"],
                flag=meta["flag"],
                secondary=meta["secondary"],
                panel=meta["panel"],
                argument=meta["argument"],
                metavar=meta["metavar"],
            )
        )
    return specs
