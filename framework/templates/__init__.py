"""The framework's default templates, shipped inside the package; a project's own `templates/` overrides them.

Everything the framework renders — the spec scaffold (`table.yaml.j2`), the Databricks bundle
(`bundle/*.j2`), the docs site (`docs/...`) and the `medallion init` project (`init/...`) — is a file in
this folder, installed with the wheel as package data, so the commands work from any folder with
`--project`. A project customises one file by putting a file at the same relative path under its own
`templates/` folder: `path()` is the one place that decides which of the two is read (file by file, so
a project that overrides `bundle/target.yml.j2` still gets the default `bundle/databricks.yml.j2`).
"""

from __future__ import annotations

from pathlib import Path

PROJECT_DIR = "templates"
"""A project's own templates, relative to its root."""
DEFAULTS = Path(__file__).resolve().parent
"""The templates shipped with the framework."""


def path(root: Path | None, relative: str) -> Path:
    """The template file (or folder) at `relative`: the project's own `templates/<relative>` when it exists,
    else the framework's default (which may not exist either: callers report a missing template)."""
    if root is not None:
        own = Path(root) / PROJECT_DIR / relative
        if own.exists():
            return own
    return DEFAULTS / relative


def display(root: Path | None, relative: str) -> str:
    """How a message or a generated file's header names the template: `templates/<relative>` when the project
    overrides it, else `medallion:templates/<relative>` (the framework's default)."""
    if root is not None and (Path(root) / PROJECT_DIR / relative).exists():
        return f"{PROJECT_DIR}/{relative}"
    return f"medallion:{PROJECT_DIR}/{relative}"


def search_path(root: Path | None, folder: str) -> list[str]:
    """Jinja loader search path for a template folder: the project's override folder first, then the default,
    so each template name resolves file by file (`jinja2.FileSystemLoader(search_path(...))`)."""
    own = Path(root) / PROJECT_DIR / folder if root is not None else None
    paths = [str(own)] if own is not None and own.is_dir() else []
    return [*paths, str(DEFAULTS / folder)]
