"""`medallion history`, `medallion restore` and `medallion sql`: Delta time travel and queries, locally.

Restore is the documented rollback path: every write is a Delta version, so a bad load is undone with
`medallion restore silver.orders --version 12` (or `--timestamp "2026-11-27 17:30:00"`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from framework.cli.common import EXIT_USAGE, console, env_option, fail, format_option, load_valid_project, \
    project_option, requires_local_engine
from framework.errors import MedallionError, first_line
from framework.findings import did_you_mean
from framework.naming import LOCAL_EVENT_LOG, TableRef
from framework.spec.environment import Environment
from framework.spec.project import Project

HISTORY_METRICS = ("numOutputRows", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted",
                   "numRemovedFiles", "numAddedFiles", "numRestoredFiles")


def _local_project(project_dir: Path | None, env_name: str) -> tuple[Project, Environment]:
    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    if env.runtime != "local":
        fail(f"environment `{env_name}` is not local (runtime: {env.runtime})", EXIT_USAGE)
    return project, env


def _spark(env: Environment) -> Any:
    """The environment's SparkSession: started only once the arguments are known to be good."""
    from framework.engine.spark import build_session

    return build_session(env)


def project_tables(project: Project, env: Environment) -> dict[str, TableRef]:
    """Every table `medallion history/restore/sql` may name -> its TableRef: spec names, quarantine
    tables, the event log, each also under its published name (`silver.orders`)."""
    refs = {spec.name: TableRef.of(spec, env) for spec in project.tables.values() if spec.kind != "view"}
    known = dict(refs)
    for spec in project.tables.values():
        if spec.quarantine_table:
            known[spec.quarantine_table] = refs[spec.name].quarantine()
    known[LOCAL_EVENT_LOG] = TableRef.event_log(env)
    known.update({ref.published: ref for ref in list(known.values())})
    return known


def resolve_table(project: Project, env: Environment, name: str) -> TableRef:
    """`orders`, `silver.orders` or `orders_quarantine` -> the local table, or a clear error."""
    from framework.delta_log import is_delta_table

    known = project_tables(project, env)
    if name not in known:
        hint = did_you_mean(name, known)
        specs = sorted(s.name for s in project.tables.values() if s.kind != "view")
        fail(f"unknown table `{name}`" + (f"; {hint}" if hint else f" (tables: {', '.join(specs)})"), EXIT_USAGE)
    table = known[name]
    if not is_delta_table(table.path):
        fail(f"table {table.published} has not been created yet in environment `{env.name}`; run `medallion run` first")
    return table


@click.command()
@click.argument("table")
@click.option("--limit", default=20, show_default=True, help="Newest versions to show.")
@format_option()
@env_option()
@project_option()
@requires_local_engine
def history(table: str, limit: int, output_format: str, env_name: str, project_dir: Path | None) -> None:
    """Show the Delta versions of TABLE (spec name or schema.name): what wrote each and how many rows."""
    project, env = _local_project(project_dir, env_name)
    ref = resolve_table(project, env, table)  # before the JVM starts
    spark = _spark(env)
    versions = [_version(row) for row in spark.sql(f"DESCRIBE HISTORY {ref.quoted} LIMIT {int(limit)}").collect()]
    if output_format == "json":
        click.echo(json.dumps({"table": ref.published, "versions": versions}, indent=2, default=str))
        return
    out = Table(title=f"History of {ref.published}", title_justify="left")
    for header in ("version", "timestamp (UTC)", "operation", "metrics", "by"):
        out.add_column(header, justify="right" if header == "version" else "left")
    for v in versions:
        shown = ", ".join(f"{k}={v['metrics'][k]}" for k in HISTORY_METRICS if v["metrics"].get(k) not in (None, "0"))
        meta = v["by"]
        by = f"{meta.get('flow', '')} batch {meta.get('batch')}" if isinstance(meta, dict) else (meta or "")
        out.add_row(str(v["version"]), v["timestamp"][:19], v["operation"], shown, by)
    console.print(out)


def _version(row: Any) -> dict[str, Any]:
    """One DESCRIBE HISTORY row: version, timestamp, operation, its metrics, who wrote it."""
    by: Any = row["userMetadata"]
    try:
        by = json.loads(by) if by else None
    except ValueError:
        pass
    return {"version": row["version"], "timestamp": str(row["timestamp"]), "operation": row["operation"],
            "metrics": dict(row["operationMetrics"] or {}), "by": by}


@click.command()
@click.argument("table")
@click.option("--version", "version", type=int, default=None, help="Restore to this version.")
@click.option("--timestamp", "timestamp", default=None, metavar="TS",
              help='Restore to the version current at this time (e.g. "2026-11-27 17:30:00", UTC).')
@env_option()
@project_option()
@requires_local_engine
def restore(table: str, version: int | None, timestamp: str | None, env_name: str, project_dir: Path | None) -> None:
    """Roll TABLE back to an earlier Delta version (the restore itself is a new version, so it can be undone)."""
    from framework.engine.storage import Storage, storage_lock

    if (version is None) == (timestamp is None):
        fail("give exactly one of --version N or --timestamp TS", EXIT_USAGE)
    project, env = _local_project(project_dir, env_name)
    table_ref = resolve_table(project, env, table)  # before the JVM starts
    spark = _spark(env)
    name = table_ref.published
    target = f"VERSION AS OF {int(version)}" if version is not None else \
        "TIMESTAMP AS OF '" + timestamp.replace("'", "") + "'"  # type: ignore[union-attr]
    with storage_lock(Storage.of(env)):
        try:
            row = spark.sql(f"RESTORE TABLE {table_ref.quoted} TO {target}").first()
        except Exception as exc:  # noqa: BLE001 - Spark's message (version out of range, ...) is the useful part
            fail(f"restore failed: {first_line(exc)}")
    details = ", ".join(f"{k}={v}" for k, v in (row.asDict() if row else {}).items())
    console.print(f"[green]restored {name} to {target.lower()}[/] ({details})")
    streaming = [s.name for s in project.tables.values() if s.is_streaming and table_ref.name in s.upstreams]
    spec = project.tables.get(table_ref.name)
    if spec is not None and spec.is_streaming:
        console.print(Text(f"note: {name} remembers what it already ingested; to re-ingest what the restore "
                           f"removed, run `medallion run --full-refresh {spec.name}`", style="yellow"))
    if streaming:
        console.print(Text(f"note: streaming tables reading it ({', '.join(streaming)}) need "
                           f"`medallion run --full-refresh {','.join(streaming)}` after a restore", style="yellow"))


@click.command()
@click.argument("query")
@click.option("--write", is_flag=True,
              help="Allow statements that change tables (INSERT, UPDATE, DELETE, MERGE, CREATE, OPTIMIZE...).")
@click.option("--limit", default=100, show_default=True, help="Rows to show.")
@format_option(aliases={"table": "text"})
@env_option()
@project_option()
@requires_local_engine
def sql(query: str, write: bool, limit: int, output_format: str, env_name: str, project_dir: Path | None) -> None:
    """Run a Spark SQL QUERY against the environment's tables (bronze.orders_raw, silver.orders, ops.event_log...).

    Read-only unless --write: SELECT / WITH, SHOW, DESCRIBE and EXPLAIN. The syntax and the table names
    are checked before Spark starts (sqlglot, Spark dialect), with "did you mean" for unknown tables.
    """
    from framework.cli.sql_guard import check_query
    from framework.delta_log import is_delta_table
    from framework.engine.storage import Storage, storage_lock

    project, env = _local_project(project_dir, env_name)
    tables = {ref.published: ref for ref in project_tables(project, env).values()}
    checked = check_query(query, tables, [name for name, ref in tables.items() if is_delta_table(ref.path)],
                          write=write)
    spark = _spark(env)
    try:
        if checked.writes:
            with storage_lock(Storage.of(env)):  # not while a run writes the same tables
                df, rows = _execute(spark, query, limit)
        else:
            df, rows = _execute(spark, query, limit)
    except MedallionError:
        raise
    except Exception as exc:  # noqa: BLE001
        fail(f"query failed: {first_line(exc)}")
    shown, more = rows[:limit], len(rows) > limit
    if output_format == "json":
        click.echo(json.dumps([{k: _plain(v) for k, v in r.asDict().items()} for r in shown], indent=2, default=str))
        return
    out = Table(show_lines=False)
    for column in df.columns:
        out.add_column(column)
    for row in shown:
        out.add_row(*[_cell(v) for v in row])
    console.print(out)
    console.print(Text(f"{len(shown)} row(s)" + (f" (first {limit}; --limit to see more)" if more else ""), style="dim"))


def _execute(spark: Any, query: str, limit: int) -> tuple[Any, list]:
    df = spark.sql(query)
    return df, (df.limit(limit + 1).collect() if df.columns else df.collect())


def _plain(value: Any) -> Any:
    if hasattr(value, "toJson"):  # VariantVal
        return json.loads(value.toJson())
    if hasattr(value, "asDict"):
        return {k: _plain(v) for k, v in value.asDict().items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    plain = _plain(value)
    if isinstance(plain, (dict, list)):
        return json.dumps(plain, default=str)
    return str(plain)


__all__ = ["history", "restore", "sql", "resolve_table"]
