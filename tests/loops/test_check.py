"""``xloop which-loop --check``: the platform files against this machine, and against others.

The real file of this OS must match here (the same test proves macOS and Windows in CI);
the comparison itself is exercised on every OS with synthetic observations of Linux, macOS
and Windows, with and without the optional loops installed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import importlib.util
import os
from pathlib import Path
from typing import Any

import pytest

from xloop import loops
from xloop.cli import main
from xloop.errors import ConfigError
from xloop.loops import capabilities
from xloop.loops.check import (
    SCHEMA,
    Observed,
    ObservedLoop,
    PlatformFile,
    compare,
    load,
    observe,
    parse,
    run_check,
)

ROOT = Path(__file__).resolve().parents[2]
PLATFORMS = ROOT / "platforms"
FILES = {"Linux": "linux.toml", "macOS": "macos.toml", "Windows": "windows.toml"}
THIS_OS_FILE = PLATFORMS / FILES[loops.OS_NAME] if loops.OS_NAME in FILES else None
needs_known_os = pytest.mark.skipif(
    THIS_OS_FILE is None, reason=f"no platform file for {loops.OS_NAME}"
)
linux_only = pytest.mark.skipif(loops.OS_NAME != "Linux", reason="Linux-specific expectations")


@pytest.fixture(autouse=True)
def no_loop_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """XLOOP_LOOP/XLOOP_SELECTOR would set --loop/--selector, which --check refuses."""
    monkeypatch.delenv("XLOOP_LOOP", raising=False)
    monkeypatch.delenv("XLOOP_SELECTOR", raising=False)


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as exit_info:
        main(["which-loop", *args])
    code = exit_info.value.code
    assert isinstance(code, int)
    return code


# -- synthetic machines ----------------------------------------------------------------

UNIX_SELECTOR = "asyncio.unix_events._UnixSelectorEventLoop"
WIN_SELECTOR = "asyncio.windows_events._WindowsSelectorEventLoop"
PROACTOR = "asyncio.windows_events.ProactorEventLoop"
IOCP = "asyncio.windows_events.IocpProactor"
NOT_INSTALLED = "{} is not installed (pip install 'xloop[uvloop]')"


def selector_loop(cls: str, driver: str) -> ObservedLoop:
    return ObservedLoop(True, "selector", "selector", cls, "selector", driver)


def libuv_loop(name: str) -> ObservedLoop:
    return ObservedLoop(True, f"{name}: installed", name, f"{name}.Loop", "none", None)


def unavailable(why: str) -> ObservedLoop:
    return ObservedLoop(False, why)


#: rloop, rsloop and zuvloop, none installed
OTHERS_NOT_INSTALLED = {
    name: unavailable(f"{name} is not installed (pip install 'xloop[{name}]')")
    for name in ("rloop", "rsloop", "zuvloop")
}


def unix_machine(os_name: str, driver: str, selectors: tuple[str, ...], uvloop: bool) -> Observed:
    selector = selector_loop(UNIX_SELECTOR, driver)
    return Observed(
        os=os_name,
        installed=frozenset({"uvloop"} if uvloop else ()),
        loops={
            "auto": libuv_loop("uvloop") if uvloop else selector,
            "asyncio": selector,
            "selector": selector,
            "proactor": unavailable("proactor needs Windows (IOCP)"),
            "uvloop": libuv_loop("uvloop")
            if uvloop
            else unavailable(NOT_INSTALLED.format("uvloop")),
            "winloop": unavailable("winloop needs Windows"),
            **OTHERS_NOT_INSTALLED,
        },
        selectors=selectors,
        python="CPython 3.13.1",
    )


def linux(uvloop: bool = True) -> Observed:
    return unix_machine("Linux", "selectors.EpollSelector", ("epoll", "poll", "select"), uvloop)


def macos(uvloop: bool = True) -> Observed:
    return unix_machine("macOS", "selectors.KqueueSelector", ("kqueue", "poll", "select"), uvloop)


def windows(winloop: bool = True) -> Observed:
    proactor = ObservedLoop(True, "proactor", "proactor", PROACTOR, "proactor", IOCP)
    return Observed(
        os="Windows",
        installed=frozenset({"winloop"} if winloop else ()),
        loops={
            "auto": libuv_loop("winloop") if winloop else proactor,
            "asyncio": proactor,
            "selector": selector_loop(WIN_SELECTOR, "selectors.SelectSelector"),
            "proactor": proactor,
            "uvloop": unavailable("uvloop does not support Windows"),
            "winloop": libuv_loop("winloop")
            if winloop
            else unavailable(NOT_INSTALLED.format("winloop")),
            **OTHERS_NOT_INSTALLED,
            "rloop": unavailable("rloop has no Windows build (it runs on Linux and macOS)"),
        },
        selectors=("select",),
        python="CPython 3.12.8",
    )


def with_loop(machine: Observed, name: str, **changes: Any) -> Observed:
    """``machine`` with one loop's observation changed."""
    loops_ = dict(machine.loops)
    loops_[name] = dataclasses.replace(loops_[name], **changes)
    return dataclasses.replace(machine, loops=loops_)


def platform_file(name: str) -> PlatformFile:
    return load(PLATFORMS / name)


# -- the real files, on this machine -----------------------------------------------------


@linux_only
def test_linux_file_passes_here(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--check", str(PLATFORMS / "linux.toml")) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1
    assert out[0].startswith(f"OK: {PLATFORMS / 'linux.toml'} matches this machine (Linux, ")


def _without_capabilities(text: str) -> str:
    """The platform file without its ``[<loop>.capabilities]`` tables: nothing to probe."""
    kept: list[str] = []
    dropping = False
    for line in text.splitlines():
        if line.startswith("["):
            dropping = line.rstrip().endswith(".capabilities]")
        if not dropping:
            kept.append(line)
    return "\n".join(kept) + "\n"


# Every loop's probes, live, each in a child interpreter: tens of seconds under Wine.
@pytest.mark.timeout(300)
@needs_known_os
@pytest.mark.skipif(
    os.environ.get("XLOOP_WINE_CHECKED") == "platforms/windows.toml",
    reason="platforms/wine.sh ran `which-loop --check platforms/windows.toml` with this "
    "interpreter before the suite (its step 3: a mismatch fails the run)",
)
def test_the_file_of_this_os_matches_this_machine(capsys: pytest.CaptureFixture[str]) -> None:
    assert THIS_OS_FILE is not None
    assert run_check(THIS_OS_FILE) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert out.startswith("OK: ")
    auto = observe().loops["auto"].backend
    assert f"auto -> {auto};" in out


@needs_known_os
def test_a_falsified_copy_fails_naming_the_mismatch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert THIS_OS_FILE is not None
    text = THIS_OS_FILE.read_text(encoding="utf-8")
    real = observe().loops["selector"].loop_class
    assert real is not None
    assert text.count(f'loop_class = "{real}"') >= 1
    falsified = _without_capabilities(text).replace(
        f'loop_class = "{real}"', 'loop_class = "asyncio.FakeLoop"'
    )
    assert "\n[asyncio.capabilities]" in "\n" + text
    assert "\n[asyncio.capabilities]" not in "\n" + falsified
    path = tmp_path / "falsified.toml"
    path.write_text(falsified, encoding="utf-8")

    assert cli("--check", str(path)) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"mismatch: selector: loop class: expected asyncio.FakeLoop, got {real}" in out
    assert out[-1].startswith(f"FAILED: {len(out) - 1} mismatch")
    assert str(path) in out[-1]
    assert all(line.startswith("mismatch: ") for line in out[:-1])


@needs_known_os
def test_the_file_of_another_os_is_one_mismatch(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another OS's file is one mismatch, said without probing any loop's capabilities."""

    def no_probe(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"probed for another OS's file: {args}")

    monkeypatch.setattr(capabilities, "probe", no_probe)
    other = next(name for os_name, name in FILES.items() if os_name != loops.OS_NAME)
    assert cli("--check", str(PLATFORMS / other)) == 1
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert out[0].startswith("mismatch: os: ")
    assert f"but this machine runs {loops.OS_NAME}" in out[0]


def test_invalid_toml_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('schema = "xloop.platform/1"\nos = "Linux\n', encoding="utf-8")
    assert cli("--check", str(path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(f"xloop: error: invalid platform file {path}: not valid TOML (")
    assert "Traceback" not in captured.err


def test_unreadable_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("--check", str(tmp_path / "missing.toml")) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1
    assert err[0].startswith(f"xloop: error: cannot read platform file {tmp_path / 'missing.toml'}")
    assert cli("--check", str(tmp_path)) == 2  # a directory


def test_schema_violation_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (PLATFORMS / "linux.toml").read_text(encoding="utf-8")
    path = tmp_path / "typo.toml"
    path.write_text(text.replace("\nloop_class =", "\nloopclass =", 1), encoding="utf-8")
    assert cli("--check", str(path)) == 2
    assert "[asyncio] has unknown keys loopclass" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("--all",), "--all"),
        (("--json",), "--json"),
        (("--loop", "selector"), "--loop"),
        (("--selector", "poll", "--json"), "--selector, --json"),
    ],
)
def test_check_takes_no_other_option(
    args: tuple[str, ...], named: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("--check", str(PLATFORMS / "linux.toml"), *args) == 2
    assert f"it takes no {named}" in capsys.readouterr().err


def test_observe_agrees_with_the_shim() -> None:
    observed = observe()
    assert observed.os == loops.OS_NAME
    assert observed.selectors == tuple(loops.available_selectors())
    assert set(observed.loops) == set(loops.LOOP_NAMES)
    for name, (available, _why) in loops.availability().items():
        assert observed.loops[name].available is available
    for name in ("uvloop", "winloop"):
        assert (name in observed.installed) is (importlib.util.find_spec(name) is not None)
    auto = observed.loops["auto"]
    assert auto.backend == loops.resolve("auto").backend


def test_a_loop_that_fails_to_create_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    real_resolve = loops.resolve

    def broken_resolve(loop: str = "auto", selector: str = "auto") -> loops.LoopChoice:
        choice = real_resolve(loop, selector)
        if loop != "selector":
            return choice

        def boom() -> asyncio.AbstractEventLoop:
            raise OSError("no file descriptors left")

        return dataclasses.replace(choice, factory=boom)

    monkeypatch.setattr("xloop.loops.check.resolve", broken_resolve)
    selector = observe().loops["selector"]
    assert selector.available is False
    assert selector.why == (
        "the selector loop could not be created: OSError: no file descriptors left"
    )


# -- the comparison, with synthetic machines ------------------------------------------------


@pytest.mark.parametrize(
    ("name", "machine"),
    [
        ("linux.toml", linux(uvloop=True)),
        ("linux.toml", linux(uvloop=False)),
        ("macos.toml", macos(uvloop=True)),
        ("macos.toml", macos(uvloop=False)),
        ("windows.toml", windows(winloop=True)),
        ("windows.toml", windows(winloop=False)),
    ],
    ids=[
        "linux-uvloop",
        "linux-stdlib",
        "macos-uvloop",
        "macos-stdlib",
        "windows-winloop",
        "windows-stdlib",
    ],
)
def test_each_file_matches_its_os(name: str, machine: Observed) -> None:
    assert compare(platform_file(name), machine) == []


def test_the_files_declare_the_issue_s_expectations() -> None:
    linux_file, macos_file, windows_file = (platform_file(name) for name in FILES.values())
    assert linux_file.loops["selector"].driver == "selectors.EpollSelector"
    assert macos_file.loops["selector"].driver == "selectors.KqueueSelector"
    assert windows_file.loops["selector"].loop_class == WIN_SELECTOR
    assert windows_file.loops["selector"].driver == "selectors.SelectSelector"
    assert windows_file.loops["proactor"].loop_class == PROACTOR
    assert windows_file.loops["proactor"].driver == IOCP
    for unix in (linux_file, macos_file):
        assert unix.loops["auto"].with_optional == "uvloop"
        assert unix.loops["auto"].without_optional == "selector"
        assert unix.optional_loops == ("uvloop", "rloop", "rsloop", "zuvloop")
        assert not unix.loops["proactor"].available
        assert not unix.loops["winloop"].available
    assert windows_file.loops["auto"].with_optional == "winloop"
    assert windows_file.loops["auto"].without_optional == "proactor"
    assert windows_file.optional_loops == ("winloop", "rsloop", "zuvloop")
    assert not windows_file.loops["rloop"].available
    # what the issue asks the capability table to show on Windows (and under Wine)
    assert windows_file.loops["proactor"].capabilities["add_reader"] == ("not implemented",)
    assert windows_file.loops["selector"].capabilities["subprocess"] == ("not implemented",)
    assert not windows_file.loops["uvloop"].available


def test_windows_auto_on_the_selector_loop_is_a_mismatch() -> None:
    machine = with_loop(
        windows(winloop=False),
        "auto",
        backend="selector",
        loop_class=WIN_SELECTOR,
        driver_kind="selector",
        driver="selectors.SelectSelector",
    )
    assert compare(platform_file("windows.toml"), machine) == [
        f"auto: {what}: expected {want} (without_optional: winloop not installed), got {got}"
        for what, want, got in (
            ("backend", "proactor", "selector"),
            ("loop class", PROACTOR, WIN_SELECTOR),
            ("driver kind", "proactor", "selector"),
            ("driver", IOCP, "selectors.SelectSelector"),
        )
    ]


def test_the_proactor_reported_as_a_selector_is_a_mismatch() -> None:
    """A proactor loop also has ``_selector`` (an alias of ``_proactor``): the kind counts."""
    machine = with_loop(windows(), "proactor", driver_kind="selector")
    assert compare(platform_file("windows.toml"), machine) == [
        "proactor: driver kind: expected proactor, got selector"
    ]


def test_macos_on_the_linux_selector_is_a_mismatch() -> None:
    machine = dataclasses.replace(linux(), os="macOS")
    problems = compare(platform_file("macos.toml"), machine)
    assert problems == [
        "asyncio: driver: expected selectors.KqueueSelector, got selectors.EpollSelector",
        "selector: driver: expected selectors.KqueueSelector, got selectors.EpollSelector",
        "selector: selectors: expected kqueue, poll, select, got epoll, poll, select",
    ]


def test_an_installed_optional_loop_that_does_not_work_is_a_mismatch() -> None:
    broken = "uvloop failed to import (ImportError: undefined symbol)"
    machine = with_loop(linux(uvloop=True), "uvloop", available=False, why=broken)
    machine = with_loop(
        machine,
        "auto",
        backend="selector",
        loop_class=UNIX_SELECTOR,
        driver_kind="selector",
        driver="selectors.EpollSelector",
    )
    problems = compare(platform_file("linux.toml"), machine)
    assert problems[0] == (
        "auto: backend: expected uvloop (with_optional: uvloop installed), got selector"
    )
    assert f"uvloop: expected available (it is installed), but it is not: {broken}" in problems


def test_a_loop_available_against_the_file_is_a_mismatch() -> None:
    machine = with_loop(linux(), "proactor", available=True, why="proactor: requested")
    machine = with_loop(machine, "proactor", backend="proactor", loop_class=PROACTOR)
    assert compare(platform_file("linux.toml"), machine) == [
        "proactor: expected unavailable (declared unavailable on Linux), "
        "but it resolves: proactor: requested"
    ]
    machine = with_loop(linux(uvloop=False), "uvloop", available=True, why="uvloop: there")
    assert compare(platform_file("linux.toml"), machine) == [
        "uvloop: expected unavailable (not installed), but it resolves: uvloop: there"
    ]


def test_an_os_without_optional_loops() -> None:
    text = MINIMAL.replace(
        'available = true\noptional = true\nloop_class = "uvloop.Loop"\ndriver_kind = "none"',
        "available = false",
    ).replace('with_optional = "uvloop"', 'with_optional = "selector"')
    expected = parse(text, "plain.toml")
    assert expected.optional_loops == ()
    machine = linux(uvloop=False)
    assert compare(expected, machine) == []
    machine = with_loop(machine, "auto", backend="uvloop")
    assert compare(expected, machine) == [
        "auto: backend: expected selector (without_optional: no optional loops on this OS), "
        "got uvloop"
    ]


def test_another_os_stops_the_comparison() -> None:
    assert compare(platform_file("windows.toml"), macos()) == [
        "os: "
        f"{PLATFORMS / 'windows.toml'} describes Windows, but this machine runs macOS "
        "(nothing else compared)"
    ]


def test_a_file_without_selectors_list_skips_that_check() -> None:
    text = (PLATFORMS / "linux.toml").read_text(encoding="utf-8")
    text = text.replace('selectors = ["epoll", "poll", "select"]\n', "")
    expected = parse(text)
    assert expected.loops["selector"].selectors is None
    assert compare(expected, dataclasses.replace(linux(), selectors=("epoll",))) == []


# -- the schema -------------------------------------------------------------------------------

MINIMAL = f"""\
schema = "{SCHEMA}"
os = "Linux"
[auto]
available = true
with_optional = "uvloop"
without_optional = "selector"
[asyncio]
available = true
backend = "selector"
loop_class = "{UNIX_SELECTOR}"
driver_kind = "selector"
driver = "selectors.EpollSelector"
[selector]
available = true
loop_class = "{UNIX_SELECTOR}"
driver_kind = "selector"
driver = "selectors.EpollSelector"
[proactor]
available = false
[uvloop]
available = true
optional = true
loop_class = "uvloop.Loop"
driver_kind = "none"
[winloop]
available = false
[rloop]
available = false
[rsloop]
available = false
[zuvloop]
available = false
"""


def test_a_loop_name_must_be_a_table() -> None:
    text = MINIMAL.replace("[proactor]\navailable = false\n", "")
    text = text.replace('os = "Linux"\n', 'os = "Linux"\nproactor = false\n')
    with pytest.raises(ConfigError, match="proactor must be a table"):
        parse(text, "bad.toml")


def test_the_minimal_file_parses() -> None:
    parsed = parse(MINIMAL, "minimal.toml")
    assert parsed.source == "minimal.toml"
    assert parsed.os == "Linux"
    assert list(parsed.loops) == list(loops.LOOP_NAMES)
    assert parsed.loops["uvloop"].driver is None
    assert parsed.loops["selector"].backend == "selector"
    assert compare(parsed, linux()) == []


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (f'schema = "{SCHEMA}"', 'schema = "xloop.platform/2"', "schema is 'xloop.platform/2'"),
        (f'schema = "{SCHEMA}"\n', "", "schema is None"),
        ('os = "Linux"', "os = 3", "os must name the OS"),
        ('os = "Linux"', 'os = "Linux"\nextra = 1', "unknown top-level keys extra"),
        ("[winloop]\navailable = false\n", "", "no table for winloop"),
        ("[proactor]\navailable = false", "[proactor]", "proactor.available is missing"),
        ("[proactor]\navailable = false", '[proactor]\navailable = "no"', "must be true or false"),
        (
            "[proactor]\navailable = false",
            "[proactor]\navailable = false\ndriver_kind = 'none'",
            "proactor is declared unavailable; drop driver_kind",
        ),
        (
            "[winloop]\navailable = false",
            "[winloop]\navailable = false\noptional = true",
            "winloop.optional needs winloop.available = true",
        ),
        (
            'backend = "selector"\nloop_class',
            'backend = "selector"\noptional = true\nloop_class',
            "asyncio.optional: only uvloop, winloop, rloop, rsloop, zuvloop are optional",
        ),
        ('backend = "selector"\n', "", "asyncio.backend is missing"),
        ('backend = "selector"', 'backend = "asyncio"', "asyncio.backend is 'asyncio'; one of"),
        ('with_optional = "uvloop"\n', "", "auto.with_optional is missing"),
        ('with_optional = "uvloop"', 'with_optional = "winloop"', "winloop, which the file"),
        ('without_optional = "selector"', 'without_optional = ""', "must be a non-empty string"),
        ("[auto]\navailable = true", "[auto]\navailable = false", "auto.available must be true"),
        ("[auto]\navailable = true", "[auto]\navailable = true\nloop_class = 'x'", "[auto] has"),
        ('driver_kind = "none"', 'driver_kind = "libuv"', "driver_kind is 'libuv'; one of"),
        ('driver_kind = "none"\n', "", "uvloop.driver_kind is missing"),
        ('driver_kind = "none"', 'driver_kind = "none"\ndriver = "x.Y"', "driver must be absent"),
        ('loop_class = "uvloop.Loop"\n', "", "uvloop.loop_class is missing"),
        (
            'driver = "selectors.EpollSelector"\n[proactor]',
            "[proactor]",
            "selector.driver is missing",
        ),
        (
            'driver = "selectors.EpollSelector"\n[proactor]',
            'driver = "selectors.EpollSelector"\nselectors = "epoll"\n[proactor]',
            "selector.selectors must be a list",
        ),
        (
            'driver = "selectors.EpollSelector"\n[proactor]',
            'driver = "selectors.EpollSelector"\nselectors = ["epoll", "iocp"]\n[proactor]',
            "selector.selectors has unknown names 'iocp'",
        ),
        ('os = "Linux"', 'os = "Linux', "not valid TOML"),
    ],
)
def test_schema_errors(old: str, new: str, message: str) -> None:
    assert old in MINIMAL
    with pytest.raises(ConfigError, match=r"^invalid platform file bad\.toml: ") as error:
        parse(MINIMAL.replace(old, new, 1), "bad.toml")
    assert message in error.value.message
    assert error.value.exit_code == 2
    assert error.value.hint is not None


# -- capabilities ----------------------------------------------------------------------


def test_a_capability_that_differs_is_a_mismatch() -> None:
    machine = with_loop(
        windows(winloop=True),
        "proactor",
        capabilities={"add_reader": ("works", "a socket watched")},
    )
    problems = compare(platform_file("windows.toml"), machine)
    assert problems[0] == (
        "proactor: capability add_reader: expected not implemented, got works (a socket watched)"
    )
    assert "proactor: capability subprocess: expected works, got not probed" in problems


def test_a_capability_not_probed_is_reported() -> None:
    machine = with_loop(
        linux(), "rloop", available=True, backend="rloop", loop_class="rloop.loop.RLoop"
    )
    machine = with_loop(machine, "rloop", driver_kind="none", capabilities={})
    machine = dataclasses.replace(machine, installed=machine.installed | {"rloop"})
    problems = compare(platform_file("linux.toml"), machine)
    assert "rloop: capability add_reader: expected works, got not probed" in problems


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ('[selector.capabilities]\nno_such_probe = "works"', "no such probe"),
        ('[selector.capabilities]\nadd_reader = "perfect"', "a result or a list of results"),
        ("[selector.capabilities]\nadd_reader = []", "a result or a list of results"),
        ('[selector]\ncapabilities = "works"', "must be a table"),
    ],
)
def test_bad_capabilities_are_refused(lines: str, problem: str) -> None:
    if lines.startswith("[selector]\n"):
        text = MINIMAL.replace("[selector]\n", lines + "\n", 1)
    else:
        text = MINIMAL + lines + "\n"
    with pytest.raises(ConfigError, match=problem):
        parse(text, "bad.toml")


def test_capabilities_parse_as_accepted_results() -> None:
    text = (
        MINIMAL
        + '[selector.capabilities]\nadd_reader = "works"\nsendfile = ["works", "fallback"]\n'
    )
    assert parse(text).loops["selector"].capabilities == {
        "add_reader": ("works",),
        "sendfile": ("works", "fallback"),
    }


@linux_only
def test_the_check_probes_the_declared_capabilities_here() -> None:
    expected = platform_file("linux.toml")
    observed = observe(expected)
    selector = observed.loops["selector"]
    assert selector.capabilities is not None
    assert set(selector.capabilities) == set(expected.loops["selector"].capabilities)
    assert selector.capabilities["add_reader"][0] == "works"
    assert observe().loops["selector"].capabilities is None
