"""A loaded project: its table specs, environments and the findings of loading them.

Built by `framework.project.load_project` (which reads and validates the files); read by everything
after it. It lives with the model so that validation can take a `Project` without importing the loader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from framework.findings import Finding
from framework.graph import TableGraph
from framework.spec.environment import Environment
from framework.spec.model import TableSpec
from framework.spec.project_file import ProjectSettings, default_settings


@dataclass
class Project:
    root: Path
    tables: dict[str, TableSpec] = field(default_factory=dict)
    environments: dict[str, Environment] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    settings: ProjectSettings = None  # type: ignore[assignment]
    """medallion.yaml (name, job, check kinds); defaults when the project has none."""

    def __post_init__(self) -> None:
        if self.settings is None:
            self.settings = default_settings(self.root)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def check_kinds(self) -> dict[str, str]:
        """Project check kinds, name -> `module:function` (`check_kinds:` in medallion.yaml)."""
        return self.settings.check_kinds

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def graph(self) -> TableGraph:
        return TableGraph(self.tables)

    def environment(self, name: str) -> Environment:
        if name not in self.environments:
            known = ", ".join(sorted(self.environments)) or "none"
            raise KeyError(f"unknown environment `{name}` (known: {known})")
        return self.environments[name]

    def relative(self, path: Path) -> str:
        """`path` relative to the project root: the name findings use for a file."""
        return relative_name(path, self.root)


def relative_name(path: Path, root: Path) -> str:
    """`path` relative to `root`; symlinks are resolved (a dozen system calls) only when the cheap way fails."""
    try:
        return str(path.relative_to(root))
    except ValueError:
        try:
            return str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            return str(path)
