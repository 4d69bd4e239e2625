"""Validation and conversion derived from option declarations (:mod:`xloop.options`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pytest

from tests.server.harness import ONCE_UNDER_WINE
from xloop.compare.settings import Settings
from xloop.config import Config
from xloop.errors import ConfigError
from xloop.http import Limits
from xloop.loops.cli import WhichLoopOptions
from xloop.options import borrow, make, option, option_specs, validate

# backend-independent (the default loop): once under Wine
pytestmark = ONCE_UNDER_WINE


@dataclass
class Sample:
    ENV_PREFIX = "SAMPLE_"

    name: str | None = option("A name.", default=None, argument=True, metavar="NAME")
    port: int = option("A port.", default=0, minimum=0, maximum=65535, hint="0: any")
    count: int = option("A count.", default=1, minimum=1)
    delay: float = option("A delay.", default=0.0, minimum=0, finite=True)
    window: float = option("A window.", default=1.0, above=0, finite=True)
    ceiling: int | None = option("A ceiling.", default=None, maximum=10)
    colour: str = option("A colour.", default="red", choices=("red", "blue"))
    kinds: list[str] = option(
        "Kinds.", default_factory=lambda: ["a"], split=True, choices=("a", "b"), noun="kind"
    )
    flag: bool = option("A flag.", default=False, flag="--on", envvar="OTHER_FLAG")

    def __post_init__(self) -> None:
        validate(self)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"port": -1}, "--port must be 0..65535, got -1"),
        ({"port": 70000}, "--port must be 0..65535, got 70000"),
        ({"count": 0}, "--count must be at least 1, got 0"),
        ({"delay": -0.5}, "--delay cannot be negative, got -0.5"),
        ({"delay": math.inf}, "--delay must be finite, got inf"),
        ({"window": 0.0}, "--window must be more than 0, got 0.0"),
        ({"window": math.nan}, "--window must be more than 0, got nan"),
        ({"ceiling": 11}, "--ceiling must be at most 10, got 11"),
        ({"colour": "green"}, "unknown --colour value 'green'; valid: red, blue"),
        ({"kinds": ["a", "c"]}, "unknown kind 'c'; valid: a, b"),
        ({"kinds": []}, "--kinds is empty"),
    ],
)
def test_validate_says_what_is_wrong(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Sample(**changes)
    assert info.value.one_line().startswith(message + " (hint: ")


def test_the_hint_is_the_declared_one_else_the_help() -> None:
    with pytest.raises(ConfigError) as info:
        Sample(port=-1)
    assert info.value.hint == "0: any"
    with pytest.raises(ConfigError) as info:
        Sample(count=0)
    assert info.value.hint == "A count."


def test_values_inside_the_bounds_pass() -> None:
    sample = Sample(port=65535, count=1, delay=0.0, window=0.001, ceiling=10, kinds=["b", "a"])
    assert sample.kinds == ["b", "a"]


def test_make_splits_lists_and_leaves_a_missing_argument_to_its_default() -> None:
    made = make(Sample, {"name": None, "kinds": " b, a,,b ", "port": 80, "unrelated": 1})
    assert made == Sample(kinds=["b", "a"], port=80)
    with pytest.raises(ConfigError, match="--kinds is empty"):
        make(Sample, {"kinds": " , "})


def test_specs_read_flags_environment_and_defaults() -> None:
    specs = {spec.name: spec for spec in option_specs(Sample)}
    assert specs["port"].envvar == "SAMPLE_PORT"
    assert specs["flag"].envvar == "OTHER_FLAG"
    assert specs["flag"].flag == "--on"
    assert specs["name"].label == "NAME"
    assert specs["kinds"].cli_default == "a"
    assert specs["kinds"].cli_help == "Kinds. One of: a, b."
    assert specs["name"].cli_default is None


def test_a_field_without_a_declaration_is_an_error() -> None:
    @dataclass
    class Plain:
        size: int = 1

    with pytest.raises(TypeError, match=r"Plain\.size is not declared"):
        option_specs(Plain)


def test_borrow_keeps_the_declaration_the_default_and_the_environment() -> None:
    @dataclass
    class Borrower:
        port: int = borrow(Sample, "port")
        kinds: list[str] = borrow(Sample, "kinds")

    borrowed = {spec.name: spec for spec in option_specs(Borrower)}
    own = {spec.name: spec for spec in option_specs(Sample)}
    for name in ("port", "kinds"):
        assert borrowed[name] == own[name]
    first, second = Borrower(), Borrower()
    first.kinds.append("b")
    assert second.kinds == ["a"]  # a fresh default each time


def test_which_loop_borrows_serve_s_loop_and_selector() -> None:
    serve = {spec.name: spec for spec in option_specs(Config)}
    which = {spec.name: spec for spec in option_specs(WhichLoopOptions)}
    assert which["loop"] == serve["loop"]
    assert which["selector"] == serve["selector"]
    assert which["loop"].envvar == "XLOOP_LOOP"


def test_request_head_limits_have_one_source() -> None:
    assert Config().limits() == Limits()
    defaults = {spec.name: spec.default for spec in option_specs(Config)}
    assert defaults["limit_request_line"] == Limits().max_request_line


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rounds": 0}, "--rounds must be at least 1, got 0 (hint: e.g. --rounds 3)"),
        ({"duration": 0.0}, "--duration must be more than 0, got 0.0 (hint: e.g. --duration 3)"),
        ({"warmup": -1.0}, "--warmup cannot be negative, got -1.0 (hint: 0 turns warming up"),
        ({"timeout": math.inf}, "--timeout must be finite, got inf (hint: e.g. 10)"),
        ({"port": 65536}, "--port must be 0..65535, got 65536 (hint: 0 takes free ports)"),
        ({"clients": ["curl"]}, "unknown client 'curl'; valid: builtin, wrk, oha (hint: "),
        ({"http": ["auto"]}, "unknown parser 'auto'; valid: h11, httptools, zttp (hint: "),
        ({"workloads": []}, "--workload is empty (hint: give a comma-separated list"),
        ({"workers": 0}, "--workers must be at least 1, got 0 (hint: e.g. --workers 4)"),
        (
            {"workloads": ["json"], "pipeline": 2},
            "--pipeline applies to the plaintext workload only",
        ),
    ],
)
def test_compare_settings_are_validated_from_their_declarations(
    changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as info:
        Settings(**changes)
    assert info.value.one_line().startswith(message)
