"""The Python transform of gold.daily_indicators against the SQL it replaced, on real prices.

`daily_indicators_v1.sql` is the spec's former SQL transform, verbatim (quadratic: `aggregate` over
`collect_list` of the whole history). Both run on the shared SparkSession over the same input, and
every column of every row must agree at 1e-9 — NULL exactly where the SQL gives NULL.

The input is the real daily bars of every ticker shipped in bokeh_sampledata (AAPL, IBM, MSFT, GOOG,
FB) since 2009 — the former SQL is quadratic, and the full 2000-2013 history would cost the suite half
a minute; bench/indicators.py compares the two on 100,620 rows — then the same bars with NULLs, zero
and negative prices and too-short histories injected: silver never passes those on, but they pin
down the NULL semantics the SQL defines.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
from contextlib import contextmanager
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Iterator

import pytest

from framework.spec.runtimes import ANSI_CONF
from tests.market.reference import close_enough
from transforms.indicators import daily_indicators

pytestmark = pytest.mark.spark

OLD_SQL = Path(__file__).with_name("daily_indicators_v1.sql")
COLUMNS = ("close", "return_1d", "log_return_1d", "sma_5", "sma_20", "sma_50", "ema_20", "true_range", "atr_14",
           "volatility_20d")
SINCE = date(2009, 1, 1)
BARS_SCHEMA = "symbol STRING, trade_date DATE, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, volume BIGINT"

Bar = tuple  # (symbol, trade_date, open, high, low, close, volume), the shape of gold.daily_bars


def _real_bars() -> list[Bar]:
    data = resources.files("bokeh_sampledata").joinpath("_data/stocks.csv.gz").read_bytes()
    return [(r["Ticker"], date.fromisoformat(r["Date"]), float(r["Open"]), float(r["High"]), float(r["Low"]),
             float(r["Close"]), int(float(r["Volume"])))
            for r in csv.DictReader(io.StringIO(gzip.decompress(data).decode())) if r["Date"] >= SINCE.isoformat()]


def _with_defects(bars: list[Bar]) -> list[Bar]:
    """The real bars with NULL / zero / negative prices at fixed positions, plus a short and an all-NULL symbol."""
    out = []
    position = {}  # row number within the symbol
    for i, (symbol, day, open_, high, low, close, volume) in enumerate(sorted(bars, key=lambda b: (b[0], b[1]))):
        j = position[symbol] = position.get(symbol, -1) + 1
        if symbol == "FB" and j % 40 < 3:
            close = None  # FB starts without closes (EMA not yet seeded), and again every 40 rows
        elif i % 97 == 5:
            close = None
        elif i % 101 == 7:
            high = None  # true range from the other two ranges
        elif i % 103 == 9:
            high, low = None, None
        elif i % 211 == 11:
            close = 0.0  # division by zero the next day; ln(0) today
        elif i % 307 == 13:
            close = -close  # ln of a negative ratio
        out.append((symbol, day, open_, high, low, close, volume))
    aapl = sorted(b for b in bars if b[0] == "AAPL")
    out += [("SHORT",) + b[1:] for b in aapl[:10]]  # fewer rows than any window but sma_5
    out += [("NULLS", b[1], b[2], b[3], b[4], None, b[6]) for b in aapl[:30]]  # never a close
    return out


def _old_sql(spark, source):
    view = "indicators_v1_source"
    source.createOrReplaceTempView(view)
    sql, count = re.subn(r"\bFROM source\b", f"FROM {view}", OLD_SQL.read_text())
    assert count == 1
    return spark.sql(sql)


@contextmanager
def _without_ansi(spark) -> Iterator[None]:
    """The former SQL was written for Spark without ANSI mode: `close / prev_close` is NULL when the previous
    close is 0, and the Python transform keeps that meaning (NULL, documented in transforms/indicators.py).
    The session runs ANSI SQL (the runtime's semantics), where that division raises, so the reference
    runs as it was written."""
    before = spark.conf.get(ANSI_CONF)
    spark.conf.set(ANSI_CONF, "false")
    try:
        yield
    finally:
        spark.conf.set(ANSI_CONF, before)


def _compare(spark, bars: list[Bar]) -> dict[str, int]:
    """Run both on `bars`; assert equal rows; return the non-NULL count per column (to show the test bites)."""
    source = spark.createDataFrame(bars, BARS_SCHEMA)
    new = daily_indicators(source)
    with _without_ansi(spark):
        old = _old_sql(spark, source)
        expected = {(r["symbol"], r["trade_date"]): r.asDict() for r in old.collect()}
    assert [(f.name, f.dataType) for f in new.schema] == [(f.name, f.dataType) for f in old.schema]
    actual = {(r["symbol"], r["trade_date"]): r.asDict() for r in new.collect()}
    assert len(expected) == len(bars) and actual.keys() == expected.keys()
    for key, row in expected.items():
        for column in COLUMNS:
            a, e = actual[key][column], row[column]
            assert close_enough(a, e), f"{key}.{column}: transform {a!r} != SQL {e!r}"
    return {c: sum(row[c] is not None for row in expected.values()) for c in COLUMNS}


def test_transform_equals_the_former_sql_on_real_prices(spark):
    bars = _real_bars()
    counts = _compare(spark, bars)
    symbols = {b[0] for b in bars}
    assert len(bars) > 4_000 and len(symbols) == 5
    # every window really fills: NULL only in each symbol's warm-up rows
    assert counts["atr_14"] == len(bars) - 13 * len(symbols)
    assert counts["sma_50"] == len(bars) - 49 * len(symbols)
    assert counts["volatility_20d"] == len(bars) - 20 * len(symbols)
    assert counts["ema_20"] == counts["close"] == len(bars)


def test_transform_equals_the_former_sql_on_nulls_and_bad_prices(spark):
    bars = _with_defects(_real_bars())
    counts = _compare(spark, bars)
    closes = sum(b[5] is not None for b in bars)
    assert counts["close"] == closes < len(bars)
    assert 0 < counts["sma_50"] < counts["sma_5"] < closes  # NULL closes empty the windows that hold them
    assert counts["log_return_1d"] < counts["return_1d"] < closes  # ln of 0 and negatives, division by 0
    assert counts["ema_20"] > counts["close"]  # carried over NULL closes


def _by_symbol(bars: list[Bar]):
    import pandas as pd

    frame = pd.DataFrame(bars, columns=["symbol", "trade_date", "open", "high", "low", "close", "volume"])
    for symbol, rows in frame.groupby("symbol"):
        yield symbol, rows.sort_values("trade_date").reset_index(drop=True)[["symbol", "trade_date", "high", "low",
                                                                                "close"]].astype(
            {"high": "float64", "low": "float64", "close": "float64"})


@pytest.mark.parametrize("defects", [False, True], ids=["real", "with-defects"])
def test_continuing_a_symbol_from_its_latest_rows_equals_recomputing_it(defects):
    """Incremental refresh: a symbol's new days continued from its latest 50 rows are bit for bit the rows a
    recomputation of its whole history gives — at every split around the windows' and ATR's warm-up."""
    import numpy as np

    from transforms.indicators import CONTEXT_ROWS, OUTPUT_COLUMNS, continue_symbol, indicators_of_symbol

    bars = _with_defects(_real_bars()) if defects else _real_bars()
    checked = 0
    for symbol, rows in _by_symbol(bars):
        full = indicators_of_symbol(rows).reset_index(drop=True)
        for split in sorted({1, 5, 13, 14, 15, 20, 21, 49, 50, 51, 120, len(rows) - 1}):
            if not 0 < split < len(rows):
                continue
            context = full.iloc[max(0, split - CONTEXT_ROWS):split]
            if split > CONTEXT_ROWS and np.isnan(full["atr_14"].iloc[split - 1]):
                continue  # ATR still warming up beyond 50 rows: only real-data defects get here
            continued = continue_symbol(rows.iloc[split:], context).reset_index(drop=True)
            expected = full.iloc[split:].reset_index(drop=True)
            assert list(continued.columns) == list(OUTPUT_COLUMNS)
            for column in OUTPUT_COLUMNS[2:]:
                assert np.array_equal(continued[column].to_numpy(dtype="float64"),
                                      expected[column].to_numpy(dtype="float64"), equal_nan=True), \
                    (symbol, split, column)
            checked += 1
    assert checked > 40
