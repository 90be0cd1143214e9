"""`medallion job`: collect -> pipeline -> checks, locally (its history: `medallion runs`)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from framework.cli.common import console, env_option, load_valid_project, project_option
from framework.jobs.dag import COLLECT, PIPELINE, TASK_KEYS
from framework.jobs.runner import TaskOutcome, TaskStatus, local_tasks, run_job
from framework.naming import TableRef

STATUS_STYLE = {TaskStatus.SUCCESS: "green", TaskStatus.FAILED: "red", TaskStatus.TIMEDOUT: "red",
                TaskStatus.SKIPPED: "yellow", TaskStatus.RUNNING: "cyan"}


@click.command()
@env_option()
@project_option()
@click.option("--skip", "skip", multiple=True, type=click.Choice(list(TASK_KEYS)),
              help="Leave a task out (repeatable); downstream tasks still run.")
@click.option("--collect-args", default="", metavar="ARGS", help="Extra arguments for `medallion collect`.")
@click.option("--run-args", default="", metavar="ARGS", help="Extra arguments for `medallion run`.")
def job(env_name: str, project_dir: Path | None, skip: tuple[str, ...], collect_args: str, run_args: str) -> None:
    """Run the whole job locally, in the order the Databricks job runs it.

    collect (data collection) -> pipeline (medallion run) -> quality_checks (medallion check). Every
    job and task run is recorded (see `medallion runs`); a failed task skips its downstream tasks and
    sends the environment's notifications. Exit code 1 when any task failed.
    """
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    extra = {COLLECT: tuple(collect_args.split()), PIPELINE: tuple(run_args.split())}
    tasks = [t for t in local_tasks(env, extra) if t.name not in skip]
    tasks = [replace(t, depends_on=tuple(d for d in t.depends_on if d not in skip)) for t in tasks]

    def announce(outcome: TaskOutcome) -> None:
        style = STATUS_STYLE.get(outcome.status, "white")
        extra = f" — {outcome.error}" if outcome.error else ""
        console.print(f"[bold]task {outcome.task}[/]: [{style}]{outcome.status}[/] "
                      f"({outcome.seconds:.1f}s, {outcome.attempts} attempt(s)){extra}")

    console.rule(f"[bold]medallion job[/] · env {env.name} · tasks {' -> '.join(t.name for t in tasks)}")
    result = run_job(env, tasks, on_task=announce)
    for delivery in result.deliveries:
        console.print(f"notification via {delivery.channel}: {'sent' if delivery.ok else 'FAILED'} ({delivery.detail})")
    style = STATUS_STYLE[result.status]
    console.rule(f"job run {result.run_id}: [{style}]{result.status}[/]")
    if result.ok and PIPELINE not in skip:
        _print_where(project, env)
    sys.exit(0 if result.ok else 1)


def _print_where(project, env) -> None:
    console.print(f"Tables are Delta tables under [bold]{project.relative(env.storage_root / 'tables')}[/]:")
    for name in project.graph().order():
        console.print(f"  {TableRef.of(project.tables[name], env).published}")
    console.print('Query them:  [bold]medallion sql "SELECT * FROM gold.daily_indicators ORDER BY trade_date DESC LIMIT 5"[/]')
    console.print(f"History:     [bold]medallion runs --env {env.name}[/]   ·   docs: [bold]medallion docs[/]")
