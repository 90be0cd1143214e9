"""Daily technical indicators per symbol, in one pass over each symbol's history: the transform of
`gold.daily_indicators` (`transform.python: transforms.indicators:daily_indicators`).

Why Python and not SQL: EMA and Wilder's ATR are recursions (each value depends on the previous one).
SQL has no recursive window, so the former SQL folded `aggregate()` over `collect_list()` of the whole
history for every row — quadratic in history (75-95 s for 100k rows, see bench/indicators.py). Here
each symbol's rows arrive as one pandas frame (`applyInPandas` grouped by symbol, which Databricks
DLT runs as well) and every indicator is computed in time linear in its rows.

The numbers are those of the former SQL, operation for operation (the same sums in the same order,
Spark's own Welford update for the standard deviation), with the same NULL semantics:

* rows are taken in `trade_date` order per symbol; the previous close is the previous row's close;
* return_1d = C/C₋₁ − 1 and log_return_1d = ln(C/C₋₁): NULL when either close is NULL, when C₋₁ is 0
  (Spark's division without ANSI mode) or, for the log, when the ratio is not positive;
* sma_n: the mean of the last n closes, NULL unless those n rows exist and none of their closes is NULL;
* ema_20: folded over the non-NULL closes so far (α = 2/21, seeded with the first close); a row with a
  NULL close carries the previous value; NULL until the first close;
* true_range: H − L when the previous close is NULL (first day), else the greatest non-NULL of
  H − L, |H − C₋₁|, |L − C₋₁|;
* atr_14: folded over the non-NULL true ranges so far: NULL before the 14th, their mean at the 14th,
  then (ATR₋₁·13 + TR)/14; a row with a NULL true range carries the previous value;
* volatility_20d: sample stdev of the last 20 log returns × √252, NULL unless all 20 are non-NULL.

pandas holds a NULL double as NaN, so an input NaN is treated as NULL. Silver quarantines NaN and
infinite prices (`prices_positive`), so none reaches this table.

Incremental refresh (`refresh: {incremental_by: [symbol], extends_by: trade_date, context_rows: 50}`):
when a symbol only gained new days, the local runtime passes its new daily bars as `source` and the
symbol's latest 50 rows of this table as `previous`; `continue_symbol` carries every recursion on
from them (the previous close, the last 49 closes and 19 log returns for the windows, the EMA and ATR
values) and returns only the new days — the same numbers, bit for bit, as recomputing the whole
history. The ATR is carried exactly once its warm-up is over (14 true ranges); during the warm-up the
previous rows must hold the symbol's whole history, which 50 rows do whenever every day has a true
range (silver's `prices_positive` guarantees it).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

EMA_ALPHA = 2.0 / 21.0
"""Smoothing of the 20-day EMA, 2/(20+1), as the SQL's `2.0D / 21.0D`."""
ATR_PERIOD = 14
VOLATILITY_WINDOW = 20
TRADING_DAYS_PER_YEAR = 252

OUTPUT_COLUMNS = ("symbol", "trade_date", "close", "return_1d", "log_return_1d", "sma_5", "sma_20", "sma_50", "ema_20",
                  "true_range", "atr_14", "volatility_20d")
CONTEXT_ROWS = 50
"""Rows of history a continuation needs: the longest window (SMA 50)."""
OUTPUT_SCHEMA = (
    "symbol STRING, trade_date DATE, close DOUBLE, return_1d DOUBLE, log_return_1d DOUBLE, sma_5 DOUBLE, "
    "sma_20 DOUBLE, sma_50 DOUBLE, ema_20 DOUBLE, true_range DOUBLE, atr_14 DOUBLE, volatility_20d DOUBLE"
)
"""The columns of tables/gold/daily_indicators.yaml, in order."""


def daily_indicators(source: "DataFrame", previous: "DataFrame | None" = None) -> "DataFrame":
    """gold.daily_bars -> one row of indicators per (symbol, trade_date), computed per symbol.

    With `previous` (this table's latest rows of the symbols that only gained days), each symbol of
    `source` continues from its previous rows, and only `source`'s days come out.
    """
    _ship_by_value()
    bars = source.select("symbol", "trade_date", *(source[c].cast("double").alias(c) for c in ("high", "low", "close")))
    if previous is None:
        return bars.groupBy("symbol").applyInPandas(indicators_of_symbol, schema=OUTPUT_SCHEMA)
    context = previous.select(*OUTPUT_COLUMNS)
    return bars.groupBy("symbol").cogroup(context.groupBy("symbol")).applyInPandas(continue_symbol,
                                                                                   schema=OUTPUT_SCHEMA)


def _ship_by_value() -> None:
    """Send this module's code to the Python workers inside the pickled function.

    A worker would otherwise import `transforms.indicators` itself, which works only when its working
    directory happens to be the project root (Databricks distributes `sys.path`; a local worker starts
    wherever the JVM did, e.g. a subfolder `medallion run` was started from).
    """
    from pyspark import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])


def indicators_of_symbol(bars: pd.DataFrame) -> pd.DataFrame:
    """One symbol's daily bars (symbol, trade_date, high, low, close; any order) -> its indicator rows."""
    return _indicators(bars, History())


def continue_symbol(bars: pd.DataFrame, context: pd.DataFrame) -> pd.DataFrame:
    """One symbol's new daily bars and its latest rows of this table -> the new days' indicator rows."""
    if bars.empty:
        return pd.DataFrame({name: [] for name in OUTPUT_COLUMNS})
    if context.empty:
        return indicators_of_symbol(bars)
    return _indicators(bars, History.of(context.sort_values("trade_date", kind="stable")))


@dataclass(frozen=True)
class History:
    """What the indicators of the next day depend on, taken from the rows before it (none: a first day)."""

    closes: np.ndarray = field(default_factory=lambda: np.empty(0))
    """The latest closes (for the SMA windows); the last one is the previous close."""
    log_returns: np.ndarray = field(default_factory=lambda: np.empty(0))
    ema: float = math.nan
    atr_count: int = 0
    atr_total: float = 0.0
    atr: float = math.nan

    @classmethod
    def of(cls, rows: pd.DataFrame) -> "History":
        """From a symbol's latest rows of this table, oldest first."""
        true_ranges = rows["true_range"].to_numpy(dtype="float64")
        known = true_ranges[~np.isnan(true_ranges)]
        atr = float(rows["atr_14"].iloc[-1])
        return cls(closes=rows["close"].to_numpy(dtype="float64"),
                   log_returns=rows["log_return_1d"].to_numpy(dtype="float64"),
                   ema=float(rows["ema_20"].iloc[-1]),
                   atr_count=max(len(known), ATR_PERIOD) if atr == atr else len(known),
                   atr_total=_sum_in_order(known) if atr != atr else 0.0,
                   atr=atr)

    @property
    def previous_close(self) -> float:
        return float(self.closes[-1]) if len(self.closes) else math.nan


def _sum_in_order(values: np.ndarray) -> float:
    """Left to right, as the ATR fold adds them (numpy's pairwise sum may round differently)."""
    total = 0.0
    for value in values.tolist():
        total += value
    return total


def _indicators(bars: pd.DataFrame, history: History) -> pd.DataFrame:
    """The indicator rows of `bars` (one symbol, any order), continuing from `history`."""
    bars = bars.sort_values("trade_date", kind="stable", na_position="first")
    close = bars["close"].to_numpy(dtype="float64")
    high = bars["high"].to_numpy(dtype="float64")
    low = bars["low"].to_numpy(dtype="float64")
    prev_close = np.concatenate(([history.previous_close], close[:-1]))
    ratio = _divide(close, prev_close)
    log_return = _log(ratio)
    true_range = _true_range(high, low, prev_close)
    closes = np.concatenate((history.closes, close))
    log_returns = np.concatenate((history.log_returns, log_return))
    new = slice(len(history.closes), None)
    return pd.DataFrame({
        "symbol": bars["symbol"].to_numpy(),
        "trade_date": bars["trade_date"].to_numpy(),
        "close": close,
        "return_1d": ratio - 1.0,
        "log_return_1d": log_return,
        "sma_5": full_window_mean(closes, 5)[new],
        "sma_20": full_window_mean(closes, 20)[new],
        "sma_50": full_window_mean(closes, 50)[new],
        "ema_20": ema(close, EMA_ALPHA, history.ema),
        "true_range": true_range,
        "atr_14": wilder_atr(true_range, ATR_PERIOD, history.atr_count, history.atr_total, history.atr),
        "volatility_20d": full_window_stdev(log_returns, VOLATILITY_WINDOW)[len(history.log_returns):]
        * math.sqrt(TRADING_DAYS_PER_YEAR),
    })


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN (NULL) where the denominator is 0, as Spark SQL outside ANSI mode."""
    out = np.full_like(numerator, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def _log(values: np.ndarray) -> np.ndarray:
    """ln(values), NaN (NULL) where values ≤ 0 or NULL, as Spark's `ln`."""
    out = np.full_like(values, np.nan)
    np.log(values, out=out, where=values > 0)
    return out


def _true_range(high: np.ndarray, low: np.ndarray, prev_close: np.ndarray) -> np.ndarray:
    """H − L without a previous close, else the greatest non-NULL of the three ranges (`greatest`)."""
    ranges = np.fmax(np.fmax(high - low, np.abs(high - prev_close)), np.abs(low - prev_close))
    return np.where(np.isnan(prev_close), high - low, ranges)


def full_window_mean(values: np.ndarray, n: int) -> np.ndarray:
    """Mean of the last n values at each row; NaN (NULL) unless n rows exist and none is NULL.

    The window is summed left to right and divided by n, as Spark's `avg` over `ROWS n-1 PRECEDING`.
    """
    out = np.full(len(values), np.nan)
    windows = len(values) - n + 1
    if windows > 0:
        total = values[:windows].copy()
        for k in range(1, n):
            total += values[k:k + windows]
        out[n - 1:] = total / float(n)
    return out


def full_window_stdev(values: np.ndarray, n: int) -> np.ndarray:
    """Sample standard deviation of the last n values; NaN (NULL) unless n rows exist and none is NULL.

    Spark's `stddev_samp` update (Welford: delta, delta/count, running mean and M2), applied to every
    window at once, value by value in window order.
    """
    out = np.full(len(values), np.nan)
    windows = len(values) - n + 1
    if windows > 0:
        mean = np.zeros(windows)
        m2 = np.zeros(windows)
        for k in range(n):
            delta = values[k:k + windows] - mean
            delta_n = delta / (k + 1.0)
            mean = mean + delta_n
            m2 = m2 + delta * (delta - delta_n)
        out[n - 1:] = np.sqrt(m2 / (n - 1.0))
    return out


def ema(values: np.ndarray, alpha: float, start: float = math.nan) -> np.ndarray:
    """EMA = EMA₋₁ + α(x − EMA₋₁) over the non-NULL values so far, seeded with the first one (or going
    on from `start`, the EMA of the values before these)."""
    out = np.empty(len(values))
    current = start
    for i, x in enumerate(values.tolist()):
        if x == x:  # not NULL
            current = x if current != current else current + alpha * (x - current)
        out[i] = current
    return out


def wilder_atr(true_ranges: np.ndarray, period: int, count: int = 0, total: float = 0.0,
               atr: float = math.nan) -> np.ndarray:
    """Wilder's average over the non-NULL values so far: NULL before the `period`-th, their mean at it
    (summed left to right), then (ATR₋₁·(period−1) + TR)/period. `count`, `total` and `atr` carry the
    fold on from the values before these."""
    out = np.empty(len(true_ranges))
    weight, divisor = float(period - 1), float(period)
    for i, tr in enumerate(true_ranges.tolist()):
        if tr == tr:  # not NULL
            count += 1
            total += tr
            if count == period:
                atr = total / divisor
            elif count > period:
                atr = (atr * weight + tr) / divisor
        out[i] = atr
    return out
