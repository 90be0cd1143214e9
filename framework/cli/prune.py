"""`medallion prune`: drop the tables whose spec is gone (a dry run unless --apply)."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from framework.cli.common import EXIT_USAGE, console, env_option, fail, format_option, load_valid_project, \
    project_option


@click.command()
@env_option()
@click.option("--apply", is_flag=True,
              help="Drop them. Locally under the storage lock (never while `medallion run` writes); on Databricks "
                   "only on a cluster, as the job's tasks run.")
@format_option()
@project_option()
def prune(env_name: str, apply: bool, output_format: str, project_dir: Path | None) -> None:
    """Drop the tables of deleted (or renamed) specs: without --apply, only list what would be dropped.

    Local environment: every table folder of the storage folder that no spec declares, with its flow's
    checkpoint and its quarantine table. Databricks environment: the pipeline's streaming tables and
    materialized views in the environment's schemas that no spec declares (listed through the workspace
    API), as DROP statements to review.
    """
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    if env.runtime == "local":
        _prune_local(project, env, apply, output_format)
    else:
        _prune_catalog(project, env, apply, output_format)


def _prune_local(project, env, apply: bool, output_format: str) -> None:  # type: ignore[no-untyped-def]
    from framework.engine.orphans import find_orphans, local_storage_exists, prune

    orphans = find_orphans(project, env) if local_storage_exists(env) else []
    deleted = prune(env, orphans) if apply and orphans else []
    if output_format == "json":
        click.echo(json.dumps({"env": env.name, "applied": apply, "orphans": [o.to_dict() for o in orphans],
                               "deleted": [str(p) for p in deleted]}, indent=2))
        return
    if not orphans:
        console.print(f"nothing to prune: every table under {escape(str(env.storage_root))} has a spec")
        return
    verb = "dropped" if apply else "would drop"
    for orphan in orphans:
        console.print(f"{verb} {escape(orphan.describe())}", soft_wrap=True, highlight=False)
    if apply:
        console.print(f"[green]pruned {len(orphans)} table(s): {len(deleted)} folder(s) deleted[/]")
    else:
        console.print(f"[yellow]dry run: nothing dropped[/]; `medallion prune --env {env.name} --apply` drops "
                      f"{'it' if len(orphans) == 1 else 'them'}")


def _prune_catalog(project, env, apply: bool, output_format: str) -> None:  # type: ignore[no-untyped-def]
    from framework.deploy.orphans import catalog_orphans, drop_on_cluster
    from framework.deploy.workspace import DEFAULT_TIMEOUT, on_databricks, one_line_errors, workspace_client

    if apply and not on_databricks():
        fail("--apply drops Unity Catalog tables only on a Databricks cluster; here, review the statements "
             f"(`medallion prune --env {env.name}`) and run them in a SQL editor", EXIT_USAGE)
    client, host = workspace_client(env, DEFAULT_TIMEOUT)
    with one_line_errors(host, DEFAULT_TIMEOUT):
        orphans = catalog_orphans(client, project, env)
    statements = [o.statement for o in orphans]
    if output_format == "json":
        click.echo(json.dumps({"env": env.name, "applied": apply, "orphans": [
            {"table": o.full_name, "table_type": o.table_type, "statement": o.statement} for o in orphans]}, indent=2))
    else:
        for statement in statements:
            click.echo(statement + ";")
        if not statements:
            console.print(f"[dim]nothing to prune: every pipeline table in {env.catalog} has a spec[/]")
    if apply and statements:
        drop_on_cluster(statements)
        console.print(f"dropped {len(statements)} table(s)")
