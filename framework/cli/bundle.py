"""`medallion bundle`: render, check and compare the Databricks asset bundle (offline, no JVM)."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from rich.markup import escape
from rich.table import Table

from framework.cli.common import (EXIT_INVALID, EXIT_OK, EXIT_USAGE, console, env_option, fail, load_valid_project,
                                  project_option)
from framework.findings import format_github, format_json, format_text
from framework.project import find_project_root, load_project

FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}


@click.group()
def bundle() -> None:
    """The Databricks asset bundle: databricks.yml and resources/ rendered from environments/."""


@bundle.command()
@project_option()
def render(project_dir: Path | None) -> None:
    """Render databricks.yml and resources/<env>.yml from environments/ with templates/bundle/."""
    from framework.deploy.render import write_bundle

    project = load_valid_project(project_dir, None)
    written, removed = write_bundle(project)
    for relative in written:
        console.print(f"wrote {relative}")
    for relative in removed:
        console.print(f"removed {relative} (no environment renders it any more)")
    if not written and not removed:
        console.print("bundle is up to date")


@bundle.command()
@click.option("--format", "output_format", type=click.Choice(list(FORMATTERS)), default="text", show_default=True)
@project_option()
def check(output_format: str, project_dir: Path | None) -> None:
    """Check the bundle: no drift from environments/, the official schema, production rules.

    Exit code 0 when valid, 1 when any check fails.
    """
    from framework.deploy.check import check_bundle

    project = load_project(project_dir or find_project_root())
    # Invalid environments or specs cannot be rendered, so drift is not checked: show why.
    findings = project.errors + check_bundle(project)
    errors = sum(f.severity == "error" for f in findings)
    if output_format == "text":
        if findings:
            click.echo(format_text(findings))
        color = "red" if errors else "green"
        console.print(f"[{color}]bundle: {f'{errors} error(s)' if errors else 'valid'}[/]")
    else:
        click.echo(FORMATTERS[output_format](findings))
    sys.exit(EXIT_INVALID if errors else EXIT_OK)


@bundle.command()
@click.argument("targets", nargs=-1, required=True)
@click.option("--all", "show_all", is_flag=True, help="Also list the settings that are the same.")
@project_option()
def diff(targets: tuple[str, ...], show_all: bool, project_dir: Path | None) -> None:
    """Show the effective differences between targets, e.g. `medallion bundle diff dev prod`."""
    from framework.deploy.bundle import load_bundle
    from framework.deploy.diff import diff_targets

    root = (project_dir or find_project_root()).resolve()
    loaded = load_bundle(root)
    if loaded is None:
        fail(f"no databricks.yml in {root}; run `medallion bundle render`", EXIT_USAGE)
    if loaded.findings:
        fail(loaded.findings[0].render())
    unknown = [t for t in targets if t not in loaded.targets()]
    if unknown or len(targets) < 2:
        fail(f"name two or more bundle targets (known: {', '.join(loaded.targets()) or 'none'})"
             + (f"; unknown: {', '.join(unknown)}" if unknown else ""), EXIT_USAGE)
    rows = diff_targets(loaded, list(targets))
    table = Table(show_lines=False)
    table.add_column("setting", style="bold", no_wrap=True)
    for target in targets:
        table.add_column(escape(target), overflow="fold")
    shown = [r for r in rows if r.differs] + ([r for r in rows if not r.differs] if show_all else [])
    for row in shown:
        table.add_row(row.setting, *map(escape, row.values), style=None if row.differs else "dim")
    console.print(table)
    same = len(rows) - sum(r.differs for r in rows)
    if not show_all and same:
        console.print(f"[dim]{same} setting(s) are the same; --all lists them[/]")


@bundle.command()
@env_option(default="prod")
@click.option("--apply", is_flag=True, help="Run the statements on this cluster's SparkSession (the job task does).")
@click.option("--principal", "principals", multiple=True, metavar="NAME=VALUE",
              help="Value of a principal variable, e.g. analysts_group=${var.analysts_group} in the job.")
@project_option()
def grants(env_name: str, apply: bool, principals: tuple[str, ...], project_dir: Path | None) -> None:
    """Print (or --apply) the table GRANT statements declared in table specs."""
    from framework.deploy.grants import apply_grants, grant_statements

    project = load_valid_project(project_dir, env_name)
    values = {}
    for item in principals:
        name, sep, value = item.partition("=")
        if not sep or not name:
            fail(f"--principal takes NAME=VALUE, got {item!r}", EXIT_USAGE)
        values[name] = value
    statements = grant_statements(project, project.environment(env_name), values if (apply or values) else None)
    for statement in statements:
        click.echo(statement + ";")
    if not statements:
        console.print("[dim]no table grants are declared in tables/[/]")
    if apply and statements:
        apply_grants(statements)
        console.print(f"applied {len(statements)} grant(s)")
