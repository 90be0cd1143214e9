"""`medallion docs`: generate the static data catalog (HTML + Markdown) and optionally serve it."""

from __future__ import annotations

from pathlib import Path

import click

from framework.cli.common import EXIT_USAGE, console, env_option, fail, load_valid_project, project_option


@click.command("docs")
@env_option()
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None, metavar="FOLDER",
              help="Where to write the site (default: <project>/site). Replaced on every run.")
@click.option("--serve", is_flag=True, help="After generating, serve the site on 127.0.0.1 until Ctrl-C.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port for --serve (0 picks a free one).")
@click.option("--live-stats", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="Row counts, versions and pass rates from the environment's local run: auto = when one exists.")
@project_option()
def docs(env_name: str, out_dir: Path | None, serve: bool, port: int, live_stats: str,
         project_dir: Path | None) -> None:
    """Generate the documentation site: lineage, schemas, expectations and quality results.

    Works offline and from file://; the same specs (and local run) always give byte-identical files.
    """
    from framework.errors import DocsError
    from framework.docs.site import build_site

    _prefetch_specs(project_dir)
    project = load_valid_project(project_dir, env_name)
    out = (out_dir or project.root / "site").resolve()
    try:
        report = build_site(project, env_name, out, live_stats)  # type: ignore[arg-type]
    except DocsError as exc:
        fail(str(exc))
    files = report.files
    stats = ("live statistics skipped" if report.stats_note else "no local run" if report.stats is None
             else f"live statistics from {report.stats.storage}")
    console.print(f"[green]docs:[/] {report.tables} tables -> {out} ({len(files.written)} written, "
                  f"{len(files.unchanged)} unchanged, {len(files.removed)} removed; {stats}; "
                  f"{report.seconds:.2f}s)", soft_wrap=True)
    if report.stats_note:
        console.print(f"note: live statistics skipped: {report.stats_note}", soft_wrap=True, markup=False)
    console.print(f"open {report.index.as_uri()}", soft_wrap=True)
    if serve:
        _serve(out, port)


def _prefetch_specs(project_dir: Path | None) -> None:
    """Parse the specs on two processes when a core is idle, as `validate` does (a 1,000-table catalog
    spends a third of its time loading the project)."""
    from framework.project import TABLES_DIR, find_project_root, spec_files
    from framework.validation.prefetch import parsing_jobs, prefetch

    root = (project_dir or find_project_root()).resolve()
    if (root / TABLES_DIR).is_dir():
        prefetch(spec_files(root, [root / TABLES_DIR]), root, parsing_jobs())


def _serve(out: Path, port: int) -> None:
    from framework.errors import DocsError
    from framework.docs.serve import make_server, url_of

    try:
        server = make_server(out, port)
    except DocsError as exc:
        fail(str(exc), EXIT_USAGE)
    console.print(f"serving {url_of(server)} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        console.print("stopped")
    finally:
        server.server_close()
