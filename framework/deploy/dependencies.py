"""What the pipeline notebook imports, as pinned requirements: the pipeline's `environment.dependencies`.

The notebook runs `framework/` from the synced bundle files, so the pipeline needs exactly the
third-party packages that the notebook and the framework modules it reaches import — not the CLI's
whole dependency list. They are found statically (no import runs): `ast` reads the notebook, follows
every `framework...` import (module level and inside functions, `TYPE_CHECKING` blocks excluded; a
package's `__init__` counts, it runs on import) and collects the other top-level modules. Standard
library modules and what a Databricks Runtime provides (pyspark, the pipelines module, ...) are
dropped; each remaining module is mapped to the distribution that provides it and pinned as written
in pyproject.toml's `[project] dependencies`.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from framework.deploy import names
from framework.errors import RenderError

PACKAGE = "framework"
RUNTIME_MODULES = frozenset({"pyspark", "dlt", "delta", "pandas", "pyarrow", "numpy", "py4j"})
"""Top-level modules a Databricks Runtime provides to a pipeline (`dlt` is the legacy pipelines module)."""
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Import:
    """A third-party top-level module and the first place (file, line) that imports it."""

    module: str
    file: str
    line: int


def ships_framework(root: Path) -> bool:
    """True when the project carries framework/ itself (this repository: its wheel is the job's library and the
    pipeline runs framework/ from the synced files); False for a project that uses the installed `medallion`."""
    return module_file(root, PACKAGE) is not None and (root / "pyproject.toml").is_file()


def installed_requirement() -> str:
    """The framework as a requirement, pinned to the version that renders the bundle (`medallion==X.Y.Z`)."""
    from framework import __version__

    return f"{names.ENTRY_POINT}=={__version__}"


def pipeline_dependencies(root: Path) -> list[str]:
    """The pinned requirements of everything the notebook imports, in pyproject.toml's order.

    A project without its own framework/ (one made by `medallion init`) gets the framework from the
    package index instead: its one requirement is `medallion` at the rendering version, whose own
    dependencies come with it.
    """
    if not ships_framework(root):
        return [installed_requirement()]
    imports = notebook_imports(root)
    pins = pinned_dependencies(root)
    chosen: set[str] = set()
    for found in imports:
        chosen.add(distribution_for(found, pins))
    return [requirement for name, requirement in pins.items() if name in chosen]


def notebook_imports(root: Path) -> list[Import]:
    """Third-party top-level modules reachable from the notebook, runtime-provided ones excluded."""
    if module_file(root, PACKAGE) is None:
        raise RenderError(f"{root}/{PACKAGE}/ is missing: the pipeline notebook runs it from the synced bundle files")
    found: dict[str, Import] = {}
    queue = [(root / names.NOTEBOOK, names.NOTEBOOK, "")]
    visited: set[str] = set()
    while queue:
        path, relative, module = queue.pop(0)
        for name, line in imported_names(path, module):
            top = name.split(".")[0]
            if top == PACKAGE:
                for parent in _parents(name):
                    target = module_file(root, parent)
                    if target is not None and parent not in visited:
                        visited.add(parent)
                        queue.append((target, target.relative_to(root).as_posix(), parent))
            elif top not in sys.stdlib_module_names and top != "__future__" and top not in RUNTIME_MODULES:
                found.setdefault(top, Import(top, relative, line))
    return sorted(found.values(), key=lambda i: i.module)


def imported_names(path: Path, module: str) -> tuple[tuple[str, int], ...]:
    """(dotted name, line) of every import in a file; `from a import b` gives `a` and `a.b` (b may be a module).

    Read once per file version: `medallion validate` renders the bundle on every run.
    """
    stat = path.stat()
    return _imported_names(str(path), module, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=256)
def _imported_names(path: str, module: str, mtime_ns: int, size: int) -> tuple[tuple[str, int], ...]:
    tree = ast.parse(Path(path).read_text("utf-8"), filename=path)
    is_package = path.endswith("__init__.py")
    out: list[tuple[str, int]] = []
    for node in _walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            out.append((base, node.lineno))
            out.extend((f"{base}.{alias.name}", node.lineno) for alias in node.names if alias.name != "*")
    return tuple(out)


def module_file(root: Path, module: str) -> Path | None:
    """The source file of a framework module or package in the project, or None (e.g. a function name)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def pinned_dependencies(root: Path) -> dict[str, str]:
    """Normalised distribution name -> requirement as written in pyproject.toml's `[project] dependencies`."""
    path = root / "pyproject.toml"
    if not path.is_file():
        raise RenderError(f"no pyproject.toml in {root}: the pipeline's dependencies are pinned from it")
    declared = tomllib.loads(path.read_text("utf-8")).get("project", {}).get("dependencies", [])
    out: dict[str, str] = {}
    for requirement in declared:
        match = REQUIREMENT_NAME.match(requirement)
        if match:
            out[normalise(match.group(0))] = requirement.replace(" ", "")
    return out


def distribution_for(found: Import, pins: dict[str, str]) -> str:
    """The pinned distribution that provides a module: the one named like it, else one whose files hold it."""
    if normalise(found.module) in pins:
        return normalise(found.module)
    for name in pins:
        if found.module in _top_level_modules(name):
            return name
    raise RenderError(f"{found.file}:{found.line}: `{found.module}` is imported by the pipeline notebook (through "
                      "framework/), but no dependency in pyproject.toml provides it; add it to [project] "
                      "dependencies, then run `medallion bundle render`")


def normalise(name: str) -> str:
    """PEP 503 name normalisation: `PyYAML` and `jsonschema_rs` become `pyyaml`, `jsonschema-rs`."""
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=64)
def _top_level_modules(distribution: str) -> frozenset[str]:
    """Top-level modules an installed distribution provides (empty when it is not installed)."""
    try:
        dist = metadata.distribution(distribution)
    except metadata.PackageNotFoundError:
        return frozenset()
    listed = (dist.read_text("top_level.txt") or "").split()
    if listed:
        return frozenset(listed)
    return frozenset(Path(str(f)).parts[0].removesuffix(".py") for f in dist.files or ()
                     if not str(f).startswith(("..", "/")) and ".dist-info" not in str(f))


def _parents(name: str) -> list[str]:
    """`framework.spec.model.X` -> framework, framework.spec, framework.spec.model, framework.spec.model.X."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _walk(tree: ast.AST) -> list[ast.AST]:
    """Every node, except the bodies of `if TYPE_CHECKING:` (never run)."""
    out: list[ast.AST] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        out.append(node)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                stack.extend(child.orelse)
                continue
            stack.append(child)
    return out


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
