"""``xloop which-loop --check FILE``: prove that this machine resolves every loop as declared.

A platform file (``platforms/linux.toml``, ``macos.toml``, ``windows.toml``) says, for each
``--loop`` name, whether it is available on that OS, which loop class it must create and
which selector or proactor that loop drives, what ``auto`` picks with and without its
optional loop (uvloop, winloop) installed, and what each loop can do: the result each
capability probe (:mod:`xloop.loops.capabilities`) must give there. Its schema,
``xloop.platform/1``, is described at the top of each file; :func:`parse` enforces it.

:func:`observe` collects what really resolves here (through :func:`xloop.loops.availability`,
:func:`~xloop.loops.resolve` and :func:`~xloop.loops.inspect.inspect_choice`, and the
live probes of the capabilities the file declares),
:func:`compare` lists every difference as one line, and :func:`run_check` prints them and
returns the exit code: 0 when the file matches, 1 on any mismatch. A file that cannot be
read or does not follow the schema raises :class:`~xloop.errors.ConfigError` (exit 2).

The comparison takes plain data on both sides, so the Windows and macOS expectations are
tested on any OS with synthetic observations.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xloop.errors import ConfigError, StartupError, XloopError
from xloop.loops import (
    BACKENDS,
    LIBRARY_LOOPS,
    LOOP_NAMES,
    OS_NAME,
    SELECTOR_NAMES,
    availability,
    available_selectors,
    resolve,
)
from xloop.loops.inspect import inspect_choice, python_info

__all__ = [
    "DRIVER_KINDS",
    "OPTIONAL_LOOPS",
    "RESULTS",
    "SCHEMA",
    "LoopExpectation",
    "Observed",
    "ObservedLoop",
    "PlatformFile",
    "compare",
    "load",
    "observe",
    "parse",
    "run_check",
]

SCHEMA = "xloop.platform/1"

OPTIONAL_LOOPS: tuple[str, ...] = tuple(LIBRARY_LOOPS)
"""The loops that are optional dependencies; each is also the name of its module."""

RESULTS: tuple[str, ...] = (
    "works",
    "fallback",
    "limited",
    "unsupported",
    "not implemented",
    "failed",
    "hung",
    "crashed",
)
"""What a capability probe can report (:mod:`xloop.loops.capabilities`)."""

DRIVER_KINDS: tuple[str, ...] = ("selector", "proactor", "none")
"""What a loop can drive: a ``selectors`` object, an IOCP proactor, or nothing Python-level."""

_HINT = "the schema is described in the comment at the top of each platforms/*.toml"
_TARGETS: tuple[str, ...] = tuple(name for name in BACKENDS if name != "asyncio")
"""The backends a loop name can resolve to (what ``LoopChoice.backend`` holds)."""
_COMMON_KEYS = frozenset({"available", "optional"})
_AUTO_KEYS = _COMMON_KEYS | {"with_optional", "without_optional"}
_LOOP_KEYS = _COMMON_KEYS | {"backend", "loop_class", "driver_kind", "driver", "capabilities"}


# -- the two sides of the comparison -------------------------------------------------


@dataclass(frozen=True)
class LoopExpectation:
    """One ``[name]`` table of a platform file."""

    name: str
    available: bool
    optional: bool = False
    """An optional dependency: expected available exactly where its package is installed."""
    backend: str | None = None
    """What the name resolves to (``LoopChoice.backend``); None for auto."""
    loop_class: str | None = None
    driver_kind: str | None = None
    """"selector", "proactor" or "none"."""
    driver: str | None = None
    """The driver's ``module.qualname``; None when ``driver_kind`` is "none"."""
    with_optional: str | None = None
    """(auto) the backend auto picks when the optional loops are installed."""
    without_optional: str | None = None
    """(auto) the backend auto picks when they are not."""
    selectors: tuple[str, ...] | None = None
    """(selector) the ``--selector`` names that exist on the OS, if declared."""
    capabilities: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """probe name -> the results it may give on this OS (a probe not named is not checked)."""


@dataclass(frozen=True)
class PlatformFile:
    """A parsed platform file."""

    source: str
    os: str
    loops: dict[str, LoopExpectation]

    @property
    def optional_loops(self) -> tuple[str, ...]:
        """The loops this OS has as optional dependencies (uvloop, or winloop)."""
        return tuple(name for name, loop in self.loops.items() if loop.available and loop.optional)


@dataclass(frozen=True)
class ObservedLoop:
    """What one loop name does on this machine."""

    available: bool
    why: str
    """What it resolves to and why, or why it is not available."""
    backend: str | None = None
    loop_class: str | None = None
    driver_kind: str | None = None
    """"selector", "proactor" or "none" (None when not available)."""
    driver: str | None = None
    capabilities: dict[str, tuple[str, str]] | None = None
    """probe name -> (result, detail), for the probes the platform file names; None where
    nothing was probed."""


@dataclass(frozen=True)
class Observed:
    """Everything :func:`compare` needs to know about a machine."""

    os: str
    installed: frozenset[str]
    """The optional loops (:data:`OPTIONAL_LOOPS`) whose package is installed."""
    loops: dict[str, ObservedLoop]
    selectors: tuple[str, ...]
    python: str = field(default="")
    """e.g. "CPython 3.12.4", for the summary line."""


# -- reading a platform file ---------------------------------------------------------


def _parse_toml(text: str) -> dict[str, Any]:
    """``tomllib`` on Python 3.11+, its backport ``tomli`` on 3.10 (same API)."""
    if sys.version_info >= (3, 11):  # pragma: py311-plus
        import tomllib

        return tomllib.loads(text)
    toml = importlib.import_module("tomli")  # pragma: py310-only
    result: dict[str, Any] = toml.loads(text)  # pragma: py310-only
    return result  # pragma: py310-only


def _invalid(source: str, problem: str) -> ConfigError:
    return ConfigError(f"invalid platform file {source}: {problem}", hint=_HINT)


def _take_bool(source: str, where: str, table: dict[str, Any], key: str, default: bool) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _invalid(source, f"{where}.{key} must be true or false, not {value!r}")
    return value


def _take_str(source: str, where: str, table: dict[str, Any], key: str) -> str | None:
    value = table.get(key)
    if value is not None and (not isinstance(value, str) or not value.strip()):
        raise _invalid(source, f"{where}.{key} must be a non-empty string, not {value!r}")
    return value


def _take_choice(
    source: str, where: str, table: dict[str, Any], key: str, choices: tuple[str, ...]
) -> str | None:
    value = _take_str(source, where, table, key)
    if value is not None and value not in choices:
        raise _invalid(source, f"{where}.{key} is {value!r}; one of: {', '.join(choices)}")
    return value


def _require(source: str, where: str, key: str, value: object, why: str) -> None:
    if value is None:
        raise _invalid(source, f"{where}.{key} is missing ({why})")


def _parse_selectors(source: str, value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    names = SELECTOR_NAMES[1:]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _invalid(source, f"selector.selectors must be a list of names, not {value!r}")
    unknown = [item for item in value if item not in names]
    if unknown:
        raise _invalid(
            source,
            f"selector.selectors has unknown names {', '.join(map(repr, unknown))}; "
            f"valid names: {', '.join(names)}",
        )
    return tuple(value)


def _parse_capabilities(source: str, name: str, value: object) -> dict[str, tuple[str, ...]]:
    from xloop.loops.capabilities import PROBES

    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(source, f"{name}.capabilities must be a table, not {value!r}")
    result: dict[str, tuple[str, ...]] = {}
    for probe_name, expected in value.items():
        if probe_name not in PROBES:
            raise _invalid(
                source,
                f"{name}.capabilities.{probe_name}: no such probe; one of: {', '.join(PROBES)}",
            )
        accepted = [expected] if isinstance(expected, str) else expected
        if (
            not isinstance(accepted, list)
            or not accepted
            or not all(isinstance(item, str) and item in RESULTS for item in accepted)
        ):
            raise _invalid(
                source,
                f"{name}.capabilities.{probe_name} is {expected!r}; a result or a list of "
                f"results, each one of: {', '.join(RESULTS)}",
            )
        result[probe_name] = tuple(accepted)
    return result


def _parse_loop(source: str, name: str, table: object) -> LoopExpectation:
    if not isinstance(table, dict):
        raise _invalid(source, f"{name} must be a table ([{name}]), not {table!r}")
    allowed = _AUTO_KEYS if name == "auto" else _LOOP_KEYS
    if name == "selector":
        allowed |= {"selectors"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise _invalid(
            source,
            f"[{name}] has unknown keys {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(allowed))}",
        )
    if "available" not in table:
        raise _invalid(source, f"{name}.available is missing (true or false)")
    available = _take_bool(source, name, table, "available", False)
    optional = _take_bool(source, name, table, "optional", False)
    if optional and not available:
        raise _invalid(source, f"{name}.optional needs {name}.available = true")
    if optional and name not in OPTIONAL_LOOPS:
        raise _invalid(
            source, f"{name}.optional: only {', '.join(OPTIONAL_LOOPS)} are optional dependencies"
        )

    if name == "auto":
        if not available:
            raise _invalid(source, "auto.available must be true: auto resolves on every OS")
        with_optional = _take_choice(source, name, table, "with_optional", _TARGETS)
        without_optional = _take_choice(source, name, table, "without_optional", _TARGETS)
        _require(source, name, "with_optional", with_optional, "a loop name")
        _require(source, name, "without_optional", without_optional, "a loop name")
        return LoopExpectation(
            name=name,
            available=True,
            with_optional=with_optional,
            without_optional=without_optional,
        )

    backend = _take_choice(source, name, table, "backend", _TARGETS)
    loop_class = _take_str(source, name, table, "loop_class")
    driver_kind = _take_choice(source, name, table, "driver_kind", DRIVER_KINDS)
    driver = _take_str(source, name, table, "driver")
    selectors = _parse_selectors(source, table.get("selectors"))
    capabilities = _parse_capabilities(source, name, table.get("capabilities"))
    if not available:
        extra = [key for key in sorted(table) if key != "available"]
        if extra:
            raise _invalid(
                source, f"{name} is declared unavailable; drop {', '.join(extra)} from [{name}]"
            )
        return LoopExpectation(name=name, available=False)
    _require(source, name, "loop_class", loop_class, "the module.qualname of the loop")
    _require(source, name, "driver_kind", driver_kind, "selector, proactor or none")
    if driver_kind == "none" and driver is not None:
        raise _invalid(source, f'{name}.driver must be absent when driver_kind = "none"')
    if driver_kind != "none":
        _require(source, name, "driver", driver, "the module.qualname of the driver")
    if backend is None:
        if name not in _TARGETS:
            raise _invalid(
                source, f"{name}.backend is missing (what {name} resolves to, e.g. selector)"
            )
        backend = name
    return LoopExpectation(
        name=name,
        available=True,
        optional=optional,
        backend=backend,
        loop_class=loop_class,
        driver_kind=driver_kind,
        driver=driver,
        selectors=selectors,
        capabilities=capabilities,
    )


def parse(text: str, source: str = "<string>") -> PlatformFile:
    """Parse and validate a platform file's text; :class:`ConfigError` if it is invalid."""
    try:
        data = _parse_toml(text)
    except ValueError as exc:  # tomllib.TOMLDecodeError (and tomli's) is a ValueError
        raise _invalid(source, f"not valid TOML ({exc})") from None
    unknown = sorted(set(data) - {"schema", "os", *LOOP_NAMES})
    if unknown:
        raise _invalid(
            source,
            f"unknown top-level keys {', '.join(unknown)}; "
            f"expected schema, os and the tables {', '.join(LOOP_NAMES)}",
        )
    schema = data.get("schema")
    if schema != SCHEMA:
        raise _invalid(source, f'schema is {schema!r}; expected schema = "{SCHEMA}"')
    os_name = data.get("os")
    if not isinstance(os_name, str) or not os_name.strip():
        raise _invalid(source, f'os must name the OS (e.g. os = "Linux"), not {os_name!r}')
    missing = [name for name in LOOP_NAMES if name not in data]
    if missing:
        raise _invalid(source, f"no table for {', '.join(missing)} (every loop name needs one)")
    loops = {name: _parse_loop(source, name, data[name]) for name in LOOP_NAMES}
    auto = loops["auto"]
    for key, target in (
        ("with_optional", auto.with_optional),
        ("without_optional", auto.without_optional),
    ):
        if target is not None and not loops[target].available:
            raise _invalid(source, f"auto.{key} is {target}, which the file declares unavailable")
    return PlatformFile(source=source, os=os_name, loops=loops)


def load(path: str | Path) -> PlatformFile:
    """Read and parse a platform file; :class:`ConfigError` if unreadable or invalid."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigError(
            f"cannot read platform file {source}: {reason}",
            hint="pass one of platforms/linux.toml, platforms/macos.toml, platforms/windows.toml",
        ) from None
    return parse(text, source)


# -- looking at this machine ---------------------------------------------------------


def _observe_loop(
    name: str, available: bool, why: str, probes: tuple[str, ...] = ()
) -> ObservedLoop:
    if not available:
        return ObservedLoop(available=False, why=why)
    try:
        report = inspect_choice(resolve(name))
    except StartupError as exc:  # installed, but its loop cannot be created or closed here
        return ObservedLoop(available=False, why=exc.message)
    except XloopError as exc:  # pragma: no cover - vanished between the two looks
        return ObservedLoop(available=False, why=exc.one_line())
    except Exception as exc:  # a broken install must be reported, not crash the check
        return ObservedLoop(
            available=False, why=f"creating the loop failed ({type(exc).__name__}: {exc})"
        )
    driver: dict[str, str | None] = report["driver"]
    capabilities: dict[str, tuple[str, str]] | None = None
    if probes:
        from xloop.loops.capabilities import probe

        capabilities = {c.name: (c.result, c.detail) for c in probe(name, "auto", list(probes))}
    return ObservedLoop(
        available=True,
        why=why,
        backend=report["backend"],
        loop_class=report["loop_class"],
        driver_kind=driver["kind"] or "none",
        driver=driver["class"],
        capabilities=capabilities,
    )


def observe(expected: PlatformFile | None = None) -> Observed:
    """What every loop name resolves to on this machine, and which optional loops exist;
    with ``expected``, also the live result of each capability probe it declares (for the
    loops available here)."""
    installed = frozenset(
        name for name in OPTIONAL_LOOPS if importlib.util.find_spec(name) is not None
    )
    table = availability()
    python = python_info()
    return Observed(
        os=OS_NAME,
        installed=installed,
        loops={
            name: _observe_loop(
                name,
                *table[name],
                tuple(expected.loops[name].capabilities) if expected is not None else (),
            )
            for name in LOOP_NAMES
        },
        selectors=tuple(available_selectors()),
        python=f"{python['implementation']} {python['version']}",
    )


# -- the comparison ------------------------------------------------------------------


def _optional_installed(expected: PlatformFile, observed: Observed) -> bool:
    """Is the optional loop that ``auto`` prefers (its ``with_optional``) installed?"""
    target = expected.loops["auto"].with_optional
    return target in expected.optional_loops and target in observed.installed


def _installed_text(
    expected: PlatformFile, observed: Observed, only: tuple[str, ...] | None = None
) -> str:
    optional = expected.optional_loops if only is None else only
    if not optional:
        return "no optional loops on this OS"
    state = [f"{name} {'' if name in observed.installed else 'not '}installed" for name in optional]
    return ", ".join(state)


def _compare_loop(
    expected: PlatformFile, observed: Observed, name: str, problems: list[str]
) -> None:
    want = expected.loops[name]
    got = observed.loops.get(name)
    if got is None:  # pragma: no cover - observe() covers every name in LOOP_NAMES
        problems.append(f"{name}: not observed on this machine")
        return
    want_available = want.available and (not want.optional or name in observed.installed)
    if want_available != got.available:
        if want_available:
            installed = " (it is installed)" if want.optional else ""
            problems.append(f"{name}: expected available{installed}, but it is not: {got.why}")
        else:
            why = "not installed" if want.optional else f"declared unavailable on {expected.os}"
            problems.append(f"{name}: expected unavailable ({why}), but it resolves: {got.why}")
        return
    if not got.available:
        return

    context = ""
    if name == "auto":
        with_optional = _optional_installed(expected, observed)
        target = want.with_optional if with_optional else want.without_optional
        assert target is not None
        variant = "with_optional" if with_optional else "without_optional"
        preferred = tuple(n for n in (want.with_optional,) if n in expected.optional_loops)
        context = f" ({variant}: {_installed_text(expected, observed, preferred)})"
        want = expected.loops[target]
    checks = (
        ("backend", want.backend, got.backend),
        ("loop class", want.loop_class, got.loop_class),
        ("driver kind", want.driver_kind, got.driver_kind),
        ("driver", want.driver, got.driver),
    )
    for what, wanted, actual in checks:
        if wanted != actual:
            problems.append(
                f"{name}: {what}: expected {wanted or '(none)'}{context}, got {actual or '(none)'}"
            )
    if got.capabilities is None:
        return
    for probe_name, accepted in want.capabilities.items():
        result, detail = got.capabilities.get(probe_name, ("not probed", ""))
        if result not in accepted:
            problems.append(
                f"{name}: capability {probe_name}: expected {' or '.join(accepted)}, got "
                f"{result}" + (f" ({detail})" if detail else "")
            )


def compare(expected: PlatformFile, observed: Observed) -> list[str]:
    """Every difference between a platform file and a machine, one line each ([] = match)."""
    if expected.os != observed.os:
        return [
            f"os: {expected.source} describes {expected.os}, but this machine runs "
            f"{observed.os} (nothing else compared)"
        ]
    problems: list[str] = []
    for name in LOOP_NAMES:
        _compare_loop(expected, observed, name, problems)
    declared = expected.loops["selector"].selectors
    if declared is not None and tuple(declared) != observed.selectors:
        problems.append(
            f"selector: selectors: expected {', '.join(declared) or '(none)'}, "
            f"got {', '.join(observed.selectors) or '(none)'}"
        )
    return problems


def _summary(expected: PlatformFile, observed: Observed) -> str:
    auto = observed.loops["auto"]
    picked = f"auto -> {auto.backend}" if auto.available else "auto unavailable"
    return (
        f"{observed.os}, {observed.python or 'Python'}; {_installed_text(expected, observed)}; "
        f"{picked}; {len(LOOP_NAMES)} loop names checked"
    )


def run_check(
    path: str | Path,
    *,
    loop: str = "auto",
    selector: str = "auto",
    all_: bool = False,
    as_json: bool = False,
) -> int:
    """The body of ``xloop which-loop --check FILE``: print the mismatches, return 0 or 1.

    ``loop``/``selector``/``all_``/``as_json`` are the other which-loop options: --check
    compares every loop name, so any of them set is a :class:`ConfigError`.
    """
    others = [
        flag
        for flag, used in (
            ("--loop", loop.strip().lower() != "auto"),
            ("--selector", selector.strip().lower() != "auto"),
            ("--all", all_),
            ("--json", as_json),
        )
        if used
    ]
    if others:
        raise ConfigError(
            f"--check compares every loop name; it takes no {', '.join(others)}",
            hint="drop --check to inspect one choice; XLOOP_LOOP and XLOOP_SELECTOR set them too",
        )
    expected = load(path)
    # Another OS's file is one mismatch: its capabilities are not probed (tens of seconds
    # under Wine) for a comparison that stops at the OS.
    observed = observe(expected if expected.os == OS_NAME else None)
    problems = compare(expected, observed)
    for problem in problems:
        print(f"mismatch: {problem}")
    if problems:
        count = f"{len(problems)} mismatch{'es' if len(problems) != 1 else ''}"
        print(f"FAILED: {count} between {expected.source} and this machine")
        return 1
    print(f"OK: {expected.source} matches this machine ({_summary(expected, observed)})")
    return 0
