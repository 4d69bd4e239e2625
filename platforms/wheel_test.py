"""The suites on an installed xloop wheel, from a copy of the tests: what
``platforms/compiled.sh`` and the wheels workflow's cibuildwheel test step run.

    python platforms/wheel_test.py                    # server, HTTP, WebSocket, integration
    python platforms/wheel_test.py -x -q tests/http   # any pytest arguments instead

Run it from a directory holding copies of ``tests/``, ``benchmarks/``, ``pyproject.toml``
and ``README.md`` but no ``xloop/`` (pytest started in the source tree would import the
tree's xloop, not the installed one): cibuildwheel's ``test-sources`` make such a copy, and
so does ``compiled.sh``. Before pytest it checks that ``xloop`` is imported from outside
that directory and that the request path is compiled (``xloop --version`` says
``compiled: yes``): a wheel that fell back to pure Python fails here, with one line, exit
code 1. ``XLOOP_COMPILE=0`` expects a pure-Python build instead. Standard library only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

#: The suites run when no pytest arguments are given: everything the compiled modules serve.
SUITES = (
    "tests/server",
    "tests/http",
    "tests/ws",
    "tests/integration",
    "tests/compare/test_machine.py",
    "tests/cli/test_errors.py::test_version_says_whether_the_request_path_is_compiled",
)


def check_installed(here: Path) -> str | None:
    """Why the xloop Python imports here is not the build to test, or None if it is."""
    import xloop
    from xloop._version import version_line

    source = Path(xloop.__file__).resolve().parent
    if source.is_relative_to(here.resolve()):
        return f"xloop is imported from {source}, not from the installed wheel"
    line = version_line()
    want = "no" if os.environ.get("XLOOP_COMPILE", "").strip().lower() in ("0", "no") else "yes"
    if f"(compiled: {want})" not in line:
        return f"the installed xloop says {line!r}, expected compiled: {want}"
    print(f"-- {line}, from {source}", flush=True)
    return None


def main(argv: list[str]) -> int:
    here = Path.cwd()
    if not (here / "tests").is_dir():
        print(f"wheel_test: no tests/ in {here} (run it from a copy of the tests)", file=sys.stderr)
        return 2
    problem = check_installed(here)
    if problem is not None:
        print(f"wheel_test: {problem}", file=sys.stderr)
        return 1
    args = argv or ["-n", "2", "-q", *SUITES]
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args]
    return subprocess.call(command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
