"""The README's table of uvicorn's flags is complete, and true of ``xloop serve``; and
``xloop.run()`` takes ``uvicorn.run()``'s keyword names."""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import Config, options
from xloop.errors import ConfigError
from xloop.server.run import UVICORN_NAMES, _from_uvicorn

from ._support import run_cli

pytestmark = ONCE_UNDER_WINE

README = Path(__file__).resolve().parents[2] / "README.md"

#: ``uvicorn --help`` of uvicorn 0.54.0, every option; 0.55.0 has the same.
TABLE_RELEASES = ("0.54.", "0.55.")
UVICORN_054 = [
    "--host",
    "--port",
    "--uds",
    "--fd",
    "--reload",
    "--reload-dir",
    "--reload-include",
    "--reload-exclude",
    "--reload-delay",
    "--workers",
    "--loop",
    "--http",
    "--http2",
    "--ws",
    "--ws-max-size",
    "--ws-max-queue",
    "--ws-ping-interval",
    "--ws-ping-timeout",
    "--ws-per-message-deflate",
    "--lifespan",
    "--interface",
    "--env-file",
    "--log-config",
    "--log-level",
    "--access-log",
    "--use-colors",
    "--proxy-headers",
    "--server-header",
    "--date-header",
    "--forwarded-allow-ips",
    "--root-path",
    "--limit-concurrency",
    "--backlog",
    "--limit-max-requests",
    "--limit-max-requests-jitter",
    "--timeout-keep-alive",
    "--timeout-graceful-shutdown",
    "--timeout-worker-healthcheck",
    "--ssl-keyfile",
    "--ssl-certfile",
    "--ssl-keyfile-password",
    "--ssl-version",
    "--ssl-cert-reqs",
    "--ssl-ca-certs",
    "--ssl-ciphers",
    "--header",
    "--version",
    "--app-dir",
    "--h11-max-incomplete-event-size",
    "--reset-contextvars",
    "--factory",
    "--help",
]

#: ``uvicorn.run()`` keywords that are not options of xloop's (each in the table).
NOT_CONFIG = {"app", "reset_contextvars", "http2", "ssl_context_factory"}


def _table() -> list[tuple[str, str, str]]:
    text = README.read_text(encoding="utf-8")
    body = text.split("<!-- uvicorn-flags:start -->")[1].split("<!-- uvicorn-flags:end -->")[0]
    rows = []
    for line in body.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows.append((cells[0].strip("`"), cells[1], cells[2]))
    return rows


def _xloop_flags() -> set[str]:
    flags = {"--help"}
    for spec in options.option_specs(Config):
        flags.add(spec.flag)
        if spec.secondary:
            flags.add(spec.secondary)
    return flags


def test_the_table_lists_every_uvicorn_054_option_once() -> None:
    listed = [flag for flag, _, _ in _table()]
    assert sorted(listed) == sorted(UVICORN_054)
    assert len(listed) == len(set(listed))


def test_the_installed_uvicorn_has_exactly_those_options() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    if not uvicorn.__version__.startswith(TABLE_RELEASES):
        pytest.skip(f"uvicorn {uvicorn.__version__}: the table is that of 0.54 and 0.55")
    from uvicorn.main import main as command

    flags = {"--help"}
    for param in command.params:
        flags.update(opt for opt in param.opts if opt.startswith("--"))
    assert flags == set(UVICORN_054)


def test_every_row_marked_same_is_an_xloop_serve_option() -> None:
    ours = _xloop_flags()
    help_text = run_cli(["serve", "--help"], cwd=README.parent, env={"COLUMNS": "300"}).stdout
    for flag, xloop, _ in _table():
        if xloop == "same":
            assert flag in ours, f"{flag} is marked 'same' but xloop serve has no such option"
            assert flag in help_text, f"{flag} is missing from xloop serve --help"
        else:
            for named in re.findall(r"`(--[a-z0-9-]+)`", xloop):
                if not xloop.startswith("`xloop "):
                    assert named in ours, f"{flag}: xloop has no {named}"


def test_xloop_run_takes_uvicorn_run_keywords() -> None:
    uvicorn = pytest.importorskip("uvicorn")
    fields = {field.name for field in dataclasses.fields(Config)}
    for name in inspect.signature(uvicorn.run).parameters:
        assert name in fields or name in UVICORN_NAMES or name in NOT_CONFIG, name


def test_uvicorn_keywords_become_xloop_options() -> None:
    given: dict[str, Any] = {
        "reload_dirs": "src",
        "reload_includes": ["*.py", "*.html"],
        "headers": [("x-served-by", "xloop")],
        "h11_max_incomplete_event_size": 32768,
        "reset_contextvars": True,
        "log_config": {"version": 1},
    }
    log_dict = _from_uvicorn(given)
    assert log_dict == {"version": 1}
    assert given == {
        "reload_dir": ["src"],
        "reload_include": ["*.py", "*.html"],
        "header": ["x-served-by:xloop"],
        "limit_request_field_size": 32768,
    }
    config = Config(app="main:app", **given)
    assert config.extra_headers() == [(b"x-served-by", b"xloop")]


def test_what_xloop_cannot_do_is_said() -> None:
    with pytest.raises(ConfigError, match=r"HTTP/1\.1 only"):
        _from_uvicorn({"http2": True})
    with pytest.raises(ConfigError, match="ssl_context_factory"):
        _from_uvicorn({"ssl_context_factory": object()})
