"""`medallion check`: the quality-checks job (runs after the pipeline)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.table import Table

from framework.cli.common import EXIT_USAGE, console, env_option, fail, load_valid_project, project_option

STATUS_STYLE = {"PASS": "green", "WARN": "yellow", "FAIL": "bold red"}


@click.command()
@env_option()
@project_option()
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--only", multiple=True, metavar="KIND",
              help="Run only checks of this kind (repeatable): freshness, volume, unique, reconciliation, "
                   "expectations, or a project check kind (check_kinds: in medallion.yaml).")
@click.option("--since", metavar="TIME",
              help="Judge expectation pass rates (and de-duplication counts) on the event log from this ISO 8601 "
                   "time on, e.g. the job run's start (default: the newest update's events).")
@click.option("-v", "--verbose", is_flag=True, help="List every passing expectation too (default: a count).")
def check(env_name: str, project_dir: Path | None, output_format: str, only: tuple[str, ...], since: str | None,
          verbose: bool) -> None:
    """Check the tables and the event log against the checks the specs declare.

    Each spec's `checks:` declares freshness (max age of the newest value of a column), volume
    (minimum rows, largest drop since the previous update) and project check kinds (`custom`, from
    `check_kinds:` in medallion.yaml); unique keys, reconciliation of streamed tables and expectation
    pass rates are checked without a declaration. The environment's `checks:` gives defaults
    (severities, thresholds), a spec's `quality:` the pass rates. A table or event log that does not
    exist is a critical failure. Exit code 1 when any critical check fails (the job's quality_checks
    task fails).

    Reconciliation is by key, from the tables: the distinct keys of the upstream rows that pass the
    rules must be the table's keys, and the rows failing a quarantine rule must be in its quarantine
    table. For a de-duplicated table it also says how many rows were superseded, and, from the event
    log, how many keys were upserted and how many duplicates were discarded in the window. The event
    log is read only for the window: --since, else the newest update (a continuous update can span
    weeks: pass the job run's start).

    Locally the tables and the event log are read without a JVM; Spark starts only to reconcile a table
    whose upstream, table or quarantine table has a new Delta version since its reconciliation was last
    computed (the numbers are kept in the environment's storage folder: the job's quality_checks task
    computes them after each update). A Databricks environment (three-part Unity Catalog names, the
    pipeline's published event log) is checked on a Databricks cluster, in the cluster's own session,
    as the job's quality_checks task does.
    """
    from framework.eventlog import parse_since

    try:
        window_start = parse_since(since) if since is not None else None
    except ValueError as exc:
        fail(f"--since: {exc}", EXIT_USAGE)
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    from framework.findings import did_you_mean
    from framework.spec.checks import BUILTIN_KINDS

    known = [*BUILTIN_KINDS, *sorted(project.check_kinds)]
    for name in only:
        if name not in known:
            fail(f"--only: unknown check kind `{name}` "
                 f"({did_you_mean(name, known) or 'known: ' + ', '.join(known)})", EXIT_USAGE)
    from framework.checks.session import lazy_checks_session
    from framework.checks.suite import CheckContext, run_checks

    with lazy_checks_session(env) as session:
        report = run_checks(CheckContext(session, project, env, since=window_start), only or None)
    if output_format == "json":
        click.echo(report.to_json())
    else:
        _print_report(report, verbose)
    sys.exit(report.exit_code)


def _print_report(report, verbose: bool) -> None:
    """One row per finding; passing expectations are summarized unless --verbose (they are many)."""
    shown = [r for r in report.results if verbose or r.check != "expectations" or not r.passed]
    table = Table(title=f"Quality checks · env {report.env}", title_justify="left")
    for header in ("status", "check", "target", "observed", "threshold", "severity", "detail"):
        table.add_column(header, overflow="fold")
    for r in shown:
        table.add_row(f"[{STATUS_STYLE[r.status]}]{r.status}[/]", r.check, r.target, str(r.observed),
                      str(r.threshold), r.severity, r.detail)
    console.print(table)
    hidden = len(report.results) - len(shown)
    if hidden:
        console.print(f"{hidden} expectation(s) met their pass-rate thresholds (see --verbose or --format json)")
    failures = report.critical_failures
    console.print(f"[bold red]{len(failures)} critical check(s) failed[/]" if failures
                  else "[green]no critical findings[/]")
