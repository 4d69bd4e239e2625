"""Every user mistake: ONE ``xloop: error:`` line with a hint, no traceback, the documented code.

Exit codes (xloop.errors): 1 runtime failure, 2 usage error, 3 app not loadable, 4 cannot bind.
Each case runs in-process (``xloop.cli.main``, isolated: environment, cwd, ``sys.path``, the
``xloop`` loggers and the test modules are restored afterwards) and the marked ones also as
a real ``python -m xloop`` process.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import selectors
import socket
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop import cli as xloop_cli
from xloop import loops
from xloop._version import version_line

from ._support import (
    HELLO_APP,
    Backend,
    Completed,
    error_lines,
    expected_loop_text,
    loop_families,
    run_cli,
    xloop_process,
)

FAMILIES = loop_families()
PREFIX = "xlcli_"  # every module these tests import, so they can be forgotten afterwards

APP_MODULE = """\
VALUE = 42


async def app(scope, receive, send):
    assert scope['type'] == 'http'


def create_app():
    return app
"""

BOOM_MODULE = "raise RuntimeError('boom at import')\n"

FAILING_LIFESPAN = """\
async def app(scope, receive, send):
    if scope['type'] == 'lifespan':
        await receive()
        await send({'type': 'lifespan.startup.failed', 'message': 'database unreachable'})
        return
"""

MODULES = {
    f"{PREFIX}app.py": APP_MODULE,
    f"{PREFIX}boom.py": BOOM_MODULE,
    f"{PREFIX}failing.py": FAILING_LIFESPAN,
    f"{PREFIX}hello.py": HELLO_APP,
}

no_windows = pytest.mark.skipif(loops.IS_WINDOWS, reason="asserts a non-Windows answer")
no_kqueue = pytest.mark.skipif(
    hasattr(selectors, "KqueueSelector"), reason="kqueue exists on this OS"
)


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    code: int
    needles: tuple[str, ...] = ()
    alone: bool = True  # stderr holds nothing but the error line
    subprocess: bool = False
    marks: tuple[pytest.MarkDecorator, ...] = field(default=())


def _cases() -> dict[str, Case]:
    available = ", ".join(loops.available_backends())
    selectors_here = ", ".join(loops.available_selectors())
    return {
        # 3: the app cannot be loaded
        "module-not-found": Case(
            ("serve", f"{PREFIX}missing:app"),
            3,
            (f"could not import module '{PREFIX}missing'", "--app-dir"),
            subprocess=True,
        ),
        "attribute-not-found": Case(
            ("serve", f"{PREFIX}app:nope"),
            3,
            ("'nope' not found", "include: app, create_app"),
        ),
        "not-callable": Case(("serve", f"{PREFIX}app:VALUE"), 3, ("not callable", "int")),
        "zero-arg-function-without-factory": Case(
            ("serve", f"{PREFIX}app:create_app"), 3, ("factory", "--factory"), subprocess=True
        ),
        "module-raises-on-import": Case(
            ("serve", f"{PREFIX}boom:app"), 3, ("RuntimeError", "boom at import")
        ),
        # 2: usage errors
        "app-without-colon": Case(
            ("serve", f"{PREFIX}app"), 2, ("module:attribute", "main:app"), subprocess=True
        ),
        "unknown-loop": Case(
            ("serve", "--loop", "bogus"),
            2,
            ("'bogus'", "auto, asyncio, selector, proactor, uvloop, winloop"),
        ),
        "unknown-http": Case(
            ("serve", "--http", "bogus"), 2, ("'bogus'", "auto, h11, httptools, zttp")
        ),
        "proactor-off-windows": Case(
            ("serve", "--loop", "proactor"),
            2,
            ("needs Windows", f"available here: {available}"),
            subprocess=True,
            marks=(no_windows,),
        ),
        "kqueue-selector-without-kqueue": Case(
            ("serve", "--loop", "selector", "--selector", "kqueue"),
            2,
            ("kqueue", f"available here: {selectors_here}"),
            marks=(no_kqueue,),
        ),
        "kqueue-on-the-default-loop": Case(
            ("serve", "--selector", "kqueue"), 2, ("kqueue",), marks=(no_kqueue,)
        ),
        "unknown-selector": Case(
            ("serve", "--selector", "bogus"),
            2,
            ("'bogus'", "auto, epoll, kqueue, devpoll, poll, select"),
        ),
        "which-loop-no-workers": Case(
            ("which-loop", "--workers", "0"), 2, ("--workers must be at least 1, got 0",)
        ),
        "serve-negative-workers": Case(
            ("serve", "--workers", "-1"), 2, ("--workers must be at least 1, got -1",)
        ),
        "bogus-lifespan": Case(("serve", "--lifespan", "bogus"), 2, ("'bogus'", "auto, on, off")),
        "negative-port": Case(("serve", "--port", "-1"), 2, ("--port", "-1"), subprocess=True),
        "unknown-option": Case(("serve", "--bogus"), 2, ("--bogus",), subprocess=True),
        "bad-int": Case(("serve", "--port", "abc"), 2, ("--port",), subprocess=True),
        "unknown-command": Case(("bogus",), 2, ("bogus",)),
        "extra-argument": Case(("serve", f"{PREFIX}app:app", "extra"), 2, ("extra",)),
        "uds-with-fd": Case(("serve", "--uds", "x.sock", "--fd", "3"), 2, ("--uds", "--fd")),
        "header-without-colon": Case(
            ("serve", "--header", "novalue"), 2, ("novalue", "NAME:VALUE")
        ),
        "bad-forwarded-allow-ips": Case(
            ("serve", "--forwarded-allow-ips", "bogus"), 2, ("'bogus'",)
        ),
        # 1: the server failed while starting
        "lifespan-startup-failed": Case(
            ("serve", f"{PREFIX}failing:app", "--lifespan", "on", "--port", "0"),
            1,
            ("startup failed", "database unreachable"),
            alone=False,  # the log line of the failure comes first
            subprocess=True,
        ),
    }


CASES = _cases()
IN_PROCESS = [pytest.param(name, id=name, marks=case.marks) for name, case in CASES.items()]
SUBPROCESS = [
    pytest.param(name, id=name, marks=case.marks) for name, case in CASES.items() if case.subprocess
]


def assert_one_error(
    result: Completed, code: int, needles: Sequence[str] = (), *, alone: bool = True
) -> str:
    context = f"exit code {result.code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "Traceback" not in result.stderr, context
    lines = error_lines(result.stderr)
    assert len(lines) == 1, context
    line = lines[0]
    if alone:
        assert result.stderr.strip() == line, context
    assert result.stdout == "", context
    assert result.code == code, context
    assert "(hint: " in line or "; available here: " in line, f"no hint: {line}"
    for needle in needles:
        assert needle in line, f"{needle!r} not in: {line}"
    return line


# -- in-process --------------------------------------------------------------------------


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A cwd holding the test modules; the process state main() touches, restored."""
    for key in list(os.environ):
        if key.startswith("XLOOP_"):
            monkeypatch.delenv(key)
    for name, source in MODULES.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    root, access = logging.getLogger("xloop"), logging.getLogger("xloop.access")
    saved = (root.handlers[:], root.level, root.propagate, access.disabled)
    importlib.invalidate_caches()
    try:
        yield tmp_path
    finally:
        root.handlers[:], root.level, root.propagate, access.disabled = saved
        for module in [name for name in sys.modules if name.startswith(PREFIX)]:
            del sys.modules[module]


def run_main(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> Completed:
    """``xloop.cli.main(argv)``: it must end in SystemExit, whatever happens."""
    code: int
    try:
        xloop_cli.main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except Exception as exc:
        captured = capsys.readouterr()
        pytest.fail(
            f"main({list(argv)}) raised {type(exc).__module__}.{type(exc).__qualname__}: "
            f"{exc} instead of exiting\nstderr:\n{captured.err}"
        )
    else:
        pytest.fail(f"main({list(argv)}) returned instead of exiting")
    captured = capsys.readouterr()
    return Completed(code, captured.out, captured.err)


@ONCE_UNDER_WINE
@pytest.mark.parametrize("name", IN_PROCESS)
def test_in_process(name: str, isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = CASES[name]
    result = run_main(case.argv, capsys)
    assert_one_error(result, case.code, case.needles, alone=case.alone)


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_port_in_use(backend: Backend, isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        argv = ["serve", f"{PREFIX}hello:app", "--port", str(port), *backend.loop_args()]
        result = run_main(argv, capsys)
    # the lifespan notice of the hello app comes first
    assert_one_error(result, 4, (f"127.0.0.1:{port}", "--port"), alone=False)


def test_version_says_whether_the_request_path_is_compiled() -> None:
    """``(compiled: yes)`` exactly when Python imported the request path's modules from
    extension modules (a compiled build, ``platforms/compile.py``), not from source."""
    from xloop import __version__
    from xloop.server import cycle

    built = not cycle.__file__.endswith(".py")
    assert version_line() == f"xloop {__version__} (compiled: {'yes' if built else 'no'})"


@ONCE_UNDER_WINE
def test_version_in_process(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(["--version"], capsys)
    assert (result.code, result.stdout, result.stderr) == (0, f"{version_line()}\n", "")


@ONCE_UNDER_WINE
def test_serve_help_mentions_environment(
    isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_main(["serve", "--help"], capsys)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    for expected in ("--port", "--loop", "XLOOP_<OPTION>", "XLOOP_PORT", "XLOOP_LOOP"):
        assert expected in result.stdout, expected


@ONCE_UNDER_WINE
def test_which_loop_json_in_process(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main(["which-loop", "--json"], capsys)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "xloop.which-loop/1"
    choice = loops.resolve()
    assert report["backend"] == choice.backend
    assert isinstance(report["loop_class"], str)
    if choice.backend != "selector":
        assert report["loop_class"] == expected_loop_text(choice.backend, None)


@ONCE_UNDER_WINE
@pytest.mark.skipif(not hasattr(selectors, "PollSelector"), reason="no poll() here")
def test_which_loop_json_for_a_selector(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["which-loop", "--loop", "selector", "--selector", "poll", "--json"]
    result = run_main(argv, capsys)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert expected_loop_text("selector", "poll").startswith(report["loop_class"] + " with ")
    assert report["driver"] == {"kind": "selector", "class": "selectors.PollSelector"}


@ONCE_UNDER_WINE
def test_bare_xloop_shows_usage(isolated: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_main([], capsys)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    assert "Usage" in output, output
    assert result.code in (0, 2), output
    for line in error_lines(result.stderr):  # if it says "error", it says what
        assert not line.removeprefix("xloop: error:").strip().startswith("(hint:"), output


# -- as real processes -------------------------------------------------------------------


@pytest.fixture
def modules_dir(tmp_path: Path) -> Path:
    for name, source in MODULES.items():
        (tmp_path / name).write_text(source, encoding="utf-8")
    return tmp_path


def _run_failing(argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Completed:
    """A real process that must fail before serving (never left running if it does not)."""
    with xloop_process(argv, cwd=cwd, env=env) as process:
        code = process.wait_exit_without_serving()
        return Completed(code, "", process.log + "\n")


@ONCE_UNDER_WINE
@pytest.mark.parametrize("name", SUBPROCESS)
def test_subprocess(name: str, modules_dir: Path) -> None:
    case = CASES[name]
    result = _run_failing(case.argv, modules_dir)
    assert_one_error(result, case.code, case.needles, alone=case.alone)


@ONCE_UNDER_WINE
def test_port_in_use_subprocess(modules_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = _run_failing(["serve", f"{PREFIX}hello:app", "--port", str(port)], modules_dir)
    assert_one_error(result, 4, (f"127.0.0.1:{port}", "--port"), alone=False)


@pytest.mark.parametrize("backend", FAMILIES, ids=[b.loop for b in FAMILIES])
def test_port_above_65535(backend: Backend, modules_dir: Path) -> None:
    # uvloop would silently take it modulo 65536 (65536 -> any free port)
    argv = ["serve", f"{PREFIX}hello:app", "--port", "65536", *backend.loop_args()]
    assert_one_error(_run_failing(argv, modules_dir), 2, ("--port", "65536"))


@ONCE_UNDER_WINE
def test_bad_environment_value(modules_dir: Path) -> None:
    result = _run_failing(
        ["serve", f"{PREFIX}hello:app"], modules_dir, env={"XLOOP_PORT": "not-a-port"}
    )
    assert_one_error(result, 2, ("--port",))


@ONCE_UNDER_WINE
def test_version_subprocess(tmp_path: Path) -> None:
    result = run_cli(["--version"], cwd=tmp_path)
    assert (result.code, result.stdout, result.stderr) == (0, f"{version_line()}\n", "")


@ONCE_UNDER_WINE
def test_serve_help_subprocess(tmp_path: Path) -> None:
    result = run_cli(["serve", "--help"], cwd=tmp_path)
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    assert "XLOOP_<OPTION>" in result.stdout
    assert "XLOOP_PORT" in result.stdout


@ONCE_UNDER_WINE
def test_which_loop_json_subprocess(tmp_path: Path) -> None:
    result = run_cli(["which-loop", "--json"], cwd=tmp_path)
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["schema"] == "xloop.which-loop/1"
    assert isinstance(report["loop_class"], str)
    assert report["loop_class"]


@ONCE_UNDER_WINE
def test_version_imports_only_the_version(tmp_path: Path) -> None:
    """``xloop --version`` (the console script's entry) answers before typer, the server or
    asyncio are imported; and ``import xloop`` alone imports none of them either."""
    code = (
        "import sys\n"
        "from xloop.__main__ import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit as exc:\n"
        "    assert exc.code == 0, exc.code\n"
        "heavy = sorted(name for name in ('typer', 'rich', 'asyncio', 'xloop.server', "
        "'xloop.config') if name in sys.modules)\n"
        "print(heavy)\n"
    )
    result = run_cli(["-c", code], cwd=tmp_path, pyargs=())
    assert result.code == 0, result.stderr
    assert result.stdout == f"{version_line()}\n[]\n"


@ONCE_UNDER_WINE
def test_public_names_are_imported_on_first_use(tmp_path: Path) -> None:
    code = (
        "import sys, xloop\n"
        "assert 'xloop.server' not in sys.modules\n"
        "from xloop import Config, run, XloopError\n"
        "assert callable(run) and 'xloop.server' in sys.modules\n"
        "assert set(xloop.__all__) <= set(dir(xloop))\n"
        "try:\n"
        "    xloop.nothing\n"
        "except AttributeError as exc:\n"
        "    print(exc)\n"
    )
    result = run_cli(["-c", code], cwd=tmp_path, pyargs=())
    assert result.code == 0, result.stderr
    assert result.stdout == "module 'xloop' has no attribute 'nothing'\n"
