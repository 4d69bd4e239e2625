"""What a server or worker process does before it serves: its environment and its logging."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..importer import app_dir_first
from ..logs import configure_logging

if TYPE_CHECKING:
    from ..config import Config

__all__ = ["load_env_file", "prepare_environment", "prepare_process"]


def prepare_process(config: Config) -> None:
    """What a process does before it serves ``config``: :func:`prepare_environment`, then
    set up logging (``--log-level``, ``--log-config``, ``--use-colors``)."""
    prepare_environment(config)
    configure_logging(
        config.log_level,
        config.access_log,
        log_config=config.log_config,
        use_colors=config.use_colors,
    )


def prepare_environment(config: Config) -> None:
    """Put ``--app-dir`` first on ``sys.path`` for an app named by a string (before the
    loop resolves: a loop factory module is found there too, as with uvicorn), and load
    ``--env-file`` into the environment (before the app is imported; workers inherit it)."""
    if isinstance(config.app, str):
        app_dir_first(config.app_dir)
    if config.env_file is not None:
        load_env_file(config.env_file)


def load_env_file(path: str) -> None:
    """``--env-file``: variables already set in the environment win (as with uvicorn)."""
    if not os.path.isfile(path):
        raise ConfigError(f"--env-file {path}: no such file", hint="check the path")
    try:
        import dotenv
    except ImportError:
        raise ConfigError(
            "--env-file needs python-dotenv, which is not installed",
            hint="pip install 'xloop[standard]' (or python-dotenv)",
        ) from None
    dotenv.load_dotenv(path, override=False)
