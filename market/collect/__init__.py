"""Market-data collection: providers that fill the landing folder the bronze tables stream from.

Read in this order:

    calendar.py    NYSE sessions (exchange_calendars XNYS): open/close in UTC, early closes, "last completed"
    model.py       Bar, ProviderResult, the Provider protocol, the two error types
    config.py      the environment's `collect:` section + overrides -> one validated CollectConfig
    dates.py       which sessions a run covers (date, range, last N), and what it skips and why
    providers/     synthetic, csv, yfinance, alpaca (one module each)
    http.py        shared JSON client: retries with backoff (tenacity), Retry-After, rate limiting
    layout.py      file names, and how sessions group into files (a session; a year for daily bars)
    planning.py    re-run planning on (session, symbol) cells: rewrite what landed, land gaps under new names
    landing.py     the landing folder: atomic writes, manifests, what already landed, calendar files
    defects.py     the synthetic provider's injected defects, recorded in manifests
    runner.py      collect(): the loop that ties it together; CollectResult
    secrets.py     credentials from env vars or a Databricks secret scope, never printed

The command is market/collect/cli.py (the market project's job task `collect`, declared in medallion.yaml); docs/collect.md describes the landing contract.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from market.collect.runner import CollectResult

__all__ = ["collect", "CollectResult"]


def collect(*args: Any, **kwargs: Any) -> "CollectResult":
    """See market.collect.runner.collect (imported on first use, to keep `import market.collect` light)."""
    from market.collect.runner import collect as run

    return run(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name == "CollectResult":
        from market.collect.runner import CollectResult

        return CollectResult
    raise AttributeError(name)
