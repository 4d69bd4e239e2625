"""``xloop serve --reload``: a change to a watched file restarts the worker; an app that no
longer imports is shown and waited out; which paths count (``--reload-include``,
``--reload-exclude``)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import loops
from xloop.server.reload import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, matches

from ._workers import fresh_get, supervised

pytest.importorskip("watchfiles", exc_type=ImportError)
# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE

BODY_APP = """\
import os

BODY = {body!r}


async def app(scope, receive, send):
    if scope['type'] != 'http':
        return
    headers = [(b'x-pid', str(os.getpid()).encode())]
    await send({{'type': 'http.response.start', 'status': 200, 'headers': headers}})
    await send({{'type': 'http.response.body', 'body': BODY}})
"""


def write_app(directory: Path, body: bytes) -> None:
    (directory / "main.py").write_text(BODY_APP.format(body=body), encoding="utf-8")


def reload_args(directory: Path, *extra: str) -> list[str]:
    return [
        "main:app",
        "--reload",
        "--reload-dir",
        str(directory),
        "--reload-delay",
        "0.05",
        "--port",
        "0",
        "--no-access-log",
        *extra,
    ]


@pytest.mark.skipif(loops.IS_WINDOWS, reason="one test of the watcher, on POSIX")
def test_an_edit_is_served_and_a_syntax_error_is_waited_out(tmp_path: Path) -> None:
    write_app(tmp_path, b"first")
    with supervised(reload_args(tmp_path), cwd=tmp_path) as server:
        port = server.ready()["port"]
        first = fresh_get(port)
        assert first.body == b"first"

        write_app(tmp_path, b"second, edited")
        second = server.worker("serving", pid=lambda pid: pid != first.pid)
        server.worker("exited", pid=first.pid)
        reply = fresh_get(port)
        assert (reply.body, reply.pid) == (b"second, edited", second["pid"])
        server.process.wait_for(re.compile(r"changed: .*main\.py: reloading"))

        (tmp_path / "main.py").write_text("async def app(scope, receive, send:\n")
        broken = server.process.wait_for(
            re.compile(r"worker 1 \[(\d+)\] could not start: importing 'main' raised SyntaxError")
        )
        server.process.wait_for("waiting for a file change to try again")
        assert server.worker("exited", pid=int(broken.group(1)))["code"] == 3
        assert server.process.proc.poll() is None  # it waits for the next change

        write_app(tmp_path, b"third, fixed again")
        third = server.worker("serving", pid=lambda pid: pid not in (first.pid, second["pid"]))
        reply = fresh_get(port)
        assert (reply.body, reply.pid) == (b"third, fixed again", third["pid"])
        assert server.process.stop() == 0, server.process.describe()
        assert "Traceback" not in server.process.log


@pytest.mark.skipif(loops.IS_WINDOWS, reason="one test of the watcher, on POSIX")
def test_include_and_exclude_choose_what_reloads(tmp_path: Path) -> None:
    write_app(tmp_path, b"first")
    args = reload_args(tmp_path, "--reload-include", "*.txt", "--reload-exclude", "skip_*")
    with supervised(args, cwd=tmp_path) as server:
        port = server.ready()["port"]
        first = fresh_get(port).pid
        (tmp_path / "skip_me.txt").write_text("excluded")
        (tmp_path / "notes.txt").write_text("included")
        server.worker("serving", pid=lambda pid: pid != first)
        changed = [line for line in server.process.lines if "changed: " in line]
        assert changed
        assert "notes.txt" in changed[0]
        assert not any("skip_me" in line for line in changed), changed
        assert server.process.stop() == 0, server.process.describe()


# -- which paths reload: plain unit tests of matches() -------------------------------------

ROOT = Path("/srv/project").resolve()


def defaults(path: str) -> bool:
    return matches(str(ROOT / path), [ROOT], list(DEFAULT_INCLUDE), list(DEFAULT_EXCLUDE))


@pytest.mark.parametrize(
    ("path", "reloads"),
    [
        ("main.py", True),
        ("pkg/sub/module.py", True),
        ("README.md", False),
        ("main.pyc", False),
        ("__pycache__/main.cpython-312.pyc", False),
        ("pkg/__pycache__/x.py", False),
        (".git/hooks/pre-commit.py", False),
        (".hidden.py", False),
        (".main.py.swp", False),
        ("main.py~", False),
        ("~main.py", False),
    ],
)
def test_the_defaults(path: str, reloads: bool) -> None:
    assert defaults(path) is reloads


def test_an_include_glob_matches_the_name_or_the_relative_path() -> None:
    include = ["*.html", "conf/*.toml"]
    assert matches(str(ROOT / "templates/page.html"), [ROOT], include, [])
    assert matches(str(ROOT / "conf/app.toml"), [ROOT], include, [])
    assert not matches(str(ROOT / "other/app.toml"), [ROOT], include, [])
    assert not matches(str(ROOT / "main.py"), [ROOT], include, [])


def test_an_exclude_glob_matches_any_part_of_the_relative_path() -> None:
    include, exclude = ["*.py"], ["build", "test_*"]
    assert not matches(str(ROOT / "build/lib/main.py"), [ROOT], include, exclude)
    assert not matches(str(ROOT / "pkg/test_main.py"), [ROOT], include, exclude)
    assert matches(str(ROOT / "pkg/main.py"), [ROOT], include, exclude)
    # only the part below the watched directory counts: a root named "build" still watches
    root = Path("/srv/build").resolve()
    assert matches(str(root / "main.py"), [root], include, exclude)


def test_the_first_watched_directory_that_holds_the_path_counts() -> None:
    inner = ROOT / "vendor"
    # relative to the first root the path is below: "vendor/lib.py" under ROOT, and
    # "lib.py" under inner; an exclude of "vendor" hides it only in the first case
    assert not matches(str(inner / "lib.py"), [ROOT, inner], ["*.py"], ["vendor"])
    assert matches(str(inner / "lib.py"), [inner, ROOT], ["*.py"], ["vendor"])
