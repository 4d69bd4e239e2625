"""Logging setup for the command line: plain, one line per record, to stderr."""

from __future__ import annotations

import logging
import os
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


_COLORS = {
    TRACE: "\x1b[34m",
    logging.DEBUG: "\x1b[36m",
    logging.INFO: "\x1b[32m",
    logging.WARNING: "\x1b[33m",
    logging.ERROR: "\x1b[31m",
    logging.CRITICAL: "\x1b[1;31m",
}


class _Formatter(logging.Formatter):
    """``INFO:     message``, the layout uvicorn users read every day (the level coloured
    with ``use_colors``)."""

    def __init__(self, use_colors: bool = False) -> None:
        super().__init__()
        self.use_colors = use_colors

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"{record.levelname}:".ljust(10)
        if self.use_colors:
            colour = _COLORS.get(record.levelno, "")
            prefix = f"{colour}{record.levelname}\x1b[0m:" + " " * (9 - len(record.levelname))
        message = super().format(record)
        return prefix + message.replace("\n", "\n" + " " * 10)


def configure_logging(
    level: str,
    access_log: bool,
    *,
    log_config: str | None = None,
    use_colors: bool | None = None,
) -> None:
    """Give the ``xloop`` loggers a stderr handler and the chosen level, then apply
    ``log_config`` (``--log-config``: a JSON or YAML dictConfig file, or an INI fileConfig
    file) over that. ``use_colors``: None colours the level when stderr is a terminal."""
    if use_colors is None:
        use_colors = sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(use_colors))
    root = logging.getLogger("xloop")
    root.handlers[:] = [handler]
    root.setLevel(_LEVELS[level])
    root.propagate = False
    access_logger.disabled = not access_log
    if log_config is not None:
        apply_log_config(log_config)


def apply_log_config(path: str) -> None:
    """``--log-config``: ``.json``, ``.yaml``/``.yml`` (dictConfig; loggers it does not name
    stay enabled unless it says ``disable_existing_loggers``), anything else INI
    (fileConfig). A file that cannot be read or applied is a ConfigError."""
    import logging.config

    from .errors import ConfigError

    try:
        if path.endswith((".json", ".yaml", ".yml")):
            with open(path, encoding="utf-8") as file:
                if path.endswith(".json"):
                    import json

                    loaded = json.load(file)
                else:
                    try:
                        import yaml
                    except ImportError:
                        raise ConfigError(
                            f"--log-config {path}: reading YAML needs PyYAML",
                            hint="pip install pyyaml, or give the file as JSON",
                        ) from None
                    loaded = yaml.safe_load(file)
            if not isinstance(loaded, dict):
                raise ConfigError(
                    f"--log-config {path}: not a dictConfig mapping",
                    hint="see logging.config.dictConfig's schema (version: 1, handlers, ...)",
                )
            loaded.setdefault("disable_existing_loggers", False)
            logging.config.dictConfig(loaded)
        else:
            if not os.path.isfile(path):
                raise FileNotFoundError(path)
            logging.config.fileConfig(path, disable_existing_loggers=False)
    except ConfigError:
        raise
    except FileNotFoundError:
        raise ConfigError(f"--log-config {path}: no such file", hint="check the path") from None
    except Exception as exc:  # json, yaml and logging.config errors alike
        raise ConfigError(
            f"--log-config {path}: {type(exc).__name__}: {exc}",
            hint="a JSON or YAML dictConfig, or an INI fileConfig file",
        ) from None
