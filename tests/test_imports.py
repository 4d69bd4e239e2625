"""The package's shape: no import cycle (type-only imports included), no oversized module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import xloop

ROOT = Path(xloop.__file__).parent


def _module_name(path: Path) -> str:
    parts = ["xloop", *path.relative_to(ROOT).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(ROOT.rglob("*.py"))}


def _imported(node: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The xloop modules ``node`` imports: at run time, inside functions, and for the type
    checker alone (under TYPE_CHECKING): a cycle is a cycle for readers and tools alike."""
    found: set[str] = set()
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import):
            found |= {alias.name for alias in child.names if alias.name in known}
        elif isinstance(child, ast.ImportFrom):
            if child.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - (child.level - 1)]
                target = ".".join([*base, child.module] if child.module else base)
            else:
                target = child.module or ""
            if not target.startswith("xloop"):
                continue
            for alias in child.names:
                submodule = f"{target}.{alias.name}"
                # ``from pkg import sub`` imports the submodule; ``from mod import name``
                # imports the module that defines the name.
                found.add(submodule if submodule in known else target)
        found |= _imported(child, module, is_package, known)
    return {name for name in found if name in known and name != module}


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        graph[name] = _imported(tree, name, path.name == "__init__.py", known)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for target in sorted(graph[name]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        path.pop()
        state[name] = 2
        return None

    for name in sorted(graph):
        if name not in state and (cycle := visit(name)) is not None:
            return cycle
    return None


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph()
    assert "xloop.server.connection" in graph["xloop.server.server"]  # the walk sees imports
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
        ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
        ({"a": {"a"}}, ["a", "a"]),
    ],
)
def test_find_cycle(graph: dict[str, set[str]], expected: list[str] | None) -> None:
    assert find_cycle(graph) == expected


def test_relative_lazy_and_type_checking_imports_are_edges() -> None:
    graph = import_graph()
    # server/cycle.py names ASGIApp and Message only under TYPE_CHECKING
    assert "xloop.types" in graph["xloop.server.cycle"]
    # cli.py imports the compare command lazily, inside the function
    assert any(name.startswith("xloop.compare") for name in graph["xloop.cli"])


#: A module longer than this is doing more than one job: split it by job.
MAX_MODULE_LINES = 600


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {
        name: len(path.read_text(encoding="utf-8").splitlines())
        for name, path in _modules().items()
    }
    too_long = {name: size for name, size in sizes.items() if size > MAX_MODULE_LINES}
    assert sizes["xloop.server.connection"] > 100  # the count reads real files
    assert not too_long, f"split these by job: {too_long}"
