"""Alpaca Market Data v2 stock bars: `GET /v2/stocks/bars`, many symbols per request, paginated.

Response shape: `{"bars": {"AAPL": [{"t", "o", "h", "l", "c", "v", "n", "vw"}, ...]}, "next_page_token"}`.
Pages can be empty (`"bars": {}`) yet still carry a token, so the loop follows tokens, not data.

Daily bars of a backfill are asked for once per batch over the whole range (a year: one page for 10
symbols); intraday bars once per batch and session.

A batch request fails as a whole, so when one still fails after its retries the provider asks for the
symbols one by one: a bad symbol is reported and the others still land. Bad credentials (401/403)
fail every symbol at once — asking again per symbol would only repeat the refusal.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any, Sequence

from market.collect.calendar import Session, new_york_date, rfc3339
from market.collect.http import JsonClient, RateLimiter, RetryPolicy
from market.collect.errors import AuthError
from market.collect.model import Bar, ProviderResult
from market.collect.errors import FetchError
from market.collect.providers.parsing import number, parse_instant
from market.collect.secrets import Secret

log = logging.getLogger("medallion.collect")

DEFAULT_BASE_URL = "https://data.alpaca.markets"
BARS_PATH = "/v2/stocks/bars"
PAGE_LIMIT = 10_000
MAX_PAGES = 10_000


class AlpacaProvider:
    name = "alpaca"

    def __init__(self, key: Secret, secret: Secret, *, timeframe: str = "1Min", feed: str = "iex",
                 base_url: str | None = None, timeout: float = 30.0, retry: RetryPolicy = RetryPolicy(),
                 requests_per_minute: float | None = 180, page_limit: int = PAGE_LIMIT) -> None:
        self.timeframe = timeframe
        self.feed = feed
        self.page_limit = page_limit
        self.client = JsonClient("alpaca", base_url or DEFAULT_BASE_URL, timeout=timeout, retry=retry,
                                 limiter=RateLimiter(requests_per_minute),
                                 headers={"APCA-API-KEY-ID": key.reveal(), "APCA-API-SECRET-KEY": secret.reveal()})

    def close(self) -> None:
        self.client.close()

    def fetch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> ProviderResult:
        try:
            found = self._fetch_batch(symbols, sessions)
        except AuthError as exc:
            return ProviderResult(failures={s: str(exc) for s in symbols})
        except FetchError as exc:
            if len(symbols) == 1:
                return ProviderResult(failures={symbols[0]: str(exc)})
            log.warning("alpaca: batch %s for %s failed (%s); asking symbol by symbol",
                        ",".join(symbols), _label(sessions), exc)
            result = ProviderResult()
            for symbol in symbols:
                result.merge(self.fetch([symbol], sessions))
            return result
        return ProviderResult(bars={s: found.get(s, []) for s in symbols})

    def windows(self, sessions: Sequence[Session]) -> list[tuple[str, str]]:
        """start/end (both inclusive at Alpaca): daily bars over the whole range in one request (New York
        midnight of the first session to the end of the last one's day), intraday one session each."""
        if self.timeframe == "1Day":
            start, end = sessions[0].midnight_utc, sessions[-1].midnight_utc + timedelta(days=1)
            return [(rfc3339(start), rfc3339(end - timedelta(seconds=1)))]
        return [(rfc3339(s.open_utc), rfc3339(s.close_utc - timedelta(seconds=1))) for s in sessions]

    def _fetch_batch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> dict[str, list[Bar]]:
        wanted = set(symbols)
        days = {s.date for s in sessions}
        found: dict[str, list[Bar]] = {}
        for start, end in self.windows(sessions):
            for symbol, bars in self._fetch_window(symbols, start, end, _label(sessions)).items():
                if symbol in wanted:  # a daily range also spans days that are not asked for
                    found.setdefault(symbol, []).extend(b for b in bars if new_york_date(b.ts) in days)
        return found

    def _fetch_window(self, symbols: Sequence[str], start: str, end: str, label: str) -> dict[str, list[Bar]]:
        params: dict[str, Any] = {"symbols": ",".join(symbols), "timeframe": self.timeframe, "start": start,
                                  "end": end, "limit": self.page_limit, "feed": self.feed,
                                  "adjustment": "raw", "sort": "asc"}
        found: dict[str, list[Bar]] = {}
        token: str | None = None
        seen: set[str] = set()
        for page in range(1, MAX_PAGES + 1):
            body = self.client.get_json(BARS_PATH, {**params, "page_token": token},
                                        what=f"bars {params['symbols']} {label} page {page}")
            for symbol, items in _bars_by_symbol(body).items():
                found.setdefault(symbol, []).extend(_bar(symbol, self.timeframe, item, i) for i, item in enumerate(items))
            token = body.get("next_page_token")
            if not token:
                return found
            if token in seen:
                raise FetchError(f"pagination loops: next_page_token `{token}` came back twice")
            seen.add(token)
        raise FetchError(f"more than {MAX_PAGES} pages; narrow the request")


def _label(sessions: Sequence[Session]) -> str:
    first, last = sessions[0].date, sessions[-1].date
    return first.isoformat() if first == last else f"{first}..{last}"


def _bars_by_symbol(body: Any) -> dict[str, list[Any]]:
    if not isinstance(body, dict):
        raise FetchError("unexpected response: not a JSON object")
    bars = body.get("bars") or {}
    if not isinstance(bars, dict) or not all(isinstance(v, list) for v in bars.values()):
        raise FetchError("unexpected response: `bars` is not an object of lists keyed by symbol")
    return bars


def _bar(symbol: str, timeframe: str, item: Any, index: int) -> Bar:
    if not isinstance(item, dict) or "t" not in item:
        raise FetchError(f"bar {index} of {symbol} has no `t` (start time)")
    where = f"bar {index} of {symbol}"
    count = item.get("n")
    return Bar(symbol=symbol, ts=parse_instant(item["t"], where), timeframe=timeframe,
               open=number(item.get("o"), where), high=number(item.get("h"), where),
               low=number(item.get("l"), where), close=number(item.get("c"), where),
               volume=number(item.get("v"), where), trade_count=None if count is None else int(count),
               vwap=number(item.get("vw"), where))
