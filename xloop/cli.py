"""The ``xloop`` command line (typer).

Every command's options are declared once, as dataclass fields (:mod:`xloop.options`):
``serve`` by :class:`xloop.config.Config`, ``which-loop`` by
:class:`xloop.loops.cli.WhichLoopOptions`, ``compare`` and ``report`` by
:mod:`xloop.compare.settings`. A command's signature is generated from them, so each
flag, its ``XLOOP_`` environment variable (serve's), its help text and its validation
come from one field. :data:`COMMANDS` says which classes declare each command's options.

Exit codes (see :mod:`xloop.errors`): 0 ok, 1 runtime failure, 2 usage error, 3 app not
loadable, 4 cannot bind, 130 interrupted before the server started.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from . import __version__, options
from .compare.settings import CompareOutputs, Outputs, ReportFiles, Settings
from .config import Config
from .errors import XloopError
from .loops.cli import WhichLoopOptions
from .loops.cli import which_loop as which_loop_report

__all__ = ["app", "main"]


def _click_exceptions() -> tuple[type[Exception], tuple[type[BaseException], ...]]:
    """(UsageError, abort classes) of the click typer runs on: its own copy in newer
    typer releases (``typer._click``), the click package in older ones."""
    usage: type[Exception] | None = None
    aborts: list[type[BaseException]] = [typer.Abort]
    for module_name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        usage = usage or getattr(module, "UsageError", None)
        abort = getattr(module, "Abort", None)
        if abort is not None:
            aborts.append(abort)
    if usage is None:  # pragma: no cover - every typer has one of the two
        raise ImportError("typer without click's UsageError")
    return usage, tuple(aborts)


_UsageError, _ABORTS = _click_exceptions()

app = typer.Typer(
    name="xloop",
    help="An ASGI server whose event loop is a first-class, visible, swappable choice.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"xloop {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """xloop: one ASGI server core on every event loop."""


COMMANDS: dict[str, tuple[type, ...]] = {}
"""Each command's name and the classes that declare its options, in order."""

_F = TypeVar("_F", bound=Callable[..., None])


def _command(name: str, *declarations: type, help: str | None = None) -> Callable[[_F], _F]:
    """Register ``func`` as command ``name``, its signature generated from ``declarations``."""

    def register(func: _F) -> _F:
        func.__signature__ = options.signature(*declarations)  # type: ignore[attr-defined]
        COMMANDS[name] = declarations
        app.command(name, help=help)(func)
        return func

    return register


@_command(
    "serve",
    Config,
    help="Serve an ASGI app (default: the built-in demo app xloop.demo:app). "
    "Every option can also be set by an XLOOP_<OPTION> environment variable "
    "(e.g. XLOOP_PORT=8080).",
)
def serve(**values: Any) -> None:
    """Serve an ASGI app (default: the built-in demo app) on the chosen loop and parser."""
    from .server.prepare import prepare_process
    from .server.run import run_server

    config = options.make(Config, values)
    prepare_process(config)
    if config.workers is not None or config.reload:
        from .server.supervisor import run_supervisor

        raise typer.Exit(run_supervisor(config))
    run_server(config)


@_command("which-loop", WhichLoopOptions)
def which_loop(**values: Any) -> None:
    """Say exactly which loop class resolves, what it drives, and why."""
    chosen = options.make(WhichLoopOptions, values)
    if chosen.check is not None:
        from .loops.check import run_check

        code = run_check(
            chosen.check,
            loop=chosen.loop,
            selector=chosen.selector,
            all_=chosen.all_,
            as_json=chosen.as_json,
        )
        raise typer.Exit(code)
    which_loop_report(
        loop=chosen.loop,
        selector=chosen.selector,
        all_=chosen.all_,
        as_json=chosen.as_json,
        capabilities=chosen.capabilities,
        trace=chosen.trace,
        app=chosen.app,
        workers=chosen.workers,
    )


@_command("compare", Settings, CompareOutputs)
def compare(**values: Any) -> None:
    """Run the same server on every loop and parser here and measure them side by side.

    Exit codes: 0 every row clean; 1 a row had errors (they are in the table and files);
    2 usage error; 3 the app could not be loaded; 4 a port could not be bound.
    """
    from .compare.command import run_compare

    settings = options.make(Settings, values)
    outputs = options.make(CompareOutputs, values)
    raise typer.Exit(run_compare(settings, outputs))


@_command("report", ReportFiles, Outputs)
def report(**values: Any) -> None:
    """Merge result files from several machines or OSes into one table (and chart)."""
    from .compare.report import report as merge_report

    files = options.make(ReportFiles, values).files
    outputs = options.make(Outputs, values)
    code = merge_report(
        files,
        markdown=outputs.markdown,
        json_out=outputs.json,
        csv=outputs.csv,
        plot=outputs.plot,
    )
    raise typer.Exit(code)


def _fail(message: str, code: int) -> None:
    print(f"xloop: error: {message}", file=sys.stderr)
    sys.exit(code)


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line and a documented exit code for every user mistake."""
    command = typer.main.get_command(app)
    try:
        result = command.main(args=argv, prog_name="xloop", standalone_mode=False)
    except _UsageError as exc:
        ctx = getattr(exc, "ctx", None)
        where = getattr(ctx, "command_path", None) or "xloop"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message:  # "xloop" alone: the help was shown, nothing else to say
            sys.exit(2)
        _fail(f"{message} (hint: see '{where} --help')", 2)
    except _ABORTS:
        _fail("aborted", 130)
    except XloopError as exc:
        _fail(exc.one_line(), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if result == 130:  # click turned a Ctrl+C into this code, with only a newline printed
        _fail("interrupted", 130)
    sys.exit(result if isinstance(result, int) else 0)
