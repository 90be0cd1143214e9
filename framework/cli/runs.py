"""`medallion runs`: what ran in a local environment, newest first — job runs and pipeline updates."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from framework.cli.common import console, env_option, err_console, format_option, load_valid_project, project_option

STATUS_STYLE = {"SUCCESS": "green", "COMPLETED": "green", "FAILED": "red", "TIMEDOUT": "red", "SKIPPED": "yellow",
                "CANCELED": "yellow", "RUNNING": "cyan"}


@click.command()
@env_option()
@project_option()
@click.option("--limit", default=10, show_default=True, help="How many entries (job runs and updates) to show.")
@format_option()
def runs(env_name: str, project_dir: Path | None, limit: int, output_format: str) -> None:
    """List recent job runs and pipeline updates (`medallion run`), newest first.

    Per entry: its kind (job or run), start, duration, status and what it processed (a job's tasks; an
    update's tables and rows written, and the job run that started it). Read from the job history and
    the event log, without starting Spark. A run that was killed or crashed (its process is gone and it
    never recorded an end) is listed as FAILED, saying so.
    """
    from framework.engine.storage import Storage, storage_in_use
    from framework.jobs.activity import JOB, recent_runs
    from framework.jobs.runner import history_for

    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    activity = recent_runs(env, history_for(env), limit, storage_in_use=storage_in_use(Storage.of(env)))
    for note in activity.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", soft_wrap=True)
    if output_format == "json":
        click.echo(json.dumps([e.to_dict() for e in activity.entries], indent=2, default=str))
        return
    table = Table(title=f"Runs · env {env_name}", title_justify="left")
    for header in ("kind", "id", "started (UTC)", "duration", "status", "processed", "error"):
        table.add_column(header, overflow="fold")
    for entry in activity.entries:
        style = STATUS_STYLE.get(entry.status, "white")
        ident = entry.id if entry.kind == JOB else entry.id[:8]
        processed = entry.processed + (f" (job {entry.job_run_id})" if entry.job_run_id else "")
        seconds = entry.seconds
        table.add_row(entry.kind, ident, entry.started.strftime("%Y-%m-%d %H:%M:%S"),
                      f"{seconds:.1f}s" if seconds is not None else "", f"[{style}]{entry.status}[/]",
                      escape(processed), escape(entry.error or ""))
    console.print(table)
    if not activity.entries:
        console.print(f"[dim]nothing ran in env {env_name} yet: `medallion run --env {env_name}` or "
                      f"`medallion job --env {env_name}`[/]")
