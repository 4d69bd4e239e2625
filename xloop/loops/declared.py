"""The options that choose where an app runs: the loop, its selector, the worker count.

Declared once here, with :func:`xloop.options.option`, and borrowed by ``xloop serve``
(:class:`xloop.config.Config`) and ``xloop which-loop``
(:class:`xloop.loops.cli.WhichLoopOptions`), so that which-loop does not import the
server's configuration (the HTTP and WebSocket layers) to learn three options.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from xloop.loops import SELECTOR_NAMES
from xloop.options import option

__all__ = ["LOOP_PANEL", "WORKERS_PANEL", "LoopOptions"]

LOOP_PANEL = "Event loop and parser"
WORKERS_PANEL = "Workers and reload"


@dataclass
class LoopOptions:
    """``--loop``, ``--selector`` and ``--workers``, as ``xloop serve`` takes them."""

    ENV_PREFIX: ClassVar[str] = "XLOOP_"

    loop: str = option(
        "Event loop: auto, asyncio, selector, proactor, uvloop, winloop, rloop, rsloop, "
        "zuvloop, or module:callable (a loop factory).",
        default="auto",
        panel=LOOP_PANEL,
    )
    selector: str = option(
        "selectors class for the selector loop.",
        default="auto",
        choices=SELECTOR_NAMES,
        panel=LOOP_PANEL,
    )
    workers: int | None = option(
        "Run a supervisor and this many worker processes, each serving the shared "
        "listener on the chosen loop (restarted when they exit or hang). Default: one "
        "process, no supervisor.",
        default=None,
        minimum=1,
        hint="e.g. --workers 4",
        panel=WORKERS_PANEL,
    )
