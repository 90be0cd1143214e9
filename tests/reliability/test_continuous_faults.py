"""`medallion run --continuous` as a real process under landing-folder faults: no loss, no duplicates.

* a burst of files lands while micro-batches run (written one after another, no pause);
* the landing folder disappears (deleted after ingestion) and comes back with new files;
* a file written in place — half of it, then (after the stream has seen it) the rest — as a
  collector that does not use temp-file-and-rename would.

SIGINT stops the process; then the tables are read: every landed line in bronze once, every valid
bar in silver once.
"""

from __future__ import annotations

import json
import shutil
import signal
import time
from datetime import date

import pytest

from tests.medallion_testing import bar_rows, make_local_project
from tests.processes import rows_where, start_run, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.reliability]

BURST = [(s, d) for s in ("AAPL", "MSFT", "JPM") for d in (date(2026, 11, 23), date(2026, 11, 24))]


def stop(process, log) -> str:
    process.send_signal(signal.SIGINT)
    code = process.wait(180)
    output = log.read_text()
    assert code == 0, output[-3000:]
    return output


def test_burst_of_files_and_a_vanishing_landing_folder_lose_nothing(spark, tmp_path):
    project = make_local_project(tmp_path / "project")
    project.write_calendar()
    first = bar_rows("NVDA", date(2026, 11, 20))
    project.write_bars("synthetic_2026-11-20_b000.jsonl", first)
    log = tmp_path / "continuous.log"
    process = start_run(project, "--continuous", log=log)
    expected = len(first)
    try:
        wait_for(lambda: rows_where(spark, project, "silver.bars") == len(first), 300, "the first file in silver", process)
        for i, (symbol, day) in enumerate(BURST):  # while micro-batches run
            rows = bar_rows(symbol, day)
            project.write_bars(f"synthetic_{day}_b{i:03d}.jsonl", rows)
            expected += len(rows)
            time.sleep(0.3)
        wait_for(lambda: rows_where(spark, project, "silver.bars") == expected, 300, "the burst in silver", process)

        shutil.rmtree(project.landing / "bars")  # the landing folder disappears ...
        time.sleep(6)  # ... for three trigger intervals
        assert process.poll() is None, "continuous mode must survive a missing landing folder"
        late = bar_rows("TSLA", date(2026, 11, 25))
        project.write_bars("synthetic_2026-11-25_b000.jsonl", late)  # ... and comes back
        expected += len(late)
        wait_for(lambda: rows_where(spark, project, "silver.bars") == expected, 300, "the returned folder's file", process)
    finally:
        output = stop(process, log)
    assert rows_where(spark, project, "bronze.bars_raw") == expected, output[-3000:]
    silver = project.table(spark, "silver.bars")
    assert silver.count() == silver.select("symbol", "ts", "timeframe").distinct().count() == expected


def test_a_file_written_in_place_is_not_read_half_written(spark, tmp_path):
    project = make_local_project(tmp_path / "project")
    project.write_calendar()
    project.write_bars("synthetic_2026-11-20_b000.jsonl", bar_rows("NVDA", date(2026, 11, 20)))
    log = tmp_path / "continuous.log"
    process = start_run(project, "--continuous", log=log)
    rows = [json.dumps(r) for r in bar_rows("AAPL", date(2026, 11, 24))]
    target = project.landing / "bars" / "synthetic_2026-11-24_b000.jsonl"
    try:
        wait_for(lambda: rows_where(spark, project, "silver.bars") > 0, 300, "the first file in silver", process)
        half = len(rows) // 2
        with target.open("w") as handle:
            handle.write("\n".join(rows[:half]) + "\n" + rows[half][:20])  # ends mid-line, as a slow writer does
            handle.flush()
            time.sleep(6)  # three trigger intervals, within the environment's landing_settle_seconds (10)
            assert rows_where(spark, project, "bronze.bars_raw", "_source_file LIKE '%2026-11-24%'") == 0, \
                "the half-written file was read"
            handle.write(rows[half][20:] + "\n" + "\n".join(rows[half + 1:]) + "\n")
        wait_for(lambda: rows_where(spark, project, "silver.bars", "symbol = 'AAPL'") == len(rows), 120,
                 "the whole file in silver", process)
    finally:
        stop(process, log)
    assert rows_where(spark, project, "bronze.bars_raw", "symbol = 'AAPL' OR _rescued_data LIKE '%AAPL%'") == len(rows)
    assert rows_where(spark, project, "silver.bars", "symbol = 'AAPL'") == len(rows)
