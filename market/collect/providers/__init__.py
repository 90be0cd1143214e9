"""The providers, one module each, and `make_provider` which builds the configured one.

    synthetic.py  deterministic bars over real NYSE sessions (the embedded default; no network)
    csv.py        OHLCV CSV files in the common layouts (Yahoo download, symbol/ticker column, intraday)
    yahoo.py      Yahoo Finance chart API over httpx (provider name `yfinance`)
    alpaca.py     Alpaca Market Data v2 bars, paginated, with API key headers

Imports are lazy so the synthetic path never loads httpx and the web providers never load pandas.
"""

from __future__ import annotations

from market.collect.config import CollectConfig
from market.collect.model import Provider


def make_provider(config: CollectConfig) -> Provider:
    if config.provider == "synthetic":
        from market.collect.providers.synthetic import SyntheticProvider

        return SyntheticProvider(seed=config.seed, timeframe=config.timeframe or "1Min")
    if config.provider == "csv":
        from market.collect.providers.csv import CsvProvider

        assert config.csv_path is not None  # load_config guarantees it
        return CsvProvider(config.csv_path, symbol=config.csv_symbol, symbols=config.symbols or None,
                           timeframe=config.timeframe)
    if config.provider == "yfinance":
        from market.collect.providers.yahoo import YahooProvider

        return YahooProvider(timeframe=config.timeframe or "1Min", base_url=config.base_url, timeout=config.timeout,
                             retry=config.retry, requests_per_minute=config.requests_per_minute)
    from market.collect import secrets
    from market.collect.providers.alpaca import AlpacaProvider

    key = secrets.resolve(config.key_env, config.secret_scope, what="Alpaca API key id")
    secret = secrets.resolve(config.secret_env, config.secret_scope, what="Alpaca API secret key")
    return AlpacaProvider(key, secret, timeframe=config.timeframe or "1Min", feed=config.feed, base_url=config.base_url,
                          timeout=config.timeout, retry=config.retry,
                          requests_per_minute=config.requests_per_minute)
