"""The ``xloop`` command line (typer).

``serve``'s options are generated from the :class:`xloop.config.Config` declarations, so
each one exists once: its flag, its ``XLOOP_`` environment variable, its help text and its
validation all come from the field.

Exit codes (see :mod:`xloop.errors`): 0 ok, 1 runtime failure, 2 usage error, 3 app not
loadable, 4 cannot bind, 130 interrupted before the server started.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from typing import Annotated, Any, get_type_hints

import typer

from . import __version__
from .config import Config, option_specs
from .errors import XloopError
from .logs import configure_logging
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


def serve(**options: Any) -> None:
    """Serve an ASGI app (default: the built-in demo app) on the chosen loop and parser."""
    from .server.run import run_server

    if options.get("app") is None:
        options.pop("app", None)
    config = Config(**options)
    configure_logging(config.log_level, config.access_log)
    run_server(config)


def _serve_signature() -> inspect.Signature:
    hints = get_type_hints(Config)
    params = []
    for spec in option_specs():
        help_text = spec.help
        if spec.choices:
            help_text += f" One of: {', '.join(spec.choices)}."
        if spec.argument:
            annotation: Any = Annotated[
                str | None,
                typer.Argument(
                    help=help_text,
                    envvar=spec.envvar,
                    metavar=spec.metavar,
                    show_default=False,
                ),
            ]
            default: Any = None
        else:
            decl = f"{spec.flag}/{spec.secondary}" if spec.secondary else f"--{spec.cli_name}"
            annotation = Annotated[
                hints[spec.name],
                typer.Option(
                    decl,
                    help=help_text,
                    envvar=spec.envvar,
                    rich_help_panel=spec.panel,
                    metavar=spec.metavar,
                    show_default=spec.default not in (None, [], ""),
                ),
            ]
            default = spec.default
        params.append(
            inspect.Parameter(
                spec.name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation
            )
        )
    return inspect.Signature(params)


serve.__signature__ = _serve_signature()  # type: ignore[attr-defined]
app.command(
    "serve",
    help="Serve an ASGI app (default: the built-in demo app xloop.demo:app). "
    "Every option can also be set by an XLOOP_<OPTION> environment variable "
    "(e.g. XLOOP_PORT=8080).",
)(serve)


@app.command("which-loop")
def which_loop(
    loop: Annotated[
        str,
        typer.Option(
            help="Loop name (auto, asyncio, selector, proactor, uvloop, winloop, module:callable).",
            envvar="XLOOP_LOOP",
        ),
    ] = "auto",
    selector: Annotated[
        str,
        typer.Option(help="selectors class for the selector loop.", envvar="XLOOP_SELECTOR"),
    ] = "auto",
    all_: Annotated[
        bool, typer.Option("--all", help="Every backend name: available, or why not.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON for programs (schema xloop.which-loop/1).")
    ] = False,
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            metavar="FILE",
            help="Compare every loop name with a platform file (platforms/<os>.toml): "
            "one line per mismatch, exit 1 on any.",
        ),
    ] = None,
) -> None:
    """Say exactly which loop class resolves, what it drives, and why."""
    if check is not None:
        from .loops.check import run_check

        code = run_check(check, loop=loop, selector=selector, all_=all_, as_json=as_json)
        raise typer.Exit(code)
    which_loop_report(loop=loop, selector=selector, all_=all_, as_json=as_json)


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
    sys.exit(result if isinstance(result, int) else 0)
