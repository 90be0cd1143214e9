"""`medallion run` as a real process: killed mid-run it resumes exactly; continuous mode follows new files.

These start their own JVMs (one per `python -m framework run`), so they are the slow ones.
"""

from __future__ import annotations

import signal
import time
from datetime import date

import pytest

from tests.medallion_testing import bar_rows
from tests.processes import land_history, rows_where, snapshot, start_run, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow]


def test_killed_run_resumes_to_the_same_tables(spark, local_project, tmp_path):
    reference, victim = local_project(), local_project()
    for project in (reference, victim):
        project.edit("tables/bronze/bars_raw.yaml", "max_files_per_trigger: 200", "max_files_per_trigger: 1")
        land_history(project)
    assert reference.run(spark).ok
    log = tmp_path / "victim.log"
    checkpoints = victim.storage / "checkpoints"

    # 1: SIGKILL while bronze is between its micro-batches (two committed, the third under way)
    process = start_run(victim, log=log)
    wait_for(lambda: (checkpoints / "bronze/bars_raw/stream/commits/1").exists(), 300, "two bronze batches", process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)
    assert not (checkpoints / "silver/bars/stream/commits/0").exists()

    # 2: SIGKILL while silver's first micro-batch is planned and running
    process = start_run(victim, log=log)
    wait_for(lambda: (checkpoints / "silver/bars/stream/offsets/0").exists(), 300, "silver's first batch", process)
    process.send_signal(signal.SIGKILL)
    process.wait(30)

    # 3: run to the end
    process = start_run(victim, log=log)
    assert process.wait(600) == 0, log.read_text()[-3000:]
    assert snapshot(spark, victim) == snapshot(spark, reference)
    assert victim.table(spark, "silver.bars").where("volume = 999999").count() == 1


def test_continuous_mode_follows_new_files_and_stops_cleanly(spark, local_project, tmp_path):
    project = local_project()
    project.write_calendar()
    project.write_bars("synthetic_2026-11-24_b000.jsonl", bar_rows("AAPL", date(2026, 11, 24)))
    log = tmp_path / "continuous.log"
    process = start_run(project, "--continuous", log=log)
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
