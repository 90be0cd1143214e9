"""The package's shape, as docs/architecture.md states it: layers import only downwards, no module imports
itself back through others, nobody imports another module's private names, every folder is a package.

Every import counts — at module level, inside functions, and under `if TYPE_CHECKING:` — because a
function-level import is still a dependency, only a hidden one.
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "framework"

LAYERS: tuple[tuple[str, ...], ...] = (
    ("framework", "framework.errors", "framework.findings", "framework.delta_log", "framework.templates"),
    ("framework.spec", "framework.naming", "framework.graph", "framework.sql"),
    ("framework.validation",),
    ("framework.project",),
    ("framework.pipeline", "framework.eventlog", "framework.jobs", "framework.lineage"),
    ("framework.engine",),
    ("framework.checks",),
    ("framework.deploy",),
    ("framework.docs",),
    ("framework.cli", "framework.__main__"),
)
"""Lowest first. A module may import its own layer or any layer below it, never one above."""


TEMPLATE_DATA = PACKAGE / "templates"
"""Data, not modules: the Python files under framework/templates/<folder>/ are copied into projects
(`medallion init`'s notebook), never imported from the package."""


def package_sources() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if not (TEMPLATE_DATA in p.parents and p.parent != TEMPLATE_DATA)]


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=None)
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in package_sources()}


def layer_of(module: str) -> int:
    best = None
    for rank, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (rank, len(prefix))
    assert best is not None, f"{module} is in no layer of tests/test_architecture.py"
    return best[0]


def resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".")
    is_package = modules()[module].name == "__init__.py"
    base = package if is_package else package[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def framework_target(name: str) -> str | None:
    """The framework module an import refers to (a module, or the package holding an imported name)."""
    known = modules()
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


@lru_cache(maxsize=None)
def imports() -> dict[str, list[tuple[str, int, list[str]]]]:
    """module -> [(imported framework module, line, names imported from it)]"""
    found: dict[str, list[tuple[str, int, list[str]]]] = {}
    for module, path in modules().items():
        edges = found.setdefault(module, [])
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if target := framework_target(alias.name):
                        edges.append((target, node.lineno, []))
            elif isinstance(node, ast.ImportFrom):
                base = resolve(module, node)
                for alias in node.names:
                    full = f"{base}.{alias.name}" if base else alias.name
                    target = full if full in modules() else framework_target(base)
                    if target:
                        edges.append((target, node.lineno, [] if target == full else [alias.name]))
    return found


def test_every_folder_of_the_package_and_the_tests_is_a_package():
    tests = PACKAGE.parent / "tests"
    folders = {p.parent for p in (*package_sources(), *tests.rglob("*.py"))}
    missing = sorted(str(f.relative_to(PACKAGE.parent)) for f in folders if not (f / "__init__.py").is_file())
    assert missing == []


def test_layers_import_only_downwards():
    upward = [f"{module} (layer {layer_of(module)}) imports {target} (layer {layer_of(target)}) at line {line}"
              for module, edges in imports().items() for target, line, _ in edges
              if layer_of(target) > layer_of(module)]
    assert upward == [], "\n".join(upward)


def test_no_import_cycles():
    graph = {m: {t for t, _, _ in edges if t != m} for m, edges in imports().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                item = stack.pop()
                on_stack.discard(item)
                component.append(item)
                if item == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    assert cycles == []


def test_no_module_imports_private_names_of_another():
    private = [f"{module}:{line} imports {name} from {target}"
               for module, edges in imports().items() for target, line, names in edges
               for name in names if name.startswith("_") and not name.startswith("__") and target != module]
    assert private == [], "\n".join(private)


@pytest.mark.parametrize("source, target", [("framework.engine.update", "framework.pipeline"),
                                            ("framework.cli.run", "framework.engine.runner")])
def test_the_layer_table_knows_the_data_path(source, target):
    """The test itself: the data path runs upwards through the layers (a guard against a broken LAYERS table)."""
    assert layer_of(source) > layer_of(target)
    assert any(t == target for t, _, _ in imports()[source])


PROJECT_PACKAGES = ("market", "transforms")
"""The market project's own Python (beside tables/): the framework runs it (medallion.yaml tasks, transform
references) but never imports it."""


def test_the_framework_imports_no_project_code():
    found = []
    for module, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            found += [f"{module}:{node.lineno} imports {name}" for name in names
                      if name.split(".")[0] in PROJECT_PACKAGES]
    assert found == [], "\n".join(found)


MARKET_WORDS = re.compile(r"\b(markets?|nyse|stocks?|ohlcv|symbols?|tickers?|trade_date|bars?|vwap|exchange_calendars|"
                          r"alpaca|yahoo)\b", re.IGNORECASE)
"""Words of the market-data project. The framework is for any project: the market project's own words live
in its declarations (tables/, environments/, medallion.yaml, market/), never in framework/."""


def test_no_market_data_word_in_the_framework():
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if not path.is_file() or path.suffix in (".pyc", ".png", ".svg", ".woff2") or "__pycache__" in path.parts:
            continue
        for number, line in enumerate(path.read_text("utf-8", errors="replace").splitlines(), 1):
            found += [f"{path.relative_to(PACKAGE.parent)}:{number}: {match.group(0)}"
                      for match in MARKET_WORDS.finditer(line)]
    assert found == [], "market-data words in framework/ (name them in the market project instead):\n" + "\n".join(found)
