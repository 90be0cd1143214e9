"""Collection settings: the environment's `tasks.collect` section, overridden by CLI options or API arguments.

One resolved, validated `CollectConfig` is all the runner and the providers see, so precedence
(argument > environment > default) and validation live in exactly one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from market.collect.http import RetryPolicy
from market.collect.model import PROVIDERS, TIMEFRAMES
from market.collect.errors import CollectError
from framework.spec.environment import Environment

TASK_KEY = "collect"
"""The task's key in medallion.yaml, and its section in environments (`tasks.collect`)."""
SCHEMA_FILE = "market/collect/config.schema.json"
"""The section's JSON Schema (medallion.yaml `config_schema`: `medallion validate` checks it)."""
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
DEFAULT_BATCH_SIZE = 10
DEFAULT_REQUESTS_PER_MINUTE = {"alpaca": 180, "yfinance": 60}
DEFAULT_RETRY = RetryPolicy(max_attempts=5, initial_backoff=1.0, max_backoff=30.0)


@dataclass(frozen=True)
class CollectConfig:
    provider: str = "synthetic"
    symbols: tuple[str, ...] = ()
    """Empty for csv means every symbol in the input."""
    sessions: int = 1
    timeframe: str | None = "1Min"
    """None only for csv: inferred from the rows."""
    seed: int = 0
    defect_rate: float = 0.0
    csv_path: Path | None = None
    csv_symbol: str | None = None
    base_url: str | None = None
    key_env: str = "ALPACA_API_KEY_ID"
    secret_env: str = "ALPACA_API_SECRET_KEY"
    secret_scope: str | None = None
    feed: str = "iex"
    requests_per_minute: float | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    timeout: float = 30.0
    retry: RetryPolicy = DEFAULT_RETRY
    landing_path: Path = Path(".medallion/local/landing")
    bars_folder: str = "bars"


def load_config(env: Environment, *, provider: str | None = None, symbols: Iterable[str] | None = None,
                sessions: int | None = None, timeframe: str | None = None, seed: int | None = None,
                defect_rate: float | None = None, csv_path: Path | str | None = None, csv_symbol: str | None = None,
                base_url: str | None = None, feed: str | None = None, requests_per_minute: float | None = None,
                batch_size: int | None = None, timeout: float | None = None, retry: RetryPolicy | None = None,
                landing_path: Path | str | None = None) -> CollectConfig:
    """Merge arguments over `env`'s `tasks.collect` section; raises CollectError naming the bad setting."""
    section: dict[str, Any] = env.task_config(TASK_KEY)
    chosen = provider or section.get("provider", "synthetic")
    if chosen not in PROVIDERS:
        raise CollectError(f"unknown provider `{chosen}` (known: {', '.join(PROVIDERS)})")
    if symbols is not None:
        picked = _symbols(symbols)
    elif chosen == "csv":
        picked = ()  # a CSV import takes the symbols in its files unless told otherwise
    else:
        picked = _symbols(section.get("symbols") or ())
    config = CollectConfig(
        provider=chosen,
        symbols=picked,
        sessions=_first(sessions, section.get("sessions"), 1),
        # a CSV import infers its bar length from the rows unless told; the environment's is for APIs
        timeframe=timeframe if chosen == "csv" else _first(timeframe, section.get("timeframe"), "1Min"),
        seed=_first(seed, section.get("seed"), 0),
        defect_rate=float(_first(defect_rate, section.get("defect_rate"), 0.0)),
        csv_path=_path(env, _first(csv_path, section.get("csv_path"), None)),
        csv_symbol=csv_symbol.upper() if csv_symbol else None,
        base_url=_first(base_url, section.get("base_url"), None),
        key_env=section.get("key_env", CollectConfig.key_env),
        secret_env=section.get("secret_env", CollectConfig.secret_env),
        secret_scope=(env.get("databricks") or {}).get("secret_scope"),
        feed=_first(feed, section.get("feed"), "iex"),
        requests_per_minute=_first(requests_per_minute, section.get("requests_per_minute"),
                                   DEFAULT_REQUESTS_PER_MINUTE.get(chosen)),
        batch_size=_first(batch_size, None, DEFAULT_BATCH_SIZE),
        timeout=float(_first(timeout, None, 30.0)),
        retry=retry or DEFAULT_RETRY,
        landing_path=_path(env, landing_path) if landing_path else env.landing_path,
        bars_folder=env.variables().get("bars_folder", "bars"),
    )
    _check(config)
    return config


def _first(*values: Any) -> Any:
    return next((v for v in values if v is not None), None)


def _path(env: Environment, value: Path | str | None) -> Path | None:
    if value is None:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else env.root / path


def _symbols(values: Iterable[str]) -> tuple[str, ...]:
    cleaned = tuple(dict.fromkeys(str(v).strip().upper() for v in values if str(v).strip()))
    bad = [s for s in cleaned if not SYMBOL.match(s)]
    if bad:
        raise CollectError(f"not a ticker symbol: {', '.join(bad)} (letters, digits, `.` or `-`, up to 10)")
    return cleaned


def _check(config: CollectConfig) -> None:
    if config.timeframe not in TIMEFRAMES and not (config.provider == "csv" and config.timeframe is None):
        raise CollectError(f"unknown timeframe `{config.timeframe}` (known: {', '.join(TIMEFRAMES)})")
    if config.provider != "csv" and not config.symbols:
        raise CollectError("no symbols to collect: set tasks.collect.symbols in the environment or pass --symbols")
    if config.provider == "csv" and config.csv_path is None:
        raise CollectError("the csv provider needs a file or folder: set tasks.collect.csv_path or pass --path")
    if not 0.0 <= config.defect_rate <= 1.0:
        raise CollectError(f"defect rate must be between 0 and 1, not {config.defect_rate}")
    if config.sessions < 1 or config.batch_size < 1:
        raise CollectError("sessions and batch size must be at least 1")
    if config.requests_per_minute is not None and config.requests_per_minute <= 0:
        raise CollectError("requests per minute must be positive")
    if config.timeout <= 0:
        raise CollectError("timeout must be positive")
    if config.feed not in ("iex", "sip"):
        raise CollectError(f"unknown Alpaca feed `{config.feed}` (iex or sip)")

