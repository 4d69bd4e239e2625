"""``--access-log-format``: the default line, every field, and escaping of what the client
sent (no forged lines, no terminal escapes: CVE-2020-7694 in uvicorn)."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from xloop import Config
from xloop.access import DEFAULT_FORMAT, FIELDS, AccessFormat, escape
from xloop.errors import ConfigError

from .apps import hello
from .client import exchange, get
from .harness import Backend, serving


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "xloop.access"]


def test_the_default_line(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xloop.access")
    with serving(hello, backend, log_level="info") as server, server.connect() as sock:
        port = sock.getsockname()[1]
        assert exchange(sock, get("/x?y=1")).status == 200
    assert _access_lines(caplog) == [f'127.0.0.1:{port} - "GET /x?y=1 HTTP/1.1" 200 OK']


def test_every_field(backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="xloop.access")
    fmt = " | ".join(f"{name}=%({name})s" for name in FIELDS)
    with (
        serving(hello, backend, log_level="info", access_log_format=fmt) as server,
        server.connect() as sock,
    ):
        extra = "User-Agent: curl/8.0\r\nReferer: http://example.org/\r\n"
        assert exchange(sock, get("/p", host="example.org", extra=extra)).status == 200
    (line,) = _access_lines(caplog)
    fields = dict(item.split("=", 1) for item in line.split(" | "))
    assert fields["method"] == "GET"
    assert fields["path"] == "/p"
    assert fields["http_version"] == "1.1"
    assert fields["request_line"] == "GET /p HTTP/1.1"
    assert (fields["status"], fields["reason"]) == ("200", "OK")
    assert fields["size"] == str(len(b"Hello, world!"))
    assert float(fields["duration_ms"]) >= 0.0
    assert fields["user_agent"] == "curl/8.0"
    assert fields["referer"] == "http://example.org/"
    assert fields["host"] == "example.org"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", fields["client"])
    assert fields["pid"].isdigit()


def test_what_the_client_sent_is_escaped(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """A user agent with a quote (to end the field and forge the rest of the line) and a C1
    control (CSI, a terminal escape) reaches the log escaped."""
    caplog.set_level(logging.INFO, logger="xloop.access")
    fmt = '"%(request_line)s" %(status)d "%(user_agent)s"'
    raw = get("/a", extra='User-Agent: evil" 200 "x\x9b31m\r\n')
    raw = raw.replace("\x9b".encode(), b"\x9b")  # the raw byte, obs-text in a field value
    with (
        serving(hello, backend, log_level="info", access_log_format=fmt) as server,
        server.connect() as sock,
    ):
        assert exchange(sock, raw).status == 200
    (line,) = _access_lines(caplog)
    assert line == '"GET /a HTTP/1.1" 200 "evil\\" 200 \\"x\\x9b31m"'
    assert not re.search(r"[\x00-\x1f\x7f-\x9f]", line)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ('q"uote', 'q\\"uote'),
        ("back\\slash", "back\\\\slash"),
        ("\x1b[31mred", "\\x1b[31mred"),
        ("new\nline\r", "new\\x0aline\\x0d"),
        ("del\x7f c1\x9b", "del\\x7f c1\\x9b"),
        ("é ok", "é ok"),
    ],
)
def test_escape(text: str, expected: str) -> None:
    assert escape(text) == expected


@pytest.mark.parametrize(
    ("fmt", "message"),
    [
        ("%(nope)s", "unknown field 'nope'"),
        ("%(status)d %", "not a valid %-format"),
        ("%(status)q", "not a valid %-format"),
    ],
)
def test_a_bad_format_is_a_config_error(fmt: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        Config(access_log_format=fmt)


def test_only_what_the_format_uses_is_computed() -> None:
    assert not AccessFormat(DEFAULT_FORMAT).timed
    assert AccessFormat(DEFAULT_FORMAT).headers == {}
    timed: Any = AccessFormat("%(duration_ms).1f %(user_agent)s")
    assert timed.timed
    assert timed.headers == {"user_agent": b"user-agent"}
