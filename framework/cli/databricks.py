"""`medallion deploy`, `status` and `trigger`: the Databricks workspace side, through databricks-sdk.

Every failure (no credentials, wrong token, unreachable host, missing pipeline) ends in one line on
stderr and exit code 1; usage errors exit 2.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, NoReturn, Sequence

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from framework.cli.common import EXIT_INVALID, EXIT_USAGE, env_option, load_valid_project, project_option
from framework.project import Project
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

    from framework.deploy.catchup import WorkspaceSources

# Lines are never wrapped by us: terminals wrap them, pipes and CI logs keep each message on one line.
console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)

timeout_option = click.option("--timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
                              metavar="SECONDS", help="Bound on each API call, retries included.")


def fail(message: str, code: int = EXIT_INVALID) -> NoReturn:
    """One line on stderr."""
    err_console.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(code)


def databricks_environment(project_dir: Path | None, env_name: str) -> tuple[Project, Environment]:
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    if env.runtime != "databricks":
        known = ", ".join(n for n, e in sorted(project.environments.items()) if e.runtime == "databricks")
        fail(f"environment `{env_name}` runs locally (runtime: {env.runtime}); Databricks environments: "
             f"{known or 'none'}", EXIT_USAGE)
    return project, env


@click.command()
@env_option(default="dev")
@click.option("--dry-run", is_flag=True, help="Check everything and print the command; deploy nothing.")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE",
              help="A bundle variable, e.g. --var analysts_group=data-analysts (else BUNDLE_VAR_<name>).")
@click.option("--skip-prerequisites", is_flag=True,
              help="Do not check the Unity Catalog prerequisites through the API (catalog, USE CATALOG, "
                   "CREATE SCHEMA, the run-as principal) before deploying.")
@timeout_option
@project_option()
def deploy(env_name: str, dry_run: bool, variables: tuple[str, ...], skip_prerequisites: bool, timeout: float,
           project_dir: Path | None) -> None:
    """Deploy the bundle target of an environment: `databricks bundle deploy -t <env>`.

    Checks the bundle first (drift, schema, rules), then the Unity Catalog prerequisites the bundle
    cannot create itself (docs/databricks.md), printing one line per missing thing with the GRANT that
    fixes it. The host comes from the environment's `databricks.host_env` variable
    (DATABRICKS_HOST_PROD for prod); credentials from the SDK's and the CLI's usual sources. Needs the
    Databricks CLI; without it, prints how to install it.
    """
    from framework.deploy.check import check_bundle
    from framework.deploy.cli_runner import find_cli, plan_deploy, run_deploy

    project, env = databricks_environment(project_dir, env_name)
    values = dict(_pair(v, "--var") for v in variables)
    errors = [f for f in check_bundle(project) if f.severity == "error"]
    for finding in errors:
        err_console.print(finding.render(), markup=False)
    if errors:
        fail(f"the bundle has {len(errors)} error(s); fix them (after changing environments/, run "
             "`medallion bundle render`) before deploying")
    plan = plan_deploy(env, values)
    if skip_prerequisites:
        err_console.print("[yellow]note:[/] Unity Catalog prerequisites not checked (--skip-prerequisites)")
    else:
        _check_prerequisites(project, env, values, timeout)
    console.print(f"$ {escape(plan.display())}")
    cli_path, problem = find_cli()
    if dry_run:
        if problem:
            console.print(f"[yellow]note:[/] {escape(problem)}")
        console.print("dry run: nothing deployed")
        return
    if problem or cli_path is None:
        fail(problem, EXIT_USAGE)
    sys.exit(run_deploy(plan, cli_path, project.root))


@click.command()
@env_option(default="dev")
@timeout_option
@project_option()
def status(env_name: str, timeout: float, project_dir: Path | None) -> None:
    """Pipeline state, its latest update, and the last expectation metrics from the event log.

    Metrics need a SQL warehouse: set the variable named by `databricks.warehouse_id_env`
    (DATABRICKS_WAREHOUSE_ID) to its id.
    """
    from framework.deploy.operations import expectation_metrics, pipeline_status
    from framework.deploy.workspace import one_line_errors, workspace_client
    from framework.errors import WorkspaceError

    project, env = databricks_environment(project_dir, env_name)
    w, host = workspace_client(env, timeout)
    with one_line_errors(host, timeout):
        st = pipeline_status(w, env, project.name)
    mode = "continuous" if st.continuous else "triggered"
    console.print(f"pipeline [bold]{escape(st.name)}[/] ({st.pipeline_id}, {mode}): "
                  f"state {st.state}, health {st.health}")
    if st.latest_update:
        u = st.latest_update
        when = _time(u.created_ms)
        console.print(f"latest update {u.update_id}: [bold]{u.state}[/]"
                      f" (cause {u.cause or '-'}{', started ' + when if when else ''}"
                      f"{', full refresh' if u.full_refresh else ''})")
    else:
        console.print("latest update: none yet")
    try:
        with one_line_errors(host, timeout):
            metrics, note = expectation_metrics(w, env)
    except WorkspaceError as exc:
        fail(f"expectation metrics unavailable: {exc}")
    console.print(f"expectations: {escape(note)}")
    if metrics:
        table = Table()
        for column in ("dataset", "expectation", "passed", "failed", "pass rate"):
            table.add_column(column, justify="right" if column in ("passed", "failed", "pass rate") else "left")
        for dataset, counts in metrics.items():
            for e in counts.expectations.values():
                table.add_row(escape(dataset), escape(e.name), f"{e.passed:,}", f"{e.failed:,}", f"{e.pass_rate:.2%}")
        console.print(table)


@click.command()
@env_option(default="dev")
@click.option("--full-refresh", is_flag=True, help="Reset the tables and reprocess everything.")
@click.option("--job", "run_the_job", is_flag=True, help="Run the whole job (medallion.yaml's tasks, pipeline, checks) now.")
@click.option("--wait", is_flag=True, help="Wait for the update (or run) to finish; a continuous pipeline until "
              "it runs. Exit code 1 if it fails.")
@click.option("--wait-for-catchup", "catchup", is_flag=True,
              help="Implies --wait, then waits until the pipeline has ingested every landing file modified since --since "
              "and every downstream flow has processed it (docs/databricks.md). Exit code 1, naming what is "
              "pending, if the update fails or stops, nothing moves for --stall-timeout, or --wait-timeout passes.")
@click.option("--since", metavar="TIME", help="ISO 8601 time for --wait-for-catchup: the landing files to wait for "
              "(the job passes its start time, {{job.start_time.iso_datetime}}).")
@click.option("--stall-timeout", type=click.FloatRange(min=0.1), default=900.0, show_default=True,
              metavar="SECONDS", help="--wait-for-catchup fails after this long without progress.")
@click.option("--wait-timeout", type=click.FloatRange(min=1), default=3600.0, show_default=True, metavar="SECONDS")
@click.option("--poll-interval", type=click.FloatRange(min=0.01), default=10.0, hidden=True)
@timeout_option
@project_option()
def trigger(env_name: str, full_refresh: bool, run_the_job: bool, wait: bool, catchup: bool, since: str | None,
            stall_timeout: float, wait_timeout: float, poll_interval: float, timeout: float,
            project_dir: Path | None) -> None:
    """Start a pipeline update now, or (--job) run the environment's job.

    With --wait-for-catchup (the job's pipeline step for a continuous pipeline), also wait until
    what landed since --since has gone through bronze and every table downstream of it.
    """
    from framework.deploy.operations import run_job, trigger_pipeline
    from framework.deploy.workspace import one_line_errors, workspace_client

    since_time = _catchup_since(catchup, since, run_the_job)
    project, env = databricks_environment(project_dir, env_name)
    w, host = workspace_client(env, timeout)
    catchup_sql = _catchup_sql(env, w) if since_time else None  # before starting anything: fail fast
    started = time.monotonic()
    with one_line_errors(host, timeout):
        if run_the_job:
            result = run_job(w, env, full_refresh, wait, wait_timeout, poll_interval, project.name)
        else:
            result = trigger_pipeline(w, env, full_refresh, wait or catchup, wait_timeout, poll_interval, project.name)
    what = "run" if result.kind == "job" else "update"
    verb = "started" if result.started else result.note or "found"
    console.print(f"{verb} {what} {result.run_id} of {result.kind} [bold]{escape(result.name)}[/] "
                  f"({result.object_id}){' with a full refresh' if full_refresh and result.started else ''}: "
                  f"{result.state}")
    if result.url:
        console.print(result.url)
    if not result.ok:
        sys.exit(EXIT_INVALID)
    if since_time is not None and catchup_sql is not None:
        from framework.deploy.catchup import WorkspaceSources

        _wait_for_catchup(project, env, WorkspaceSources(w, result.object_id, catchup_sql), host, result.name,
                          since_time, timeout, wait_timeout - (time.monotonic() - started), stall_timeout,
                          poll_interval)


def _catchup_since(catchup: bool, since: str | None, run_the_job: bool) -> dt.datetime | None:
    """--since parsed (usage errors for a missing or unreadable one), or None without --wait-for-catchup."""
    from framework.deploy.catchup import parse_since

    if not catchup:
        return None
    if run_the_job:
        fail("--wait-for-catchup follows the pipeline, not --job", EXIT_USAGE)
    if not since:
        fail("--wait-for-catchup needs --since TIME: the landing files to wait for are those modified since then "
             "(the job passes {{job.start_time.iso_datetime}})", EXIT_USAGE)
    try:
        return parse_since(since)
    except ValueError as exc:
        fail(f"--since: {exc}", EXIT_USAGE)


def _wait_for_catchup(project: Project, env: Environment, sources: "WorkspaceSources", host: str, name: str,
                      since: dt.datetime, timeout: float, remaining: float, stall: float, poll: float) -> None:
    """Follow the running pipeline until this run's landing files went all the way through (or fail)."""
    from framework.deploy.catchup import SystemClock, plan_catchup, wait_for_catchup
    from framework.deploy.workspace import one_line_errors

    with one_line_errors(host, timeout):
        plan = plan_catchup(project, env, sources, since)
        wait_for_catchup(plan, sources, clock=SystemClock(), timeout_s=max(remaining, 1.0), stall_s=stall,
                         poll_s=poll, report=lambda line: console.print(escape(line)), pipeline=f"`{name}`")


def _catchup_sql(env: Environment, w: "WorkspaceClient") -> Callable[[str], Sequence[Sequence[Any]]]:
    """Where the catch-up's SQL runs: the cluster's own session in a job task, else a SQL warehouse."""
    from framework.checks.session import cluster_session, on_databricks_cluster
    from framework.deploy.catchup import spark_sql, warehouse_sql

    if on_databricks_cluster():
        return spark_sql(cluster_session(env, "trigger"))
    warehouse = os.environ.get(env.databricks.warehouse_id_env)
    if not warehouse:
        fail("--wait-for-catchup reads the bronze tables and the pipeline's event log: run it on a Databricks "
             f"cluster (the job's pipeline task does) or set {env.databricks.warehouse_id_env} to a SQL warehouse id")
    return warehouse_sql(w, warehouse)


def _check_prerequisites(project: Project, env: Environment, values: dict[str, str], timeout: float) -> None:
    """Stop with one line per missing prerequisite (and its fix) before anything is deployed."""
    from framework.deploy.prerequisites import check_prerequisites, granted_principals, secret_uses
    from framework.deploy.workspace import one_line_errors, workspace_client

    w, host = workspace_client(env, timeout)
    with one_line_errors(host, timeout):
        report = check_prerequisites(w, env, values, granted_principals(project, env), secret_uses(project, env))
    for line in report.unverified:
        console.print(f"[yellow]unverified:[/] {escape(line)}")
    for missing in report.missing:
        err_console.print(f"[bold red]missing:[/] {escape(missing.render())}")
    if not report.ok:
        fail(f"{len(report.missing)} deploy prerequisite(s) missing in catalog `{env.catalog}` at {host}; "
             "fix them and deploy again (or --skip-prerequisites)")
    unverified = f" ({len(report.unverified)} check(s) unverified, above)" if report.unverified else ""
    console.print(f"prerequisites: catalog `{env.catalog}` at {escape(host)} is ready for this deploy{unverified}")


def _pair(item: str, option: str) -> tuple[str, str]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        fail(f"{option} takes NAME=VALUE, got {item!r}", EXIT_USAGE)
    return name, value


def _time(ms: int | None) -> str:
    if not ms:
        return ""
    return dt.datetime.fromtimestamp(ms / 1000, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
