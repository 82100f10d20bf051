"""Tests of the shape of the code: the library imports no UI, no import circles, no private imports, short files.

The import graph is read from the source with `ast`: every ``import`` and ``from ... import`` counts, at the top
of a module or inside a function, except those under ``if TYPE_CHECKING:`` (never run). A package importing its
own submodules (its ``__init__`` re-exporting them) is not a circle.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("tracking", "dashboard")
UI_PACKAGES = ("panel", "bokeh", "holoviews", "geoviews", "datashader")
MAX_LINES = 600


def module_files() -> dict[str, Path]:
    """Every module of `PACKAGES`: dotted name -> file (a package by its ``__init__.py``)."""
    modules = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


MODULES = module_files()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of ``tree`` except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _base(module: str, node: ast.ImportFrom) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module or ""
    package = module if _is_package(module) else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def _known(name: str) -> str | None:
    """``name`` or its closest enclosing module among `MODULES` (None outside the packages)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> Iterator[tuple[str, str, str | None]]:
    """``(target module, imported name or None, base)`` for each import in ``module``, targets in `MODULES`."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _known(alias.name)
                if target is not None:
                    yield target, None, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = _base(module, node)
            for alias in node.names:
                target = _known(f"{base}.{alias.name}") if f"{base}.{alias.name}" in MODULES else _known(base)
                if target is not None:
                    yield target, alias.name, base


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules it imports, without a package's edges to its own submodules."""
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for module in MODULES:
        for target, _, _ in imports(module):
            own_submodule = _is_package(module) and target.startswith(f"{module}.")
            if target != module and not own_submodule:
                graph[module].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10 * len(graph)))
    try:
        for node in sorted(graph):
            if node not in index:
                visit(node)
    finally:
        sys.setrecursionlimit(limit)
    return sorted(found)


def private_imports() -> list[str]:
    """``from x import _y`` where ``x`` is another module (a private submodule of one's own package is fine)."""
    found = []
    for module in MODULES:
        for target, name, base in imports(module):
            if name is None or not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
                continue
            submodule = f"{base}.{name}"
            if submodule in MODULES and module.startswith(f"{base}."):
                continue  # a private module of the importer's own package
            if target != module:
                found.append(f"{module} imports {name} from {base}")
    return sorted(found)


# --- the tests ----------------------------------------------------------------------------------------------------

BLOCK_UI = f"""
import importlib, importlib.abc, pkgutil, sys

BLOCKED = {UI_PACKAGES!r}

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"the library imported the UI package {{name}}")
        return None

sys.meta_path.insert(0, Block())
import tracking
names = ["tracking"] + [m.name for m in pkgutil.walk_packages(tracking.__path__, "tracking.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_the_library_imports_no_ui_package():
    done = subprocess.run(
        [sys.executable, "-c", BLOCK_UI], check=False, cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.split()[-1]) == sum(name.split(".")[0] == "tracking" for name in MODULES)


def test_the_cycle_finder_finds_cycles():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]


def test_no_import_circles():
    found = cycles(import_graph())
    assert not found, "import circles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_module_imports_a_private_name_of_another():
    found = private_imports()
    assert not found, "\n".join(found)


@pytest.mark.parametrize("package", PACKAGES)
def test_no_file_is_too_long(package):
    long = {
        str(path.relative_to(ROOT)): n
        for name, path in MODULES.items()
        if name.split(".")[0] == package
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"files over {MAX_LINES} lines: {long}"
