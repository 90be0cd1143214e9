"""The embedded provider: deterministic, realistic minute bars over real NYSE sessions, no network.

How prices are made, so that any one session can be regenerated alone and still fit its neighbours:

* Each symbol gets a profile (price level, volatility, drift, volume, trade size) from a hash of
  (seed, symbol) — never Python's randomised `hash()`.
* A daily log-price walk per (seed, symbol) over calendar days, anchored at 2020-01-01, gives the
  close of every day. One vector draw + cumsum, cached, so day N never depends on which days ran.
* A session's minutes are a Brownian bridge from its open (yesterday's level plus a small overnight
  gap) to its close, from an RNG seeded by (seed, symbol, date). High/low add a wick beyond
  max/min(open, close); prices are rounded to cents, which keeps OHLC consistent (rounding is monotonic).
* Volume is U-shaped over the day (busy open and close, quiet lunch) with lognormal noise.

Coarser timeframes aggregate the minute bars in buckets counted from the session open (09:30,
10:30, ... for 1Hour), so every intraday bar starts inside its session; 1Day bars are stamped at New
York midnight like Alpaca's.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Sequence

import numpy as np

from market.collect.calendar import Session
from market.collect.model import TIMEFRAME_MINUTES, Bar, ProviderResult
from market.collect.errors import CollectError

ANCHOR = date(2020, 1, 1)
HORIZON_DAYS = 60_000
"""The daily walk spans ANCHOR ± this many days (about 1856..2184)."""
TRADING_DAYS = 252


def stable_int(*parts: object) -> int:
    """A 64-bit integer from the parts, identical across processes and Python versions."""
    text = ":".join(str(p) for p in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


@dataclass(frozen=True)
class SymbolProfile:
    """The character of a synthetic stock."""

    base_price: float
    annual_vol: float
    annual_drift: float
    daily_volume: float
    trade_size: float


@lru_cache(maxsize=1024)
def profile(seed: int, symbol: str) -> SymbolProfile:
    rng = np.random.default_rng(stable_int(seed, symbol, "profile"))
    return SymbolProfile(
        base_price=float(math.exp(rng.uniform(math.log(15), math.log(600)))),
        annual_vol=float(rng.uniform(0.18, 0.55)),
        annual_drift=float(rng.uniform(-0.05, 0.15)),
        daily_volume=float(math.exp(rng.uniform(math.log(2e6), math.log(6e7)))),
        trade_size=float(rng.uniform(60, 180)),
    )


@lru_cache(maxsize=256)
def _daily_log_levels(seed: int, symbol: str) -> np.ndarray:
    """Log close level for every calendar day in ANCHOR ± HORIZON_DAYS (index HORIZON_DAYS = ANCHOR)."""
    p = profile(seed, symbol)
    rng = np.random.default_rng(stable_int(seed, symbol, "daily"))
    sd = p.annual_vol / math.sqrt(365)
    mu = (p.annual_drift - p.annual_vol ** 2 / 2) / 365
    steps = mu + sd * rng.standard_normal(2 * HORIZON_DAYS + 1)
    levels = np.cumsum(steps)
    return math.log(p.base_price) + levels - levels[HORIZON_DAYS]


def _log_level(seed: int, symbol: str, day: date) -> float:
    index = HORIZON_DAYS + (day - ANCHOR).days
    if not 0 <= index <= 2 * HORIZON_DAYS:
        raise CollectError(f"synthetic prices cover {ANCHOR.year - HORIZON_DAYS // 366}.."
                           f"{ANCHOR.year + HORIZON_DAYS // 366}; {day} is outside")
    return float(_daily_log_levels(seed, symbol)[index])


@dataclass(frozen=True)
class MinuteArrays:
    """One session of minute bars for one symbol, as parallel numpy arrays."""

    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    trade_count: np.ndarray
    vwap: np.ndarray


def minute_arrays(seed: int, symbol: str, session: Session) -> MinuteArrays:
    """The session's minute bars: a Brownian bridge from the open level to the close level."""
    p = profile(seed, symbol)
    rng = np.random.default_rng(stable_int(seed, symbol, session.date.isoformat()))
    n = session.minutes
    day_sd = p.annual_vol / math.sqrt(TRADING_DAYS)
    minute_sd = day_sd / math.sqrt(n)
    log_open = _log_level(seed, symbol, session.date - timedelta(days=1)) + rng.normal(0, 0.2 * day_sd)
    log_close = _log_level(seed, symbol, session.date)

    fraction = np.arange(n + 1) / n
    walk = np.concatenate(([0.0], np.cumsum(rng.standard_normal(n) * minute_sd)))
    path = np.exp(log_open + fraction * (log_close - log_open) + walk - fraction * walk[-1])
    opens, closes = np.round(path[:-1], 2), np.round(path[1:], 2)
    highs = np.round(np.maximum(path[:-1], path[1:]) * np.exp(np.abs(rng.standard_normal(n)) * minute_sd * 0.6), 2)
    lows = np.round(np.minimum(path[:-1], path[1:]) * np.exp(-np.abs(rng.standard_normal(n)) * minute_sd * 0.6), 2)

    position = np.linspace(-1.0, 1.0, n)
    weights = (1.0 + 2.5 * position ** 2) * rng.lognormal(0.0, 0.35, n)
    day_volume = p.daily_volume * rng.lognormal(0.0, 0.25) * n / 390
    volume = np.maximum(1, np.round(day_volume * weights / weights.sum())).astype(np.int64)
    trades = np.maximum(1, np.round(volume / (p.trade_size * rng.lognormal(0.0, 0.2, n)))).astype(np.int64)
    typical = (opens + highs + lows + closes) / 4 * (1 + rng.normal(0.0, minute_sd * 0.1, n))
    vwap = np.round(np.clip(typical, lows, highs), 4)
    return MinuteArrays(opens, highs, lows, closes, volume, trades, vwap)


def session_bars(seed: int, symbol: str, session: Session, timeframe: str) -> list[Bar]:
    """The session's bars in `timeframe`, aggregated from its minute bars."""
    m = minute_arrays(seed, symbol, session)
    step = TIMEFRAME_MINUTES[timeframe] or session.minutes
    starts = np.arange(0, session.minutes, step)
    ends = np.append(starts[1:], session.minutes) - 1
    volume = np.add.reduceat(m.volume, starts)
    vwap = np.round(np.add.reduceat(m.vwap * m.volume, starts) / volume, 4)
    columns = zip(starts.tolist(), m.open[starts].tolist(), np.maximum.reduceat(m.high, starts).tolist(),
                  np.minimum.reduceat(m.low, starts).tolist(), m.close[ends].tolist(), volume.tolist(),
                  np.add.reduceat(m.trade_count, starts).tolist(), vwap.tolist())
    if timeframe == "1Day":
        stamp = lambda _: session.midnight_utc  # noqa: E731 - daily bars sit at New York midnight
    else:
        stamp = lambda minute: session.open_utc + timedelta(minutes=minute)  # noqa: E731
    return [Bar(symbol, stamp(start), timeframe, o, h, lo, c, v, n, vw)
            for start, o, h, lo, c, v, n, vw in columns]


class SyntheticProvider:
    """Deterministic bars: the same (seed, symbol, session, timeframe) always gives the same bars."""

    name = "synthetic"

    def __init__(self, seed: int = 0, timeframe: str = "1Min") -> None:
        self.seed = seed
        self.timeframe = timeframe

    def fetch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> ProviderResult:
        return ProviderResult(bars={s: [bar for session in sessions
                                        for bar in session_bars(self.seed, s, session, self.timeframe)]
                                    for s in symbols})

    def close(self) -> None:
        """Nothing to release."""
