"""`medallion lineage TABLE.COLUMN`: the columns a column is computed from, and those computed from it."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.markup import escape

from framework.cli.common import EXIT_USAGE, console, fail, format_option, load_valid_project, project_option
from framework.lineage.columns import ColumnLineage, ColumnRef, Edge


@click.command("lineage")
@click.argument("column", metavar="TABLE.COLUMN")
@click.option("--upstream", "direction", flag_value="upstream", help="Only the columns it is computed from.")
@click.option("--downstream", "direction", flag_value="downstream", help="Only the columns computed from it.")
@click.option("--depth", type=click.IntRange(min=1), default=None, help="Follow at most N steps (default: all).")
@format_option()
@project_option()
def lineage(column: str, direction: str | None, depth: int | None, output_format: str,
            project_dir: Path | None) -> None:
    """Column lineage across the whole pipeline: what TABLE.COLUMN is computed from and what reads it.

    SQL is traced over sqlglot's scopes through CTEs, subqueries, joins, aggregates, window functions and
    `*`; a quarantine table's columns come from its table's sources; a Python transform is opaque unless
    its spec declares `transform.lineage`. Each step names the expression (`via`) that computes it.
    """
    project = load_valid_project(project_dir, None)
    try:
        ref = ColumnRef.parse(column)
    except ValueError as exc:
        fail(str(exc), EXIT_USAGE)
    graph = ColumnLineage(project)
    if not graph.has_table(ref.table):
        fail(f"unknown table `{ref.table}`", EXIT_USAGE)
    columns = {c.lower(): c for c in graph.columns(ref.table)}
    if ref.column.lower() not in columns:
        fail(f"`{ref.table}` has no column `{ref.column}` (its columns: {', '.join(columns.values())})", EXIT_USAGE)
    ref = ColumnRef(ref.table, columns[ref.column.lower()])
    upstream = graph.upstream(ref, depth) if direction != "downstream" else []
    downstream = graph.downstream(ref, depth) if direction != "upstream" else []
    tables = {ref.table} | {e.source.table for _, e in upstream} | {e.target.table for _, e in downstream}
    notes = {t: graph.table(t).opaque or graph.table(t).origin for t in sorted(tables)
             if graph.table(t).opaque or graph.table(t).origin}
    if output_format == "json":
        click.echo(json.dumps({
            "table": ref.table, "column": ref.column,
            "upstream": [_entry(level, edge, edge.source, edge.target) for level, edge in upstream],
            "downstream": [_entry(level, edge, edge.target, edge.source) for level, edge in downstream],
            "notes": notes}, indent=2))
        return
    console.print(f"[bold]{ref}[/]", highlight=False)
    for title, rows, pick in (("computed from", upstream, lambda e: (e.source, e.target)),
                              ("read by", downstream, lambda e: (e.target, e.source))):
        if direction and title != ("computed from" if direction == "upstream" else "read by"):
            continue
        console.print(f"  {title}:" + ("" if rows else " nothing"), highlight=False)
        for level, edge in rows:
            other, this = pick(edge)
            console.print(f"    {'  ' * (level - 1)}{escape(str(other))}  [dim]via {escape(edge.via)}"
                          f"{'' if this == ref else f' (into {this})' if title == 'computed from' else f' (from {this})'}"
                          "[/]", highlight=False, markup=True, soft_wrap=True)
    for table, note in notes.items():
        console.print(f"  note: `{table}` {'is fed by' if note.startswith('landing') else 'is opaque:'} {note}",
                      highlight=False, markup=False, soft_wrap=True)


def _entry(level: int, edge: Edge, other: ColumnRef, this: ColumnRef) -> dict:
    return {"table": other.table, "column": other.column, "via": edge.via, "depth": level, "of": str(this)}
