"""``python -m xloop``, and the ``xloop`` console script.

Two command lines are answered here, before the command line (typer, and every command's
declarations) is imported:

- ``xloop --version``: what scripts and package managers run to probe an install; it
  should cost no more than starting Python.
- ``xloop which-loop`` alone, with none of its options set in the environment
  (``XLOOP_LOOP``, ``XLOOP_SELECTOR``, ``XLOOP_WORKERS``): the report for the defaults.
  Building the command line (importing typer) cost more than the report itself.

Every other command line goes to :func:`xloop.cli.main`, which gives the same answers to
these two, with the same output, errors and exit codes.
"""

from __future__ import annotations

import os
import sys

__all__ = ["main"]

#: The environment variables ``which-loop``'s options read (``xloop.loops.declared``).
WHICH_LOOP_ENV = ("XLOOP_LOOP", "XLOOP_SELECTOR", "XLOOP_WORKERS")


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from ._version import version_line

        print(version_line())
        sys.exit(0)
    if args == ["which-loop"] and not any(name in os.environ for name in WHICH_LOOP_ENV):
        _which_loop()
    from .cli import main as cli_main

    cli_main(argv)


def _which_loop() -> None:
    """``xloop which-loop`` with its defaults, as :func:`xloop.cli.main` answers it."""
    from .errors import XloopError, fail
    from .loops.cli import which_loop

    try:
        which_loop()
    except XloopError as exc:
        fail(exc.one_line(), exc.exit_code)
    except KeyboardInterrupt:
        fail("interrupted", 130)
    sys.exit(0)


if __name__ == "__main__":
    main()
