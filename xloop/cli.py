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


_COMPARE_PANEL = "What to compare"
_LOAD_PANEL = "Load"
_OUTPUT_PANEL = "Output"


@app.command("compare")
def compare(
    app_: Annotated[
        str | None,
        typer.Argument(
            metavar="APP",
            help="The ASGI app as module:attribute (default: the built-in demo app).",
            show_default=False,
        ),
    ] = None,
    loops: Annotated[
        str | None,
        typer.Option(
            "--loops",
            help="Comma-separated loop names (default: asyncio and every other loop available "
            "here).",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = None,
    selector: Annotated[
        str,
        typer.Option(
            help="Comma-separated selectors for the selector loop (epoll, kqueue, poll, "
            "select): one row each.",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = "auto",
    http: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated parsers: h11, httptools (default: every one installed).",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = None,
    workload: Annotated[
        str,
        typer.Option(
            help="Comma-separated workloads: plaintext, json, upload, stream, echo (raw TCP, "
            "the loop's own ceiling).",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = "plaintext",
    baseline: Annotated[
        str | None,
        typer.Option(
            help="The loop the ratio column is against (default: asyncio).",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = None,
    path: Annotated[
        str | None,
        typer.Option(
            help="Request target for the HTTP workloads, for an app with other routes.",
            rich_help_panel=_COMPARE_PANEL,
        ),
    ] = None,
    app_dir: Annotated[
        str | None,
        typer.Option(help="Look for APP in this directory.", rich_help_panel=_COMPARE_PANEL),
    ] = None,
    factory: Annotated[
        bool,
        typer.Option(
            "--factory", help="APP is a factory returning the app.", rich_help_panel=_COMPARE_PANEL
        ),
    ] = False,
    connections: Annotated[
        int, typer.Option(help="Keep-alive connections.", rich_help_panel=_LOAD_PANEL)
    ] = 64,
    duration: Annotated[
        float, typer.Option(help="Seconds measured per round.", rich_help_panel=_LOAD_PANEL)
    ] = 3.0,
    warmup: Annotated[
        float,
        typer.Option(help="Seconds of load before each measurement.", rich_help_panel=_LOAD_PANEL),
    ] = 1.0,
    rounds: Annotated[
        int,
        typer.Option(
            help="Rounds; they alternate between configurations, figures are medians.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = 3,
    pipeline: Annotated[
        int,
        typer.Option(
            help="Requests sent at once per connection (plaintext only).",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = 1,
    client: Annotated[
        str,
        typer.Option(
            help="Load client: builtin, wrk or oha (on PATH); several (builtin,wrk) measure "
            "each configuration with each.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = "builtin",
    client_workers: Annotated[
        int | None,
        typer.Option(
            help="Built-in client processes sharing the connections (default: one per CPU "
            "left to the client, at most 4).",
            rich_help_panel=_LOAD_PANEL,
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Address the servers bind.", rich_help_panel=_LOAD_PANEL)
    ] = "127.0.0.1",
    port: Annotated[
        int,
        typer.Option(
            help="First port (servers take port, port+1, ...); 0: free ports.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = 0,
    pin: Annotated[
        bool,
        typer.Option(
            "--pin/--no-pin",
            help="Pin servers and client to different CPUs where the OS allows.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = True,
    timeout: Annotated[
        float,
        typer.Option(
            help="Seconds without progress before a client connection counts a timeout.",
            rich_help_panel=_LOAD_PANEL,
        ),
    ] = 10.0,
    json_path: Annotated[
        str | None,
        typer.Option(
            "--json",
            metavar="FILE",
            help="Write results (schema xloop.compare/1; - for stdout).",
            rich_help_panel=_OUTPUT_PANEL,
        ),
    ] = None,
    csv_path: Annotated[
        str | None,
        typer.Option("--csv", metavar="FILE", help="Write CSV.", rich_help_panel=_OUTPUT_PANEL),
    ] = None,
    markdown_path: Annotated[
        str | None,
        typer.Option(
            "--markdown", metavar="FILE", help="Write Markdown.", rich_help_panel=_OUTPUT_PANEL
        ),
    ] = None,
    plot_path: Annotated[
        str | None,
        typer.Option(
            "--plot",
            metavar="FILE.svg|png",
            help="Draw a bar chart (needs the plot extra: pip install 'xloop\\[plot]').",
            rich_help_panel=_OUTPUT_PANEL,
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar.", rich_help_panel=_OUTPUT_PANEL)
    ] = False,
) -> None:
    """Run the same server on every loop and parser here and measure them side by side.

    Exit codes: 0 every row clean; 1 a row had errors (they are in the table and files);
    2 usage error; 3 the app could not be loaded; 4 a port could not be bound.
    """
    from .compare.command import run_compare, split_list
    from .compare.runner import Settings

    settings = Settings(
        app=app_,
        app_dir=app_dir,
        factory=factory,
        loops=split_list(loops, "--loops"),
        selectors=split_list(selector, "--selector") or ["auto"],
        http=split_list(http, "--http"),
        workloads=split_list(workload, "--workload") or ["plaintext"],
        connections=connections,
        duration=duration,
        warmup=warmup,
        rounds=rounds,
        pipeline=pipeline,
        clients=split_list(client, "--client") or ["builtin"],
        client_workers=client_workers,
        path=path,
        host=host,
        port=port,
        baseline=baseline,
        pin=pin,
        timeout=timeout,
    )
    code = run_compare(
        settings,
        json_path=json_path,
        csv_path=csv_path,
        markdown_path=markdown_path,
        plot_path=plot_path,
        quiet=quiet,
    )
    raise typer.Exit(code)


@app.command("report")
def report(
    files: Annotated[
        list[str],
        typer.Argument(metavar="FILE", help="Result files of xloop compare --json."),
    ],
    markdown_path: Annotated[
        str | None,
        typer.Option(
            "--markdown",
            metavar="FILE",
            help="Write one Markdown table (- for stdout, e.g. >> $GITHUB_STEP_SUMMARY).",
        ),
    ] = None,
    json_path: Annotated[
        str | None, typer.Option("--json", metavar="FILE", help="Write the merged results.")
    ] = None,
    csv_path: Annotated[
        str | None, typer.Option("--csv", metavar="FILE", help="Write CSV.")
    ] = None,
    plot_path: Annotated[
        str | None,
        typer.Option("--plot", metavar="FILE.svg|png", help="One chart, a panel per machine."),
    ] = None,
) -> None:
    """Merge result files from several machines or OSes into one table (and chart)."""
    from .compare.report import report as merge_report

    code = merge_report(
        files, markdown=markdown_path, json_out=json_path, csv=csv_path, plot=plot_path
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
