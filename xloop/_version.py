from __future__ import annotations

import os
import sys
from importlib.machinery import EXTENSION_SUFFIXES

__version__ = "0.1.0"


def compiled() -> bool:
    """Whether the request path runs compiled: an extension module sits beside
    ``xloop/server/cycle.py``, and Python imports it first (``platforms/compile.py``)."""
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "server")
    return any(os.path.exists(os.path.join(folder, "cycle" + s)) for s in EXTENSION_SUFFIXES)


def version_line() -> str:
    """What ``xloop --version`` prints."""
    return f"xloop {__version__} (compiled: {'yes' if compiled() else 'no'})"


#: ``python -m MODULE`` without the working directory first on ``sys.path``.
_RUN_MODULE = (
    "import runpy, sys; sys.path[:1] == [''] and sys.path.pop(0); "
    "runpy.run_module({!r}, run_name='__main__', alter_sys=True)"
)


def module_command(module: str, *, working_directory: bool | None = None) -> list[str]:
    """The command line that runs ``python -m module`` in a process xloop starts (a worker,
    a server ``xloop compare`` measures), importing what this process imports.

    ``-m`` puts the working directory first on ``sys.path``. That is kept where this
    process has it first too (it was started with ``python -m xloop``: a loop factory or
    an app's package found there is found by the child as well); otherwise it is not
    (``working_directory``: say which). Run in a source tree by the ``xloop`` command, ``-m``
    would import the tree's ``xloop`` before the installed one, a compiled build's."""
    if working_directory is None:
        working_directory = bool(sys.path) and sys.path[0] in ("", os.getcwd())
    if working_directory:
        return [sys.executable, "-m", module]
    return [sys.executable, "-c", _RUN_MODULE.format(module)]
