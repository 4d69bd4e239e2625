"""The ``xloop`` command line (typer).

Every command's options are declared once, as dataclass fields (:mod:`xloop.options`):
``serve`` by :class:`xloop.config.Config`, ``which-loop`` by
:class:`xloop.loops.cli.WhichLoopOptions`, ``compare`` and ``report`` by
:mod:`xloop.compare.settings`. A command's signature is generated from them, so each
flag, its ``XLOOP_`` environment variable (serve's), its help text and its validation
come from one field. :data:`COMMANDS` says which classes declare each command's options.

A command line imports only what its command needs: :func:`build` lists every command
(``xloop --help`` shows them all) but generates the signature, and imports the
declarations, of the command named on the command line alone. ``which-loop`` does not
import the server or ``compare``, and ``serve --help`` does not import ``compare``.
:data:`app` (on first use) is the app with every command's options, as a library sees it.

Exit codes (see :mod:`xloop.errors`): 0 ok, 1 runtime failure, 2 usage error, 3 app not
loadable, 4 cannot bind, 130 interrupted before the server started.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from . import options
from ._version import version_line
from .errors import XloopError
from .errors import fail as _fail

if TYPE_CHECKING:
    from .compare.settings import CompareOutputs, Outputs, ReportFiles, Settings
    from .config import Config
    from .loops.cli import WhichLoopOptions

    app: typer.Typer

__all__ = ["COMMANDS", "Command", "app", "build", "main"]


def _click_exceptions() -> tuple[type[Exception], tuple[type[BaseException], ...]]:
    """(UsageError, abort classes) of the click typer runs on: its own copy in newer
    typer releases (``typer._click``), the click package in older ones."""
    for module_name in ("typer._click.exceptions", "click.exceptions"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        abort = getattr(module, "Abort", typer.Abort)
        return module.UsageError, (typer.Abort, abort)
    raise ImportError("typer without click's UsageError")  # pragma: no cover


def _version(value: bool) -> None:
    if value:
        print(version_line())
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """xloop: one ASGI server core on every event loop."""


class Command:
    """One command: its body, the classes that declare its options (imported when the
    command is built with them), and its help (default: the body's docstring)."""

    def __init__(
        self,
        name: str,
        body: Callable[..., None],
        declared: Callable[[], tuple[type, ...]],
        help: str | None,
    ) -> None:
        self.name = name
        self.body = body
        self.declared = declared
        self.help = help

    def declarations(self) -> tuple[type, ...]:
        """The classes that declare this command's options, in order."""
        return self.declared()

    def callback(self, with_options: bool) -> Callable[..., None]:
        """What typer registers: the body behind the generated signature, or (not
        ``with_options``) behind none, enough to list the command in ``xloop --help``."""
        declarations = self.declarations() if with_options else ()
        body = self.body

        def run(**values: Any) -> None:
            body(*(options.make(owner, values) for owner in declarations))

        run.__doc__ = body.__doc__
        run.__signature__ = (  # type: ignore[attr-defined]
            options.signature(*declarations) if with_options else inspect.Signature()
        )
        return run


COMMANDS: dict[str, Command] = {}
"""Each command by name, in the order ``xloop --help`` lists them."""

_F = TypeVar("_F", bound=Callable[..., None])


def _command(
    name: str, declared: Callable[[], tuple[type, ...]], help: str | None = None
) -> Callable[[_F], _F]:
    """Register ``func`` as command ``name``: it is called with an instance of each class
    ``declared()`` returns, made from the command line."""

    def register(func: _F) -> _F:
        COMMANDS[name] = Command(name, func, declared, help)
        return func

    return register


def _serve_declarations() -> tuple[type, ...]:
    from .config import Config

    return (Config,)


def _which_loop_declarations() -> tuple[type, ...]:
    from .loops.cli import WhichLoopOptions

    return (WhichLoopOptions,)


def _compare_declarations() -> tuple[type, ...]:
    from .compare.settings import CompareOutputs, Settings

    return (Settings, CompareOutputs)


def _report_declarations() -> tuple[type, ...]:
    from .compare.settings import Outputs, ReportFiles

    return (ReportFiles, Outputs)


@_command(
    "serve",
    _serve_declarations,
    help="Serve an ASGI app (default: the built-in demo app xloop.demo:app). "
    "Every option can also be set by an XLOOP_<OPTION> environment variable "
    "(e.g. XLOOP_PORT=8080).",
)
def serve(config: Config) -> None:
    """Serve an ASGI app (default: the built-in demo app) on the chosen loop and parser."""
    from .server.prepare import prepare_process
    from .server.run import run_server

    prepare_process(config)
    if config.workers is not None or config.reload:
        from .server.supervisor import run_supervisor

        raise typer.Exit(run_supervisor(config))
    run_server(config)


@_command("which-loop", _which_loop_declarations)
def which_loop(chosen: WhichLoopOptions) -> None:
    """Say exactly which loop class resolves, what it drives, and why."""
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
    from .loops.cli import which_loop as which_loop_report

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


@_command("compare", _compare_declarations)
def compare(settings: Settings, outputs: CompareOutputs) -> None:
    """Run the same server on every loop and parser here and measure them side by side.

    Exit codes: 0 every row clean; 1 a row had errors (they are in the table and files);
    2 usage error; 3 the app could not be loaded; 4 a port could not be bound.
    """
    from .compare.command import run_compare

    raise typer.Exit(run_compare(settings, outputs))


@_command("report", _report_declarations)
def report(files: ReportFiles, outputs: Outputs) -> None:
    """Merge result files from several machines or OSes into one table (and chart)."""
    from .compare.report import report as merge_report

    code = merge_report(
        files.files,
        markdown=outputs.markdown,
        json_out=outputs.json,
        csv=outputs.csv,
        plot=outputs.plot,
    )
    raise typer.Exit(code)


def build(with_options: Iterable[str] | None = None) -> typer.Typer:
    """The typer app: every command, those named in ``with_options`` (default: all) with
    their options, the others with none (listed, never run)."""
    full = set(COMMANDS) if with_options is None else set(with_options)
    built = typer.Typer(
        name="xloop",
        help="An ASGI server whose event loop is a first-class, visible, swappable choice.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    built.callback()(_root)
    for name, command in COMMANDS.items():
        built.command(name, help=command.help)(command.callback(name in full))
    return built


def _command_named(argv: list[str]) -> str | None:
    """The command an argument list runs: its first word that is not an option (the
    root takes no option with a value)."""
    for index, arg in enumerate(argv):
        if arg == "--":
            return argv[index + 1] if index + 1 < len(argv) else None
        if not arg.startswith("-"):
            return arg
    return None


def __getattr__(name: str) -> typer.Typer:
    if name == "app":  # the app with every command's options (PEP 562: built on first use)
        globals()["app"] = built = build()
        return built
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one line and a documented exit code for every user mistake."""
    args = sys.argv[1:] if argv is None else list(argv)
    usage_error, aborts = _click_exceptions()
    named = _command_named(args)
    command = typer.main.get_command(build([named] if named in COMMANDS else []))
    try:
        result = command.main(args=args, prog_name="xloop", standalone_mode=False)
    except usage_error as exc:
        ctx = getattr(exc, "ctx", None)
        where = getattr(ctx, "command_path", None) or "xloop"
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        if not message:  # "xloop" alone: the help was shown, nothing else to say
            sys.exit(2)
        _fail(f"{message} (hint: see '{where} --help')", 2)
    except aborts:
        _fail("aborted", 130)
    except XloopError as exc:
        _fail(exc.one_line(), exc.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
    if result == 130:  # click turned a Ctrl+C into this code, with only a newline printed
        _fail("interrupted", 130)
    sys.exit(result if isinstance(result, int) else 0)
