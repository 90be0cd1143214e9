"""`medallion init DIR`: a new project that validates, runs locally and renders its bundle with no edits.

The files come from the package's `init/` templates (framework.templates): files ending in `.j2` are
rendered with the project's name and the medallion version (suffix dropped), the others are copied as
they are; `gitignore` and `github/` become `.gitignore` and `.github/` (dot files are not package data).
Then the Databricks bundle (databricks.yml, resources/) is rendered by the same code as
`medallion bundle render`, and the project is validated, so what `init` prints as done is true.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import click

from framework import __version__, templates
from framework.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE

INIT_DIR = "init"
DOT_NAMES = {"gitignore": ".gitignore", "github": ".github"}
"""Package data cannot hold dot files; these are renamed when written."""
PROJECT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
"""The project's name is part of catalog names (`<name>_dev`): lower-case letters, digits and underscores."""


def project_name(folder: Path) -> str:
    """A name for catalogs and tags from the folder's name: `My Orders-2` -> `my_orders_2`."""
    name = re.sub(r"[^a-z0-9_]+", "_", folder.name.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"project_{name}".rstrip("_")
    return name[:40]


def scaffold_files(root: Path, name: str) -> dict[Path, str]:
    """Every file of the new project (absolute path -> text), rendered in memory."""
    import jinja2

    source = templates.DEFAULTS / INIT_DIR
    schemas = Path(str(templates.DEFAULTS.parent / "spec" / "schemas"))
    jinja = jinja2.Environment(loader=jinja2.FileSystemLoader(str(source)), undefined=jinja2.StrictUndefined,
                               keep_trailing_newline=True, trim_blocks=True, autoescape=False)
    files: dict[Path, str] = {}
    for path in sorted(source.rglob("*")):
        if not path.is_file() or "__pycache__" in path.parts or path.suffix == ".pyc":
            continue
        relative = path.relative_to(source)
        parts = [DOT_NAMES.get(relative.parts[0], relative.parts[0]), *relative.parts[1:]]
        target = root.joinpath(*parts)
        if path.suffix == ".j2":
            target = target.with_suffix("")
            reference = Path(os.path.relpath(schemas, target.parent.resolve())).as_posix()
            text = jinja.get_template(relative.as_posix()).render(name=name, version=__version__, schemas=reference)
        else:
            text = path.read_text("utf-8")
        files[target] = text
    return files


IGNORED_ENTRIES = frozenset({".git"})
"""What an empty folder may already hold: `git init shop && medallion init shop` is a normal start."""


def _entries(folder: Path) -> list[str]:
    """What the folder holds that `init` could overwrite or mix with."""
    return sorted(p.name for p in folder.iterdir() if p.name not in IGNORED_ENTRIES) if folder.is_dir() else []


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", default=None, metavar="NAME",
              help="Project name for catalogs (<name>_dev) and tags (default: from the folder's name).")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty (scaffold files are overwritten).")
def init(directory: Path, name: str | None, force: bool) -> None:
    """Create a new project in DIRECTORY: example tables, sample data, environments, bundle, CI workflow.

    The project validates, runs locally (`medallion run --env local`, with the local extra) and renders its
    Databricks bundle with no edits. A folder that is not empty is refused unless --force.
    """
    from framework.deploy.render import write_bundle
    from framework.project import load_project

    root = directory.resolve()
    if root.exists() and not root.is_dir():
        click.echo(f"error: {directory} is a file", err=True)
        sys.exit(EXIT_USAGE)
    existing = _entries(root)
    if existing and not force:
        shown = ", ".join(existing[:5]) + (", ..." if len(existing) > 5 else "")
        click.echo(f"error: {directory} is not empty ({shown}); pick a new folder or pass --force", err=True)
        sys.exit(EXIT_USAGE)
    name = name or project_name(root)
    if not PROJECT_NAME.match(name):
        click.echo(f"error: invalid project name `{name}`: lower-case letters, digits and underscores, starting "
                   "with a letter (at most 41 characters)", err=True)
        sys.exit(EXIT_USAGE)
    for path, text in scaffold_files(root, name).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    project = load_project(root)
    if project.ok:
        write_bundle(project)
        project = load_project(root)
    from framework.deploy.check import check_bundle

    findings = [*project.findings, *check_bundle(project)] if project.ok else project.findings
    if findings:
        for finding in findings:
            click.echo(finding.render(), err=True)
        click.echo(f"created {directory}, but it does not validate (see above)", err=True)
        sys.exit(EXIT_INVALID)
    click.echo(f"created project `{name}` in {directory}: {len(project.tables)} tables, "
               f"{len(project.environments)} environments, the Databricks bundle and a CI workflow; it validates.\n"
               f"next: cd {directory} && pip install \"medallion[local]\" && medallion run --env local")
    sys.exit(EXIT_OK)
