"""Resolution of every loop/selector name on this OS, and the loops it creates."""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import pickle
import selectors
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from xloop import loops
from xloop.errors import ConfigError, LoopUnavailable

if TYPE_CHECKING:
    from collections.abc import Callable
    from importlib.machinery import ModuleSpec
    from types import ModuleType

HAS_UVLOOP = importlib.util.find_spec("uvloop") is not None
needs_uvloop = pytest.mark.skipif(not HAS_UVLOOP, reason="uvloop is not installed")
linux_only = pytest.mark.skipif(loops.OS_NAME != "Linux", reason="Linux-specific expectations")
unix_only = pytest.mark.skipif(loops.IS_WINDOWS, reason="Unix-specific expectations")

NOT_INSTALLED = "uvloop is not installed (pip install 'xloop[uvloop]')"
ROOT = Path(__file__).resolve().parents[2]


# -- custom factories referenced as f"{__name__}:..." --------------------------------


def make_loop() -> asyncio.AbstractEventLoop:
    return asyncio.SelectorEventLoop(selectors.SelectSelector())


def not_a_loop() -> object:
    return 42


NOT_CALLABLE = "a string"


class Factories:
    @staticmethod
    def make() -> asyncio.AbstractEventLoop:
        return asyncio.SelectorEventLoop(selectors.DefaultSelector())


# -- helpers ---------------------------------------------------------------------


async def _probe() -> tuple[str, str | None]:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    return loops.describe(loop), loops.driver_of(loop)


def _run_probe(factory: Callable[[], asyncio.AbstractEventLoop]) -> tuple[str, str | None]:
    return loops.run(_probe(), loop_factory=factory)


@pytest.fixture
def no_uvloop(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make ``import uvloop`` (and the other optional loops) fail as if not installed."""
    for name in ("uvloop", "rloop", "rsloop", "zuvloop"):
        monkeypatch.setitem(sys.modules, name, None)


class _BrokenFinder:
    """A meta path finder that makes importing one module fail like a broken install."""

    def __init__(self, name: str, exc: ImportError) -> None:
        self.name, self.exc = name, exc

    def find_spec(
        self, name: str, path: object = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == self.name:
            raise self.exc
        return None


def _break_import(monkeypatch: pytest.MonkeyPatch, name: str, exc: ImportError) -> None:
    monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.setattr(sys, "meta_path", [_BrokenFinder(name, exc), *sys.meta_path])


# -- constants -------------------------------------------------------------------


def test_public_constants() -> None:
    assert loops.BACKENDS == (
        "asyncio", "selector", "proactor", "uvloop", "winloop", "rloop", "rsloop", "zuvloop"
    )  # fmt: skip
    assert ("auto", *loops.BACKENDS) == loops.LOOP_NAMES
    assert loops.SELECTOR_NAMES == ("auto", "epoll", "kqueue", "devpoll", "poll", "select")
    assert set(loops.__all__) <= set(dir(loops))


@linux_only
def test_platform_facts_on_linux() -> None:
    assert loops.IS_WINDOWS is False
    assert loops.default_asyncio_backend() == "selector"
    assert loops.available_selectors() == ["epoll", "poll", "select"]


def test_only_the_platform_module_reads_sys_platform() -> None:
    readers = []
    for folder in ("xloop", "tests", "benchmarks"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            for node in ast.walk(tree):
                is_attr = (
                    isinstance(node, ast.Attribute)
                    and node.attr == "platform"
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "sys"
                )
                is_import = (
                    isinstance(node, ast.ImportFrom)
                    and node.module == "sys"
                    and any(alias.name == "platform" for alias in node.names)
                )
                if is_attr or is_import:
                    readers.append(path.relative_to(ROOT).as_posix())
    assert sorted(set(readers)) == ["xloop/loops/_platform.py"]


# -- auto ------------------------------------------------------------------------


@needs_uvloop
def test_auto_prefers_uvloop() -> None:
    choice = loops.resolve()
    assert choice.requested == "auto"
    assert choice.backend == "uvloop"
    assert choice.reason == "auto: uvloop is installed"
    assert choice.selector is None
    assert _run_probe(choice.factory) == ("uvloop.Loop", None)


@linux_only
@pytest.mark.usefixtures("no_uvloop")
def test_auto_falls_back_to_the_selector_loop_without_uvloop() -> None:
    choice = loops.resolve("auto")
    assert choice.backend == "selector"
    assert choice.reason == f"auto: {NOT_INSTALLED}; using the stdlib selector loop"
    assert choice.selector == "EpollSelector"
    assert _run_probe(choice.factory) == (
        "asyncio.unix_events._UnixSelectorEventLoop with selectors.EpollSelector",
        "selectors.EpollSelector",
    )


@pytest.mark.skipif(
    loops.IS_WINDOWS,
    reason="auto is winloop or proactor on Windows, never the selector loop: no --selector",
)
@pytest.mark.usefixtures("no_uvloop")
def test_auto_with_an_explicit_selector_when_uvloop_is_missing() -> None:
    choice = loops.resolve("auto", "select")
    assert (choice.backend, choice.selector) == ("selector", "SelectSelector")


@needs_uvloop
def test_auto_with_a_selector_is_refused_when_it_resolves_to_uvloop() -> None:
    with pytest.raises(ConfigError) as info:
        loops.resolve("auto", "poll")
    assert not isinstance(info.value, LoopUnavailable)
    assert info.value.message == (
        "selector 'poll' applies only to the selector loop, but loop 'auto' resolved to uvloop"
    )


# -- asyncio / selector ----------------------------------------------------------


@linux_only
def test_asyncio_is_the_stdlib_default_selector_loop() -> None:
    choice = loops.resolve("asyncio")
    assert choice.requested == "asyncio"
    assert choice.backend == "selector"
    assert choice.reason == "asyncio: the stdlib default on Linux is the selector loop"
    assert choice.selector == selectors.DefaultSelector.__name__ == "EpollSelector"


def test_selector_auto_uses_the_default_selector() -> None:
    choice = loops.resolve("selector")
    assert choice.backend == "selector"
    assert choice.selector == selectors.DefaultSelector.__name__
    _, driver = _run_probe(choice.factory)
    assert driver == f"selectors.{selectors.DefaultSelector.__name__}"


@pytest.mark.parametrize("selector", loops.available_selectors())
@pytest.mark.parametrize(
    "loop",
    [
        "selector",
        pytest.param(
            "asyncio",
            marks=pytest.mark.skipif(
                loops.IS_WINDOWS,
                reason="asyncio is the proactor loop on Windows, which takes no --selector",
            ),
        ),
    ],
)
def test_each_available_selector_runs(loop: str, selector: str) -> None:
    choice = loops.resolve(loop, selector)
    class_name = getattr(selectors, choice.selector or "").__name__
    assert class_name.lower() == f"{selector}selector"
    description, driver = _run_probe(choice.factory)
    assert driver == f"selectors.{class_name}"
    assert description.endswith(f" with selectors.{class_name}")


@linux_only
@pytest.mark.parametrize(
    ("selector", "needs"),
    [("kqueue", "macOS or BSD"), ("devpoll", "Solaris or illumos")],
)
def test_a_selector_this_os_lacks_is_unavailable(selector: str, needs: str) -> None:
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("selector", selector)
    assert info.value.one_line() == (
        f"{selector} selector needs {needs}; available here: epoll, poll, select"
    )
    assert info.value.exit_code == 2


@unix_only
def test_the_missing_epoll_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(selectors, "EpollSelector", raising=False)
    monkeypatch.delattr(selectors, "KqueueSelector", raising=False)
    monkeypatch.delattr(selectors, "DevpollSelector", raising=False)
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("selector", "epoll")
    assert info.value.one_line() == "epoll selector needs Linux; available here: poll, select"


def test_unknown_selector_lists_the_names() -> None:
    with pytest.raises(ConfigError) as info:
        loops.resolve("selector", "iouring")
    assert not isinstance(info.value, LoopUnavailable)
    assert info.value.message == (
        "unknown selector 'iouring'; valid names: auto, epoll, kqueue, devpoll, poll, select"
    )
    assert info.value.hint == f"available here: {', '.join(loops.available_selectors())}"


def test_names_are_case_and_space_insensitive() -> None:
    choice = loops.resolve(" Selector ", " SELECT ")
    assert (choice.requested, choice.backend, choice.selector) == (
        "selector",
        "selector",
        "SelectSelector",
    )


# -- uvloop / proactor / winloop -------------------------------------------------


@needs_uvloop
def test_uvloop_explicitly() -> None:
    choice = loops.resolve("uvloop")
    assert (choice.requested, choice.backend, choice.selector) == ("uvloop", "uvloop", None)
    assert choice.reason == "uvloop: requested, and uvloop is installed"
    assert _run_probe(choice.factory) == ("uvloop.Loop", None)


@needs_uvloop
def test_uvloop_takes_no_selector() -> None:
    with pytest.raises(ConfigError, match="applies only to the selector loop"):
        loops.resolve("uvloop", "epoll")


@linux_only
@pytest.mark.usefixtures("no_uvloop")
def test_uvloop_missing_is_unavailable() -> None:
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("uvloop")
    assert info.value.one_line() == (
        "uvloop is not installed (pip install 'xloop[uvloop]'); available here: asyncio, selector"
    )
    assert info.value.exit_code == 2


@linux_only
def test_uvloop_that_fails_to_import_keeps_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    _break_import(monkeypatch, "uvloop", ImportError("libuv.so.1: cannot open shared object"))
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("uvloop")
    assert info.value.one_line() == (
        "uvloop failed to import (ImportError: libuv.so.1: cannot open shared object); "
        f"available here: {', '.join(loops.available_backends())}"
    )
    assert "uvloop" not in loops.available_backends()
    choice = loops.resolve()
    assert choice.backend == "selector"
    assert "uvloop failed to import (ImportError: libuv.so.1" in choice.reason


@unix_only
def test_uvloop_missing_a_dependency_is_not_called_not_installed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    exc = ModuleNotFoundError("No module named 'libuvdep'", name="libuvdep")
    _break_import(monkeypatch, "uvloop", exc)
    available, why = loops.availability()["uvloop"]
    assert available is False
    assert why == "uvloop failed to import (ModuleNotFoundError: No module named 'libuvdep')"


@linux_only
@needs_uvloop
def test_proactor_needs_windows() -> None:
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("proactor")
    here = ", ".join(loops.available_backends())
    assert info.value.one_line() == f"proactor needs Windows (IOCP); available here: {here}"
    assert here.startswith("asyncio, selector, uvloop")


@linux_only
@pytest.mark.usefixtures("no_uvloop")
def test_proactor_needs_windows_without_uvloop() -> None:
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("proactor")
    assert (
        info.value.one_line() == "proactor needs Windows (IOCP); available here: asyncio, selector"
    )


@linux_only
@pytest.mark.usefixtures("no_uvloop")
def test_winloop_needs_windows() -> None:
    with pytest.raises(LoopUnavailable) as info:
        loops.resolve("winloop")
    assert info.value.one_line() == "winloop needs Windows; available here: asyncio, selector"
    assert isinstance(info.value, ConfigError)


# -- unknown and custom ----------------------------------------------------------


def test_unknown_loop_lists_names_and_the_custom_hint() -> None:
    with pytest.raises(ConfigError) as info:
        loops.resolve("tokio")
    assert not isinstance(info.value, LoopUnavailable)
    assert info.value.one_line() == (
        "unknown loop 'tokio'; valid names: auto, asyncio, selector, proactor, uvloop, winloop, "
        "rloop, rsloop, zuvloop (hint: module:callable for a custom loop factory)"
    )
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("spec", "owner"),
    [
        (f"{__name__}:make_loop", "selectors.SelectSelector"),
        (f"{__name__}:Factories.make", f"selectors.{selectors.DefaultSelector.__name__}"),
        ("asyncio:SelectorEventLoop", f"selectors.{selectors.DefaultSelector.__name__}"),
    ],
)
def test_custom_factory(spec: str, owner: str) -> None:
    choice = loops.resolve(spec)
    assert (choice.requested, choice.backend, choice.selector) == (spec, "custom", None)
    assert choice.reason == f"custom: the loop factory {spec}"
    _, driver = _run_probe(choice.factory)
    assert driver == owner


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (":make_loop", "bad loop factory spec ':make_loop': expected module:callable"),
        ("asyncio:", "bad loop factory spec 'asyncio:': expected module:callable"),
        (
            "xloop_no_such_module:factory",
            "cannot import loop factory module 'xloop_no_such_module' "
            "(ModuleNotFoundError: No module named 'xloop_no_such_module')",
        ),
        (
            "asyncio:no_such_factory",
            "loop factory 'asyncio:no_such_factory': asyncio has no attribute 'no_such_factory'",
        ),
        (
            "asyncio:events.nope",
            "loop factory 'asyncio:events.nope': asyncio has no attribute 'events.nope'",
        ),
        (
            f"{__name__}:NOT_CALLABLE",
            f"loop factory '{__name__}:NOT_CALLABLE' is a builtins.str, not a callable",
        ),
    ],
)
def test_bad_custom_factory_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        loops.resolve(spec)
    assert info.value.message == message
    assert info.value.exit_code == 2


def test_custom_factory_module_that_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "xloop_boom_factory_mod.py").write_text("raise RuntimeError('boom')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "xloop_boom_factory_mod", raising=False)
    with pytest.raises(ConfigError) as info:
        loops.resolve("xloop_boom_factory_mod:f")
    assert info.value.message == (
        "cannot import loop factory module 'xloop_boom_factory_mod' (RuntimeError: boom)"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


def test_custom_factory_that_returns_no_loop() -> None:
    choice = loops.resolve(f"{__name__}:not_a_loop")
    with pytest.raises(ConfigError) as info:
        choice.factory()
    assert info.value.message == (
        f"loop factory {__name__}:not_a_loop returned builtins.int, not an event loop"
    )


def test_custom_factory_takes_no_selector() -> None:
    with pytest.raises(ConfigError, match="applies only to the selector loop"):
        loops.resolve(f"{__name__}:make_loop", "poll")


# -- availability, matrix --------------------------------------------------------


@linux_only
@needs_uvloop
def test_availability_with_uvloop() -> None:
    others = [name for name in ("rloop", "rsloop", "zuvloop") if name in loops.available_backends()]
    assert loops.available_backends() == ["asyncio", "selector", "uvloop", *others]
    table = loops.availability()
    assert list(table) == list(loops.LOOP_NAMES)
    assert {name: table[name] for name in list(table)[:6]} == {
        "auto": (True, "auto: uvloop is installed"),
        "asyncio": (True, "asyncio: the stdlib default on Linux is the selector loop"),
        "selector": (True, "selector: the stdlib selector loop was requested"),
        "proactor": (False, "proactor needs Windows (IOCP)"),
        "uvloop": (True, "uvloop: requested, and uvloop is installed"),
        "winloop": (False, "winloop needs Windows"),
    }


@linux_only
@pytest.mark.usefixtures("no_uvloop")
def test_availability_without_uvloop() -> None:
    assert loops.available_backends() == ["asyncio", "selector"]
    table = loops.availability()
    assert table["uvloop"] == (False, NOT_INSTALLED)
    assert table["auto"] == (True, f"auto: {NOT_INSTALLED}; using the stdlib selector loop")


@linux_only
def test_matrix_on_linux() -> None:
    expected: list[tuple[str, str | None]] = [
        ("selector", "epoll"),
        ("selector", "poll"),
        ("selector", "select"),
    ]
    if HAS_UVLOOP:
        expected.append(("uvloop", None))
    expected += [
        (name, None)
        for name in ("rloop", "rsloop", "zuvloop")
        if name in loops.available_backends()
    ]
    assert loops.matrix() == expected


@pytest.mark.parametrize(("backend", "selector"), loops.matrix())
def test_every_matrix_entry_runs_and_pickles(backend: str, selector: str | None) -> None:
    choice = loops.resolve(backend, selector or "auto")
    assert choice.backend == backend
    factory = pickle.loads(pickle.dumps(choice.factory))
    description, driver = _run_probe(factory)
    if backend == "proactor":
        assert driver == "asyncio.windows_events.IocpProactor"
    elif selector is None:
        assert driver is None
    else:
        assert driver == f"selectors.{choice.selector}"
        assert description.endswith(f" with {driver}")


def test_custom_factory_pickles_by_spec() -> None:
    factory = pickle.loads(pickle.dumps(loops.resolve(f"{__name__}:Factories.make").factory))
    assert _run_probe(factory)[1] == f"selectors.{selectors.DefaultSelector.__name__}"


# -- describe / driver_of --------------------------------------------------------


def test_describe_and_driver_of_a_selector_loop() -> None:
    loop = asyncio.SelectorEventLoop(selectors.SelectSelector())
    try:
        cls = type(loop)
        assert loops.driver_of(loop) == "selectors.SelectSelector"
        assert loops.describe(loop) == (
            f"{cls.__module__}.{cls.__qualname__} with selectors.SelectSelector"
        )
    finally:
        loop.close()
    assert loops.driver_of(loop) is None  # a closed loop drives nothing


@needs_uvloop
def test_describe_and_driver_of_uvloop() -> None:
    loop = loops.resolve("uvloop").factory()
    try:
        assert loops.describe(loop) == "uvloop.Loop"
        assert loops.driver_of(loop) is None
    finally:
        loop.close()


# -- run -------------------------------------------------------------------------


def test_run_returns_and_closes_the_loop() -> None:
    created: list[asyncio.AbstractEventLoop] = []

    def factory() -> asyncio.AbstractEventLoop:
        created.append(make_loop())
        return created[-1]

    async def main() -> str:
        return "done"

    assert loops.run(main(), loop_factory=factory, debug=True) == "done"
    assert len(created) == 1
    assert created[0].is_closed()


def test_run_cancels_leftover_tasks() -> None:
    tasks: list[asyncio.Task[None]] = []

    async def forever() -> None:
        await asyncio.Event().wait()

    async def main() -> None:
        tasks.append(asyncio.create_task(forever()))
        await asyncio.sleep(0)

    loops.run(main(), loop_factory=make_loop)
    assert tasks[0].cancelled()


def test_run_reports_a_task_that_fails_while_being_cancelled() -> None:
    seen: list[dict[str, object]] = []

    def factory() -> asyncio.AbstractEventLoop:
        loop = make_loop()
        loop.set_exception_handler(lambda _loop, context: seen.append(context))
        return loop

    async def stubborn() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise ValueError("refused to die") from None

    async def main() -> None:
        asyncio.create_task(stubborn())  # noqa: RUF006 - left running on purpose
        await asyncio.sleep(0)

    loops.run(main(), loop_factory=factory)
    assert [type(context["exception"]) for context in seen] == [ValueError]


def test_run_closes_the_coroutine_when_the_factory_fails() -> None:
    def factory() -> asyncio.AbstractEventLoop:
        raise ConfigError("no loop for you")

    async def main() -> None:  # pragma: no cover - never runs
        pass

    coro = main()
    with pytest.raises(ConfigError, match="no loop for you"):
        loops.run(coro, loop_factory=factory)
    assert inspect.getcoroutinestate(coro) == inspect.CORO_CLOSED
