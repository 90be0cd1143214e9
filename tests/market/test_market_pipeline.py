"""The market-bars product end to end on real Spark + Delta: collected data -> pipeline -> gold,
compared column by column with an independent computation, and the quality-checks job judging a
clean dataset and a deliberately broken one.

Two real datasets: daily OHLCV of real stocks (Quandl WIKI prices shipped in the PyPI package
bokeh_sampledata, imported by the csv provider), and seeded synthetic minute bars with injected
defects over real NYSE sessions (including the 13:00 early close of 2025-11-28).
"""

from __future__ import annotations

import gzip
import math
from datetime import date, datetime, timezone
from importlib import resources

import pytest

from tests.medallion_testing import make_local_project
from framework.checks.suite import CheckContext, run_checks
from market.collect import calendar, collect
from tests.market import reference

pytestmark = pytest.mark.spark

STOCKS = ("AAPL", "IBM")
STOCK_RANGE = (date(2011, 1, 1), date(2012, 12, 31))
MINUTE_SYMBOLS = ["AAPL", "MSFT", "JPM"]
MINUTE_SESSIONS = [date(2025, 11, 25), date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1)]
GOLD_INDICATORS = ("close", "return_1d", "log_return_1d", "sma_5", "sma_20", "sma_50", "ema_20", "true_range",
                   "atr_14", "volatility_20d")


def _rows(project, spark, table: str) -> list[dict]:
    return [r.asDict() for r in project.table(spark, table).collect()]


def _assert_matches(actual: dict, expected: dict, columns, where: str) -> None:
    for column in columns:
        a, e = actual[column], expected[column]
        assert reference.close_enough(a, e), f"{where}.{column}: pipeline {a!r} != reference {e!r}"


def _stock_csv_rows() -> list[dict]:
    """The real daily bars as shipped in bokeh_sampledata, read with the csv module (not the provider)."""
    import csv
    import io

    data = resources.files("bokeh_sampledata").joinpath("_data/stocks.csv.gz").read_bytes()
    reader = csv.DictReader(io.StringIO(gzip.decompress(data).decode()))
    return [r for r in reader if r["Ticker"] in STOCKS and STOCK_RANGE[0].isoformat() <= r["Date"] <= STOCK_RANGE[1].isoformat()]


def _passes_silver(bar: reference.Bar) -> bool:
    """The silver expectations, restated in Python for the reference."""
    prices = (bar.open, bar.high, bar.low, bar.close)
    return (all(p > 0 and math.isfinite(p) for p in prices) and bar.volume >= 0 and bar.high >= max(bar.open, bar.close)
            and bar.low <= min(bar.open, bar.close) and bar.high >= bar.low)


@pytest.fixture(scope="module")
def daily_stocks(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("stocks") / "project")
    csv_path = tmp_path_factory.mktemp("csv") / "stocks.csv"
    rows = _stock_csv_rows()
    csv_path.write_text("Ticker,Date,Open,High,Low,Close,Volume,Adj Close\n" + "".join(
        f"{r['Ticker']},{r['Date']},{r['Open']},{r['High']},{r['Low']},{r['Close']},{r['Volume']},{r['Adj Close']}\n"
        for r in rows))
    result = collect(project.env(), "csv", csv_path=str(csv_path), start=STOCK_RANGE[0], end=STOCK_RANGE[1])
    assert result.ok, result.failures
    run = project.run(spark)
    assert run.ok, [(f.table, f.error) for f in run.failed]
    bars = [reference.Bar(r["Ticker"], calendar.session(date.fromisoformat(r["Date"])).midnight_utc,
                          float(r["Open"]), float(r["High"]), float(r["Low"]), float(r["Close"]), int(float(r["Volume"])))
            for r in rows]
    return project, bars


def test_real_daily_bars_pass_through_unchanged(spark, daily_stocks):
    project, bars = daily_stocks
    expected = reference.daily_bars([b for b in bars if _passes_silver(b)])
    actual = {(r["symbol"], r["trade_date"]): r for r in _rows(project, spark, "gold.daily_bars")}
    assert actual.keys() == expected.keys()
    for key, row in expected.items():
        _assert_matches(actual[key], row, ("open", "high", "low", "close", "volume", "vwap", "bar_count"), str(key))


def test_real_daily_indicators_match_the_reference(spark, daily_stocks):
    project, bars = daily_stocks
    expected = reference.indicators(reference.daily_bars([b for b in bars if _passes_silver(b)]))
    actual = {(r["symbol"], r["trade_date"]): r for r in _rows(project, spark, "gold.daily_indicators")}
    assert actual.keys() == expected.keys()
    assert len(actual) > 900
    for key, row in expected.items():
        _assert_matches(actual[key], row, GOLD_INDICATORS, str(key))
    # the windows really fill: late rows have every indicator
    last = max(k for k in expected if k[0] == "AAPL")
    assert all(actual[last][c] is not None for c in GOLD_INDICATORS)


def test_real_symbol_summary_matches_the_reference(spark, daily_stocks):
    project, bars = daily_stocks
    days = reference.daily_bars([b for b in bars if _passes_silver(b)])
    sessions = [s.date for s in calendar.sessions_between(*STOCK_RANGE)]
    expected = reference.summary(days, sessions)
    actual = {r["symbol"]: r for r in _rows(project, spark, "gold.symbol_summary")}
    assert actual.keys() == expected.keys() == set(STOCKS)
    for symbol, row in expected.items():
        _assert_matches(actual[symbol], row, tuple(row), symbol)


@pytest.fixture(scope="module")
def minute_bars(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("minutes") / "project")
    result = collect(project.env(), "synthetic", dates=MINUTE_SESSIONS, symbols=MINUTE_SYMBOLS, timeframe="1Min",
                     seed=7, defect_rate=0.003)
    assert result.ok
    run = project.run(spark)
    assert run.ok, [(f.table, f.error) for f in run.failed]
    return project, result


def test_minute_bars_aggregate_to_daily_bars_by_new_york_date(spark, minute_bars):
    project, _ = minute_bars
    silver = [reference.Bar(r["symbol"], r["ts"].astimezone(timezone.utc), r["open"], r["high"], r["low"], r["close"],
                            r["volume"], r["vwap"]) for r in _rows(project, spark, "silver.bars")]
    expected = reference.daily_bars(silver)
    actual = {(r["symbol"], r["trade_date"]): r for r in _rows(project, spark, "gold.daily_bars")}
    assert actual.keys() == {(s, d) for s in MINUTE_SYMBOLS for d in MINUTE_SESSIONS}
    for key, row in expected.items():
        _assert_matches(actual[key], row, ("open", "high", "low", "close", "volume", "vwap", "bar_count"), str(key))
    early = [r for (s, d), r in actual.items() if d == date(2025, 11, 28)]
    assert all(r["last_bar_ts"].astimezone(timezone.utc).strftime("%H:%M") == "17:59" for r in early)  # 12:59 New York


def test_injected_defects_are_counted_in_the_right_place(spark, minute_bars):
    """Every landed line ends in exactly one of silver, quarantine, dropped or de-duplicated."""
    project, result = minute_bars
    defects = result.defect_counts()
    assert sum(defects.values()) > 0
    bronze = project.table(spark, "bronze.bars_raw").count()
    silver = project.table(spark, "silver.bars").count()
    quarantined = project.table(spark, "silver.bars_quarantine").count()
    from framework.eventlog import read_with_spark, table_metrics

    event_log = f"delta.`{project.storage / 'tables' / 'ops' / 'event_log'}`"
    bars = table_metrics(read_with_spark(spark, event_log))["silver.bars"]
    assert bronze == result.lines
    assert quarantined == bars.quarantined
    assert bars.quarantined == defects.get("null_field", 0) + defects.get("high_below_low", 0) + \
        defects.get("negative_volume", 0) + defects.get("malformed", 0)
    assert bars.dropped == defects.get("out_of_session", 0)
    assert bars.discarded_duplicates == defects.get("duplicate", 0)  # from documented fields (view rules, upserts)
    assert bronze == silver + quarantined + bars.dropped + bars.discarded_duplicates


def test_checks_pass_on_clean_data_and_fail_on_a_broken_dataset(spark, minute_bars):
    project, _ = minute_bars
    env = project.env()
    loaded = project.load()
    from framework.engine.spark import attach_storage

    attach_storage(spark, env)
    as_of = datetime(2025, 12, 2, 12, 0, tzinfo=timezone.utc)  # the morning after the last collected session
    ctx = CheckContext(spark, loaded, env, now=as_of)
    clean = run_checks(ctx)
    assert clean.exit_code == 0, [r for r in clean.results if not r.passed]
    assert {r.check for r in clean.results} == {"nyse_freshness", "nyse_completeness", "unique", "reconciliation",
                                                 "expectations"}

    spark.sql("INSERT INTO silver.bars SELECT * FROM silver.bars WHERE symbol = 'JPM' LIMIT 3")
    spark.sql("DELETE FROM gold.daily_bars WHERE trade_date >= DATE'2025-11-28'")
    broken = run_checks(ctx)
    failed = {(r.check, r.target) for r in broken.critical_failures}
    assert ("unique", "bars") in failed
    assert ("reconciliation", "bars") in failed
    assert ("nyse_freshness", "daily_bars") in failed
    assert broken.exit_code == 1
