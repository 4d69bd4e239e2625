"""The loops from packages of their own: why one that does not import is missing."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys

import pytest

from xloop import loops
from xloop.errors import LoopUnavailable

linux_only = pytest.mark.skipif(loops.OS_NAME != "Linux", reason="Linux-specific expectations")


def test_every_library_loop_is_a_loop_name() -> None:
    assert list(loops.LIBRARY_LOOPS) == ["uvloop", "winloop", "rloop", "rsloop", "zuvloop"]
    assert loops.BACKENDS[3:] == tuple(loops.LIBRARY_LOOPS)
    for loop in loops.LIBRARY_LOOPS.values():
        assert loop.install == f"pip install 'xloop[{loop.extra}]'"


@pytest.mark.parametrize("name", list(loops.LIBRARY_LOOPS))
def test_a_library_loop_is_available_exactly_where_it_imports(name: str) -> None:
    table = loops.availability()
    available, why = table[name]
    if available:
        choice = loops.resolve(name)
        assert choice.backend == name
        assert why == f"{name}: requested, and {name} is installed"
        loop = choice.factory()
        try:
            assert type(loop).__module__.split(".")[0] == name
        finally:
            loop.close()
    else:
        assert why
        assert "\n" not in why
        with pytest.raises(LoopUnavailable, match="available here: "):
            loops.resolve(name)


def test_not_installed_names_the_pip_line(monkeypatch: pytest.MonkeyPatch) -> None:
    if loops.OS_NAME not in ("Linux", "macOS"):
        pytest.skip("rloop is asked about on Linux and macOS")
    monkeypatch.setitem(sys.modules, "rloop", None)  # import fails as if not installed
    assert loops.availability()["rloop"] == (
        False,
        "rloop is not installed (pip install 'xloop[rloop]')",
    )


def test_no_wheel_for_this_python(monkeypatch: pytest.MonkeyPatch) -> None:
    newer = (sys.version_info.major, sys.version_info.minor + 1)
    loop = dataclasses.replace(loops.LIBRARY_LOOPS["zuvloop"], name="nosuchloop", python=newer)
    monkeypatch.setitem(loops.LIBRARY_LOOPS, "nosuchloop", loop)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert loops._import_optional("nosuchloop")[1] == (
        f"nosuchloop has no wheel for Python {here} (it needs Python >= {newer[0]}.{newer[1]})"
    )


@linux_only
def test_no_wheel_for_this_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.libc_ver", lambda: ("glibc", "2.36"))
    loop = dataclasses.replace(loops.LIBRARY_LOOPS["rsloop"], name="nosuchloop")
    monkeypatch.setitem(loops.LIBRARY_LOOPS, "nosuchloop", loop)
    assert loops._import_optional("nosuchloop")[1] == (
        "nosuchloop has no wheel for this Linux (its wheels need glibc >= 2.39, this machine "
        "has glibc 2.36; building it needs a nightly Rust toolchain)"
    )
    monkeypatch.setattr("platform.libc_ver", lambda: ("glibc", "2.39"))
    assert loops._import_optional("nosuchloop")[1] == (
        "nosuchloop is not installed (pip install 'xloop[rsloop]')"
    )


def test_a_broken_install_reports_the_import_error(monkeypatch: pytest.MonkeyPatch) -> None:
    if loops.OS_NAME not in ("Linux", "macOS"):
        pytest.skip("rloop is asked about on Linux and macOS")

    class Broken:
        def find_spec(self, name: str, path: object = None, target: object = None) -> None:
            if name == "rloop":
                raise ImportError("DLL load failed while importing _rloop: Module not found.")

    monkeypatch.delitem(sys.modules, "rloop", raising=False)
    monkeypatch.setattr(sys, "meta_path", [Broken(), *sys.meta_path])
    assert loops.availability()["rloop"] == (
        False,
        "rloop failed to import (ImportError: DLL load failed while importing _rloop: "
        "Module not found.)",
    )


def test_rloop_is_tested_here_when_installed() -> None:
    installed = importlib.util.find_spec("rloop") is not None and loops.OS_NAME != "Windows"
    assert (("rloop", None) in loops.matrix()) is installed
