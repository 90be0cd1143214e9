"""`medallion diff --against REF`: what the spec changes since a git revision change, rebuild and break."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import click
from rich.markup import escape

from framework.cli.common import EXIT_INVALID, EXIT_USAGE, console, err_console, fail, project_option
from framework.lineage.changes import Impact, TableImpact
from framework.lineage.gitref import default_ref, project_at, repo_prefix

STYLE = {"safe": "green", "full_refresh": "yellow", "breaking": "bold red"}
LEVEL = {"safe": "notice", "full_refresh": "warning", "breaking": "error"}


@click.command("diff")
@click.option("--against", "ref", metavar="REF", default=None,
              help="The git revision to compare with (default: origin/main if it exists, else HEAD).")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "github"]), default="text",
              show_default=True, help="text for people, json for tools, github for workflow annotations.")
@click.option("--allow-breaking", is_flag=True, help="Exit 0 even when a change breaks a reader.")
@project_option()
def diff(ref: str | None, output_format: str, allow_breaking: bool, project_dir: Path | None) -> None:
    """Compare the table specs with a git revision: per changed table, what changed and the consequence.

    Consequences: `safe`; `full_refresh` (Databricks requires a full refresh: the source of a streaming
    table, keys or dedupe sequence of an AUTO CDC target, a removed or narrowed column of a streaming
    table, ...); `breaking` (a reader uses a removed column or one whose type was narrowed, shown at the
    reader's line). Also lists the downstream tables and columns each change reaches. The specs at REF are
    read with git; nothing on disk changes. Exit code 1 when a change is breaking (unless
    --allow-breaking), 0 otherwise.
    """
    from framework.lineage.changes import compare
    from framework.project import TABLES_DIR, Project, find_project_root, load_tables, spec_files
    from framework.validation.prefetch import parsing_jobs, prefetch

    # The specs only: no semantic checks (a removed column makes its readers invalid, and that is what
    # diff reports, at their lines); a spec that does not parse or fails the schema is left out.
    root = (project_dir or find_project_root()).resolve()
    if not (root / TABLES_DIR).is_dir():
        fail(f"no {TABLES_DIR}/ folder in {root}; run inside a Medallion project or pass --project", EXIT_USAGE)
    project = Project(root=root)
    collecting = gc.isenabled()
    gc.disable()  # loading builds many small objects that live to the end: nothing for the collector to find
    try:
        prefetch(spec_files(root, [root / TABLES_DIR]), root, parsing_jobs())
        load_tables(project)
    finally:
        if collecting:
            gc.enable()
    if project.errors:
        err_console.print(f"note: {len(project.errors)} spec(s) do not parse or fail the schema and are left out "
                          "(`medallion validate` shows why)", highlight=False, markup=False, soft_wrap=True)
    ref = ref or default_ref(project.root)
    impact = compare(project_at(project.root, ref, project), project)
    if output_format == "json":
        click.echo(json.dumps(to_dict(impact, ref), indent=2))
    elif output_format == "github":
        for line in github_lines(impact, repo_prefix(project.root)):
            click.echo(line)
    else:
        print_text(impact, ref)
    if impact.consequence == "breaking" and not allow_breaking:
        sys.exit(EXIT_INVALID)


def to_dict(impact: Impact, ref: str) -> dict:
    return {"against": ref, "consequence": impact.consequence, "modified": impact.modified, "tables": [{
        "table": t.table, "status": t.status, "consequence": t.consequence,
        "changes": [{"kind": c.kind, "detail": c.detail, "consequence": c.consequence, "reason": c.reason,
                     "column": c.column or None, "file": c.file, "line": c.line, "column_number": c.col}
                    for c in t.changes],
        "breaks": [{"column": str(b.column), "reader": b.reference.reader, "file": b.reference.file,
                    "line": b.reference.line, "column_number": b.reference.col, "message": b.why}
                   for b in t.breaks],
        "downstream_tables": t.downstream_tables, "downstream_columns": [str(c) for c in t.downstream_columns],
        "full_refresh_with": t.refresh_with, "notes": t.notes} for t in impact.tables]}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_lines(impact: Impact, prefix: str) -> list[str]:
    """GitHub Actions workflow commands: an error per break (at the reader's line), a warning per change
    needing a full refresh, a notice per safe change."""
    lines = []
    for table in impact.tables:
        for change in table.changes:
            title = f"{table.table}: {change.consequence.replace('_', ' ')}"
            lines.append(f"::{LEVEL[change.consequence]} file={_escape_property(prefix + change.file)},"
                         f"line={change.line},col={change.col},title={_escape_property(title)}::"
                         f"{_escape_data(change.detail + ' — ' + change.reason)}")
        for brk in table.breaks:
            ref = brk.reference
            lines.append(f"::error file={_escape_property(prefix + ref.file)},line={ref.line},col={ref.col},"
                         f"title={_escape_property(f'{ref.reader}: breaking')}::{_escape_data(brk.why)}")
    lines.append(f"::{LEVEL[impact.consequence]}::{_escape_data(summary(impact))}")
    return lines


def summary(impact: Impact) -> str:
    if not impact.tables:
        return "no table spec changed"
    counts = {c: sum(t.consequence == c for t in impact.tables) for c in STYLE}
    parts = [f"{n} {c.replace('_', ' ')}" for c, n in counts.items() if n]
    return f"{len(impact.tables)} table(s) changed: {', '.join(parts)}"


def print_text(impact: Impact, ref: str) -> None:
    console.print(f"[bold]medallion diff[/] against {escape(ref)}: {escape(summary(impact))}", highlight=False)
    for table in impact.tables:
        _print_table(table)


def _print_table(table: TableImpact) -> None:
    style = STYLE[table.consequence]
    console.print(f"\n[bold]{escape(table.table)}[/] ({table.status}): [{style}]{table.consequence}[/]",
                  highlight=False)
    for change in table.changes:
        console.print(f"  [{STYLE[change.consequence]}]{change.consequence:<12}[/] {escape(change.detail)} "
                      f"[dim]({escape(change.file)}:{change.line}; {escape(change.reason)})[/]",
                      highlight=False, soft_wrap=True)
    for brk in table.breaks:
        ref = brk.reference
        console.print(f"  [bold red]breaking[/]     {escape(ref.file)}:{ref.line}:{ref.col}: {escape(brk.why)}",
                      highlight=False, soft_wrap=True)
    if table.downstream_tables:
        console.print(f"  downstream: {escape(', '.join(table.downstream_tables))}", highlight=False, soft_wrap=True)
    if table.downstream_columns:
        console.print(f"  columns reached: {escape(', '.join(map(str, table.downstream_columns)))}",
                      highlight=False, soft_wrap=True)
    if table.refresh_with:
        console.print(f"  full refresh with: {escape(', '.join(table.refresh_with))}", highlight=False,
                      soft_wrap=True)
    for note in table.notes:
        console.print(f"  note: {escape(note)}", highlight=False, soft_wrap=True)
