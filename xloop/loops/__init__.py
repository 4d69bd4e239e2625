"""Event loop backends: which ones exist here, and factories that create them.

xloop never touches the event loop *policy*. A backend is chosen by name and
resolved to a :class:`LoopChoice` whose ``factory`` is handed to
``asyncio.Runner(loop_factory=...)`` (or :func:`run`, which also covers Python 3.10).

Names (``--loop``):

``auto``
    uvloop if it imports, else the stdlib selector loop (Unix); winloop if it
    imports, else the stdlib proactor loop (Windows). Never the selector loop on
    Windows.
``asyncio``
    the stdlib default of this OS: proactor on Windows, selector elsewhere.
``selector``
    ``asyncio.SelectorEventLoop`` driving the ``selectors`` class picked by
    ``--selector`` (``auto`` = ``selectors.DefaultSelector``).
``proactor``
    ``asyncio.ProactorEventLoop`` (Windows, IOCP).
``uvloop`` / ``winloop``
    the optional libuv-based loops (``pip install 'xloop[uvloop]'``).
``rloop`` / ``rsloop`` / ``zuvloop``
    further optional loops (Rust, Rust, Zig over libuv), each its own extra
    (``pip install 'xloop[rloop]'``); :data:`LIBRARY_LOOPS` says where each has wheels.
``module:callable``
    any importable callable (dotted attributes allowed) returning an event loop.

Optional backends are imported lazily, only when asked about; one that does not import
says why in one line: not installed (with the pip line), no wheel for this Python or OS
(which), or the import error itself. Every failure is an
:mod:`xloop.errors` error: an unknown name or a bad factory spec is a
:class:`~xloop.errors.ConfigError`, a backend this machine lacks is a
:class:`~xloop.errors.LoopUnavailable` naming what *is* available here.
"""

from __future__ import annotations

import asyncio
import importlib
import platform
import selectors
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from xloop.errors import ConfigError, LoopUnavailable
from xloop.loops import _platform

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine
    from types import ModuleType

__all__ = [
    "BACKENDS",
    "IS_WINDOWS",
    "LIBRARY_LOOPS",
    "LOOP_NAMES",
    "OS_NAME",
    "SELECTOR_NAMES",
    "LibraryLoop",
    "LoopChoice",
    "availability",
    "available_backends",
    "available_selectors",
    "default_asyncio_backend",
    "describe",
    "driver_of",
    "matrix",
    "os_backends",
    "resolve",
    "run",
    "socket_limit",
]

SELECTOR_NAMES: tuple[str, ...] = ("auto", "epoll", "kqueue", "devpoll", "poll", "select")

IS_WINDOWS: bool = _platform.IS_WINDOWS
OS_NAME: str = _platform.OS_NAME


@dataclass(frozen=True)
class LibraryLoop:
    """A loop from a package of its own: imported lazily, created by its ``new_event_loop``.

    The wheel facts only explain why a loop that does not import is missing (and decide
    which loops ``pip install 'xloop[loops]'`` brings); whether it is available is always
    decided by importing it.
    """

    name: str
    """The ``--loop`` name, which is also the module's name."""
    extra: str
    """The pyproject extra that installs it."""
    wheels: dict[str, str]
    """OS_NAME -> what its wheels for that OS need ("" = any release of that OS); an OS
    not listed has no wheels at all."""
    python: tuple[int, int] = (3, 10)
    """The oldest Python it has wheels for."""
    glibc: tuple[int, int] | None = None
    """The oldest glibc its Linux wheels need, where that is newer than manylinux2014."""
    source_build: str = ""
    """What building its sdist needs, said when there is no wheel."""
    other: str = ""
    """Where there is no wheel for this OS: the loop to use instead."""

    @property
    def install(self) -> str:
        return f"pip install 'xloop[{self.extra}]'"


#: Every optional loop xloop knows by name, in the order they are listed and tested.
LIBRARY_LOOPS: dict[str, LibraryLoop] = {
    loop.name: loop
    for loop in (
        LibraryLoop(
            "uvloop",
            "uvloop",
            {"Linux": "", "macOS": ""},
            other="winloop",
        ),
        LibraryLoop("winloop", "uvloop", {"Windows": ""}),
        LibraryLoop("rloop", "rloop", {"Linux": "", "macOS": ""}, source_build="a Rust toolchain"),
        LibraryLoop(
            "rsloop",
            "rsloop",
            {"Linux": "glibc 2.39", "macOS": "macOS 13", "Windows": ""},
            glibc=(2, 39),
            source_build="a nightly Rust toolchain",
        ),
        LibraryLoop(
            "zuvloop",
            "zuvloop",
            {"Linux": "", "macOS": "", "Windows": ""},
            python=(3, 14),
            source_build="the Zig compiler",
        ),
    )
}

BACKENDS: tuple[str, ...] = ("asyncio", "selector", "proactor", *LIBRARY_LOOPS)
LOOP_NAMES: tuple[str, ...] = ("auto", *BACKENDS)

_INSTALL_HINT = LIBRARY_LOOPS["uvloop"].install
_CUSTOM_HINT = "module:callable for a custom loop factory"

# short selector name -> the class name in the selectors module
_SELECTOR_CLASSES: dict[str, str] = {
    "epoll": "EpollSelector",
    "kqueue": "KqueueSelector",
    "devpoll": "DevpollSelector",
    "poll": "PollSelector",
    "select": "SelectSelector",
}
# what a selector needs, for the "why not" text when it is missing here
_SELECTOR_NEEDS: dict[str, str] = {
    "epoll": "Linux",
    "kqueue": "macOS or BSD",
    "devpoll": "Solaris or illumos",
    "poll": "a Unix OS",
    "select": "the select module",
}

_T = TypeVar("_T")


@dataclass(frozen=True)
class LoopChoice:
    """A resolved ``--loop``/``--selector`` pair."""

    requested: str
    """What the user asked for: "auto", "selector", "pkg.mod:factory", ..."""
    backend: str
    """What it resolved to: "selector", "proactor", a name of :data:`LIBRARY_LOOPS`, or
    "custom"."""
    factory: Callable[[], asyncio.AbstractEventLoop]
    """Creates a new, not yet running loop; pass it to ``asyncio.Runner(loop_factory=...)``."""
    reason: str
    """Why this backend, as one short sentence."""
    selector: str | None
    """For the selector loop, the ``selectors`` class name ("EpollSelector"); else None."""


# -- factories (module-level and picklable, so they survive a spawned worker) -------


@dataclass(frozen=True)
class _SelectorLoopFactory:
    selector: str  # the selectors class name, e.g. "EpollSelector"

    def __call__(self) -> asyncio.AbstractEventLoop:
        selector_class: type[selectors.BaseSelector] = getattr(selectors, self.selector)
        return asyncio.SelectorEventLoop(selector_class())


@dataclass(frozen=True)
class _LibraryLoopFactory:
    module: str  # a name of LIBRARY_LOOPS

    def __call__(self) -> asyncio.AbstractEventLoop:
        loop: asyncio.AbstractEventLoop = importlib.import_module(self.module).new_event_loop()
        return loop


@dataclass(frozen=True)
class _CustomLoopFactory:
    spec: str
    target: Callable[[], object] = field(repr=False, compare=False)

    def __call__(self) -> asyncio.AbstractEventLoop:
        loop = self.target()
        if not isinstance(loop, asyncio.AbstractEventLoop):
            raise ConfigError(
                f"loop factory {self.spec} returned {_qualname(type(loop))}, not an event loop",
                hint="the callable must return an asyncio.AbstractEventLoop",
            )
        return loop

    def __reduce__(self) -> tuple[Any, ...]:
        # re-import by spec on unpickling; the target itself may not be picklable
        return (_load_custom, (self.spec,))


# -- helpers ---------------------------------------------------------------------


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _glibc() -> tuple[int, int] | None:
    """This machine's glibc version, or None (another libc, another OS)."""
    libc, version = platform.libc_ver()
    numbers = version.split(".")
    if libc != "glibc" or len(numbers) < 2 or not all(n.isdigit() for n in numbers[:2]):
        return None
    return int(numbers[0]), int(numbers[1])


def _dotted(version: tuple[int, int]) -> str:
    return ".".join(map(str, version))


def _no_wheel(loop: LibraryLoop) -> str | None:
    """Why ``loop`` has no wheel for this OS and Python, or None if it has one."""
    python = sys.version_info[:2]
    build = f"; building it needs {loop.source_build}" if loop.source_build else ""
    if python < loop.python:
        return (
            f"{loop.name} has no wheel for Python {_dotted(python)} "
            f"(it needs Python >= {_dotted(loop.python)})"
        )
    if loop.glibc is not None and OS_NAME == "Linux":
        glibc = _glibc()
        if glibc is None or glibc < loop.glibc:
            have = f"glibc {_dotted(glibc)}" if glibc else "no glibc"
            return (
                f"{loop.name} has no wheel for this Linux (its wheels need glibc >= "
                f"{_dotted(loop.glibc)}, this machine has {have}{build})"
            )
    return None


def _import_optional(name: str) -> tuple[ModuleType | None, str]:
    """Import an optional backend; return (module, "") or (None, why it is missing)."""
    try:
        return importlib.import_module(name), ""
    except ModuleNotFoundError as exc:
        if exc.name == name:
            loop = LIBRARY_LOOPS.get(name)
            if loop is None:  # pragma: no cover - every caller names a library loop
                return None, f"{name} is not installed"
            return None, _no_wheel(loop) or f"{name} is not installed ({loop.install})"
        return None, f"{name} failed to import ({type(exc).__name__}: {exc})"
    except Exception as exc:  # a broken install must not crash the report
        return None, f"{name} failed to import ({type(exc).__name__}: {exc})"


def _why_not(backend: str) -> str | None:
    """Why ``backend`` (a name in BACKENDS) cannot be used here, or None if it can."""
    if backend in ("asyncio", "selector"):
        return None
    if backend == "proactor":
        return None if _platform.PROACTOR_FACTORY is not None else "proactor needs Windows (IOCP)"
    loop = LIBRARY_LOOPS[backend]
    if _no_build(loop):
        if loop.other:
            instead = LIBRARY_LOOPS[loop.other]
            return f"{backend} does not support {OS_NAME} (use {instead.name}: {instead.install})"
        if len(loop.wheels) == 1:
            return f"{backend} needs {next(iter(loop.wheels))}"
        return f"{backend} has no {OS_NAME} build (it runs on {' and '.join(loop.wheels)})"
    return _import_optional(backend)[1] or None


def _unavailable(why: str) -> LoopUnavailable:
    return LoopUnavailable(f"{why}; available here: {', '.join(available_backends())}")


def _check_selector_name(selector: str) -> str:
    name = selector.strip().lower()
    if name not in SELECTOR_NAMES:
        raise ConfigError(
            f"unknown selector {selector!r}; valid names: {', '.join(SELECTOR_NAMES)}",
            hint=f"available here: {', '.join(available_selectors())}",
        )
    return name


def _selector_class_name(name: str) -> str:
    """The selectors class name for a checked selector name; LoopUnavailable if missing."""
    if name == "auto":
        return selectors.DefaultSelector.__name__
    class_name = _SELECTOR_CLASSES[name]
    if not hasattr(selectors, class_name):
        raise LoopUnavailable(
            f"{name} selector needs {_SELECTOR_NEEDS[name]}; "
            f"available here: {', '.join(available_selectors())}"
        )
    return class_name


def _load_custom(spec: str) -> _CustomLoopFactory:
    module_name, _, attr_path = spec.partition(":")
    module_name, attr_path = module_name.strip(), attr_path.strip()
    if not module_name or not attr_path:
        raise ConfigError(
            f"bad loop factory spec {spec!r}: expected module:callable",
            hint="e.g. mypkg.loops:new_event_loop",
        )
    try:
        target: object = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(
            f"cannot import loop factory module {module_name!r} ({type(exc).__name__}: {exc})",
            hint=_CUSTOM_HINT,
        ) from exc
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise ConfigError(
                f"loop factory {spec!r}: {module_name} has no attribute {attr_path!r}",
                hint=_CUSTOM_HINT,
            ) from exc
    if not callable(target):
        raise ConfigError(
            f"loop factory {spec!r} is a {_qualname(type(target))}, not a callable",
            hint="it must be a callable returning an event loop",
        )
    return _CustomLoopFactory(spec=spec, target=target)


# -- public API ------------------------------------------------------------------


def default_asyncio_backend() -> str:
    """What ``--loop asyncio`` means here: "proactor" on Windows, "selector" elsewhere."""
    return _platform.ASYNCIO_DEFAULT


def available_backends() -> list[str]:
    """The names in :data:`BACKENDS` that work on this machine, in that order."""
    return [name for name in BACKENDS if _why_not(name) is None]


def os_backends() -> dict[str, str | None]:
    """Every name in :data:`BACKENDS` this OS can have -> why it is missing here (None: it
    is available); a loop with no build for this OS at all is left out."""
    return {
        name: why
        for name in BACKENDS
        if (why := _why_not(name)) is None
        or not (name == "proactor" or (name in LIBRARY_LOOPS and _no_build(LIBRARY_LOOPS[name])))
    }


def _no_build(loop: LibraryLoop) -> bool:
    return OS_NAME not in loop.wheels and OS_NAME in ("Linux", "macOS", "Windows")


def available_selectors() -> list[str]:
    """The selector names (``SELECTOR_NAMES`` minus "auto") that exist here."""
    return [name for name in SELECTOR_NAMES[1:] if hasattr(selectors, _SELECTOR_CLASSES[name])]


def resolve(loop: str = "auto", selector: str = "auto") -> LoopChoice:
    """Resolve a ``--loop`` name (or ``module:callable``) and ``--selector`` to a factory.

    Raises :class:`~xloop.errors.ConfigError` for an unknown name, a bad factory
    spec or a selector given for a loop that has none, and
    :class:`~xloop.errors.LoopUnavailable` for a backend or selector this machine lacks.
    """
    selector_name = _check_selector_name(selector)
    spec = loop.strip()

    if ":" in spec:
        factory: Callable[[], asyncio.AbstractEventLoop] = _load_custom(spec)
        backend, reason = "custom", f"custom: the loop factory {spec}"
    else:
        name = spec = spec.lower()
        if name not in LOOP_NAMES:
            raise ConfigError(
                f"unknown loop {loop!r}; valid names: {', '.join(LOOP_NAMES)}",
                hint=_CUSTOM_HINT,
            )
        if name == "auto":
            native = _platform.NATIVE_BACKEND
            why = _why_not(native)
            if why is None:
                backend, reason = native, f"auto: {native} is installed"
            else:
                backend = _platform.ASYNCIO_DEFAULT
                reason = f"auto: {why}; using the stdlib {backend} loop"
        elif name == "asyncio":
            backend = _platform.ASYNCIO_DEFAULT
            reason = f"asyncio: the stdlib default on {OS_NAME} is the {backend} loop"
        else:
            why = _why_not(name)
            if why is not None:
                raise _unavailable(why)
            backend = name
            reason = {
                "selector": "selector: the stdlib selector loop was requested",
                "proactor": "proactor: the stdlib IOCP proactor loop was requested",
            }.get(name, f"{name}: requested, and {name} is installed")
        if backend == "selector":
            class_name = _selector_class_name(selector_name)
            return LoopChoice(
                requested=spec,
                backend=backend,
                factory=_SelectorLoopFactory(class_name),
                reason=reason,
                selector=class_name,
            )
        if backend in LIBRARY_LOOPS:
            factory = _LibraryLoopFactory(backend)
        else:  # pragma: windows-only
            assert _platform.PROACTOR_FACTORY is not None
            factory = _platform.PROACTOR_FACTORY

    if selector_name != "auto":
        raise ConfigError(
            f"selector {selector_name!r} applies only to the selector loop, "
            f"but loop {spec!r} resolved to {backend}",
            hint="use --loop selector, or leave --selector on auto",
        )
    return LoopChoice(
        requested=spec, backend=backend, factory=factory, reason=reason, selector=None
    )


def availability() -> dict[str, tuple[bool, str]]:
    """Every name in ``("auto", *BACKENDS)`` -> (available, what it resolves to / why not)."""
    result: dict[str, tuple[bool, str]] = {}
    for name in LOOP_NAMES:
        why = _why_not(name) if name in BACKENDS else None
        if why is None:
            result[name] = (True, resolve(name).reason)
        else:
            result[name] = (False, why)
    return result


def matrix() -> list[tuple[str, str | None]]:
    """Every distinct (backend, selector) combination that works here, for test suites.

    e.g. ``[("selector", "epoll"), ("selector", "poll"), ("selector", "select"),
    ("uvloop", None), ("rloop", None)]`` on Linux with uvloop and rloop installed. Each
    pair resolves with ``resolve(backend, selector or "auto")``.
    """
    combos: list[tuple[str, str | None]] = []
    for backend in ("proactor", "selector", *LIBRARY_LOOPS):
        if _why_not(backend) is not None:
            continue
        if backend == "selector":
            combos.extend(("selector", name) for name in available_selectors())
        else:
            combos.append((backend, None))
    return combos


#: select() on Windows takes at most FD_SETSIZE = 512 sockets (CPython's build setting).
WINDOWS_SELECT_LIMIT = 512


def socket_limit(loop: asyncio.AbstractEventLoop) -> int | None:
    """The most sockets ``loop`` can watch at once, where the OS sets a low bound.

    The selector loop on Windows drives ``select()``, which CPython builds with
    ``FD_SETSIZE = 512``; every other loop here has no such limit (None).
    """
    if IS_WINDOWS and isinstance(loop, asyncio.SelectorEventLoop):
        return WINDOWS_SELECT_LIMIT
    return None


def driver_of(loop: asyncio.AbstractEventLoop) -> str | None:
    """The fully qualified class of the selector/proactor ``loop`` drives, else None.

    None for the library loops (uvloop, rloop, ...: no Python-level driver) and for
    closed loops.
    """
    for attr in ("_selector", "_proactor"):
        driver = getattr(loop, attr, None)
        if driver is not None:
            return _qualname(type(driver))
    return None


def describe(loop: asyncio.AbstractEventLoop) -> str:
    """One line for the startup log, e.g. ``uvloop.Loop`` or
    ``asyncio.unix_events._UnixSelectorEventLoop with selectors.EpollSelector``.
    """
    name = _qualname(type(loop))
    driver = driver_of(loop)
    return f"{name} with {driver}" if driver else name


if sys.version_info >= (3, 11):  # pragma: py311-plus

    def run(
        main: Coroutine[Any, Any, _T],
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop],
        debug: bool | None = None,
    ) -> _T:
        """Run ``main`` on a fresh loop from ``loop_factory``, then close the loop.

        ``asyncio.Runner(loop_factory=...)`` here (Python 3.11+); on 3.10, which has
        no Runner, the same steps by hand (without Runner's SIGINT handling). Neither
        touches the event loop policy. If ``loop_factory`` raises, ``main`` is
        closed unawaited.
        """
        runner = asyncio.Runner(loop_factory=loop_factory, debug=debug)
        try:
            runner.get_loop()  # creates the loop
        except BaseException:
            main.close()  # never awaited: close it so it does not warn
            raise
        with runner:
            return runner.run(main)

else:  # pragma: py310-only

    def run(
        main: Coroutine[Any, Any, _T],
        *,
        loop_factory: Callable[[], asyncio.AbstractEventLoop],
        debug: bool | None = None,
    ) -> _T:
        """Run ``main`` on a fresh loop from ``loop_factory``, then close the loop.

        What ``asyncio.Runner(loop_factory=...)`` does on 3.11+, by hand for 3.10
        (without Runner's SIGINT handling), never touching the event loop policy.
        If ``loop_factory`` raises, ``main`` is closed unawaited.
        """
        try:
            loop = loop_factory()
        except BaseException:
            main.close()  # never awaited: close it so it does not warn
            raise
        try:
            if debug is not None:
                loop.set_debug(debug)
            return loop.run_until_complete(main)
        finally:
            try:
                _cancel_all_tasks(loop)
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.run_until_complete(loop.shutdown_default_executor())
            finally:
                loop.close()

    def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
        """asyncio.runners._cancel_all_tasks, for the Python 3.10 :func:`run`."""
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        if not pending:
            return
        for task in pending:
            task.cancel()
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        for task in pending:
            if task.cancelled():
                continue
            if task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception during xloop.loops.run() shutdown",
                        "exception": task.exception(),
                        "task": task,
                    }
                )
