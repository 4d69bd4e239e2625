"""Every parameter of every command comes from one declaration, and every declaration
reaches the command line (:mod:`xloop.options`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pytest
import typer

from tests.server.harness import ONCE_UNDER_WINE
from xloop import cli, options
from xloop.options import option, option_specs

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE


def click_commands(app: typer.Typer) -> dict[str, Any]:
    group: Any = typer.main.get_command(app)
    return dict(group.commands)


def undeclared(command: Any, declarations: tuple[type, ...]) -> list[str]:
    """Each difference between ``command``'s parameters and the ``declarations``."""
    specs = {spec.name: spec for owner in declarations for spec in option_specs(owner)}
    problems = []
    for param in command.params:
        spec = specs.pop(param.name, None)
        if spec is None:
            problems.append(f"{param.name}: on the command line, not declared")
            continue
        kind = "argument" if spec.argument else "option"
        expected: dict[str, Any] = {
            "kind": kind,
            "envvar": spec.envvar,
            "help": spec.cli_help,
            "metavar": spec.metavar,
            "required": spec.required,
        }
        seen: dict[str, Any] = {
            "kind": param.param_type_name,
            "envvar": param.envvar,
            "help": getattr(param, "help", None),
            "metavar": param.metavar,
            "required": param.required,
        }
        if not spec.required:
            expected["default"] = spec.cli_default
            seen["default"] = param.default
        if kind == "option":
            expected["opts"] = [spec.flag, *([spec.short] if spec.short else [])]
            expected["secondary"] = [spec.secondary] if spec.secondary else []
            expected["panel"] = spec.panel
            seen["opts"] = list(param.opts)
            seen["secondary"] = list(param.secondary_opts)
            seen["panel"] = getattr(param, "rich_help_panel", None)
        problems.extend(
            f"{param.name}: {key} is {seen[key]!r}, declared {value!r}"
            for key, value in expected.items()
            if seen[key] != value
        )
    problems.extend(f"{name}: declared, not on the command line" for name in specs)
    return problems


def test_every_command_is_generated_from_its_declarations() -> None:
    commands = click_commands(cli.app)
    assert set(commands) == {"serve", "compare", "report", "which-loop"}
    assert set(cli.COMMANDS) == set(commands)
    for name, command in commands.items():
        assert undeclared(command, cli.COMMANDS[name].declarations()) == [], name


def test_compare_and_report_share_the_output_declarations() -> None:
    commands = click_commands(cli.app)
    for flag in ("--json", "--csv", "--markdown", "--plot"):
        compare = next(p for p in commands["compare"].params if flag in p.opts)
        report = next(p for p in commands["report"].params if flag in p.opts)
        assert compare.help == report.help
        assert compare.metavar == report.metavar


def test_which_loop_takes_loop_and_selector_from_serve() -> None:
    commands = click_commands(cli.app)
    for name in ("loop", "selector"):
        serve = next(p for p in commands["serve"].params if p.name == name)
        which = next(p for p in commands["which-loop"].params if p.name == name)
        assert (which.opts, which.envvar, which.help, which.default) == (
            serve.opts,
            serve.envvar,
            serve.help,
            serve.default,
        )


@dataclass
class Declared:
    size: int = option("A size.", default=1, minimum=1)


@dataclass
class AlsoDeclared:
    colour: str = option("A colour.", default="red", choices=("red", "blue"))


def test_the_check_finds_an_option_written_by_hand_and_one_left_out() -> None:
    app = typer.Typer()

    def by_hand(
        size: int = 1,
        extra: Annotated[str, typer.Option(help="Written by hand.")] = "x",
    ) -> None:
        del size, extra

    app.command("by-hand")(by_hand)

    def generated(**values: Any) -> None:
        del values

    generated.__signature__ = options.signature(Declared)  # type: ignore[attr-defined]
    app.command("generated")(generated)
    commands = click_commands(app)
    problems = undeclared(commands["by-hand"], (Declared,))
    assert "extra: on the command line, not declared" in problems
    assert any(problem.startswith("size: help") for problem in problems)
    assert undeclared(commands["generated"], (Declared,)) == []
    assert undeclared(commands["generated"], (Declared, AlsoDeclared)) == [
        "colour: declared, not on the command line"
    ]


def test_one_name_declared_twice_for_a_command_is_refused() -> None:
    @dataclass
    class Twice:
        size: int = option("Another size.", default=2)

    with pytest.raises(TypeError, match="declared twice for one command: size"):
        options.signature(Declared, Twice)
