"""Helpers for the reliability tests that drive `medallion run` as real processes.

Kept apart from the tests so each test file reads as a scenario: start a run, watch its storage
folder, kill it, compare tables.
"""

from __future__ import annotations

import json

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tests.medallion_testing import REPO, SESSIONS, LocalProject, bar_rows

DAYS = tuple(sorted(SESSIONS))
"""The six real NYSE sessions the shared fixtures know (all in the past, or silver quarantines them)."""
TABLES = ("bronze.bars_raw", "bronze.nyse_sessions_raw", "silver.bars", "silver.bars_quarantine",
          "silver.trading_sessions", "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary")
VOLATILE = ("_ingested_at", "_quarantined_at")
"""Columns that hold the time of ingestion: they differ between any two runs by construction."""


def start_run(project: LocalProject, *args: str, log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """`python -m framework run --env test` in the project, output appended to `log`."""
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "framework", "run", "--env", project.env_name, "--project",
                             str(project.root), *args], cwd=project.root, stdout=handle, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "160", **(env or {})})


def wait_for(condition: Callable[[], object], timeout: float, what: str,
             process: subprocess.Popen | None = None) -> float:
    """Poll `condition` every 50 ms; fail if the process ends first or the timeout passes."""
    started = time.monotonic()
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended (code {process.returncode}) before {what}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def rows_where(spark, project: LocalProject, table: str, condition: str = "true") -> int:
    """Rows of a table another process is writing; 0 while it does not exist yet."""
    try:
        return project.table(spark, table).where(condition).count()
    except Exception:  # noqa: BLE001 - not created (or first commit not written) yet
        return 0


def land_history(project: LocalProject) -> int:
    """Six bar files (one per session, distinct mtimes), a correction and a malformed line; returns lines."""
    project.write_calendar()
    lines = 0
    for i, day in enumerate(DAYS):
        rows: list = [r for s in ("AAPL", "MSFT", "JPM") for r in bar_rows(s, day, price=100 + i)]
        if i == 3:  # a correction of an earlier bar (the later ingestion wins) and a malformed line
            rows += CORRECTION_AND_MALFORMED
        land_at(project, f"synthetic_{day}_b000.jsonl", rows, i)
        lines += len(rows)
    return lines


CORRECTION_AND_MALFORMED: list = [{**bar_rows("AAPL", DAYS[1], price=101)[2], "volume": 999_999},
                                  '{"symbol": "JPM", "ts": ']


def history_waves() -> list[tuple[str, list]]:
    """The history of `land_history` as 18 smaller files (a session and a symbol each), in landing order."""
    waves = []
    for i, day in enumerate(DAYS):
        for symbol in ("AAPL", "MSFT", "JPM"):
            rows: list = bar_rows(symbol, day, price=100 + i)
            if i == 3 and symbol == "JPM":
                rows = rows + CORRECTION_AND_MALFORMED
            waves.append((f"synthetic_{day}_{symbol}.jsonl", rows))
    return waves


def land_at(project: LocalProject, name: str, rows: list, order: int) -> Path:
    """Land a bar file with a modification time that orders it (the file stream reads oldest first)."""
    path = project.write_bars(name, rows)
    os.utime(path, (1_800_000_000 + order * 60, 1_800_000_000 + order * 60))
    return path


def snapshot(spark, project: LocalProject) -> dict[str, list[tuple]]:
    """Every table's rows (minus ingestion times, source paths reduced to names, in `_source_file` and in the
    rescued data), sorted: comparable across runs and across project folders."""
    out = {}
    for table in TABLES:
        df = project.table(spark, table)
        columns = [c for c in df.columns if c not in VOLATILE]
        rows = []
        for row in df.select(*columns).collect():
            values = row.asDict()
            if values.get("_source_file"):
                values["_source_file"] = Path(values["_source_file"]).name
            if values.get("_rescued_data"):  # Auto Loader names the file inside the rescued JSON too
                rescued = json.loads(values["_rescued_data"])
                if "_file_path" in rescued:
                    rescued["_file_path"] = Path(rescued["_file_path"]).name
                values["_rescued_data"] = json.dumps(rescued, sort_keys=True)
            rows.append(tuple(sorted((k, repr(v)) for k, v in values.items())))
        out[table] = sorted(rows)
    return out


def storage_files(project: LocalProject) -> dict[str, float]:
    """Durable progress markers of a run: Delta commits and streaming checkpoint files, with mtimes."""
    found = {}
    root = project.storage
    if not root.exists():
        return found
    for path in root.rglob("*"):
        name = path.name
        if name.startswith(".") or name.endswith((".tmp", ".crc")) or not path.is_file():
            continue
        relative = path.relative_to(root).as_posix()
        if "/_delta_log/" in relative and name.endswith(".json") or "/offsets/" in relative \
                or "/commits/" in relative or relative.endswith(("/_inputs.json",)):
            try:
                found[relative] = path.stat().st_mtime
            except FileNotFoundError:
                continue
    return found


def committed_not_checkpointed(project: LocalProject) -> str | None:
    """A streaming batch whose Delta write is committed (its commit tag — flow, batch — is in the table's
    log) but whose checkpoint commit is missing: the restart replays it and skips the write. This is the
    kill window that used to hang restarts (the engine waited for the skipped write's Observation)."""
    checkpoints = project.storage / "checkpoints"
    for offsets in checkpoints.glob("*/*/stream/offsets"):
        commits = offsets.parent / "commits"
        pending = sorted(int(p.name) for p in offsets.iterdir() if p.name.isdigit()
                         and not (commits / p.name).exists())
        if not pending:
            continue
        layer, table = offsets.parts[-4], offsets.parts[-3]
        log = project.storage / "tables" / layer / table / "_delta_log"
        text = "".join(p.read_text() for p in log.glob("*.json")) if log.is_dir() else ""
        for batch in pending:
            tag = json.dumps(json.dumps({"flow": f"{layer}.{table}", "batch": batch}))[1:-2]  # as in userMetadata
            if tag + "," in text:
                return f"{layer}.{table} batch {batch}: Delta commit present, checkpoint commit missing"
    return None
