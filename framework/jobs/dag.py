"""The daily job, defined once from the project's declaration: its tasks, their order and dependencies.

The framework provides `pipeline` (the pipeline update), `quality_checks` (`medallion check`, after the
pipeline) and, on Databricks when specs declare grants, `table_grants`; the project file (medallion.yaml
`job.tasks`) adds the project's own tasks and says what depends on what. Without a declaration the
job is pipeline -> quality_checks.

`medallion job` runs these tasks locally as processes (framework/jobs/runner.py); `medallion bundle
render` renders the same list as the Databricks job's tasks (framework/deploy/context.py). Each task is
a `medallion` command (a project task is `medallion task <key>`, framework/jobs/tasks.py), except the
pipeline step of a triggered Databricks pipeline, which is a `pipeline_task` (Databricks runs the update
itself). A continuous pipeline cannot be a job's pipeline_task, so there the step is a command that
follows the running pipeline until it has processed what landed before this run
(`medallion trigger --wait-for-catchup`, framework/deploy/catchup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.spec.project_file import PIPELINE, QUALITY_CHECKS, TABLE_GRANTS, ProjectSettings

if TYPE_CHECKING:
    from framework.spec.environment import Environment

__all__ = ["JOB_START_TIME", "JobTask", "PIPELINE", "QUALITY_CHECKS", "TABLE_GRANTS", "job_tasks", "task_keys"]

JOB_START_TIME = "{{job.start_time.iso_datetime}}"
"""A Databricks dynamic value reference: the job run's start time, ISO 8601 (the catch-up's `--since`)."""
CATCHUP_MARGIN_SECONDS = 60
"""The catch-up gives up this long before the task's own timeout, so its message (what is pending) is
what the run shows rather than Databricks' kill."""


@dataclass(frozen=True)
class JobTask:
    key: str
    command: tuple[str, ...]
    """`medallion` arguments, e.g. ("task", "export", "--env", "prod"); empty for a pipeline_task."""
    depends_on: tuple[str, ...] = ()
    timeout_seconds: int | None = None
    pipeline_task: bool = False
    """On Databricks: a pipeline_task on the bundle's pipeline instead of a command."""


def task_keys(settings: ProjectSettings) -> tuple[str, ...]:
    """The keys of the tasks every environment's job has (table_grants only on Databricks with grants)."""
    return tuple(dict.fromkeys([*(t.key for t in settings.tasks if t.key != TABLE_GRANTS), PIPELINE, QUALITY_CHECKS]))


def job_tasks(settings: ProjectSettings, env: "Environment", *,
              grant_principals: tuple[str, ...] = ()) -> list[JobTask]:
    """The job's tasks for `env`, in an order they can run in, with the environment's timeouts.

    `settings` is the project's declaration (validated: known keys, no cycle). `grant_principals`:
    `name=value` pairs for the table_grants task (Databricks only; none locally).
    """
    timeouts = env.timeouts
    env_args = ("--env", env.name)
    keys = list(task_keys(settings))
    if grant_principals and env.runtime != "local":
        keys.append(TABLE_GRANTS)
    present = set(keys)

    def depends_on(key: str) -> tuple[str, ...]:
        """Upstream tasks this environment's job has (table_grants exists only on Databricks with grants)."""
        return tuple(d for d in settings.depends_on(key) if d in present and d != key)

    tasks: dict[str, JobTask] = {}
    for key in keys:
        if key == PIPELINE:
            tasks[key] = _pipeline(env, depends_on(key))
        elif key == QUALITY_CHECKS:
            tasks[key] = JobTask(QUALITY_CHECKS, ("check", *env_args, "--since", JOB_START_TIME), depends_on(key),
                                 timeouts.checks_seconds)
        elif key == TABLE_GRANTS:
            tasks[key] = JobTask(TABLE_GRANTS, ("bundle", "grants", *env_args, "--apply",
                                                *[arg for value in grant_principals for arg in ("--principal", value)]),
                                 depends_on(key), timeouts.checks_seconds)
        else:
            # the declared `args` are added by `medallion task` itself, so a manual run is the job's run
            declared = settings.task(key)
            assert declared is not None
            timeout = env.task_timeout(key)
            tasks[key] = JobTask(key, ("task", key, *env_args), depends_on(key),
                                 timeout if timeout is not None else declared.timeout_seconds)
    return _in_order(tasks)


def _pipeline(env: "Environment", depends_on: tuple[str, ...]) -> JobTask:
    timeouts = env.timeouts
    env_args = ("--env", env.name)
    if env.runtime == "local":
        return JobTask(PIPELINE, ("run", *env_args), depends_on, timeouts.pipeline_seconds)
    if env.continuous:
        return JobTask(PIPELINE, ("trigger", *env_args, "--wait-for-catchup", "--since", JOB_START_TIME,
                                  *_catchup_timeout(timeouts.pipeline_seconds)), depends_on, timeouts.pipeline_seconds)
    return JobTask(PIPELINE, (), depends_on, timeouts.pipeline_seconds, pipeline_task=True)


def _in_order(tasks: dict[str, JobTask]) -> list[JobTask]:
    """Every task after the tasks it depends on, otherwise in declaration order (a stable topological sort;
    validation has rejected cycles, and a task left in one would be appended rather than lost)."""
    done: list[JobTask] = []
    placed: set[str] = set()
    pending = list(tasks.values())
    while pending:
        ready = next((t for t in pending if all(d in placed for d in t.depends_on)), pending[0])
        pending.remove(ready)
        done.append(ready)
        placed.add(ready.key)
    return done


def _catchup_timeout(task_seconds: int | None) -> tuple[str, ...]:
    if not task_seconds or task_seconds <= 2 * CATCHUP_MARGIN_SECONDS:
        return ()
    return ("--wait-timeout", str(task_seconds - CATCHUP_MARGIN_SECONDS))
