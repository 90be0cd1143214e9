"""The market project's job task `collect` (medallion.yaml): fill the landing folder with bars from the
configured provider. It runs as `medallion task collect --env <env> [options]`; `main` is the callable
medallion.yaml names, `collect` the command that parses the options.

Exit codes: 0 when every symbol of every session landed, 1 when some symbol failed (the others
landed; re-run to fill the gap), 2 for a usage or configuration error (nothing collected).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from framework.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, console, err_console, fail
from market.collect.errors import CollectError
from framework.jobs.tasks import TaskContext
from market.collect.model import PROVIDERS, TIMEFRAMES

DATE = click.DateTime(formats=["%Y-%m-%d"])
SESSION_ROWS = 15


class _RichProgress:
    """The runner's Progress protocol drawn as a rich bar over symbols x sessions (stderr)."""

    def __init__(self, enabled: bool) -> None:
        self.bar = Progress(TextColumn("[bold]collect[/] {task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("symbols"), TimeElapsedColumn(), console=err_console, disable=not enabled,
                            transient=True)
        self.task = self.bar.add_task("", total=0)

    def start(self, total: int) -> None:
        self.bar.update(self.task, total=total)

    def advance(self, count: int, label: str) -> None:
        self.bar.update(self.task, advance=count, description=label)


class _ConsoleHandler(logging.Handler):
    """Retry warnings and skipped days, printed through the console the progress bar owns."""

    def emit(self, record: logging.LogRecord) -> None:
        style = "yellow" if record.levelno >= logging.WARNING else "dim"
        err_console.print(f"[{style}]{record.levelname.lower()}:[/] ", end="")
        err_console.print(self.format(record), markup=False, highlight=False, soft_wrap=True)


def main(context: TaskContext, args: list[str]) -> int:
    """The task's callable (medallion.yaml `run: market.collect.cli:main`): parse `args`, collect, exit code."""
    try:
        collect.main(args=args, prog_name=f"medallion task {context.key}", standalone_mode=False, obj=context)
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("Aborted!", err=True)
        return 1
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return EXIT_OK


@click.command()
@click.pass_obj
@click.option("--provider", type=click.Choice(PROVIDERS), help="Override tasks.collect.provider.")
@click.option("--symbols", metavar="A,B,..", help="Comma-separated tickers (override tasks.collect.symbols).")
@click.option("--date", "dates", type=DATE, multiple=True, metavar="YYYY-MM-DD",
              help="Collect this session (repeatable). Default: the last completed session(s).")
@click.option("--start", type=DATE, metavar="YYYY-MM-DD",
              help="Backfill from this date (with --end; default end: today).")
@click.option("--end", type=DATE, metavar="YYYY-MM-DD", help="Backfill up to this date, inclusive.")
@click.option("--sessions", type=click.IntRange(min=1), metavar="N", help="The last N completed sessions.")
@click.option("--timeframe", type=click.Choice(TIMEFRAMES), help="Bar length (override tasks.collect.timeframe).")
@click.option("--seed", type=int, help="synthetic: random seed (override tasks.collect.seed).")
@click.option("--defect-rate", type=click.FloatRange(0, 1), help="synthetic: share of bars made defective.")
@click.option("--path", "csv_path", type=click.Path(exists=True, path_type=Path),
              help="csv: a CSV file (.csv or .csv.gz) or a folder of them.")
@click.option("--symbol", "csv_symbol", metavar="SYM", help="csv: the symbol of files without a Symbol/Ticker column.")
@click.option("--base-url", metavar="URL", help="yfinance/alpaca: API base URL (override tasks.collect.base_url).")
@click.option("--feed", type=click.Choice(["iex", "sip"]), help="alpaca: data feed (override tasks.collect.feed).")
@click.option("--requests-per-minute", type=click.FloatRange(min=0, min_open=True), metavar="N",
              help="yfinance/alpaca: client-side rate limit.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="yfinance/alpaca: per-request timeout  [default: 30]")
@click.option("--max-attempts", type=click.IntRange(min=1), metavar="N",
              help="yfinance/alpaca: tries per request  [default: 5]")
@click.option("--backoff", type=click.FloatRange(min=0), metavar="SECONDS",
              help="yfinance/alpaca: first retry delay, doubling up to 30 s  [default: 1]")
@click.option("--batch-size", type=click.IntRange(min=1), metavar="N", help="Symbols per landing file  [default: 10]")
@click.option("--landing", "landing_path", type=click.Path(file_okay=False, path_type=Path),
              help="Write here instead of the environment's landing_path.")
@click.option("--missing-only", is_flag=True, help="Only fetch what is not landed yet (skip complete batches).")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no retry messages.")
def collect(context: TaskContext, provider: str | None, symbols: str | None,
            dates: tuple[datetime, ...], start: datetime | None, end: datetime | None, sessions: int | None,
            max_attempts: int | None, backoff: float | None, missing_only: bool, output_format: str, quiet: bool,
            **settings: Any) -> None:
    """Collect market bars into the landing folder (JSON-lines files per provider, batch and session;
    daily bars: per batch and year).

    Re-running replaces files (deterministic names) and lands only what is missing under new names.
    Exit code 0 when everything landed, 1 when some symbol failed, 2 on a usage error.
    """
    from market.collect.config import DEFAULT_RETRY
    from market.collect.http import RetryPolicy
    from market.collect.runner import collect as run_collect

    env = context.env
    if max_attempts is not None or backoff is not None:
        settings["retry"] = RetryPolicy(max_attempts or DEFAULT_RETRY.max_attempts,
                                        DEFAULT_RETRY.initial_backoff if backoff is None else backoff,
                                        DEFAULT_RETRY.max_backoff)
    if symbols is not None:
        settings["symbols"] = [s for s in symbols.split(",") if s.strip()]
    settings = {k: v for k, v in settings.items() if v is not None}
    _configure_logging(quiet)
    progress = _RichProgress(enabled=not quiet and output_format == "text" and err_console.is_terminal)
    try:
        with progress.bar:
            result = run_collect(env, provider, [d.date() for d in dates] or None, start=_day(start), end=_day(end),
                                 sessions=sessions, missing_only=missing_only, progress=progress, **settings)
    except CollectError as exc:
        fail(str(exc), EXIT_USAGE)
    except OSError as exc:  # e.g. a landing folder that cannot be created or written
        fail(f"cannot write the landing files: {exc.strerror or exc} ({exc.filename})", EXIT_USAGE)
    if output_format == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
    else:
        _summary(result, env.root)
    sys.exit(EXIT_OK if result.ok else EXIT_INVALID)


def _day(value: datetime | None) -> date | None:
    return value.date() if value else None


def _configure_logging(quiet: bool) -> None:
    logger = logging.getLogger("medallion.collect")
    logger.handlers = [h for h in logger.handlers if not isinstance(h, _ConsoleHandler)]
    handler = _ConsoleHandler()
    handler.setLevel(logging.ERROR if quiet else logging.WARNING)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = True


def _summary(result: Any, root: Path) -> None:
    """What landed where, per session; then skipped days and failures."""
    landing = _relative(result.landing, root)
    console.print(f"[bold]{result.provider}[/] ({result.timeframe}): {result.lines:,} lines in {len(result.files)} "
                  f"file(s) under {landing}/, {len(result.calendar_files)} calendar file(s)")
    if result.sessions:
        console.print(_session_table(result))
    defects = result.defect_counts()
    if defects:
        listed = ", ".join(f"{kind} {count}" for kind, count in sorted(defects.items()))
        console.print(f"injected defects: {listed} (listed in {landing}/_manifests/)")
    for label, paths in (("kept (re-fetch failed)", result.kept), ("unchanged (already landed)", result.unchanged)):
        if paths:
            console.print(f"{label}: {len(paths)} file(s)")
    if result.requests:
        console.print(f"HTTP requests: {result.requests} ({result.retries} retried)")
    _skipped(result.skipped)
    if not result.sessions and not result.skipped:
        console.print("nothing to collect")
    if result.failures:
        err_console.print(f"[bold red]{len(result.failures)} symbol-session(s) failed[/] (the rest landed; "
                          "re-run to fill the gap):")
        for failure in result.failures:
            err_console.print(f"  {failure.symbol} {failure.label}: ", end="")
            err_console.print(failure.message, markup=False, highlight=False)


def _session_table(result: Any) -> Table:
    from market.collect import calendar

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("session", "close (NY)", "lines", "files", "failed"):
        table.add_column(column, justify="right" if column in ("lines", "files", "failed") else "left")
    lines = result.lines_by_session()
    days = result.sessions
    shown = days if len(days) <= SESSION_ROWS else days[:5] + [None] + days[-5:]
    for day in shown:
        if day is None:
            table.add_row(f"... {len(days) - 10} more", "", "", "", "")
            continue
        close = calendar.session(day).close_utc.astimezone(calendar.NEW_YORK).strftime("%H:%M")
        files = sum(1 for f in result.files if day in f.sessions)
        failed = sum(1 for f in result.failures if f.session <= day <= (f.until or f.session))
        table.add_row(day.isoformat(), close, f"{lines.get(day, 0):,}", str(files), str(failed) if failed else "")
    return table


def _skipped(skipped: list[Any]) -> None:
    if not skipped:
        return
    if len(skipped) <= 5:
        for item in skipped:
            console.print(f"skipped {item.day}: {item.reason}")
        return
    reasons: dict[str, int] = {}
    for item in skipped:
        reasons[item.reason] = reasons.get(item.reason, 0) + 1
    console.print(f"skipped {len(skipped)} day(s): " + "; ".join(f"{n} {r}" for r, n in sorted(reasons.items())))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)
