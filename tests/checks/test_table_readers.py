"""The checks' typed reads (framework/checks/reader.py): the Arrow reader on small real Delta tables, its
Spark semantics (NULL keys, TIMESTAMPs as UTC instants whatever the process's time zone, empty tables,
time travel), and the Arrow and Spark readers giving the same answers on the same tables.

The tables are written with `deltalake` (what the local runtime's JVM-free paths use) into a storage
folder laid out as the local runtime's (`TableRef.path`); the Spark test registers the same folders.
"""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from framework.checks.arrow_reader import ArrowReader
from framework.checks.reader import Aggregate, Aggregation, Equals, In, NotNull
from framework.naming import TableRef

SCHEMA = "readers"
UTC = timezone.utc
T0 = datetime(2026, 11, 27, 14, 30, tzinfo=UTC)


def ref(root: Path, name: str) -> TableRef:
    return TableRef(name, SCHEMA, "", storage_root=root)


def bars_table() -> pa.Table:
    """Keys with NULLs: (AAPL, NULL) twice and (NULL, NULL) twice are duplicates as Spark groups them."""
    return pa.table({
        "symbol": pa.array(["AAPL", "AAPL", "AAPL", "MSFT", None, None, "AAPL", "AAPL"], pa.string()),
        "trade_date": pa.array([date(2026, 11, 25), date(2026, 11, 27), None, date(2026, 11, 27), None, None,
                                date(2026, 11, 27), date(2026, 11, 27)], pa.date32()),
        "ts": pa.array([T0 - timedelta(days=2), T0, T0 + timedelta(minutes=1), T0 + timedelta(hours=6, minutes=29),
                        None, None, T0 + timedelta(minutes=2, seconds=30), None], pa.timestamp("us", tz="UTC")),
        "timeframe": pa.array(["1Min", "1Min", "1Min", "1Min", "1Min", "1Min", "1Day", "1Min"], pa.string()),
    })


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """bars (two versions, a second apart: 6 rows, then 8), empty (no row, one version)."""
    root = tmp_path / "storage"
    bars = ref(root, "bars").path
    write_deltalake(str(bars), bars_table().slice(0, 6))
    time.sleep(1.1)
    write_deltalake(str(bars), bars_table().slice(6), mode="append")
    write_deltalake(str(ref(root, "empty").path), bars_table().slice(0, 0))
    return root


@pytest.fixture
def new_york(monkeypatch):
    """The process's local time is New York (UTC-5 in late November): a reader leaking it shifts 5 hours."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def questions(readers: dict[str, Any], root: Path, versions_at: list[datetime]) -> dict[str, dict[str, Any]]:
    """Every question the checks ask, over the test tables: the answers two readers must agree on."""
    bars, empty = ref(root, "bars"), ref(root, "empty")
    spans = Aggregation((Aggregate("first", "min", "trade_date"), Aggregate("last", "max", "trade_date"),
                         Aggregate("present", "count_distinct", "trade_date"), Aggregate("rows", "count"),
                         Aggregate("dated", "count", "trade_date")), group_by=("symbol",))
    minutes = Aggregation((Aggregate("bars", "collect_set", "ts"), Aggregate("newest", "max", "ts"),
                           Aggregate("oldest", "min", "ts")),
                          group_by=("symbol", "trade_date"),
                          where=(Equals("timeframe", "1Min"), NotNull("symbol"),
                                 In(("symbol", "trade_date"), (("AAPL", date(2026, 11, 27)), ("MSFT", None)))))
    overall = Aggregation((Aggregate("latest", "max", "ts"), Aggregate("rows", "count"),
                           Aggregate("days", "collect_set", "trade_date")))
    reader_answers = {}
    for name, reader in readers.items():
        reader_answers[name] = {
            "exists": (reader.exists(bars), reader.exists(empty), reader.exists(ref(root, "absent"))),
            "count": (reader.count(bars), reader.count(bars, 0), reader.count(empty)),
            "versions": [reader.last_version_before(bars, moment) for moment in versions_at],
            "duplicates": (reader.duplicate_groups(bars, ["symbol", "trade_date"]),
                           reader.duplicate_groups(bars, ["symbol", "trade_date", "ts"]),
                           reader.duplicate_groups(empty, ["symbol"])),
            "spans": sorted(reader.aggregate(bars, spans), key=repr),
            "minutes": sorted(reader.aggregate(bars, minutes), key=repr),
            "overall": reader.aggregate(bars, overall),
            "overall_empty": reader.aggregate(empty, overall),
            "spans_empty": reader.aggregate(empty, spans),
        }
    return reader_answers


def test_the_arrow_reader_keeps_sparks_semantics(tables, new_york):
    bars = ref(tables, "bars")
    committed = [datetime.fromtimestamp(c["timestamp"] / 1000, UTC)
                 for c in sorted(DeltaTable(str(bars.path)).history(), key=lambda c: c["version"])]
    between = committed[0] + (committed[1] - committed[0]) / 2
    reader = ArrowReader()
    answers = questions({"arrow": reader}, tables,
                        [committed[0] - timedelta(seconds=1), between, committed[1] + timedelta(seconds=1)])
    arrow = answers["arrow"]

    assert arrow["exists"] == (True, True, False)
    assert arrow["count"] == (8, 6, 0), "the table now, at version 0 (time travel), and the empty table"
    assert arrow["versions"] == [None, 0, 1], "no version before the first commit; then the last one before"
    # (AAPL, 2026-11-27) x3 and (NULL, NULL) x2: NULL keys are one group, as Spark's GROUP BY makes them
    assert arrow["duplicates"] == (2, 1, 0)
    spans = {row["symbol"]: row for row in arrow["spans"]}
    assert spans["AAPL"] == {"symbol": "AAPL", "first": date(2026, 11, 25), "last": date(2026, 11, 27),
                             "present": 2, "rows": 5, "dated": 4}, "min/max/count(column) skip NULLs"
    assert spans[None] == {"symbol": None, "first": None, "last": None, "present": 0, "rows": 2, "dated": 0}
    (aapl,) = arrow["minutes"]  # 1Min only, the listed (symbol, day) tuples only: a NULL never matches
    assert aapl["bars"] == frozenset({T0}) and aapl["newest"] == T0 == aapl["oldest"]
    assert aapl["newest"].utcoffset() == timedelta(0), "a TIMESTAMP is a UTC instant, not New York's wall time"
    assert arrow["overall"] == [{"latest": T0 + timedelta(hours=6, minutes=29), "rows": 8,
                                 "days": frozenset({date(2026, 11, 25), date(2026, 11, 27)})}]
    assert arrow["overall_empty"] == [{"latest": None, "rows": 0, "days": frozenset()}], \
        "a global aggregate over no row is one row, as in Spark"
    assert arrow["spans_empty"] == []

    write_deltalake(str(bars.path), bars_table().slice(0, 1), mode="append")
    assert (reader.count(bars), reader.count(bars, 0)) == (9, 6), "asked again, the reader reads the new version"


@pytest.mark.spark
def test_the_arrow_and_spark_readers_agree(spark, tables, new_york):
    from framework.checks.spark_reader import SparkReader

    spark.sql(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}")
    for name in ("bars", "empty"):
        spark.sql(f"DROP TABLE IF EXISTS {SCHEMA}.{name}")
        spark.sql(f"CREATE TABLE {SCHEMA}.{name} USING DELTA LOCATION '{ref(tables, name).path}'")
    try:
        history = spark.sql(f"DESCRIBE HISTORY {SCHEMA}.bars").orderBy("version").collect()
        first, second = (r["timestamp"].astimezone(UTC) if r["timestamp"].tzinfo else
                         r["timestamp"].astimezone().astimezone(UTC) for r in history)
        moments = [first - timedelta(seconds=1), first + (second - first) / 2, second + timedelta(seconds=1)]
        answers = questions({"arrow": ArrowReader(), "spark": SparkReader(spark)}, tables, moments)
        assert answers["arrow"] == answers["spark"]
        assert answers["spark"]["duplicates"] == (2, 1, 0)

        # deletion vectors: deltalake would count the deleted rows (and refuses the scan): Spark answers
        deleted = ref(tables, "deleted")
        spark.sql(f"CREATE TABLE {SCHEMA}.deleted (id INT) USING DELTA LOCATION '{deleted.path}' "
                  "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
        spark.sql(f"INSERT INTO {SCHEMA}.deleted SELECT CAST(id % 50 AS INT) FROM range(100)")
        spark.sql(f"DELETE FROM {SCHEMA}.deleted WHERE id < 10")
        assert DeltaTable(str(deleted.path)).count() == 100, "deltalake ignores the deletion vector"
        arrow = ArrowReader(fallback=lambda: SparkReader(spark))
        assert not arrow.readable(deleted) and arrow.readable(ref(tables, "bars"))
        assert (arrow.count(deleted), arrow.duplicate_groups(deleted, ["id"])) == (80, 40)
        with pytest.raises(ValueError, match="deletionVectors"):
            ArrowReader().count(deleted)
    finally:
        for name in ("bars", "empty", "deleted"):
            spark.sql(f"DROP TABLE IF EXISTS {SCHEMA}.{name}")
