"""A project's own job task: the callable medallion.yaml names, run as `medallion task <key> --env <env>`.

The same command runs it everywhere: as a process of the local job (framework/jobs/runner.py) and as a
python_wheel_task of the Databricks job (framework/deploy/context.py), so a task behaves alike in both.
The callable is imported from the project root, as `transform.python` references are
(framework/pipeline/declare.py), and gets a `TaskContext`: the environment and the task's own section
of it (`tasks.<key>`), which `medallion validate` has checked against the task's `config_schema`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping

from framework.errors import UsageError
from framework.references import import_reference
from framework.spec.environment import Environment
from framework.spec.project import Project
from framework.spec.project_file import TaskDeclaration

TaskCallable = Callable[["TaskContext", list[str]], int | None]
"""`function(context, args) -> exit code` (None counts as 0)."""


@dataclass(frozen=True)
class TaskContext:
    """What a project task gets: which task, the environment it runs in and the task's configuration there."""

    key: str
    env: Environment
    config: Mapping[str, Any]
    """The environment's `tasks.<key>` section (empty when it has none)."""
    root: Path
    """The project root."""


def declared_task(project: Project, key: str) -> TaskDeclaration:
    """The project task `key` of medallion.yaml; a UsageError naming the known ones otherwise."""
    declared = next((t for t in project.settings.project_tasks if t.key == key), None)
    if declared is None or declared.run is None:
        known = ", ".join(t.key for t in project.settings.project_tasks) or "none (medallion.yaml job.tasks)"
        raise UsageError(f"unknown project task `{key}` (known: {known})")
    return declared


def run_task(project: Project, env: Environment, key: str, args: list[str]) -> int:
    """Run project task `key` in `env` with the declared arguments, then `args`; its exit code."""
    declared = declared_task(project, key)
    assert declared.run is not None
    target: TaskCallable = import_reference(declared.run, project.root)
    context = TaskContext(key, env, env.task_config(key), project.root)
    code = target(context, [*(a.replace("{env}", env.name) for a in declared.args), *args])
    return int(code or 0)
