"""Yahoo Finance chart API (the seed system's source), spoken directly over httpx — no yfinance package.

`GET /v8/finance/chart/{symbol}?period1=<epoch>&period2=<epoch>&interval=1m|5m|15m|60m|1d` answers
`{"chart": {"result": [{"meta": {...}, "timestamp": [...], "indicators": {"quote": [{"open": [...],
"high", "low", "close", "volume"}]}}], "error": null}}`, or `{"chart": {"result": null, "error":
{"code", "description"}}}` (e.g. 404 for an unknown symbol). One request per symbol and session for
intraday bars; one per symbol for a whole range of daily bars (a year of a backfill).

Yahoo fills minutes without trades with nulls in every array; those rows are skipped (yfinance drops
them too). Daily bars are re-stamped at New York midnight of their trading date, like Alpaca's, so
every provider lands daily bars the same way. Prices are raw (not adjusted), trade count and VWAP
are not provided (null).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any, Sequence
from urllib.parse import quote

from market.collect.calendar import Session, new_york_date
from market.collect.http import JsonClient, RateLimiter, RetryPolicy
from market.collect.model import Bar, ProviderResult
from market.collect.errors import FetchError
from market.collect.providers.parsing import number

DEFAULT_BASE_URL = "https://query1.finance.yahoo.com"
INTERVALS = {"1Min": "1m", "5Min": "5m", "15Min": "15m", "1Hour": "60m", "1Day": "1d"}
FIELDS = ("open", "high", "low", "close", "volume")


class YahooProvider:
    name = "yfinance"

    def __init__(self, *, timeframe: str = "1Min", base_url: str | None = None, timeout: float = 30.0,
                 retry: RetryPolicy = RetryPolicy(), requests_per_minute: float | None = 60) -> None:
        self.timeframe = timeframe
        self.client = JsonClient("yfinance", base_url or DEFAULT_BASE_URL, timeout=timeout, retry=retry,
                                 limiter=RateLimiter(requests_per_minute))

    def close(self) -> None:
        self.client.close()

    def fetch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> ProviderResult:
        result = ProviderResult()
        for symbol in symbols:
            try:
                result.bars[symbol] = [bar for window in self.windows(sessions)
                                       for bar in self._fetch_symbol(symbol, window)]
            except FetchError as exc:
                result.failures[symbol] = str(exc)
        return result

    def windows(self, sessions: Sequence[Session]) -> list[tuple[int, int, dict[date, Session]]]:
        """period1/period2 in epoch seconds and the sessions each request serves: daily bars over the
        whole range in one request (New York midnight of the first session to the day after the last),
        intraday bars one regular session per request."""
        if self.timeframe == "1Day":
            start, end = sessions[0].midnight_utc, sessions[-1].midnight_utc + timedelta(days=1)
            return [(int(start.timestamp()), int(end.timestamp()), {s.date: s for s in sessions})]
        return [(int(s.open_utc.timestamp()), int(s.close_utc.timestamp()), {s.date: s}) for s in sessions]

    def _fetch_symbol(self, symbol: str, window: tuple[int, int, dict[date, Session]]) -> list[Bar]:
        period1, period2, wanted = window
        days = sorted(wanted)
        label = days[0].isoformat() if len(days) == 1 else f"{days[0]}..{days[-1]}"
        body = self.client.get_json(f"/v8/finance/chart/{quote(symbol)}",
                                    {"period1": period1, "period2": period2, "interval": INTERVALS[self.timeframe],
                                     "includePrePost": "false"},
                                    what=f"chart {symbol} {label}")
        return self._bars(symbol, wanted, _result(body))

    def _bars(self, symbol: str, wanted: dict[date, Session], result: dict[str, Any] | None) -> list[Bar]:
        """The points of the sessions asked for (a daily range also spans weekends and holidays)."""
        if result is None:
            return []
        stamps = result.get("timestamp") or []
        quotes = (result.get("indicators") or {}).get("quote") or [{}]
        columns = {name: (quotes[0] or {}).get(name) or [None] * len(stamps) for name in FIELDS}
        if any(len(values) != len(stamps) for values in columns.values()):
            raise FetchError(f"unexpected response: quote arrays and timestamps differ in length for {symbol}")
        bars: list[Bar] = []
        for i, stamp in enumerate(stamps):
            where = f"{symbol} point {i}"
            values = {name: number(columns[name][i], where) for name in FIELDS}
            if all(values[name] is None for name in ("open", "high", "low", "close")):
                continue
            instant = _instant(stamp, where)
            session = wanted.get(new_york_date(instant))
            if session is None:
                continue
            ts = session.midnight_utc if self.timeframe == "1Day" else instant
            bars.append(Bar(symbol, ts, self.timeframe, values["open"], values["high"], values["low"],
                            values["close"], values["volume"]))
        return bars


def _result(body: Any) -> dict[str, Any] | None:
    chart = body.get("chart") if isinstance(body, dict) else None
    if not isinstance(chart, dict):
        raise FetchError("unexpected response: no `chart` object")
    error = chart.get("error")
    if error:
        detail = error.get("description") or error.get("code") if isinstance(error, dict) else error
        raise FetchError(f"chart error: {detail}")
    results = chart.get("result") or []
    if not isinstance(results, list) or (results and not isinstance(results[0], dict)):
        raise FetchError("unexpected response: `chart.result` is not a list of objects")
    return results[0] if results else None


def _instant(stamp: Any, where: str) -> datetime:
    if isinstance(stamp, bool) or not isinstance(stamp, (int, float)):
        raise FetchError(f"{where}: timestamp `{stamp!r}` is not epoch seconds")
    return datetime.fromtimestamp(stamp, timezone.utc)
