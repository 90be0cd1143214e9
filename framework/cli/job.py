"""`medallion job` (the project's job, locally) and `medallion runs` (its history)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click
from rich.markup import escape

from framework.cli.common import (EXIT_USAGE, console, env_option, fail, load_valid_project, project_option,
                                  requires_local_engine)
from framework.jobs.dag import PIPELINE, task_keys
from framework.jobs.runner import TaskOutcome, TaskStatus, local_tasks, run_job
from framework.naming import TableRef

STATUS_STYLE = {TaskStatus.SUCCESS: "green", TaskStatus.FAILED: "red", TaskStatus.TIMEDOUT: "red",
                TaskStatus.SKIPPED: "yellow", TaskStatus.RUNNING: "cyan"}


@click.command()
@env_option()
@project_option()
@click.option("--skip", "skip", multiple=True, metavar="TASK",
              help="Leave a task out (repeatable); downstream tasks still run.")
@click.option("--task-args", "task_args", multiple=True, metavar="TASK=ARGS",
              help="Extra arguments for one task, e.g. `export=--limit 5` (repeatable).")
@click.option("--run-args", default="", metavar="ARGS", help="Extra arguments for `medallion run` (the pipeline task).")
@requires_local_engine
def job(env_name: str, project_dir: Path | None, skip: tuple[str, ...], task_args: tuple[str, ...],
        run_args: str) -> None:
    """Run the whole job locally, in the order the Databricks job runs it.

    The project's tasks (medallion.yaml `job.tasks`, each `medallion task KEY`), pipeline (medallion run)
    and quality_checks (medallion check), in dependency order. Every job and task run is recorded (see
    `medallion runs`); a failed task skips its downstream tasks and sends the environment's
    notifications. Exit code 1 when any task failed.
    """
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    known = task_keys(project.settings)
    extra: dict[str, tuple[str, ...]] = {PIPELINE: tuple(run_args.split())}
    for item in task_args:
        key, sep, args = item.partition("=")
        if not sep or key not in known:
            fail(f"--task-args `{item}`: expected TASK=ARGS with TASK one of {', '.join(known)}", EXIT_USAGE)
        extra[key] = (*extra.get(key, ()), *args.split())
    unknown = [s for s in skip if s not in known]
    if unknown:
        fail(f"--skip `{unknown[0]}`: not a task of this job (tasks: {', '.join(known)})", EXIT_USAGE)
    tasks = [t for t in local_tasks(project.settings, env, extra) if t.name not in skip]
    tasks = [replace(t, depends_on=tuple(d for d in t.depends_on if d not in skip)) for t in tasks]

    def announce(outcome: TaskOutcome) -> None:
        style = STATUS_STYLE.get(outcome.status, "white")
        extra = f" — {escape(outcome.error)}" if outcome.error else ""  # an error text is not markup: `[local]` stays
        console.print(f"[bold]task {outcome.task}[/]: [{style}]{outcome.status}[/] "
                      f"({outcome.seconds:.1f}s, {outcome.attempts} attempt(s)){extra}")

    console.rule(f"[bold]medallion job[/] · env {env.name} · tasks {' -> '.join(t.name for t in tasks)}")
    result = run_job(env, tasks, job_name=project.name, on_task=announce)
    for delivery in result.deliveries:
        console.print(f"notification via {delivery.channel}: {'sent' if delivery.ok else 'FAILED'} ({delivery.detail})")
    style = STATUS_STYLE[result.status]
    console.rule(f"job run {result.run_id}: [{style}]{result.status}[/]")
    if result.ok and PIPELINE not in skip:
        _print_where(project, env)
    sys.exit(0 if result.ok else 1)


def _print_where(project, env) -> None:
    console.print(f"Tables are Delta tables under [bold]{project.relative(env.storage_root / 'tables')}[/]:")
    order = project.graph().order()
    for name in order:
        console.print(f"  {TableRef.of(project.tables[name], env).published}")
    if order:
        example = TableRef.of(project.tables[order[-1]], env).published
        console.print(f'Query them:  [bold]medallion sql "SELECT * FROM {example} LIMIT 5"[/]')
    console.print(f"History:     [bold]medallion runs --env {env.name}[/]   ·   docs: [bold]medallion docs[/]")
