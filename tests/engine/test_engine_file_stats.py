"""Deciding from the Delta log's file statistics, without a Spark job, that no row of a table lies inside
a batch's key ranges (framework/delta_log.py `may_hold`, framework/engine/flows.py `key_box`): the merge of
a new session's bars becomes an append, a materialized view's new groups are appended. Unsure means None,
and the engine then asks Spark, so every case the statistics cannot decide is tested to say None."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from framework.delta_log import may_hold
from framework.engine.flows import KeyBounds, key_box


def _table(path: Path, *commits: list[dict]) -> Path:
    log = path / "_delta_log"
    log.mkdir(parents=True)
    for version, actions in enumerate(commits):
        (log / f"{version:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    return path


def _add(name: str, lows: dict | None, highs: dict | None, records: int = 10) -> dict:
    stats = None if lows is None else json.dumps({"numRecords": records, "minValues": lows, "maxValues": highs,
                                                   "nullCount": {}})
    return {"add": {"path": name, "size": 100, "dataChange": True, **({"stats": stats} if stats else {})}}


def _bars(tmp_path: Path, *later_commits: list[dict]) -> Path:
    return _table(tmp_path / "bars", [{"protocol": {"minReaderVersion": 1, "minWriterVersion": 2}},
                                      _add("a.parquet", {"symbol": "AAPL", "ts": "2025-11-20T14:30:00.000Z"},
                                           {"symbol": "MSFT", "ts": "2025-11-21T20:59:00.000Z"})], *later_commits)


UTC = timezone.utc


def test_keys_after_every_files_maximum_hold_no_row(tmp_path):
    table = _bars(tmp_path)
    box = {"symbol": ("AAPL", "TSLA"), "ts": (datetime(2025, 11, 24, 14, 30, tzinfo=UTC),
                                            datetime(2025, 11, 24, 20, 59, tzinfo=UTC))}
    assert may_hold(table, [box]) is False


def test_overlapping_keys_may_hold_a_row(tmp_path):
    table = _bars(tmp_path)
    box = {"symbol": ("AAPL", "AAPL"), "ts": (datetime(2025, 11, 21, 15, 0, tzinfo=UTC),) * 2}
    assert may_hold(table, [box]) is True
    # every key must overlap: a symbol outside the files' range rules the file out
    assert may_hold(table, [{**box, "symbol": ("NVDA", "ZZZ")}]) is False


def test_a_timestamp_maximum_kept_to_milliseconds_still_bounds_its_microseconds(tmp_path):
    table = _bars(tmp_path)
    inside = datetime(2025, 11, 21, 20, 59, tzinfo=UTC) + timedelta(microseconds=500)
    assert may_hold(table, [{"ts": (inside, inside)}]) is True


def test_a_removed_file_no_longer_counts(tmp_path):
    table = _bars(tmp_path, [{"remove": {"path": "a.parquet", "dataChange": True}},
                             _add("b.parquet", {"symbol": "AAPL", "ts": "2025-11-24T14:30:00.000Z"},
                                  {"symbol": "MSFT", "ts": "2025-11-24T20:59:00.000Z"})])
    old = datetime(2025, 11, 21, 15, 0, tzinfo=UTC)
    assert may_hold(table, [{"ts": (old, old)}]) is False
    assert may_hold(table, [{"ts": (old, old + timedelta(days=3))}]) is True


def test_what_the_statistics_cannot_tell_is_left_to_spark(tmp_path):
    no_stats = _bars(tmp_path, [_add("b.parquet", None, None)])
    later = datetime(2025, 12, 1, tzinfo=UTC)
    assert may_hold(no_stats, [{"ts": (later, later)}]) is None
    table = _bars(tmp_path / "other")
    assert may_hold(table, [{"volume": (1, 2)}]) is None  # a column the statistics do not cover
    assert may_hold(table, [{"ts": (datetime(2025, 12, 1), datetime(2025, 12, 1))}]) is None  # no time zone
    assert may_hold(table, [{"symbol": (1.5, 2.5)}]) is None  # floats are not compared


def test_date_groups_of_a_materialized_view(tmp_path):
    table = _table(tmp_path / "daily", [_add("a.parquet", {"trade_date": "2025-11-03"}, {"trade_date": "2025-11-21"})])
    assert may_hold(table, [{"trade_date": (date(2025, 11, 24),) * 2}]) is False
    assert may_hold(table, [{"trade_date": (date(2025, 11, 24),) * 2}, {"trade_date": (date(2025, 11, 10),) * 2}])
    assert may_hold(_table(tmp_path / "empty", [{"protocol": {}}]), [{"trade_date": (date(2025, 1, 1),) * 2}]) is False


def test_batch_bounds_become_typed_values_in_the_sessions_time_zone():
    bounds = [KeyBounds("symbol", "string", "AAPL", "MSFT"), KeyBounds("n", "bigint", "3", "9"),
              KeyBounds("day", "date", "2025-11-24", "2025-11-25"),
              KeyBounds("ts", "timestamp", "2025-11-24 14:30:00", "2025-11-24 20:59:00.5")]
    box = key_box(bounds, "UTC")
    assert box == {"symbol": ("AAPL", "MSFT"), "n": (3, 9), "day": (date(2025, 11, 24), date(2025, 11, 25)),
                   "ts": (datetime(2025, 11, 24, 14, 30, tzinfo=UTC), datetime(2025, 11, 24, 20, 59, 0, 500000, tzinfo=UTC))}
    new_york = key_box(bounds[3:], "America/New_York")
    assert new_york is not None
    low, high = new_york["ts"]
    assert low <= datetime(2025, 11, 24, 19, 30, tzinfo=UTC) and high >= datetime(2025, 11, 25, 1, 59, tzinfo=UTC)
    assert key_box([KeyBounds("price", "double", "1.0", "2.0")], "UTC") is None
    assert key_box(bounds[3:], "+01:00") is None  # not a zone name: Spark decides
