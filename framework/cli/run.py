"""`medallion run`: one pipeline update on the local runtime (triggered), or `--continuous`."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import click
from rich.live import Live
from rich.table import Table
from rich.text import Text

from framework.engine.results import FlowStatus, RunListener, RunResult
from framework.cli.common import EXIT_INVALID, EXIT_USAGE, console, env_option, err_console, fail, \
    load_valid_project, project_option

STATUS_STYLE = {FlowStatus.COMPLETED: "green", FlowStatus.UP_TO_DATE: "dim green", FlowStatus.RUNNING: "cyan",
                FlowStatus.QUEUED: "dim", FlowStatus.FAILED: "bold red", FlowStatus.SKIPPED: "yellow",
                FlowStatus.STOPPED: "yellow"}


def _names(value: str | None) -> list[str] | None:
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


@click.command()
@env_option()
@click.option("--tables", "tables", metavar="A,B", default=None,
              help="Run only these tables (spec names, comma-separated).")
@click.option("--full-refresh", "full_refresh", metavar="[A,B]", is_flag=False, flag_value="*", default=None,
              help="Clear tables and checkpoints and rebuild from the sources: all tables, or the ones listed.")
@click.option("--continuous", is_flag=True, default=None,
              help="Keep running: new landing files reach gold within the trigger interval; Ctrl-C stops.")
@project_option()
def run(env_name: str, tables: str | None, full_refresh: str | None, continuous: bool | None,
        project_dir: Path | None) -> None:
    """Run the pipeline on the embedded PySpark + Delta runtime.

    Triggered (default): process everything new, then stop, and print what each table read, wrote,
    dropped, quarantined and de-duplicated. Exit code 0 when every flow succeeded, 1 otherwise.
    """
    from framework.engine.runner import run_pipeline

    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    if env.runtime != "local":
        fail(f"environment `{env_name}` has runtime: {env.runtime}; `medallion run` runs local environments "
             "(use `medallion deploy` / `medallion trigger` for Databricks)", EXIT_USAGE)
    continuous = bool(env.get("continuous")) if continuous is None else continuous
    refresh: bool | list[str] | None = True if full_refresh == "*" else _names(full_refresh)
    display = RunDisplay(continuous)
    console.print(f"[bold]medallion run[/] env [cyan]{env_name}[/] "
                  f"({'continuous' if continuous else 'triggered'}, storage {_short(env.storage_root)})")
    with display:
        result = run_pipeline(project, env, tables=_names(tables), full_refresh=refresh,
                              continuous=continuous, listener=display)
    console.print(summary_table(result))
    for flow in result.flows:
        if flow.status == FlowStatus.FAILED:
            err_console.print(f"[bold red]{flow.table} failed:[/] {flow.error}", soft_wrap=True, markup=True,
                              highlight=False)
    if result.error:
        err_console.print(f"[bold red]update failed:[/] {result.error}", soft_wrap=True, markup=True, highlight=False)
    tail = f"update {result.update_id[:8]} {result.status.lower()} in {result.seconds:.1f}s"
    if result.optimized:
        tail += f"; optimized {', '.join(result.optimized)}"
    console.print(Text(tail, style="green" if result.ok else "red"))
    sys.exit(0 if result.ok else EXIT_INVALID)


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class RunDisplay(RunListener):
    """A live table, one row per flow, redrawn as micro-batches commit."""

    def __init__(self, continuous: bool):
        self.continuous = continuous
        self.flows: list = []
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()
        self.live = Live(self._render(), console=console, refresh_per_second=4, transient=True,
                         redirect_stdout=False, redirect_stderr=False)

    def __enter__(self) -> "RunDisplay":
        if console.is_terminal:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if console.is_terminal:
            self.live.__exit__(*exc)

    def _refresh(self) -> None:
        if console.is_terminal:
            self.live.update(self._render())

    def _render(self) -> Table:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        for header in ("table", "status", "read", "written", "time"):
            table.add_column(header, justify="right" if header in ("read", "written", "time") else "left")
        for flow in self.flows:
            seconds = flow.seconds or (time.monotonic() - self.started[flow.table] if flow.table in self.started else 0)
            table.add_row(flow.table, Text(flow.status.lower(), style=STATUS_STYLE.get(flow.status, "")),
                          f"{flow.metrics.input_rows:,}", f"{flow.metrics.written_rows:,}",
                          f"{seconds:.1f}s" if seconds else "")
        return table

    # RunListener
    def run_started(self, result, flows) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.flows = flows
            self._refresh()

    def flow_started(self, result) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self.started[result.table] = time.monotonic()
            self._refresh()

    def flow_progress(self, result, batch) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self._refresh()
            if self.continuous:
                console.print(f"{time.strftime('%H:%M:%S')} {result.table}: {batch.input_rows:,} read, "
                              f"{batch.written_rows:,} written ({result.metrics.written_rows:,} since start)")

    def flow_finished(self, result) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self._refresh()
            if not console.is_terminal and not self.continuous:
                console.print(f"{result.table}: {result.status.lower()}")

    def message(self, text: str) -> None:
        console.print(Text(text, style="dim"))


def summary_table(result: RunResult) -> Table:
    """Per table: rows read / written / dropped / quarantined / de-duplicated, and failed expectations."""
    table = Table(title=f"Update {result.update_id[:8]} ({result.env})", title_justify="left")
    for header in ("table", "status", "read", "written", "dropped", "quarantined", "de-duplicated",
                   "expectations failed", "time"):
        table.add_column(header, justify="left" if header in ("table", "status", "expectations failed") else "right")
    for flow in result.flows:
        m = flow.metrics
        failed = ", ".join(f"{name} {counts[1]:,}" for name, counts in m.expectations.items() if counts[1])
        table.add_row(flow.table, Text(flow.status.lower(), style=STATUS_STYLE.get(flow.status, "")),
                      f"{m.input_rows:,}", f"{m.written_rows:,}", f"{m.dropped_rows:,}", f"{m.quarantined_rows:,}",
                      f"{m.deduplicated_rows:,}", failed, f"{flow.seconds:.1f}s")
    return table
