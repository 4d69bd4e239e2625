"""The extras that install the loops: ``xloop[loops]`` never asks for a loop that has no
wheel for the platform (pip would try to build it from source).

The wheel facts are PyPI's file lists of the versions the extras name (rloop 0.5.0, rsloop
0.1.66, zuvloop 0.0.17); ``pip install --dry-run --only-binary=:all:`` can only check them
for the machine it runs on, so each marker is evaluated here for every platform.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from xloop.loops.check import _parse_toml

ROOT = Path(__file__).resolve().parents[1]
EXTRAS: dict[str, list[str]] = _parse_toml((ROOT / "pyproject.toml").read_text())["project"][
    "optional-dependencies"
]
PYTHONS = ["3.10", "3.11", "3.12", "3.13", "3.14", "3.15"]
PLATFORMS = {  # sys_platform, platform_machine, platform_release (as platform.release())
    "linux-x86_64": ("linux", "x86_64", "6.8.0-45-generic"),
    "linux-aarch64": ("linux", "aarch64", "6.1.0-26-arm64"),
    "macos-12-x86_64": ("darwin", "x86_64", "21.6.0"),
    "macos-14-arm64": ("darwin", "arm64", "23.4.0"),
    "windows-amd64": ("win32", "AMD64", "10"),
}


def wheel(loop: str, platform: str, python: str) -> bool | None:
    """Does PyPI have a wheel of ``loop`` here? None: it depends on the glibc."""
    minor = int(python.split(".")[1])
    system, _machine, release = PLATFORMS[platform]
    if loop in ("uvloop", "winloop"):
        return (system == "win32") is (loop == "winloop")
    if loop == "rloop":
        return system != "win32" and 10 <= minor <= 15
    if loop == "rsloop":
        if system == "linux":
            return None  # manylinux_2_39
        if system == "darwin":
            # macOS 13+ (Darwin 22+), which only a platform_release marker could test
            return None if int(release.split(".")[0]) >= 22 else False
        return 10 <= minor <= 15
    if loop == "zuvloop":
        if minor < 14:
            return False
        return None if system == "linux" else minor <= 15  # manylinux_2_28 or musl
    raise AssertionError(loop)


def chosen(extra: str, platform: str, python: str) -> set[str]:
    system, machine, release = PLATFORMS[platform]
    environment = {
        "sys_platform": system,
        "platform_machine": machine,
        "platform_release": release,
        "python_version": python,
        "python_full_version": f"{python}.0",
        "platform_python_implementation": "CPython",
        "implementation_name": "cpython",
        "os_name": "nt" if system == "win32" else "posix",
        "extra": extra,
    }
    names = set()
    for line in EXTRAS[extra]:
        requirement = Requirement(line)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            names.add(requirement.name)
    return names


@pytest.mark.parametrize(("platform", "python"), list(itertools.product(PLATFORMS, PYTHONS)))
def test_loops_takes_every_loop_with_a_wheel_and_no_other(platform: str, python: str) -> None:
    taken = chosen("loops", platform, python)
    for loop in ("uvloop", "winloop", "rloop", "rsloop", "zuvloop"):
        has_wheel = wheel(loop, platform, python)
        if has_wheel is None:  # the glibc or the OS version decides, which no marker sees
            # (safely: test_no_marker_compares_the_os_release): left out
            assert loop not in taken, (loop, platform, python)
        else:
            assert (loop in taken) is has_wheel, (loop, platform, python)


@pytest.mark.parametrize("loop", ["rloop", "rsloop", "zuvloop"])
def test_each_loop_has_its_own_extra(loop: str) -> None:
    assert [Requirement(line).name for line in EXTRAS[loop]] == [loop]
    assert chosen(loop, "windows-amd64", "3.14") == ({"rsloop", "zuvloop"} & {loop})
    assert ("zuvloop" in chosen(loop, "linux-x86_64", "3.13")) is False


def test_the_test_extra_brings_no_further_loop() -> None:
    """rloop 0.5 keeps a descriptor per closed connection: in a run with the select()
    tests it would push their descriptors past FD_SETSIZE. CI runs it in a job of its own."""
    for platform, python in itertools.product(PLATFORMS, PYTHONS):
        assert not chosen("test", platform, python) & {"rloop", "rsloop", "zuvloop"}


def test_no_marker_compares_the_os_release() -> None:
    """No requirement's marker uses ``platform_release`` or ``platform_version``: packaging
    22-25 (vendored by pip 24.1-25.x) compares them as versions, and evaluates every term of
    a marker, whatever the extra asked for; a Linux release ("6.8.0-45-generic") is no
    version, so that pip would fail on every install of xloop with any extra."""
    project = _parse_toml((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"]) + [line for e in EXTRAS.values() for line in e]
    for line in lines:
        marker = Requirement(line).marker
        text = "" if marker is None else str(marker)
        assert "platform_release" not in text, line
        assert "platform_version" not in text, line
