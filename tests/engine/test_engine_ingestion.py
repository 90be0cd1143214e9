"""Landing-file ingestion: schema evolution of bronze (`add_new_columns`) without losing a record."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.medallion_testing import bar_rows

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)


def test_new_fields_become_bronze_columns_and_nothing_is_lost(spark, local_project):
    project = local_project()
    project.write_calendar()
    first = bar_rows("AAPL", DAY)
    project.write_bars("a.jsonl", first)
    assert project.run(spark, tables=["bars_raw"]).ok

    # a new file whose records carry a field the spec does not declare: a new column
    tagged = [{**row, "exchange": "XNAS"} for row in bar_rows("MSFT", DAY)]
    project.write_bars("b.jsonl", tagged)
    result = project.run(spark, tables=["bars_raw", "bars"])
    assert result.ok, [f.error for f in result.failed]
    bronze = project.table(spark, "bronze.bars_raw")
    assert "exchange" in bronze.columns
    assert bronze.where("exchange = 'XNAS'").count() == len(tagged)
    assert bronze.where("symbol = 'AAPL' AND exchange IS NULL").count() == len(first)
    assert bronze.where("_rescued_data IS NOT NULL").count() == 0
    assert project.table(spark, "silver.bars").count() == len(first) + len(tagged)  # silver keeps its columns

    # a field that appears only deep inside a file: that record is rescued whole, the column added after
    late = bar_rows("AMZN", DAY)
    late[2] = {**late[2], "venue": "dark"}
    project.write_bars("c.jsonl", late)
    result = project.run(spark, tables=["bars_raw"])
    assert result.ok
    rescued = project.table(spark, "bronze.bars_raw").where("_rescued_data IS NOT NULL").collect()
    assert len(rescued) == 1 and json.loads(rescued[0]["_rescued_data"])["venue"] == "dark"
    warned = spark.sql(f"""SELECT message FROM ops.event_log WHERE origin.update_id = '{result.update_id}'
                           AND level = 'WARN'""").collect()
    assert any("venue" in r["message"] for r in warned)

    project.write_bars("d.jsonl", [{**row, "venue": "lit"} for row in bar_rows("GOOGL", DAY)])
    assert project.run(spark, tables=["bars_raw"]).ok
    bronze = project.table(spark, "bronze.bars_raw")
    assert bronze.where("venue = 'lit'").count() == len(bar_rows("GOOGL", DAY))
    assert bronze.count() == len(first) + len(tagged) + len(late) + len(bar_rows("GOOGL", DAY))


def test_a_file_still_being_written_is_read_once_complete(spark, local_project):
    """A writer that does not rename: the run waits for the file's last line, then reads all of it."""
    import threading
    import time

    project = local_project()
    project.write_calendar()
    rows = [json.dumps(r) for r in bar_rows("AAPL", DAY)]
    target = project.landing / "bars" / "inplace.jsonl"
    target.parent.mkdir(parents=True, exist_ok=True)
    half = len(rows) // 2
    target.write_text("\n".join(rows[:half]) + "\n" + rows[half][:15])  # ends mid-line

    def finish() -> None:
        time.sleep(3)
        with target.open("a") as handle:
            handle.write(rows[half][15:] + "\n" + "\n".join(rows[half + 1:]) + "\n")

    writer = threading.Thread(target=finish)
    writer.start()
    try:
        result = project.run(spark, tables=["bars_raw"])
    finally:
        writer.join()
    assert result.ok, [f.error for f in result.failed]
    bronze = project.table(spark, "bronze.bars_raw")
    assert bronze.count() == len(rows)
    assert bronze.where("_rescued_data IS NOT NULL").count() == 0
