"""Logging setup for the command line: plain, one line per record, to stderr."""

from __future__ import annotations

import logging
import sys

__all__ = [
    "SERVING",
    "STOPPED",
    "TRACE",
    "access_logger",
    "configure_logging",
    "error_logger",
]

#: One line per request (``--access-log``).
access_logger = logging.getLogger("xloop.access")
#: Everything else the server says: startup, shutdown, app and protocol errors.
error_logger = logging.getLogger("xloop.error")

#: The server's start and stop lines (also the raw TCP echo server's), said once here.
SERVING = "xloop serving on %s (press CTRL+C to quit)"
STOPPED = "xloop stopped after %d %s on %d connections"

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
    access_logger.disabled = not access_log
