"""The compiled build: the request path's modules turned into C by mypyc.

A hatchling build hook (``pyproject.toml``: ``[tool.hatch.build.targets.wheel.hooks.custom]``),
on for every wheel built from the source (``pip install .``, ``pip install xloop`` from the
sdist, ``python -m build``); never for an editable install (the source you edit is what
runs). ``XLOOP_COMPILE`` says what to do when it cannot compile (no C compiler, no Python
headers)::

    pip install '.[standard]'                      # compiled if it can be, else pure Python
    XLOOP_COMPILE=1 pip install '.[standard]'      # compiled, or the install fails
    XLOOP_COMPILE=0 pip install '.[standard]'      # pure Python (no mypy in the build)

The wheel then holds, beside every ``.py`` file, an extension module for each of
``MODULES``; Python imports the extension first. The code is the same: mypyc compiles the
``mypy --strict`` typed source as it is, and the suite runs on the compiled build in
``.ci/run``. What it changes is the cost of each line: a native class's attributes are C
struct fields and its methods C functions: with httptools a request costs a third fewer
instructions on CPython 3.11-3.13, and more than half fewer on 3.10, whose interpreter
pays most for attribute stores (``benchmarks/request_instructions.py``; the README has
the figures). ``xloop --version`` says which build runs.

Not compiled: every module off the request path (the CLI, the supervisor, the loops' shim:
their cost is start-up, not per request). The sources are compiled in a copy, so the tree
gets no build output.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

#: The request path: each request runs through these (``xloop/`` relative, no ``.py``).
MODULES = (
    "http/events",
    "http/head",
    "http/chunked",
    "http/response",
    "http/httptools_conn",
    "http/h11_conn",
    "http/zttp_conn",
    "server/output",
    "server/idle",
    "server/parked",
    "server/cycle",
    "server/state",
    "server/connection",
    "server/transport",
    "server/eager",
    "loops/tasks",
)

#: Third-party packages without types are Any to mypyc, as they are to the lint's mypy;
#: the build has only xloop's core dependencies, so the modules not compiled (which import
#: the optional ones) are read for their types but not checked.
MYPY_INI = "[mypy]\nignore_missing_imports = True\n[mypy-xloop.*]\nignore_errors = True\n"
MYPY_INI += "".join(f"[mypy-xloop.{m.replace('/', '.')}]\nignore_errors = False\n" for m in MODULES)

SETUP = """\
from setuptools import setup
from mypyc.build import mypycify

setup(name="xloop_compiled", ext_modules=mypycify({files!r}, opt_level="3", debug_level="0"))
"""


#: What to do: "auto" (compile; if that fails, warn and build pure Python), "require"
#: (compile or fail), "off" (pure Python).
MODES = {"": "auto", "auto": "auto", "1": "require", "yes": "require", "0": "off", "no": "off"}


def _mode() -> str:
    value = os.environ.get("XLOOP_COMPILE", "").strip().lower()
    if value not in MODES:
        raise RuntimeError(f"XLOOP_COMPILE={value!r}: use 1 (compile or fail), 0 or auto")
    return MODES[value]


class CompileHook(BuildHookInterface):  # type: ignore[type-arg]
    """Adds the compiled ``MODULES`` to a (non-editable) wheel."""

    PLUGIN_NAME = "custom"

    def dependencies(self) -> list[str]:
        return [] if _mode() == "off" else list(super().dependencies())

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        mode = _mode()
        if mode == "off":
            return
        try:
            self._compile(build_data)
        except Exception as error:
            if mode == "require":
                raise
            first = str(error).strip().splitlines()[:1] or [type(error).__name__]
            self.app.display_warning(
                f"xloop: not compiled ({first[0]}); building pure Python instead "
                "(XLOOP_COMPILE=1 makes this an error, XLOOP_COMPILE=0 skips trying)"
            )

    def _compile(self, build_data: dict[str, Any]) -> None:
        work = Path(tempfile.mkdtemp(prefix="xloop-compile-"))
        try:
            shutil.copytree(Path(self.root) / "xloop", work / "xloop")
            files = [f"xloop/{module}.py" for module in MODULES]
            (work / "mypy.ini").write_text(MYPY_INI, encoding="utf-8")
            (work / "setup.py").write_text(SETUP.format(files=files), encoding="utf-8")
            command = [sys.executable, "setup.py", "build_ext", "--inplace"]
            done = subprocess.run(command, cwd=work, check=False, capture_output=True, text=True)
            if done.returncode:
                output = f"{done.stdout}{done.stderr}"
                last = next((line for line in reversed(output.splitlines()) if line.strip()), "")
                raise RuntimeError(f"mypyc failed to compile xloop: {last.strip()}\n{output}")
            built = _extensions(work)
            if not built:
                raise RuntimeError(f"mypyc wrote no extension module in {work}")
            # Kept past the hook: the builder copies force_include's files when it writes.
            build_data["force_include"].update({str(path): name for path, name in built})
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        self._work = work
        build_data["pure_python"] = False
        build_data["infer_tag"] = True

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        work = getattr(self, "_work", None)
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)


def _extensions(work: Path) -> list[tuple[Path, str]]:
    """Each extension module built in ``work``, with its path in the wheel."""
    suffixes = (".so", ".pyd")
    found = []
    for path in sorted(work.rglob("*")):
        if path.suffix in suffixes and "build" not in path.relative_to(work).parts:
            found.append((path, path.relative_to(work).as_posix()))
    return found
