"""The project file `medallion.yaml`: the project's name, its job's tasks and its own check kinds.

Like dbt's dbt_project.yml it is what makes a folder of specs one project: the job a team runs is its
own (an orders project has no data collection; a project that fetches its input adds a `collect` task), and the
framework builds the job from this declaration (framework/jobs/dag.py) instead of from fixed text.
The file is optional: without it the name is the folder's and the job is pipeline -> quality_checks.
Built from a document that passed `project.schema.json`; its references are checked by
`framework.validation.project_file`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.spec.documents import Document, DocPath

PROJECT_FILE = "medallion.yaml"
PIPELINE, QUALITY_CHECKS, TABLE_GRANTS = "pipeline", "quality_checks", "table_grants"
BUILT_IN_TASKS = (PIPELINE, QUALITY_CHECKS, TABLE_GRANTS)
"""The tasks the framework provides; a project lists one only to say what it depends on."""
BUILT_IN_DEPENDS_ON: dict[str, tuple[str, ...]] = {PIPELINE: (), QUALITY_CHECKS: (PIPELINE,), TABLE_GRANTS: (PIPELINE,)}
DEFAULT_DESCRIPTION = "Update the {pipeline} pipeline, then run the quality checks ({env})."
NAME = re.compile(r"[^a-z0-9_]+")


@dataclass(frozen=True)
class TaskDeclaration:
    """One entry of `job.tasks`: a project task (with `run`) or a built-in task placed in the DAG."""

    key: str
    run: str | None = None
    """`module:function`, importable from the project root; None for a built-in task."""
    args: tuple[str, ...] = ()
    depends_on: tuple[str, ...] | None = None
    """None: not stated (a built-in keeps its default, a project task depends on nothing)."""
    timeout_seconds: int | None = None
    config_schema: str | None = None
    """A JSON Schema file, relative to the project root, for the task's `tasks.<key>` environment section."""
    secrets: tuple[str, ...] = ()
    """Settings of the task's environment section that name secrets (read from `databricks.secret_scope`)."""
    path: DocPath = ()
    """Where the entry is in medallion.yaml (to locate findings)."""

    @property
    def built_in(self) -> bool:
        return self.key in BUILT_IN_TASKS


@dataclass(frozen=True)
class ProjectSettings:
    """The project file's content, defaults filled in."""

    name: str
    description: str = DEFAULT_DESCRIPTION
    tasks: tuple[TaskDeclaration, ...] = ()
    check_kinds: dict[str, str] = field(default_factory=dict)
    document: Document | None = None
    """medallion.yaml, or None when the project has none."""

    def task(self, key: str) -> TaskDeclaration | None:
        return next((t for t in self.tasks if t.key == key), None)

    def depends_on(self, key: str) -> tuple[str, ...]:
        """What task `key` waits for: its declared `depends_on`, else the built-in default (nothing for a
        project task)."""
        declared = self.task(key)
        if declared is not None and declared.depends_on is not None:
            return declared.depends_on
        return BUILT_IN_DEPENDS_ON.get(key, ())

    @property
    def project_tasks(self) -> tuple[TaskDeclaration, ...]:
        """The declared tasks that are the project's own (not built-in)."""
        return tuple(t for t in self.tasks if not t.built_in)

    def describe(self, env_name: str, pipeline: str) -> str:
        """The job's description in one environment (`{env}`, `{pipeline}`, `{project}` replaced)."""
        return (self.description.replace("{env}", env_name).replace("{pipeline}", pipeline)
                .replace("{project}", self.name))


def default_name(root: Path) -> str:
    """A project name from its folder's name: lower case, anything else than letters, digits and `_` as `_`."""
    name = NAME.sub("_", root.name.lower()).strip("_") or "project"
    return name if name[0].isalpha() else f"p_{name}"


def default_settings(root: Path) -> ProjectSettings:
    return ProjectSettings(name=default_name(root))


def build_project_settings(data: dict[str, Any], doc: Document, root: Path) -> ProjectSettings:
    """The typed settings of a medallion.yaml that passed its schema."""
    job = data.get("job") or {}
    tasks = tuple(
        TaskDeclaration(key=entry["key"], run=entry.get("run"), args=tuple(entry.get("args") or ()),
                        depends_on=tuple(entry["depends_on"]) if "depends_on" in entry else None,
                        timeout_seconds=entry.get("timeout_seconds"), config_schema=entry.get("config_schema"),
                        secrets=tuple(entry.get("secrets") or ()), path=("job", "tasks", index))
        for index, entry in enumerate(job.get("tasks") or ()))
    return ProjectSettings(name=data.get("name") or default_name(root),
                           description=job.get("description") or DEFAULT_DESCRIPTION,
                           tasks=tasks, check_kinds=dict(data.get("check_kinds") or {}), document=doc)
