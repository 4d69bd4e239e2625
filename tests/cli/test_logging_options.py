"""``--log-config`` (YAML, JSON, INI), ``--access-log-format``, ``--use-colors`` and
``--env-file``, through ``xloop serve`` as a user runs it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import loops

from ._support import XloopProcess, error_lines, http_get, run_cli, write_hello, xloop_process

pytestmark = ONCE_UNDER_WINE

ENV_APP = """\
import os


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    body = os.environ.get('GREETING', 'unset').encode()
    await send({'type': 'http.response.start', 'status': 200, 'headers': []})
    await send({'type': 'http.response.body', 'body': body})
"""

YAML_CONFIG = """\
version: 1
formatters:
  plain:
    format: "ACCESS %(message)s"
handlers:
  file:
    class: logging.FileHandler
    filename: {path}
    formatter: plain
loggers:
  xloop.access:
    handlers: [file]
    level: INFO
    propagate: false
"""

INI_CONFIG = """\
[loggers]
keys=root,access

[handlers]
keys=file

[formatters]
keys=plain

[logger_root]
level=WARNING
handlers=

[logger_access]
level=INFO
handlers=file
qualname=xloop.access
propagate=0

[handler_file]
class=FileHandler
args=({path!r},)
formatter=plain

[formatter_plain]
format=INI %(message)s
"""


def _stop(server: XloopProcess) -> None:
    """SIGINT on POSIX (a clean exit); on Windows, where no POSIX signal can be sent to it,
    the process is ended (every line it logged so far is read first: the server writes
    each line before it answers)."""
    if loops.IS_WINDOWS:
        server.close()
    else:
        assert server.stop() == 0, server.describe()


def _serve_once(tmp_path: Path, *args: str) -> str:
    """Serve, answer one GET /x, stop: the log."""
    write_hello(tmp_path)
    with xloop_process(["serve", "main:app", "--port", "0", *args], cwd=tmp_path) as server:
        assert http_get(server.wait_port(), "/x").status == 200
        _stop(server)
        return server.log


def _json_config(path: Path) -> str:
    return json.dumps(
        {
            "version": 1,
            "formatters": {"plain": {"format": "JSON %(message)s"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "filename": str(path),
                    "formatter": "plain",
                }
            },
            "loggers": {
                "xloop.access": {"handlers": ["file"], "level": "INFO", "propagate": False}
            },
        }
    )


@pytest.mark.parametrize("kind", ["yaml", "json", "ini"])
def test_log_config_sends_the_access_log_where_it_says(tmp_path: Path, kind: str) -> None:
    if kind == "yaml":
        pytest.importorskip("yaml", exc_type=ImportError)
    log_file = tmp_path / "access.log"
    config = tmp_path / f"logging.{kind}"
    text = {
        "yaml": YAML_CONFIG.format(path=json.dumps(str(log_file))),
        "json": _json_config(log_file),
        "ini": INI_CONFIG.format(path=str(log_file)),
    }[kind]
    config.write_text(text, encoding="utf-8")
    log = _serve_once(tmp_path, "--log-config", str(config))
    prefix = {"yaml": "ACCESS", "json": "JSON", "ini": "INI"}[kind]
    lines = log_file.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf'{prefix} 127\.0\.0\.1:\d+ - "GET /x HTTP/1\.1" 200 OK', lines[0])
    assert "GET /x" not in log  # the access line went to the file only
    assert "xloop serving on" in log  # the rest of xloop's log is untouched


def test_access_log_format_changes_the_line(tmp_path: Path) -> None:
    fmt = "%(method)s %(path)s -> %(status)d (%(size)d bytes) ua=%(user_agent)s"
    log = _serve_once(tmp_path, "--access-log-format", fmt)
    assert "INFO:     GET /x -> 200 (13 bytes) ua=-" in log.splitlines()


def test_a_bad_log_config_or_format_is_one_line_exit_2(tmp_path: Path) -> None:
    write_hello(tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    done = run_cli(["serve", "main:app", "--log-config", str(bad)], cwd=tmp_path)
    assert done.code == 2
    (line,) = error_lines(done.stderr)
    assert line.startswith(f"xloop: error: --log-config {bad}: JSONDecodeError")
    done = run_cli(["serve", "main:app", "--access-log-format", "%(nope)s"], cwd=tmp_path)
    assert done.code == 2
    assert error_lines(done.stderr) == [
        "xloop: error: --access-log-format: unknown field 'nope' (hint: fields: client, method, "
        "path, http_version, request_line, status, reason, size, duration_ms, user_agent, "
        "referer, host, pid)"
    ]


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        pytest.param(
            "list.json",
            "[1, 2]",
            "not a dictConfig mapping (hint: see logging.config.dictConfig's schema "
            "(version: 1, handlers, ...))",
            id="json-not-a-mapping",
        ),
        pytest.param("gone.json", None, "no such file (hint: check the path)", id="json-missing"),
        pytest.param("gone.ini", None, "no such file (hint: check the path)", id="ini-missing"),
    ],
)
def test_a_log_config_that_is_missing_or_not_a_mapping_is_one_line_exit_2(
    tmp_path: Path, name: str, content: str | None, says: str
) -> None:
    """A JSON file that is not an object, or no file at all (whatever its kind), is named
    in one line before anything starts."""
    write_hello(tmp_path)
    config = tmp_path / name
    if content is not None:
        config.write_text(content, encoding="utf-8")
    done = run_cli(["serve", "main:app", "--log-config", str(config)], cwd=tmp_path)
    assert done.code == 2
    assert error_lines(done.stderr) == [f"xloop: error: --log-config {config}: {says}"]


@pytest.mark.parametrize(("flag", "coloured"), [("--use-colors", True), ("--no-use-colors", False)])
def test_use_colors(tmp_path: Path, flag: str, coloured: bool) -> None:
    log = _serve_once(tmp_path, flag)
    assert ("\x1b[32mINFO\x1b[0m:" in log) is coloured
    assert ("\x1b[" in log) is coloured


def test_no_colours_by_default_when_stderr_is_not_a_terminal(tmp_path: Path) -> None:
    assert "\x1b[" not in _serve_once(tmp_path)


def test_env_file_reaches_the_app_and_the_environment_wins(tmp_path: Path) -> None:
    (tmp_path / "envapp.py").write_text(ENV_APP, encoding="utf-8")
    (tmp_path / "app.env").write_text("GREETING=hello from .env\n", encoding="utf-8")
    args = ["serve", "envapp:app", "--port", "0", "--env-file", str(tmp_path / "app.env")]
    with xloop_process(args, cwd=tmp_path) as server:
        assert http_get(server.wait_port()).body == b"hello from .env"
        _stop(server)
    with xloop_process(args, cwd=tmp_path, env={"GREETING": "from the shell"}) as server:
        assert http_get(server.wait_port()).body == b"from the shell"
        _stop(server)


def test_a_missing_env_file_is_one_line_exit_2(tmp_path: Path) -> None:
    write_hello(tmp_path)
    done = run_cli(["serve", "main:app", "--env-file", "nope.env"], cwd=tmp_path)
    assert done.code == 2
    assert error_lines(done.stderr) == [
        "xloop: error: --env-file nope.env: no such file (hint: check the path)"
    ]
