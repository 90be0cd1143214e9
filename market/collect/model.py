"""The small vocabulary every provider speaks: a `Bar`, a `ProviderResult`, and the `Provider` protocol.

A provider only knows how to get bars for some symbols over some NYSE sessions (one session for
intraday bars; up to a year of sessions for daily bars, so a backfill asks once per batch and year,
not once per day). Everything else (choosing sessions, batching symbols, file names, atomic writes,
manifests, defects, progress) lives in the runner and the landing modules, so adding a provider is one
small module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, Sequence

from market.collect.calendar import Session

PROVIDERS = ("synthetic", "csv", "yfinance", "alpaca")

TIMEFRAME_MINUTES: dict[str, int | None] = {"1Min": 1, "5Min": 5, "15Min": 15, "1Hour": 60, "1Day": None}
"""Bar length in minutes per timeframe name (Alpaca's spelling); None for daily bars."""

TIMEFRAMES = tuple(TIMEFRAME_MINUTES)


@dataclass(frozen=True, slots=True)
class Bar:
    """One OHLCV bar as a provider reported it; `ts` is the bar start, timezone-aware UTC."""

    symbol: str
    ts: datetime
    timeframe: str
    open: float | None
    high: float | None
    low: float | None
    close: float | None
    volume: float | None
    trade_count: int | None = None
    vwap: float | None = None


@dataclass
class ProviderResult:
    """What one fetch returned: bars per symbol that succeeded (over all the sessions asked for), a reason
    per symbol that failed (for all of them: a symbol lands whole or not at all)."""

    bars: dict[str, list[Bar]] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    def merge(self, other: "ProviderResult") -> None:
        self.bars.update(other.bars)
        for symbol in other.bars:
            self.failures.pop(symbol, None)
        self.failures.update({s: m for s, m in other.failures.items() if s not in self.bars})


class Provider(Protocol):
    """A source of bars. `fetch` must not raise for one bad symbol: it reports it in `failures`."""

    name: str

    def fetch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> ProviderResult:
        """Bars for `symbols` over `sessions` (sorted) in the provider's configured timeframe."""
        ...

    def close(self) -> None:
        """Release connections; called once after the last fetch."""
        ...
