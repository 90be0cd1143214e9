"""`medallion list`: the tables in dependency order, with layer, kind and upstreams."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from framework.cli.common import console, format_option, load_valid_project, project_option


@click.command("list")
@format_option()
@click.option("--json", "as_json", is_flag=True, hidden=True, help="Deprecated: --format json.")
@project_option()
def list_tables(output_format: str, as_json: bool, project_dir: Path | None) -> None:
    """List tables in dependency order (the order the pipeline runs them)."""
    project = load_valid_project(project_dir, None)
    graph = project.graph()
    rows = [(name, project.tables[name]) for name in graph.order()]
    if as_json or output_format == "json":
        click.echo(json.dumps([{"name": n, "layer": t.layer, "kind": t.kind, "upstreams": list(t.upstreams),
                                "file": t.file} for n, t in rows], indent=2))
        return
    table = Table(title="Medallion pipeline", title_justify="left")
    for header in ("#", "table", "layer", "kind", "reads", "expectations", "file"):
        table.add_column(header)
    for i, (name, spec) in enumerate(rows, 1):
        reads = ", ".join(spec.upstreams) or ("files: " + spec.source.path if spec.reads_files else "")
        table.add_row(str(i), name, spec.layer, spec.kind, reads, str(len(spec.expectations)), spec.file)
    console.print(table)
