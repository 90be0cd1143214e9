"""Resolve `module:function` transform references without importing anything.

Importing a user module at validate time could run arbitrary code or pull in pyspark (and, through a
careless module, start a JVM). Instead we find the module's source file on the search path and look
for a top-level function (or assignment) with that name in its syntax tree.
"""

from __future__ import annotations

import ast
import sys
from functools import lru_cache
from pathlib import Path


def _candidates(module: str, roots: tuple[Path, ...]) -> list[Path]:
    rel = Path(*module.split("."))
    return [p for root in roots for p in (root / rel.with_suffix(".py"), root / rel / "__init__.py")]


@lru_cache(maxsize=256)
def _top_level_names(source_file: Path) -> frozenset[str] | str:
    try:
        tree = ast.parse(source_file.read_bytes(), filename=str(source_file))
    except (SyntaxError, ValueError) as exc:
        return f"{source_file.name} does not parse: {exc}"
    except (RecursionError, MemoryError):
        return f"{source_file.name} is nested too deeply to read"
    except OSError as exc:
        return f"cannot read {source_file.name}: {exc.strerror or exc}"
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, (ast.ImportFrom, ast.Import)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return frozenset(names)


def resolve_python_ref(ref: str, project_root: Path) -> str | None:
    """None when `module:function` names a top-level callable; otherwise what is wrong."""
    module, _, function = ref.partition(":")
    roots = (project_root, *(Path(p) for p in sys.path if p and Path(p).is_dir()))
    for source_file in _candidates(module, roots):
        if source_file.is_file():
            names = _top_level_names(source_file)
            if isinstance(names, str):
                return names
            if function not in names:
                return f"module `{module}` ({source_file.name}) has no top-level `{function}`"
            return None
    return f"module `{module}` was not found in the project or on the Python path"
