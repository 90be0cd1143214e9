"""`medallion run`: one pipeline update on the local runtime (triggered), or `--continuous`."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from framework.engine.results import FlowStatus, RunListener, RunResult
from framework.cli.common import EXIT_INVALID, EXIT_USAGE, console, env_option, err_console, fail, format_option, \
    load_valid_project, project_option, requires_local_engine

STATUS_STYLE = {FlowStatus.COMPLETED: "green", FlowStatus.UP_TO_DATE: "dim green", FlowStatus.RUNNING: "cyan",
                FlowStatus.QUEUED: "dim", FlowStatus.FAILED: "bold red", FlowStatus.SKIPPED: "yellow",
                FlowStatus.STOPPED: "yellow"}


REFRESH_PER_SECOND = 2
"""Redraws per second of the live table: elapsed times move at least every second."""


def _names(value: str | None) -> list[str] | None:
    return [n.strip() for n in value.split(",") if n.strip()] if value else None


@click.command(short_help="Run the pipeline on the embedded PySpark + Delta runtime.")
@env_option()
@click.option("--tables", "tables", metavar="A,B", default=None,
              help="Run only these tables (comma-separated spec names), as dbt's --select: `name` only it, "
                   "`+name` with every table it reads from, `name+` with every table that reads it, `+name+` both; "
                   "`state:modified` the tables whose specs differ from --state (`state:modified+` with their readers).")
@click.option("--state", "state_ref", metavar="REF", default=None,
              help="The git revision `state:modified` compares with (default: origin/main if it exists, else HEAD).")
@click.option("--full-refresh", "full_refresh", metavar="[A,B]", is_flag=False, flag_value="*", default=None,
              help="Clear tables and checkpoints and rebuild from the sources: all tables, or the ones listed.")
@click.option("--continuous", is_flag=True, default=None,
              help="Keep running: new landing files reach gold within the trigger interval; Ctrl-C stops.")
@format_option()
@project_option()
@requires_local_engine
def run(env_name: str, tables: str | None, full_refresh: str | None, continuous: bool | None,
        output_format: str, project_dir: Path | None, state_ref: str | None = None) -> None:
    """Run the pipeline on the embedded PySpark + Delta runtime.

    Triggered (default): process everything new, then stop, and print what each table read, wrote
    (new rows), updated, dropped, quarantined and discarded as duplicates (a de-duplicated table: a row
    whose key already had one with a greater or equal sequence value). When `--tables` leaves out an upstream with unprocessed
    input (new landing files, data its reader has not consumed, a stale materialized view), a note says
    so and how to include it. Exit code 0 when every flow succeeded, 1 otherwise.

    A triggered run of every table with nothing to do (no new landing file, every stream caught up
    with its upstreams, every materialized view current, no spec, environment or python transform
    changed since the last complete run) answers from the files alone, without starting Spark.
    """
    from framework.engine.runner import run_pipeline
    from framework.lineage.selection import expand_state, uses_state

    project = load_valid_project(project_dir, env_name)
    env = project.environment(env_name)
    if env.runtime != "local":
        fail(f"environment `{env_name}` has runtime: {env.runtime}; `medallion run` runs local environments "
             "(use `medallion deploy` / `medallion trigger` for Databricks)", EXIT_USAGE)
    _warn_orphans(project, env)
    continuous = bool(env.get("continuous")) if continuous is None else continuous
    selected = _names(tables)
    if selected and uses_state(selected):
        selected, compared = expand_state(selected, project, state_ref)
        (err_console if output_format == "json" else console).print(
            f"state:modified against {compared}: {', '.join(selected)}", highlight=False, markup=False)
    refresh: bool | list[str] | None = True if full_refresh == "*" else _names(full_refresh)
    as_json = output_format == "json"
    display = RunDisplay(continuous, console=err_console if as_json else console, live=not as_json)
    if not as_json:
        console.print(f"[bold]medallion run[/] env [cyan]{env_name}[/] "
                      f"({'continuous' if continuous else 'triggered'}, storage {_short(env.storage_root)})")
    with display:
        result = run_pipeline(project, env, tables=selected, full_refresh=refresh,
                              continuous=continuous, listener=display)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2, default=str))
        sys.exit(0 if result.ok else EXIT_INVALID)
    print_summary(result)
    sys.exit(0 if result.ok else EXIT_INVALID)


def _warn_orphans(project, env) -> None:  # type: ignore[no-untyped-def]
    """Tables on disk whose spec is gone: the run leaves them alone, and says so (on stderr)."""
    from framework.engine.orphans import find_orphans, prune_command

    for orphan in find_orphans(project, env):
        err_console.print(Text(f"warning: {orphan.describe()} has no spec in tables/ any more (deleted or renamed); "
                               f"this run leaves it alone. Drop it: {prune_command(env)}", style="yellow"),
                          soft_wrap=True)


def print_summary(result: RunResult) -> None:
    """The per-table table, failures, notes about left-out upstreams, and the update's last line."""
    console.print(summary_table(result))
    for flow in result.flows:
        if flow.status == FlowStatus.FAILED:
            err_console.print(f"[bold red]{flow.table} failed:[/] {escape(flow.error or '')}", soft_wrap=True,
                              highlight=False)
    if result.error:
        err_console.print(f"[bold red]update failed:[/] {escape(result.error)}", soft_wrap=True, highlight=False)
    for pending in result.pending:
        console.print(Text(f"note: {pending.message}", style="yellow"), soft_wrap=True)
    tail = f"update {result.update_id[:8]} {result.status.lower()} in {result.seconds:.1f}s"
    if result.optimized:
        tail += f"; optimized {', '.join(result.optimized)}"
    console.print(Text(tail, style="green" if result.ok else "red"))


def _short(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


class RunDisplay(RunListener):
    """Live progress, one row per flow: its state and how long it has been running.

    On a terminal the table is redrawn twice a second from the flows' current state (so a 30 s flow
    shows its elapsed time ticking), and removed when the run ends (the summary follows). When output
    is not a terminal (CI logs, pipes, `--format json`) nothing is redrawn: one line per finished flow.
    """

    def __init__(self, continuous: bool, *, console: Console = console, live: bool = True):
        self.continuous = continuous
        self.console = console
        self.flows: list = []
        self.started: dict[str, float] = {}
        self.lock = threading.Lock()
        self.live = Live(console=console, refresh_per_second=REFRESH_PER_SECOND, transient=True,
                         redirect_stdout=False, redirect_stderr=False, get_renderable=self._render) \
            if live and console.is_terminal else None

    def __enter__(self) -> "RunDisplay":
        if self.live is not None:
            self.live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def _refresh(self) -> None:
        if self.live is not None:
            self.live.refresh()

    def elapsed(self, flow) -> float:  # type: ignore[no-untyped-def]
        """Seconds the flow ran (finished) or has been running (live)."""
        if flow.seconds:
            return flow.seconds
        started = self.started.get(flow.table)
        return time.monotonic() - started if started is not None and flow.status == FlowStatus.RUNNING else 0.0

    def _render(self) -> Table:
        table = Table(box=None, padding=(0, 1), show_header=True, header_style="bold")
        for header in ("table", "status", "read", "written", "time"):
            table.add_column(header, justify="right" if header in ("read", "written", "time") else "left")
        for flow in list(self.flows):
            seconds = self.elapsed(flow)
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
                self.console.print(f"{time.strftime('%H:%M:%S')} {result.table}: {batch_line(batch)} "
                                   f"({result.metrics.written_rows:,} written since start)", highlight=False)

    def flow_finished(self, result) -> None:  # type: ignore[no-untyped-def]
        with self.lock:
            self._refresh()
            if self.live is None and not self.continuous:
                self.console.print(f"{result.table}: {result.status.lower()}" +
                                   (f" ({result.seconds:.1f}s)" if result.seconds else ""), highlight=False)

    def message(self, text: str) -> None:
        self.console.print(Text(text, style="yellow" if text.startswith("note:") else "dim"), soft_wrap=True)


def batch_line(m) -> str:  # type: ignore[no-untyped-def]
    """`1,000 read, 990 written` — for a de-duplicated table also what was updated and what was discarded."""
    line = f"{m.input_rows:,} read, {m.written_rows:,} written"
    if m.auto_cdc:
        line += f", {m.updated_rows:,} updated, {m.deduplicated_rows:,} duplicate(s) discarded"
    return line


NOT_APPLICABLE = "-"
"""`updated` / `duplicates discarded` of a flow that does not de-duplicate: nothing can be updated or discarded."""


def summary_table(result: RunResult) -> Table:
    """Per table: rows read / written (new rows) / updated / dropped / quarantined / duplicates discarded,
    and failed expectations. A de-duplicated (AUTO CDC) table's rows that passed the expectations are
    written + updated + duplicates discarded; the other tables show `-` in those two columns."""
    table = Table(title=f"Update {result.update_id[:8]} ({result.env})", title_justify="left")
    for header in ("table", "status", "read", "written", "updated", "dropped", "quarantined",
                   "duplicates discarded", "expectations failed", "time"):
        table.add_column(header, justify="left" if header in ("table", "status", "expectations failed") else "right")
    for flow in result.flows:
        m = flow.metrics
        failed = ", ".join(f"{name} {counts[1]:,}" for name, counts in m.expectations.items() if counts[1])
        cdc = (f"{m.updated_rows:,}", f"{m.deduplicated_rows:,}") if m.auto_cdc else (NOT_APPLICABLE, NOT_APPLICABLE)
        table.add_row(flow.table, Text(flow.status.lower(), style=STATUS_STYLE.get(flow.status, "")),
                      f"{m.input_rows:,}", f"{m.written_rows:,}", cdc[0], f"{m.dropped_rows:,}",
                      f"{m.quarantined_rows:,}", cdc[1], failed, f"{flow.seconds:.1f}s")
    return table
