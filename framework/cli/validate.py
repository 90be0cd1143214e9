"""`medallion validate`: JSON Schema + semantic checks of every spec, with located errors."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from framework.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, console, project_option
from framework.findings import format_github, format_json, format_text
from framework.project import find_project_root, load_project

FORMATTERS = {"text": format_text, "json": format_json, "github": format_github}


@click.command()
@click.option("--env", "env_name", default=None, metavar="NAME",
              help="Check `${variables}` against this environment only (default: all environments).")
@click.option("--format", "output_format", type=click.Choice(list(FORMATTERS)), default="text", show_default=True,
              help="text for people, json for tools, github for ::error annotations in GitHub Actions.")
@project_option()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(env_name: str | None, output_format: str, project_dir: Path | None, paths: tuple[Path, ...]) -> None:
    """Validate table specs (all of tables/, or PATHS) and environments.

    Exit code 0 when valid, 1 when any spec is invalid, 2 on a usage error.
    """
    root = project_dir or find_project_root()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        click.echo(f"error: no such file or folder: {', '.join(missing)}", err=True)
        sys.exit(EXIT_USAGE)
    project = load_project(root, paths or None, env=env_name)
    if env_name and env_name not in project.environments:
        click.echo(f"error: unknown environment `{env_name}` (known: {', '.join(sorted(project.environments))})",
                   err=True)
        sys.exit(EXIT_USAGE)
    findings = project.findings
    if output_format == "text":
        if findings:
            click.echo(format_text(findings))
        errors = len(project.errors)
        summary = (f"{len(project.tables)} table(s), {len(project.environments)} environment(s): "
                   + (f"{errors} error(s)" if errors else "valid"))
        console.print(f"[{'red' if errors else 'green'}]{summary}[/]")
    else:
        click.echo(FORMATTERS[output_format](findings))
    sys.exit(EXIT_INVALID if project.errors else EXIT_OK)
