"""The access log line (``--access-log-format``): one line per response, fields by name.

The format is Python's ``%``-style with named fields, checked once at start-up::

    %(client)s - "%(request_line)s" %(status)d %(reason)s          (the default)
    %(client)s "%(request_line)s" %(status)d %(size)d %(duration_ms).1fms "%(user_agent)s"

Fields: ``client`` (``host:port``, ``-`` when unknown), ``method``, ``path`` (the target as
sent, query included), ``http_version``, ``request_line`` (``GET /x HTTP/1.1``), ``status``,
``reason``, ``size`` (response body bytes), ``duration_ms`` (from the request head to the
last byte written), ``user_agent``, ``referer``, ``host`` (``-`` when the header is absent),
``pid``.

Every text that comes from the client is escaped before it reaches the log: control
characters (C0, DEL, C1: terminal escapes included) become ``\\xNN``, and ``"`` and ``\\``
are escaped, so a request cannot forge or colour a log line (uvicorn's CVE-2020-7694).

Only what the format uses is computed: the time of a request is taken only when
``duration_ms`` is in it, headers are looked up only when a header field is.
"""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from .http.events import Request

__all__ = ["DEFAULT_FORMAT", "FIELDS", "AccessFormat", "escape"]

DEFAULT_FORMAT = '%(client)s - "%(request_line)s" %(status)d %(reason)s'

_SAMPLE: dict[str, Any] = {
    "client": "127.0.0.1:50000",
    "method": "GET",
    "path": "/",
    "http_version": "1.1",
    "request_line": "GET / HTTP/1.1",
    "status": 200,
    "reason": "OK",
    "size": 0,
    "duration_ms": 0.0,
    "user_agent": "-",
    "referer": "-",
    "host": "-",
    "pid": 0,
}
FIELDS = tuple(_SAMPLE)

_HEADER_FIELDS = {"user_agent": b"user-agent", "referer": b"referer", "host": b"host"}
_UNSAFE = re.compile(r'[\x00-\x1f\x7f-\x9f"\\]')
_FIELD = re.compile(r"%\((\w+)\)")


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    return "\\" + char if char in '"\\' else f"\\x{ord(char):02x}"


def escape(text: str) -> str:
    """``text`` with control characters as ``\\xNN`` and ``"``, ``\\`` escaped."""
    return _UNSAFE.sub(_escape_one, text)


class AccessFormat:
    """A checked ``--access-log-format``; :meth:`line` renders one response."""

    __slots__ = ("fmt", "headers", "timed", "uses")

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.uses = frozenset(_FIELD.findall(fmt))
        unknown = sorted(self.uses - set(FIELDS))
        if unknown:
            raise ConfigError(
                f"--access-log-format: unknown field {unknown[0]!r}",
                hint=f"fields: {', '.join(FIELDS)}",
            )
        try:
            fmt % _SAMPLE
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(
                f"--access-log-format {fmt!r} is not a valid %-format: {exc}",
                hint="e.g. '%(client)s \"%(request_line)s\" %(status)d %(size)d'",
            ) from None
        #: duration_ms is used: the cycle notes when its request started.
        self.timed = "duration_ms" in self.uses
        self.headers = {name: key for name, key in _HEADER_FIELDS.items() if name in self.uses}

    def line(
        self,
        client: Any,
        request: Request,
        status: int,
        reason: str,
        size: int,
        duration_s: float,
    ) -> str:
        """The log line of one response."""
        target = escape(request.target.decode("latin-1"))
        values: dict[str, Any] = {
            "client": f"{client[0]}:{client[1]}" if client else "-",
            "method": escape(request.method),
            "path": target,
            "http_version": request.http_version,
            "request_line": f"{escape(request.method)} {target} HTTP/{request.http_version}",
            "status": status,
            "reason": reason,
            "size": size,
            "duration_ms": duration_s * 1000.0,
            "pid": os.getpid(),
        }
        for name, key in self.headers.items():
            found = "-"
            for header, value in request.headers:
                if header == key:
                    found = escape(value.decode("latin-1"))
                    break
            values[name] = found
        return self.fmt % values
