"""An independent reference implementation of the gold analytics, in plain Python.

The pipeline computes gold with Spark SQL (window functions, min_by/max_by, `aggregate` over ordered
histories). This module recomputes the same numbers the textbook way — sorted lists and explicit
loops, no SQL, no pandas rolling windows — so a test comparing the two can actually catch a wrong
window frame, an unordered first/last, a UTC-vs-New-York date or a mis-seeded recursion.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from statistics import fmean, stdev
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")


@dataclass(frozen=True)
class Bar:
    symbol: str
    ts: datetime  # aware, UTC
    open: float
    high: float
    low: float
    close: float
    volume: int
    vwap: float | None = None


def daily_bars(bars: list[Bar]) -> dict[tuple[str, date], dict]:
    """Minute (or daily) bars -> one bar per symbol and New York trading date."""
    groups: dict[tuple[str, date], list[Bar]] = defaultdict(list)
    for bar in bars:
        groups[(bar.symbol, bar.ts.astimezone(NEW_YORK).date())].append(bar)
    out = {}
    for key, group in groups.items():
        group.sort(key=lambda b: b.ts)
        volume = sum(b.volume for b in group)
        price_volume = sum((b.vwap if b.vwap is not None else (b.high + b.low + b.close) / 3) * b.volume
                           for b in group)
        out[key] = {
            "open": group[0].open, "close": group[-1].close,
            "high": max(b.high for b in group), "low": min(b.low for b in group),
            "volume": volume, "vwap": price_volume / volume if volume else None, "bar_count": len(group),
        }
    return out


def indicators(days: dict[tuple[str, date], dict]) -> dict[tuple[str, date], dict]:
    """Daily indicators per symbol over its trading days in date order."""
    by_symbol: dict[str, list[tuple[date, dict]]] = defaultdict(list)
    for (symbol, day), bar in days.items():
        by_symbol[symbol].append((day, bar))
    out = {}
    for symbol, series in by_symbol.items():
        series.sort(key=lambda item: item[0])
        closes: list[float] = []
        log_returns: list[float] = []
        ema = None
        atr = None
        true_ranges: list[float] = []
        prev_close = None
        for day, bar in series:
            close = bar["close"]
            closes.append(close)
            ret = close / prev_close - 1 if prev_close is not None else None
            log_ret = math.log(close / prev_close) if prev_close is not None else None
            if log_ret is not None:
                log_returns.append(log_ret)
            tr = bar["high"] - bar["low"] if prev_close is None else max(
                bar["high"] - bar["low"], abs(bar["high"] - prev_close), abs(bar["low"] - prev_close))
            true_ranges.append(tr)
            ema = close if ema is None else ema + (2 / 21) * (close - ema)
            if len(true_ranges) == 14:
                atr = fmean(true_ranges)
            elif len(true_ranges) > 14:
                atr = (atr * 13 + tr) / 14
            recent_returns = log_returns[-20:] if len(log_returns) >= 20 and log_ret is not None else None
            out[(symbol, day)] = {
                "close": close,
                "return_1d": ret,
                "log_return_1d": log_ret,
                "sma_5": fmean(closes[-5:]) if len(closes) >= 5 else None,
                "sma_20": fmean(closes[-20:]) if len(closes) >= 20 else None,
                "sma_50": fmean(closes[-50:]) if len(closes) >= 50 else None,
                "ema_20": ema,
                "true_range": tr,
                "atr_14": atr if len(true_ranges) >= 14 else None,
                "volatility_20d": stdev(recent_returns) * math.sqrt(252) if recent_returns else None,
            }
            prev_close = close
    return out


def summary(days: dict[tuple[str, date], dict], sessions: list[date]) -> dict[str, dict]:
    """Per-symbol summary; `sessions` are the NYSE session dates the pipeline knows about."""
    by_symbol: dict[str, list[tuple[date, dict]]] = defaultdict(list)
    for (symbol, day), bar in days.items():
        by_symbol[symbol].append((day, bar))
    out = {}
    for symbol, series in by_symbol.items():
        series.sort(key=lambda item: item[0])
        first, latest = series[0][0], series[-1][0]
        window = [bar for day, bar in series if day > latest - timedelta(days=365)]
        expected = sum(1 for s in sessions if first <= s <= latest)
        out[symbol] = {
            "latest_close": series[-1][1]["close"], "latest_date": latest, "first_date": first,
            "high_52w": max(b["high"] for b in window), "low_52w": min(b["low"] for b in window),
            "avg_volume": fmean(b["volume"] for _, b in series), "sessions_covered": len(series),
            "missing_sessions": max(expected - len(series), 0),
        }
    return out


def close_enough(actual, expected, rel: float = 1e-9) -> bool:
    if actual is None or expected is None:
        return actual is None and expected is None
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        return math.isclose(actual, expected, rel_tol=rel, abs_tol=1e-12)
    return actual == expected
