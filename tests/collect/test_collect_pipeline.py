"""A daily backfill, its gap fill and a re-run through the real pipeline: every bar is ingested exactly once.

The bronze file stream remembers files by path and never reads a path twice, so this is where a
landing layout proves itself: the failed symbol is filled in under new names (read), the wider range
lands only the missing sessions (read), and the complete re-run rewrites files under their own names
(not read again, and nothing is lost by that: they hold nothing new).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from tests.collect.collect_testing import AFTER_THANKSGIVING_2025, FAST_RETRY
from tests.collect.market_server import MarketServer

from market.collect import calendar
from market.collect.runner import collect

pytestmark = pytest.mark.spark

SYMBOLS = ["AAPL", "MSFT", "XOM"]
TABLES = ["bars_raw", "nyse_sessions_raw"]  # the two file streams over the landing folder


def test_backfill_gap_fill_and_rerun_ingest_each_bar_exactly_once(spark, local_project,
                                                                    server: MarketServer) -> None:
    project = local_project()
    env = project.env()
    settings = dict(symbols=SYMBOLS, timeframe="1Day", base_url=server.url, requests_per_minute=60_000,
                    retry=FAST_RETRY, at=AFTER_THANKSGIVING_2025)

    def bronze_keys() -> list[tuple]:
        rows = project.table(spark, "bronze.bars_raw").groupBy("symbol", "ts").count().collect()
        return sorted((r["symbol"], r["ts"], r["count"]) for r in rows)

    server.fault("status", match=lambda r: r.symbols == ["MSFT"], times=None, status=503)
    first = collect(env, "yfinance", start=date(2025, 3, 1), end=date(2025, 6, 30), **settings)
    assert {f.symbol for f in first.failures} == {"MSFT"}
    assert project.run(spark, tables=TABLES).ok
    spring = [s.date for s in calendar.sessions_between(date(2025, 3, 1), date(2025, 6, 30))]
    assert len(bronze_keys()) == 2 * len(spring)

    server.faults.clear()
    wider = collect(env, "yfinance", start=date(2025, 1, 1), end=date(2025, 11, 28), **settings)
    assert wider.ok and sorted(f.path.name for f in wider.files) == [
        "yfinance_1Day_2025-01-02_2025-02-28_b000.jsonl", "yfinance_1Day_2025-03-03_2025-06-30_b000_MSFT.jsonl",
        "yfinance_1Day_2025-07-01_2025-11-28_b000.jsonl"]
    second = project.run(spark, tables=TABLES)
    assert second.ok
    days = [s.date for s in calendar.sessions_between(date(2025, 1, 1), date(2025, 11, 28))]
    expected = len(SYMBOLS) * len(days)
    assert second.flow("bars_raw").metrics.written_rows == expected - 2 * len(spring)

    rerun = collect(env, "yfinance", start=date(2025, 1, 1), end=date(2025, 11, 28), **settings)
    assert rerun.ok and len(rerun.files) == 4, "complete: every file rewritten under its own name"
    third = project.run(spark, tables=TABLES)
    assert third.ok and third.flow("bars_raw").metrics.written_rows == 0

    keys = bronze_keys()
    assert len(keys) == expected and {count for *_, count in keys} == {1}, "each bar exactly once"
    assert {s for s, _, _ in keys} == set(SYMBOLS)
    assert {ts[:10] for _, ts, _ in keys} == {d.isoformat() for d in days}
    sessions = project.table(spark, "bronze.nyse_sessions_raw").groupBy("session_date").count().collect()
    assert len(sessions) == len(days) and {r["count"] for r in sessions} == {1}
    read = {Path(r[0]).name for r in project.table(spark, "bronze.bars_raw").select("_source_file").distinct()
            .collect()}
    assert read == {p.name for p in (project.landing / "bars").iterdir()}
