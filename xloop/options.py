"""Options declared once, as dataclass fields; the command line and validation derive from them.

A field made by :func:`option` carries everything about one option in its ``metadata``:
help text, flag, help panel, bounds, choices, whether it is a comma-separated list and
its environment variable. Any dataclass can declare options this way
(:class:`xloop.config.Config` for ``xloop serve``, :mod:`xloop.compare.settings` for
``xloop compare`` and ``xloop report``); :func:`borrow` reuses another class's declaration.

- :func:`option_specs`: the declarations of a class, as :class:`OptionSpec`;
- :func:`validate`: choices, bounds, finite numbers, non-empty lists (for ``__post_init__``);
- :func:`signature`: a typer command signature for one or more declaring classes;
- :func:`make`: an instance from that command's keyword arguments (comma-separated
  values split into lists).

No typer at import time: :mod:`xloop.config` uses this module and stays free of the CLI.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args, get_type_hints

from .errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "OptionSpec",
    "borrow",
    "make",
    "option",
    "option_specs",
    "signature",
    "split_list",
    "validate",
]

_KEY = "xloop.option"
_T = TypeVar("_T")


def option(
    help: str,
    *,
    default: Any = dataclasses.MISSING,
    default_factory: Any = dataclasses.MISSING,
    flag: str | None = None,
    secondary: str | None = None,
    short: str | None = None,
    panel: str | None = None,
    argument: bool = False,
    metavar: str | None = None,
    choices: tuple[str, ...] | None = None,
    noun: str | None = None,
    minimum: float | None = None,
    above: float | None = None,
    maximum: float | None = None,
    finite: bool = False,
    split: bool = False,
    hint: str | None = None,
    envvar: str | None = None,
) -> Any:
    """A dataclass field declaring one option.

    ``flag``: the option's name when it is not ``--<field-name>``; ``secondary``: the
    ``--no-...`` form of a boolean; ``short``: e.g. ``-q``; ``argument``: positional.
    ``choices`` (for a list: each item), ``minimum``, ``above`` (exclusive minimum),
    ``maximum`` and ``finite`` are checked by :func:`validate`; ``noun`` names a value in
    the error (``unknown client 'x'``), ``hint`` is the error's hint (default: the help).
    ``split``: a ``list[str]`` given as one comma-separated value on the command line.
    ``envvar``: the environment variable (default: the class's ``ENV_PREFIX`` + NAME).
    """
    metadata = {
        _KEY: {
            "help": help,
            "flag": flag,
            "secondary": secondary,
            "short": short,
            "panel": panel,
            "argument": argument,
            "metavar": metavar,
            "choices": choices,
            "noun": noun,
            "minimum": minimum,
            "above": above,
            "maximum": maximum,
            "finite": finite,
            "split": split,
            "hint": hint,
            "envvar": envvar,
        }
    }
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    if default is not dataclasses.MISSING:
        return dataclasses.field(default=default, metadata=metadata)
    return dataclasses.field(metadata=metadata)


def borrow(owner: type, name: str, *, help: str | None = None) -> Any:
    """A field with the declaration and default of ``owner``'s field ``name`` (its
    environment variable included): one option shared by two commands. ``help``: what
    the option does in the borrowing command, where that differs."""
    item = _field(owner, name)
    declared = dict(item.metadata[_KEY])
    if help is not None:
        declared["help"] = help
    declared["envvar"] = _envvar(owner, name, declared)
    metadata = {_KEY: declared}
    if item.default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=item.default_factory, metadata=metadata)
    if item.default is not dataclasses.MISSING:
        return dataclasses.field(default=item.default, metadata=metadata)
    return dataclasses.field(metadata=metadata)


@dataclass(frozen=True)
class OptionSpec:
    """One declared option, read off a dataclass field."""

    name: str
    type: Any
    """The field's type (resolved)."""
    default: Any
    """The default value (a fresh one for a ``default_factory``); MISSING when required."""
    help: str
    flag: str
    secondary: str | None
    short: str | None
    panel: str | None
    argument: bool
    metavar: str | None
    choices: tuple[str, ...] | None
    noun: str | None
    minimum: float | None
    above: float | None
    maximum: float | None
    finite: bool
    split: bool
    hint: str | None
    envvar: str | None

    @property
    def required(self) -> bool:
        return self.default is dataclasses.MISSING

    @property
    def label(self) -> str:
        """How errors name it: ``--port``, or ``APP`` for an argument."""
        return (self.metavar or self.name.upper()) if self.argument else self.flag

    @property
    def cli_default(self) -> Any:
        """The default the command line shows and passes (a list joined with commas)."""
        if self.split:
            return ",".join(self.default) if self.default else None
        if self.argument and not self.required:
            return None  # not given: the field's default applies
        return self.default

    @property
    def cli_help(self) -> str:
        if self.choices:
            return f"{self.help} One of: {', '.join(self.choices)}."
        return self.help


def _field(owner: type, name: str) -> dataclasses.Field[Any]:
    for item in dataclasses.fields(owner):
        if item.name == name:
            return item
    raise KeyError(f"{owner.__name__} declares no option {name!r}")


def _envvar(owner: type, name: str, declared: Mapping[str, Any]) -> str | None:
    prefix: str | None = getattr(owner, "ENV_PREFIX", None)
    envvar: str | None = declared["envvar"] or (prefix + name.upper() if prefix else None)
    return envvar


@functools.cache
def _hints(owner: type) -> dict[str, Any]:
    return get_type_hints(owner)


def option_specs(owner: type) -> list[OptionSpec]:
    """Every option ``owner`` (a dataclass) declares, in declaration order."""
    hints = _hints(owner)
    specs = []
    for item in dataclasses.fields(owner):
        declared = item.metadata.get(_KEY)
        if declared is None:
            raise TypeError(f"{owner.__name__}.{item.name} is not declared with option()")
        if item.default is not dataclasses.MISSING:
            default: Any = item.default
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = dataclasses.MISSING
        fields = dict(declared)
        fields["envvar"] = _envvar(owner, item.name, declared)
        fields["flag"] = declared["flag"] or "--" + item.name.replace("_", "-")
        specs.append(OptionSpec(name=item.name, type=hints[item.name], default=default, **fields))
    return specs


# -- validation ------------------------------------------------------------------------------


def validate(instance: Any, names: tuple[str, ...] | None = None) -> None:
    """ConfigError (one line, a hint) for the first declared option ``instance`` breaks
    (of ``names`` only, when given)."""
    for spec in option_specs(type(instance)):
        if names is not None and spec.name not in names:
            continue
        value = getattr(instance, spec.name)
        if value is None:
            continue
        hint = spec.hint or spec.help
        items = value if isinstance(value, list) else [value]
        if spec.split and not items:
            raise ConfigError(
                f"{spec.label} is empty", hint=f"give a comma-separated list to {spec.label}"
            )
        for item in items:
            if spec.choices is not None and item not in spec.choices:
                noun = spec.noun or f"{spec.label} value"
                raise ConfigError(
                    f"unknown {noun} {item!r}; valid: {', '.join(spec.choices)}", hint=hint
                )
            problem = _out_of_bounds(spec, item)
            if problem is not None:
                raise ConfigError(f"{spec.label} {problem}, got {item}", hint=hint)


def _out_of_bounds(spec: OptionSpec, value: Any) -> str | None:
    """What is wrong with a number, in words; None if nothing is."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    low, high = spec.minimum, spec.maximum
    nan = isinstance(value, float) and math.isnan(value)
    if (low is not None and (nan or value < low)) or (high is not None and (nan or value > high)):
        if low is not None and high is not None:
            return f"must be {low:g}..{high:g}"
        if low is not None:
            return "cannot be negative" if low == 0 else f"must be at least {low:g}"
        return f"must be at most {high:g}"
    if spec.above is not None and not value > spec.above:
        return f"must be more than {spec.above:g}"
    if spec.finite and not math.isfinite(value):
        return "must be finite"
    return None


# -- the command line -------------------------------------------------------------------------


def _cli_type(spec: OptionSpec) -> Any:
    if spec.split:
        return str if spec.cli_default is not None else str | None
    if spec.type is Any:
        return str | None
    if spec.argument and not spec.required and type(None) not in get_args(spec.type):
        return spec.type | None
    return spec.type


def signature(*owners: type) -> inspect.Signature:
    """The typer signature of a command whose options ``owners`` declare (names unique)."""
    import typer

    params: list[inspect.Parameter] = []
    for owner in owners:
        for spec in option_specs(owner):
            show = spec.cli_default not in (None, [], "")
            info: Any
            if spec.argument:
                info = typer.Argument(
                    help=spec.cli_help,
                    envvar=spec.envvar,
                    metavar=spec.metavar,
                    show_default=False,
                )
            else:
                decls = [f"{spec.flag}/{spec.secondary}" if spec.secondary else spec.flag]
                if spec.short:
                    decls.append(spec.short)
                info = typer.Option(
                    *decls,
                    help=spec.cli_help,
                    envvar=spec.envvar,
                    rich_help_panel=spec.panel,
                    metavar=spec.metavar,
                    show_default=show,
                )
            default = inspect.Parameter.empty if spec.required else spec.cli_default
            params.append(
                inspect.Parameter(
                    spec.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
                    annotation=Annotated[_cli_type(spec), info],
                )
            )
    names = [param.name for param in params]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise TypeError(f"options declared twice for one command: {', '.join(duplicates)}")
    return inspect.Signature(params)


def split_list(value: str) -> list[str]:
    """``"a,b, a"`` -> ``["a", "b"]`` (blank items dropped, repeats removed)."""
    return list(dict.fromkeys(item.strip() for item in value.split(",") if item.strip()))


def make(owner: type[_T], values: Mapping[str, Any]) -> _T:
    """An ``owner`` from a command's keyword arguments (those ``owner`` declares): a
    comma-separated value becomes a list, an argument not given takes its default."""
    kwargs: dict[str, Any] = {}
    for spec in option_specs(owner):
        if spec.name not in values:
            continue
        value = values[spec.name]
        if value is None and spec.argument and not spec.required:
            continue
        if spec.split and isinstance(value, str):
            value = split_list(value)
        kwargs[spec.name] = value
    return owner(**kwargs)
