"""Checks of the project file (medallion.yaml) the JSON Schema cannot express, and of the task sections
environments give its tasks (`tasks.<key>`).

The job's tasks must form a DAG the framework can run and render: keys are unique, a project task says
what it runs and does not take a built-in task's key, `depends_on` names known tasks without a cycle,
and every `module:function` (`run`, `check_kinds`) names a top-level function of a module under the
project root (found without importing it, as transform references are). A task's `config_schema` is a
readable JSON Schema, and each environment's section for that task is checked against it at its own
line and column, so a project task's settings are validated as strictly as the framework's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from framework.findings import Finding, did_you_mean
from framework.spec.documents import Document
from framework.spec.project_file import BUILT_IN_TASKS, ProjectSettings, TaskDeclaration
from framework.validation.python_ref import resolve_python_ref
from framework.validation.schema import register_schema, validate_document

if TYPE_CHECKING:
    from framework.spec.project import Project

FIXED_TIMEOUTS = ("job_seconds", "pipeline_seconds", "checks_seconds")
"""`timeouts` keys of the job and the built-in tasks; any other `<key>_seconds` is a project task's."""


def check_project_settings(project: Project) -> list[Finding]:
    """Findings about medallion.yaml and the environments' task sections."""
    settings = project.settings
    doc = settings.document
    findings: list[Finding] = []
    if doc is not None:
        findings.extend(_check_tasks(settings, doc, project.root))
        for name, ref in settings.check_kinds.items():
            problem = resolve_python_ref(ref, project.root)
            if problem:
                findings.append(doc.finding(("check_kinds", name), f"check kind `{name}`: {problem}",
                                            hint="a `module:function` importable from the project root"))
    findings.extend(_check_environment_sections(project, settings))
    return findings


def _check_tasks(settings: ProjectSettings, doc: Document, root: Path) -> Iterator[Finding]:
    seen: dict[str, TaskDeclaration] = {}
    for task in settings.tasks:
        if task.key in seen:
            yield doc.finding((*task.path, "key"), f"task `{task.key}` is declared twice",
                              hint="task keys are unique in a job")
            continue
        seen[task.key] = task
        if task.built_in and task.run is not None:
            yield doc.finding((*task.path, "key"), f"task key `{task.key}` is a built-in task",
                              hint=f"choose another key; the built-in tasks are {', '.join(BUILT_IN_TASKS)} "
                                   "(list one without `run` only to set its `depends_on`)")
        elif task.built_in:
            extra = [k for k, v in (("args", task.args), ("timeout_seconds", task.timeout_seconds),
                                    ("config_schema", task.config_schema), ("secrets", task.secrets)) if v]
            for key in extra:
                yield doc.finding((*task.path, key), f"`{key}` does not apply to the built-in task `{task.key}`",
                                  key=True, hint="a listed built-in task takes only `depends_on`")
        elif task.run is None:
            yield doc.finding(task.path, f"task `{task.key}` has no `run`",
                              hint="add `run: module:function`, the callable the task runs")
        else:
            problem = resolve_python_ref(task.run, root)
            if problem:
                yield doc.finding((*task.path, "run"), f"task `{task.key}`: {problem}",
                                  hint="a `module:function` importable from the project root")
        if task.config_schema:
            problem = _schema_problem(root / task.config_schema)
            if problem:
                yield doc.finding((*task.path, "config_schema"), f"task `{task.key}`: {problem}")
    known = set(seen) | set(BUILT_IN_TASKS)
    for task in seen.values():
        for index, upstream in enumerate(task.depends_on or ()):
            if upstream not in known:
                yield doc.finding((*task.path, "depends_on", index), f"task `{task.key}` depends on unknown task "
                                  f"`{upstream}`", hint=did_you_mean(upstream, known) or
                                  f"known tasks: {', '.join(sorted(known))}")
            elif upstream == task.key:
                yield doc.finding((*task.path, "depends_on", index), f"task `{task.key}` depends on itself")
    cycle = find_cycle({key: settings.depends_on(key) for key in known})
    if cycle:
        first = seen.get(cycle[0])
        yield doc.finding((*first.path, "depends_on") if first else ("job", "tasks"),
                          "the job's tasks depend on each other in a cycle: " + " -> ".join(cycle),
                          hint="a job is a DAG: remove one of these `depends_on`")


def find_cycle(edges: dict[str, tuple[str, ...]]) -> list[str] | None:
    """One dependency cycle (its keys, the first repeated at the end), or None. Unknown keys are ignored."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if nxt == node or nxt not in edges:
                continue
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def _schema_problem(path: Path) -> str | None:
    schema = _read_schema(path)
    if isinstance(schema, str):
        return schema
    return register_schema(_kind(path), schema)


def _read_schema(path: Path) -> dict | str:
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return f"config_schema `{path.name}` does not exist"
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read config_schema `{path.name}`: {exc}"
    except json.JSONDecodeError as exc:
        return f"config_schema `{path.name}` is not JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}"
    return data if isinstance(data, dict) else f"config_schema `{path.name}` is not a JSON object"


def _kind(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        stamp = 0
    return f"task-config:{path}@{stamp}"


def _section_schema(schema: dict, key: str) -> dict:
    """A schema for a whole environment document that checks only `tasks.<key>` with `schema` (its $defs
    hoisted, so `#/$defs/...` references keep resolving)."""
    inner = {k: v for k, v in schema.items() if k not in ("$defs", "$schema", "$id")}
    return {"type": "object", "$defs": schema.get("$defs", {}),
            "properties": {"tasks": {"type": "object", "properties": {key: inner}}}}


def _check_environment_sections(project: Project, settings: ProjectSettings) -> Iterator[Finding]:
    project_tasks = {t.key: t for t in settings.project_tasks}
    for env in project.environments.values():
        doc = env.document
        if doc is None or not isinstance(doc.data, dict):
            continue
        for key in (doc.data.get("tasks") or {}):
            if key not in project_tasks:
                yield doc.finding(("tasks", key), f"configuration for unknown task `{key}`", key=True,
                                  hint=did_you_mean(key, project_tasks) or
                                  (f"the project's tasks: {', '.join(project_tasks)}" if project_tasks
                                   else "medallion.yaml declares no task (job.tasks)"))
        for setting in (doc.data.get("timeouts") or {}):
            key = str(setting).removesuffix("_seconds")
            if setting not in FIXED_TIMEOUTS and key not in project_tasks:
                yield doc.finding(("timeouts", setting), f"`{setting}` is the timeout of unknown task `{key}`", key=True,
                                  hint=did_you_mean(str(setting), [*FIXED_TIMEOUTS, *(f"{k}_seconds" for k in project_tasks)])
                                  or f"timeouts: {', '.join(FIXED_TIMEOUTS)} or <project task>_seconds")
        for key, task in project_tasks.items():
            if not task.config_schema or key not in (doc.data.get("tasks") or {}):
                continue
            path = project.root / task.config_schema
            schema = _read_schema(path)
            if isinstance(schema, str) or register_schema(_kind(path), schema):
                continue  # reported once, at medallion.yaml
            kind = f"{_kind(path)}:{key}"
            if register_schema(kind, _section_schema(schema, key)) is None:
                yield from validate_document(doc, kind)
