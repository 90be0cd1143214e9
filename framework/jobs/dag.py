"""The daily job, defined once: collect -> pipeline -> quality_checks (-> table_grants).

`medallion job` runs these tasks locally as processes (framework/jobs/runner.py); `medallion bundle
render` renders the same list as the Databricks job's tasks (framework/deploy/context.py). Each task is
a `medallion` command, except the pipeline step of a triggered Databricks pipeline, which is a
`pipeline_task` (Databricks runs the update itself). A continuous pipeline cannot be a job's
pipeline_task, so there the step is a command that follows the running pipeline until it has processed
what this run's collect landed (`medallion trigger --wait-for-catchup`, framework/deploy/catchup.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from framework.spec.environment import Environment

COLLECT, PIPELINE, QUALITY_CHECKS, TABLE_GRANTS = "collect", "pipeline", "quality_checks", "table_grants"
TASK_KEYS = (COLLECT, PIPELINE, QUALITY_CHECKS)
"""The tasks every environment's job has (table_grants only on Databricks, when specs declare grants)."""
JOB_START_TIME = "{{job.start_time.iso_datetime}}"
"""A Databricks dynamic value reference: the job run's start time, ISO 8601 (the catch-up's `--since`)."""
CATCHUP_MARGIN_SECONDS = 60
"""The catch-up gives up this long before the task's own timeout, so its message (what is pending) is
what the run shows rather than Databricks' kill."""


@dataclass(frozen=True)
class JobTask:
    key: str
    command: tuple[str, ...]
    """`medallion` arguments, e.g. ("collect", "--env", "prod"); empty for a pipeline_task."""
    depends_on: tuple[str, ...] = ()
    timeout_seconds: int | None = None
    pipeline_task: bool = False
    """On Databricks: a pipeline_task on the bundle's pipeline instead of a command."""


def job_tasks(env: "Environment", *, grant_principals: tuple[str, ...] = ()) -> list[JobTask]:
    """The job's tasks for `env`, in the order they run, with the environment's timeouts.

    `grant_principals`: `name=value` pairs for the table_grants task (Databricks only; none locally).
    """
    timeouts = env.timeouts
    env_args = ("--env", env.name)
    if env.runtime == "local":
        pipeline = JobTask(PIPELINE, ("run", *env_args), (COLLECT,), timeouts.pipeline_seconds)
    elif env.continuous:
        pipeline = JobTask(PIPELINE, ("trigger", *env_args, "--wait-for-catchup", "--since", JOB_START_TIME,
                                      *_catchup_timeout(timeouts.pipeline_seconds)), (COLLECT,), timeouts.pipeline_seconds)
    else:
        pipeline = JobTask(PIPELINE, (), (COLLECT,), timeouts.pipeline_seconds, pipeline_task=True)
    tasks = [JobTask(COLLECT, ("collect", *env_args), (), timeouts.collect_seconds),
             pipeline,
             JobTask(QUALITY_CHECKS, ("check", *env_args, "--since", JOB_START_TIME), (PIPELINE,), timeouts.checks_seconds)]
    if grant_principals and env.runtime != "local":
        tasks.append(JobTask(TABLE_GRANTS, ("bundle", "grants", *env_args, "--apply",
                                            *[arg for value in grant_principals for arg in ("--principal", value)]),
                             (PIPELINE,), timeouts.checks_seconds))
    return tasks


def _catchup_timeout(task_seconds: int | None) -> tuple[str, ...]:
    if not task_seconds or task_seconds <= 2 * CATCHUP_MARGIN_SECONDS:
        return ()
    return ("--wait-timeout", str(task_seconds - CATCHUP_MARGIN_SECONDS))
