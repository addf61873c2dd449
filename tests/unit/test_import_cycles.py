"""No import cycles among the modules under providers/: the layers point one way.

Every import statement counts, the lazy ones inside functions too: a function-level import that
closes a circle is the same layering knot as a top-level one, only deferred until it bites at run
time (a half-initialised module, an import order that matters). Imports under ``if TYPE_CHECKING:``
do not count: they never run, and two modules naming each other's types in annotations is no knot.
An import of ``pkg.mod`` from outside ``pkg`` is also an edge to ``pkg/__init__``, which Python runs
first (so a package ``__init__`` that imports its heavy modules eagerly is part of the drawing); from
inside ``pkg`` it is not: a child runs after its parent package by construction.
"""

from __future__ import annotations

import ast
from pathlib import Path

import omnivec.providers

PROVIDERS_DIR = Path(omnivec.providers.__file__).parent
ROOT = "omnivec.providers"


def _module_name(path: Path, root: Path = PROVIDERS_DIR, prefix: str = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((prefix, *parts))


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement of a module, at any depth, except those under ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        children = list(ast.iter_child_nodes(node))
        if isinstance(node, ast.If) and _is_type_checking(node):
            children = list(node.orelse)
        stack.extend(children)
    return found


def import_graph(root: Path = PROVIDERS_DIR, prefix: str = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of the tree it imports (``from pkg import mod`` is an edge to ``pkg.mod``)."""
    files = {_module_name(p, root, prefix): p for p in sorted(root.rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in _statements(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = (f"{base}.{node.module}" if node.module else base) if node.level else (node.module or "")
                for alias in node.names:
                    sub = f"{module}.{alias.name}"
                    targets.append(sub if sub in files else module)
            for target in targets:
                parts = target.split(".")
                ancestors = [".".join(parts[:n]) for n in range(len(parts) - 1, 0, -1)]
                graph[name].update(a for a in ancestors if a in files and not name.startswith(a + "."))
                graph[name].add(target)
        graph[name] &= set(files) - {name}
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
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_among_the_providers_modules() -> None:
    found = cycles(import_graph())
    described = [" <-> ".join(m.removeprefix(ROOT + ".") for m in component) for component in found]
    assert described == [], f"{len(found)} import cycle(s): {described}"


def test_the_cycle_check_sees_lazy_imports_and_skips_type_only_ones(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from ..a import x\n")  # lazy: still a cycle
    (pkg / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .d import y\n")
    (pkg / "d.py").write_text("from . import c\n")  # c -> d is type-only: no cycle
    (pkg / "e.py").write_text("import pkg.sub.b\n")  # runs pkg/sub/__init__ first
    graph = import_graph(pkg, "pkg")
    assert graph["pkg.d"] == {"pkg.c"} and graph["pkg.c"] == set()
    assert graph["pkg.e"] == {"pkg.sub", "pkg.sub.b"} and graph["pkg.sub.b"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.sub.b"]]
