"""`medallion validate`: JSON Schema + semantic checks of every spec, with located errors."""

from __future__ import annotations

import gc
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import click

from framework import __version__
from framework.findings import (Finding, fails, format_github, format_json, format_junit, format_sarif, format_text,
                                sort_findings)
from framework.project import TABLES_DIR, Project, find_project_root, load_project, spec_files
from framework.validation.prefetch import parsing_jobs, prefetch

FORMATTERS = {"text": format_text, "json": format_json, "github": format_github, "sarif": format_sarif,
              "junit": format_junit}
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
"""As in framework.cli.common, which this module does not import: it would pull in rich (30 ms of a
one-second budget) for one coloured line."""


def usage_error(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.command()
@click.option("--env", "env_name", default=None, metavar="NAME",
              help="Check `${variables}` and the Spark functions of its target runtime against this environment "
                   "only (default: all environments).")
@click.option("--format", "output_format", type=click.Choice(list(FORMATTERS)), default="text", show_default=True,
              help="text for people, json for tools, github for ::error annotations in GitHub Actions, sarif "
                   "(2.1.0) for code scanning, junit (XML) for CI test reports (docs/ci.md).")
@click.option("--strict", is_flag=True, help="Fail (exit 1) on warnings too, as CI should.")
@click.option("--jobs", type=click.IntRange(1, 2), default=None, metavar="N",
              help="Processes for parsing large projects (1 or 2; default: 2 when a core is idle).")
@click.option("--project", "project_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Project root (default: the nearest folder with tables/).")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate(env_name: str | None, output_format: str, strict: bool, jobs: int | None, project_dir: Path | None,
             paths: tuple[Path, ...]) -> None:
    """Validate table specs (all of tables/, or PATHS) and environments.

    Exit code 0 when valid, 1 when any spec is invalid (or, with --strict, has a warning), 2 on a usage error.
    """
    root = (project_dir or find_project_root()).resolve()
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        usage_error(f"no such file or folder: {', '.join(missing)}")
    tables_dir = root / TABLES_DIR
    if not paths and not tables_dir.is_dir():
        usage_error(f"no {TABLES_DIR}/ folder in {root}; run inside a Medallion project or pass --project")
    # A spec is only valid in the context of the others (upstreams, unique names), so we always load
    # the whole project and then report on the files asked for.
    targets = [tables_dir, *paths] if tables_dir.is_dir() else list(paths)
    with _lean_gc():
        prefetch(spec_files(root, [Path(p).resolve() for p in targets]), root, jobs or parsing_jobs())
        project = load_project(root, targets, env=env_name)
    if env_name and env_name not in project.environments:
        usage_error(f"unknown environment `{env_name}` (known: {', '.join(sorted(project.environments)) or 'none'})")
    if paths:
        findings = _selected(project, paths)
    else:
        # The Databricks bundle is part of the project: no drift from environments/, official schema,
        # production rules. (Lazy import: the 900 KB bundle schema is compiled only here.)
        from framework.deploy.check import check_bundle

        findings = sort_findings([*project.findings, *check_bundle(project), *_orphans(project, env_name)])
    errors = sum(f.severity == "error" for f in findings)
    warnings = len(findings) - errors
    failed = fails(findings, strict)
    if output_format == "text":
        if findings:
            click.echo(format_text(findings))
        checked = len(_selected_files(project, paths)) if paths else len(project.tables)
        verdict = f"{errors} error(s)" if errors else "valid"
        if warnings:
            verdict += f", {warnings} warning(s)" + (" (--strict: they fail)" if strict else "")
        summary = f"{checked} table(s), {len(project.environments)} environment(s): {verdict}"
        click.secho(summary, fg="red" if failed else "yellow" if warnings else "green")
    elif output_format == "sarif":
        click.echo(format_sarif(findings, version=__version__, strict=strict))
    elif output_format == "junit":
        click.echo(format_junit(findings, checked=_checked_files(project, paths), strict=strict))
    else:
        click.echo(FORMATTERS[output_format](findings))
    sys.exit(EXIT_INVALID if failed else EXIT_OK)


def _checked_files(project: Project, paths: tuple[Path, ...]) -> list[str]:
    """The files a report lists as checked: the selected specs (all of tables/ by default) and the environments."""
    specs = _selected_files(project, paths) if paths else {project.relative(f) for f in spec_files(project.root)}
    environments = {doc.file for env in project.environments.values() for doc in env.documents}
    return sorted(specs | environments)


def _orphans(project: Project, env_name: str | None) -> list[Finding]:
    """Warnings about tables on disk whose spec is gone, in the local environments (all, or `--env`) whose
    storage folder exists: read from the folders and Delta logs, no JVM. Only for a valid project: the
    specs of an invalid one are not all known."""
    if project.errors:
        return []
    from framework.engine.orphans import orphan_findings

    names = [env_name] if env_name else sorted(project.environments)
    return [f for name in names for f in orphan_findings(project, project.environments[name])]


@contextmanager
def _lean_gc() -> Iterator[None]:
    """Keep the cyclic garbage collector from re-scanning what loading builds.

    Loading 1,000 specs creates ~100k long-lived objects (documents, model) and many short-lived cyclic
    ones (sqlglot trees point at their parents). With default settings the collector re-scans the
    long-lived ones over and over; disabled, the cyclic garbage piles up and the interpreter's final
    collection at exit pays for it all (~0.2 s). So: freeze what exists (imported modules), collect young
    objects less often, and when this is the `medallion` process itself, freeze again at the end so the
    exit collection has nothing to scan. In-process callers (tests) get their settings back.
    """
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        if _is_cli_process():
            gc.freeze()
        else:
            gc.unfreeze()


def _is_cli_process() -> bool:
    """True when this process is `medallion ...` or `python -m framework ...` (not a test runner)."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path()
    return program.name == "medallion" or (program.name == "__main__.py" and program.parent.name == "framework")


def _selected_files(project: Project, paths: tuple[Path, ...]) -> set[str]:
    return {project.relative(f) for f in spec_files(project.root, [p.resolve() for p in paths])}


def _selected(project: Project, paths: tuple[Path, ...]) -> list[Finding]:
    """Findings about the files asked for, plus those about environments (which every spec depends on)."""
    selected = _selected_files(project, paths)
    other_specs = {project.relative(f) for f in spec_files(project.root)} - selected
    return [f for f in project.findings if f.file not in other_specs]
