"""``--reload``: watch files with watchfiles and tell the supervisor what changed.

The watcher runs in a thread (watchfiles' ``watch`` with a stop event) and posts
``("change", None, [paths])`` to the supervisor's queue; the supervisor stops the worker
and starts a new one. A new worker that fails (an import error while editing) is shown,
and the supervisor waits for the next change rather than exiting.

What is watched: ``--reload-dir`` (default: the current directory; each must exist),
files matching a ``--reload-include`` glob (default ``*.py``), minus paths one of whose
parts matches a ``--reload-exclude`` glob (default: hidden files and directories, compiled
Python, editor swap and backup files, ``__pycache__``). A glob matches a file's name, or
its path relative to the watched directory.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["DEFAULT_EXCLUDE", "DEFAULT_INCLUDE", "Watcher", "matches"]

DEFAULT_INCLUDE = ("*.py",)
DEFAULT_EXCLUDE = (".*", "*.py[cod]", ".sw.*", "~*", "*~", "__pycache__")


def matches(path: str, roots: list[Path], include: list[str], exclude: list[str]) -> bool:
    """Whether a change to ``path`` reloads."""
    file = Path(path)
    relative = file
    for root in roots:
        try:
            relative = file.relative_to(root)
            break
        except ValueError:
            continue
    parts = relative.parts
    if any(fnmatch.fnmatch(part, glob) for part in parts for glob in exclude):
        return False
    text = relative.as_posix()
    return any(fnmatch.fnmatch(file.name, g) or fnmatch.fnmatch(text, g) for g in include)


class Watcher:
    """Watches ``config``'s directories in a thread; ``post("change", None, paths)``."""

    def __init__(self, config: Config, post: Callable[..., None]) -> None:
        try:
            import watchfiles
        except ModuleNotFoundError:
            raise ConfigError(
                "--reload needs watchfiles, which is not installed",
                hint="pip install 'xloop[watchfiles]'",
            ) from None
        except ImportError as exc:  # installed, but its extension does not load here
            raise ConfigError(
                f"--reload needs watchfiles, which does not load here: {exc}",
                hint="reinstall watchfiles for this Python and OS",
            ) from None
        self._watchfiles: Any = watchfiles
        dirs = config.reload_dir or [os.getcwd()]
        self.roots = []
        for directory in dirs:
            path = Path(directory).resolve()
            if not path.is_dir():
                raise ConfigError(
                    f"--reload-dir {directory!r} is not a directory", hint="give a directory"
                )
            self.roots.append(path)
        self.include = list(config.reload_include or DEFAULT_INCLUDE)
        self.exclude = list(config.reload_exclude or DEFAULT_EXCLUDE)
        self.delay_ms = max(1, int(config.reload_delay * 1000))
        self._post = post
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="xloop-reload", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def _keep(self, change: Any, path: str) -> bool:
        return matches(path, self.roots, self.include, self.exclude)

    def _run(self) -> None:
        for changes in self._watchfiles.watch(
            *self.roots,
            watch_filter=self._keep,
            step=self.delay_ms,
            stop_event=self._stop,
            raise_interrupt=False,
        ):
            paths = sorted({path for _, path in changes})
            if paths:
                self._post("change", None, paths)
