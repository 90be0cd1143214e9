"""Incremental refresh of materialized views (`refresh:`): a day's run recomputes only what that day changed,
and the table is exactly what a full recomputation gives — after new days, late corrections and deletions.
"""

from __future__ import annotations

import pytest

from tests.medallion_testing import SESSIONS, bar_rows, make_local_project

pytestmark = pytest.mark.spark

DAYS = sorted(SESSIONS)
SYMBOLS = ("AAPL", "MSFT")


def rows_of(project, spark, table: str) -> list[tuple]:
    df = project.table(spark, table)
    return sorted(tuple(row) for row in df.collect())


def last_write(project, spark, table: str) -> dict[str, str]:
    """operationParameters of the table's newest WRITE (an OPTIMIZE may follow it)."""
    path = project.storage / "tables" / table.replace(".", "/")
    history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`")
    return history.where("operation = 'WRITE'").orderBy(history.version.desc()).first()["operationParameters"]


def land_day(project, day, *, batch: str = "b000", price: float = 100.0, every: int = 60) -> None:
    for symbol in SYMBOLS:
        project.write_bars(f"{symbol}-{day}-{batch}.jsonl",
                           bar_rows(symbol, day, every_minutes=every, batch_id=batch, price=price))


def test_a_new_day_recomputes_only_that_day_and_equals_a_full_refresh(spark, tmp_path):
    project = make_local_project(tmp_path / "p")
    project.write_calendar()
    for day in DAYS[:3]:
        land_day(project, day)
    assert project.run(spark).ok
    assert "predicate" not in last_write(project, spark, "gold.daily_bars")  # the first refresh: all of it

    land_day(project, DAYS[3])
    result = project.run(spark)
    assert result.ok and result.flow("daily_bars").status == "COMPLETED"
    # the view's file statistics show no row of the new day: appended, not a replaceWhere of absent rows
    assert last_write(project, spark, "gold.daily_bars")["mode"] == "Append"
    assert result.flow("daily_bars").metrics.input_rows == len(SYMBOLS)  # only the new day was recomputed
    indicators = result.flow("daily_indicators")
    assert indicators.status == "COMPLETED" and indicators.metrics.input_rows == len(SYMBOLS)  # extended
    assert last_write(project, spark, "gold.daily_indicators")["mode"] == "Append"
    incremental = rows_of(project, spark, "gold.daily_bars")
    assert {r[1] for r in incremental} == set(DAYS[:4])
    incremental_indicators = rows_of(project, spark, "gold.daily_indicators")

    assert project.run(spark, full_refresh=["daily_bars", "daily_indicators"]).ok
    assert rows_of(project, spark, "gold.daily_bars") == incremental
    assert rows_of(project, spark, "gold.daily_indicators") == incremental_indicators


def test_a_late_correction_recomputes_its_day_only(spark, tmp_path):
    project = make_local_project(tmp_path / "p")
    project.write_calendar()
    for day in DAYS[:3]:
        land_day(project, day)
    assert project.run(spark).ok
    before = {r[:2]: r for r in rows_of(project, spark, "gold.daily_bars")}

    # a re-delivery of day 2 with other prices: silver keeps the latest ingestion (an update in its MERGE)
    land_day(project, DAYS[1], batch="b001", price=250.0)
    result = project.run(spark)
    assert result.ok and result.flow("daily_bars").metrics.input_rows == len(SYMBOLS)
    after = {r[:2]: r for r in rows_of(project, spark, "gold.daily_bars")}
    changed = {key for key in after if after[key] != before[key]}
    assert changed == {(s, DAYS[1]) for s in SYMBOLS}
    assert str(DAYS[1]) in last_write(project, spark, "gold.daily_bars")["predicate"]

    recomputed = last_write(project, spark, "gold.daily_indicators")  # its symbols' history changed
    assert recomputed["mode"] == "Overwrite" and "AAPL" in recomputed["predicate"]
    indicators = rows_of(project, spark, "gold.daily_indicators")

    assert project.run(spark, full_refresh=["daily_bars", "daily_indicators"]).ok
    assert {r[:2]: r for r in rows_of(project, spark, "gold.daily_bars")} == after
    assert rows_of(project, spark, "gold.daily_indicators") == indicators


def test_no_upstream_change_is_up_to_date_and_a_spec_change_recomputes_everything(spark, tmp_path):
    project = make_local_project(tmp_path / "p")
    project.write_calendar()
    for day in DAYS[:2]:
        land_day(project, day)
    assert project.run(spark).ok
    assert project.run(spark).flow("daily_bars").status == "UP_TO_DATE"
    project.edit("tables/gold/daily_bars.yaml", "count(*) AS bar_count", "count(ts) AS bar_count")
    result = project.run(spark)
    assert result.flow("daily_bars").status == "COMPLETED"
    assert result.flow("daily_bars").metrics.input_rows == 2 * len(SYMBOLS)  # everything, not one day


def test_a_rebuilt_upstream_forces_a_full_recomputation(spark, tmp_path):
    project = make_local_project(tmp_path / "p")
    project.write_calendar()
    for day in DAYS[:2]:
        land_day(project, day)
    assert project.run(spark).ok
    before = rows_of(project, spark, "gold.daily_bars")
    result = project.run(spark, full_refresh=["bars"])  # a new silver table: its change feed starts over
    assert result.ok and result.flow("daily_bars").metrics.input_rows == 2 * len(SYMBOLS)
    assert rows_of(project, spark, "gold.daily_bars") == before


def test_an_append_in_place_of_a_replace_fails_on_a_row_outside_the_new_groups(spark):
    """As Delta's replaceWhere rejects a row outside its predicate, so does the append that replaces it
    when the groups are new (a Python transform returning rows of other days must not add them)."""
    from framework.engine.flows import _rows_within  # noqa: PLC2701 - the guard itself, without a pipeline

    df = spark.createDataFrame([("2026-11-27", 1), ("2026-11-26", 2)], "trade_date string, n int")
    within = "trade_date = '2026-11-27'"
    assert _rows_within(df.where("n = 1"), within, "gold.daily_bars").count() == 1
    with pytest.raises(Exception, match="gold.daily_bars: the refresh produced a row outside the groups"):
        _rows_within(df, within, "gold.daily_bars").collect()
