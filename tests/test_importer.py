"""Loading the app named on the command line: every way it can fail says why, with a hint.

tests/cli/test_errors.py checks the same errors as ``xloop serve`` prints them; these call
:mod:`xloop.importer` itself, with modules written into a fresh directory per test.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from xloop.errors import AppLoadError
from xloop.importer import import_from_string, load_app

PREFIX = "xlimp_"  # every module these tests write; forgotten after each test

MODULES = {
    f"{PREFIX}app.py": """\
VALUE = 42


async def app(scope, receive, send):
    pass


def create_app():
    return app


def create_with(settings):
    return app


class Holder:
    inner = app
""",
    f"{PREFIX}needs_missing.py": "import xlimp_not_installed_anywhere\n",
    f"{PREFIX}raises.py": "raise ValueError('bad setting')\n",
    f"{PREFIX}private.py": "_hidden = 1\n",
    f"{PREFIX}pkg/__init__.py": "",
}


@pytest.fixture
def app_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory holding :data:`MODULES`, on ``sys.path``; both restored afterwards."""
    for name, text in MODULES.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [name for name in sys.modules if name.startswith(PREFIX)]:
        del sys.modules[name]


@pytest.mark.parametrize("spec", [f"{PREFIX}app", f":{PREFIX}app", f"{PREFIX}app:", ""])
def test_spec_without_module_or_attribute(spec: str) -> None:
    with pytest.raises(AppLoadError, match="APP must be module:attribute") as info:
        import_from_string(spec)
    assert info.value.hint == "e.g. 'main:app' for the variable app in main.py"
    assert info.value.exit_code == 3


@pytest.mark.usefixtures("app_dir")
@pytest.mark.parametrize(
    "module", [f"{PREFIX}nowhere", f"{PREFIX}pkg.nowhere", f"{PREFIX}nopkg.nowhere"]
)
def test_module_not_found(module: str) -> None:
    with pytest.raises(AppLoadError, match=f"could not import module '{module}'") as info:
        import_from_string(f"{module}:app")
    assert info.value.hint is not None
    assert "--app-dir" in info.value.hint


@pytest.mark.usefixtures("app_dir")
def test_module_that_imports_a_missing_module() -> None:
    """Found, but what it imports is not: the message names the missing one, not the app."""
    with pytest.raises(AppLoadError) as info:
        import_from_string(f"{PREFIX}needs_missing:app")
    assert info.value.message == (
        f"importing '{PREFIX}needs_missing' failed: No module named 'xlimp_not_installed_anywhere'"
    )
    assert info.value.hint == "a module it imports is missing; install it"


@pytest.mark.usefixtures("app_dir")
def test_module_that_raises_on_import() -> None:
    with pytest.raises(AppLoadError) as info:
        import_from_string(f"{PREFIX}raises:app")
    assert info.value.message == f"importing '{PREFIX}raises' raised ValueError: bad setting"
    assert info.value.hint is not None
    assert f"import {PREFIX}raises" in info.value.hint


@pytest.mark.usefixtures("app_dir")
def test_dotted_attributes() -> None:
    found = import_from_string(f"{PREFIX}app:Holder.inner")
    assert found is import_from_string(f"{PREFIX}app:app")


@pytest.mark.usefixtures("app_dir")
@pytest.mark.parametrize(
    ("spec", "names"),
    [
        (f"{PREFIX}app:Holder.missing", "app, create_app, create_with, Holder"),
        (f"{PREFIX}private:app", "(nothing public)"),
    ],
)
def test_missing_attribute_lists_what_is_there(spec: str, names: str) -> None:
    with pytest.raises(AppLoadError, match="not found in module") as info:
        import_from_string(spec)
    assert info.value.hint == f"the names defined there include: {names}"


def test_load_app_puts_app_dir_on_sys_path_once(
    app_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(app_dir)])
    first = load_app(f"{PREFIX}app:app", app_dir=str(app_dir))
    assert load_app(f"{PREFIX}app:app", app_dir=str(app_dir)) is first
    assert sys.path.count(str(app_dir)) == 1
    assert sys.path[0] == str(app_dir)


@pytest.mark.usefixtures("app_dir")
def test_factory() -> None:
    assert load_app(f"{PREFIX}app:create_app", factory=True) is import_from_string(
        f"{PREFIX}app:app"
    )


@pytest.mark.usefixtures("app_dir")
def test_factory_that_is_not_callable() -> None:
    with pytest.raises(AppLoadError) as info:
        load_app(f"{PREFIX}app:VALUE", factory=True)
    assert info.value.message == f"{PREFIX}app:VALUE is not callable, so it cannot be a factory"
    assert info.value.hint == "drop --factory"


@pytest.mark.usefixtures("app_dir")
def test_factory_that_needs_arguments() -> None:
    with pytest.raises(AppLoadError, match=f"calling the factory {PREFIX}app:create_with") as info:
        load_app(f"{PREFIX}app:create_with", factory=True)
    assert "settings" in info.value.message  # the TypeError names the missing argument
    assert info.value.hint == "--factory needs a callable that takes no arguments"


def test_objects_are_checked_like_names() -> None:
    async def app(scope: object, receive: object, send: object) -> None:
        pass

    def create() -> object:
        return app

    assert load_app(app) is app
    assert load_app(create, factory=True) is app
    with pytest.raises(AppLoadError, match="looks like an app factory"):
        load_app(create)
    with pytest.raises(AppLoadError, match=r"is not callable \(it is a int\)"):
        load_app(42)
