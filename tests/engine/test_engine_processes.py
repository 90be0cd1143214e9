"""`medallion run` as a real process: killed mid-run it resumes exactly; continuous mode follows new files.

These start their own JVMs (one per `python -m framework run`), so they are the slow ones.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from medallion_testing import REPO, LocalProject, bar_rows

pytestmark = [pytest.mark.spark, pytest.mark.slow]

DAYS = (date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24))
TABLES = ("bronze.bars_raw", "bronze.nyse_sessions_raw", "silver.bars", "silver.bars_quarantine",
          "silver.trading_sessions", "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary")
VOLATILE = ("_ingested_at", "_quarantined_at")


def start(project: LocalProject, *args: str, log: Path) -> subprocess.Popen:
    handle = log.open("ab")
    return subprocess.Popen([sys.executable, "-m", "framework", "run", "--env", "test", "--project",
                             str(project.root), *args], cwd=project.root, stdout=handle, stderr=subprocess.STDOUT,
                            env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "160"})


def wait_for(condition, timeout: float, what: str, process: subprocess.Popen | None = None) -> float:
    started = time.monotonic()
    while not condition():
        if process is not None and process.poll() is not None:
            raise AssertionError(f"process ended (code {process.returncode}) before {what}")
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)
    return time.monotonic() - started


def rows_where(spark, project: LocalProject, table: str, condition: str) -> int:
    """Rows of a table another process is writing; 0 while it does not exist yet."""
    try:
        return project.table(spark, table).where(condition).count()
    except Exception:  # noqa: BLE001 - not created (or first commit not written) yet
        return 0


def land_history(project: LocalProject) -> None:
    """Four files (one per session) with distinct modification times, a re-landed correction and a bad line."""
    project.write_calendar()
    for i, day in enumerate(DAYS):
        rows = [r for s in ("AAPL", "JPM") for r in bar_rows(s, day, price=100 + i)]
        if i == 3:  # a correction of an earlier session's bar: the later ingestion must win
            rows.append({**bar_rows("AAPL", DAYS[1], price=101)[2], "volume": 999_999})
            rows.append('{"symbol": "JPM", "ts": ')
        path = project.write_bars(f"synthetic_{day}_b000.jsonl", rows)
        os.utime(path, (1_800_000_000 + i * 60, 1_800_000_000 + i * 60))


def snapshot(spark, project: LocalProject) -> dict[str, list[tuple]]:
    out = {}
    for table in TABLES:
        df = project.table(spark, table)
        columns = [c for c in df.columns if c not in VOLATILE]
        rows = []
        for row in df.select(*columns).collect():
            values = row.asDict()
            if values.get("_source_file"):
                values["_source_file"] = Path(values["_source_file"]).name
            rows.append(tuple(sorted((k, repr(v)) for k, v in values.items())))
        out[table] = sorted(rows)
    return out


def test_killed_run_resumes_to_the_same_tables(spark, local_project, tmp_path):
    reference, victim = local_project(), local_project()
    for project in (reference, victim):
        project.edit("tables/bronze/bars_raw.yaml", "max_files_per_trigger: 200", "max_files_per_trigger: 1")
        land_history(project)
    assert reference.run(spark).ok
    log = tmp_path / "victim.log"
    checkpoints = victim.storage / "checkpoints"

    # 1: SIGKILL while bronze is between its micro-batches (two committed, the third under way)
    process = start(victim, log=log)
    wait_for(lambda: (checkpoints / "bronze/bars_raw/stream/commits/1").exists(), 300, "two bronze batches", process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert not (checkpoints / "silver/bars/stream/commits/0").exists()

    # 2: SIGKILL while silver's first micro-batch is planned and running
    process = start(victim, log=log)
    wait_for(lambda: (checkpoints / "silver/bars/stream/offsets/0").exists(), 300, "silver's first batch", process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    # 3: run to the end
    process = start(victim, log=log)
    assert process.wait(600) == 0, log.read_text()[-3000:]
    assert snapshot(spark, victim) == snapshot(spark, reference)
    assert victim.table(spark, "silver.bars").where("volume = 999999").count() == 1


def test_continuous_mode_follows_new_files_and_stops_cleanly(spark, local_project, tmp_path):
    project = local_project()
    project.write_calendar()
    project.write_bars("synthetic_2026-11-24_b000.jsonl", bar_rows("AAPL", date(2026, 11, 24)))
    log = tmp_path / "continuous.log"
    process = start(project, "--continuous", log=log)
    try:
        wait_for(lambda: rows_where(spark, project, "gold.daily_bars", "symbol = 'AAPL'") == 1, 300,
                 "the first day in gold", process)
        landed = time.monotonic()
        project.write_bars("synthetic_2026-11-25_b000.jsonl", bar_rows("NVDA", date(2026, 11, 25)))
        in_bronze = wait_for(lambda: rows_where(spark, project, "bronze.bars_raw", "symbol = 'NVDA'") > 0,
                             120, "the new file in bronze", process)
        in_gold = wait_for(lambda: rows_where(spark, project, "gold.daily_bars", "symbol = 'NVDA'") == 1,
                           120, "the new file in gold", process) + in_bronze
        print(f"continuous latency: bronze {in_bronze:.1f}s, gold {in_gold:.1f}s after landing")
        assert time.monotonic() - landed < 240
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(180)
    output = log.read_text()
    assert code == 0, output[-3000:]
    assert "stopping after the current micro-batch" in output and "canceled" in output
    assert not list((project.storage / "checkpoints").rglob("*.tmp"))
    again = project.run(spark)  # nothing was left half-done: a triggered run finds nothing new
    assert again.ok and all(f.metrics.input_rows == 0 for f in again.flows if f.spec.is_streaming)
    assert {f.status for f in again.flows if not f.spec.is_streaming} == {"UP_TO_DATE"}
