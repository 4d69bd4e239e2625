"""``python -m xloop``, and the ``xloop`` console script.

``xloop --version`` is answered here, before the command line (typer, and every command's
declarations) is imported: it is what scripts and package managers run to probe an
install, and it should cost no more than starting Python. Every other command line goes to
:func:`xloop.cli.main`, which gives the same answer to ``--version``.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:
        from ._version import __version__

        print(f"xloop {__version__}")
        sys.exit(0)
    from .cli import main as cli_main

    cli_main(argv)


if __name__ == "__main__":
    main()
