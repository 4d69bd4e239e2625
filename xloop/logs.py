"""Logging setup for the command line: plain, one line per record, to stderr."""

from __future__ import annotations

import logging
import sys

__all__ = ["TRACE", "configure_logging"]

TRACE = 5
logging.addLevelName(TRACE, "TRACE")

_LEVELS = {
    "critical": logging.CRITICAL,
    "error": logging.ERROR,
    "warning": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
    "trace": TRACE,
}


class _Formatter(logging.Formatter):
    """``INFO:     message``, the layout uvicorn users read every day."""

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{record.levelname}:".ljust(10)
        message = super().format(record)
        return prefix + message.replace("\n", "\n" + " " * 10)


def configure_logging(level: str, access_log: bool) -> None:
    """Give the ``xloop`` loggers a stderr handler and the chosen level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("xloop")
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    root.propagate = False
    access = logging.getLogger("xloop.access")
    access.disabled = not access_log
