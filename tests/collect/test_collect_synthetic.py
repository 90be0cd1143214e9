"""The synthetic provider: deterministic, realistic bars that respect the real NYSE calendar."""

from __future__ import annotations

import math
import statistics
from datetime import date, time, timedelta

import numpy as np
import pytest

from market.collect import calendar
from market.collect.calendar import NEW_YORK
from market.collect.providers.synthetic import SyntheticProvider, session_bars

SYMBOLS = ("AAPL", "MSFT", "XOM", "JPM")


def test_same_seed_same_bars_and_a_session_is_reproducible_alone() -> None:
    day = calendar.session(date(2025, 11, 26))
    first = SyntheticProvider(seed=42).fetch(SYMBOLS, [day]).bars
    # generate other sessions and symbols in between: the session must not depend on what ran before
    SyntheticProvider(seed=42).fetch(("NVDA", "AAPL"), [calendar.session(date(2025, 11, 25))])
    assert SyntheticProvider(seed=42).fetch(SYMBOLS, [day]).bars == first
    assert SyntheticProvider(seed=43).fetch(SYMBOLS, [day]).bars != first
    assert first["AAPL"] != first["MSFT"]


def test_minute_bars_cover_the_session_exactly_and_ohlc_is_consistent() -> None:
    for day in (date(2025, 11, 26), date(2025, 11, 28), date(2024, 12, 24)):
        session = calendar.session(day)
        for symbol in SYMBOLS:
            bars = session_bars(7, symbol, session, "1Min")
            assert len(bars) == session.minutes
            assert [b.ts for b in bars] == [session.open_utc + timedelta(minutes=i) for i in range(session.minutes)]
            for b in bars:
                assert 0 < b.low <= min(b.open, b.close) <= max(b.open, b.close) <= b.high
                assert b.volume >= 1 and b.trade_count >= 1
                assert b.low <= b.vwap <= b.high
                assert b.open == round(b.open, 2) and b.high == round(b.high, 2)


def test_early_close_bars_stop_at_13_new_york() -> None:
    for day in (date(2025, 11, 28), date(2024, 12, 24)):
        bars = session_bars(1, "AAPL", calendar.session(day), "1Min")
        assert bars[-1].ts.astimezone(NEW_YORK).time() == time(12, 59)
        assert bars[0].ts.astimezone(NEW_YORK).time() == time(9, 30)


def test_volume_is_u_shaped_over_the_day() -> None:
    opening, lunch, closing = [], [], []
    for day in calendar.sessions_between(date(2025, 11, 3), date(2025, 11, 14)):
        for symbol in SYMBOLS:
            volume = [b.volume for b in session_bars(3, symbol, day, "1Min")]
            opening.append(statistics.mean(volume[:30]))
            lunch.append(statistics.mean(volume[180:210]))
            closing.append(statistics.mean(volume[-30:]))
    assert statistics.mean(opening) > 1.8 * statistics.mean(lunch)
    assert statistics.mean(closing) > 1.8 * statistics.mean(lunch)


def test_prices_are_a_continuous_walk_with_plausible_volatility() -> None:
    sessions = calendar.sessions_between(date(2024, 1, 2), date(2024, 12, 31))
    for symbol in SYMBOLS:
        daily = [session_bars(5, symbol, s, "1Day")[0] for s in sessions]
        gaps = [abs(b.open / a.close - 1) for a, b in zip(daily, daily[1:])]
        assert statistics.median(gaps) < 0.01, "sessions open near the previous close"
        returns = np.diff(np.log([b.close for b in daily]))
        annualized = float(np.std(returns, ddof=1) * math.sqrt(252))
        assert 0.08 < annualized < 0.9, f"{symbol}: {annualized:.2f}"
        assert all(1 < b.close < 5000 for b in daily)


@pytest.mark.parametrize("timeframe,step,count", [("5Min", 5, 78), ("15Min", 15, 26), ("1Hour", 60, 7)])
def test_coarser_timeframes_aggregate_the_minutes(timeframe: str, step: int, count: int) -> None:
    session = calendar.session(date(2025, 11, 26))
    minutes = session_bars(9, "MSFT", session, "1Min")
    bars = session_bars(9, "MSFT", session, timeframe)
    assert len(bars) == count
    for index, bar in enumerate(bars):
        chunk = minutes[index * step:(index + 1) * step]
        assert bar.ts == chunk[0].ts == session.open_utc + timedelta(minutes=index * step)
        assert (bar.open, bar.close) == (chunk[0].open, chunk[-1].close)
        assert bar.high == max(m.high for m in chunk) and bar.low == min(m.low for m in chunk)
        assert bar.volume == sum(m.volume for m in chunk)
        expected_vwap = sum(m.vwap * m.volume for m in chunk) / bar.volume
        assert bar.vwap == pytest.approx(expected_vwap, abs=1e-4)


def test_daily_bar_is_stamped_at_new_york_midnight() -> None:
    session = calendar.session(date(2025, 11, 28))
    (bar,) = session_bars(9, "MSFT", session, "1Day")
    minutes = session_bars(9, "MSFT", session, "1Min")
    assert bar.ts.isoformat() == "2025-11-28T05:00:00+00:00"
    assert (bar.open, bar.close, bar.high, bar.low) == (minutes[0].open, minutes[-1].close,
                                                        max(m.high for m in minutes), min(m.low for m in minutes))
    assert bar.volume == sum(m.volume for m in minutes)
