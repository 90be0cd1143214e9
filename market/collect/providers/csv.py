"""Import OHLCV bars from CSV files in the common layouts.

Accepted (column names are case-insensitive; spaces and underscores are equal):

* Yahoo download: `Date,Open,High,Low,Close,Adj Close,Volume` — daily; one symbol per file.
* With a symbol column: `Symbol` or `Ticker` (e.g. bokeh_sampledata's stocks.csv.gz), many symbols per file.
* Intraday: a `Datetime`/`Timestamp`/`Time` column (or a `Date` with times), with a UTC offset or,
  when naive, in New York exchange time (how Yahoo and most brokers export).
* Optional `VWAP` and `Trade Count`/`Trades` columns; `Adj Close` is ignored (raw prices land).

The symbol of a file without a symbol column is `--symbol`, else the file name (`AAPL.csv`).
`path` may be one file or a folder of `*.csv` / `*.csv.gz`. The whole input is read once; `fetch`
then serves sessions from memory. Bad input stops with `file:line: what is wrong`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Iterable, Sequence

import pandas as pd

from market.collect.calendar import NEW_YORK, Session, new_york_date
from market.collect.model import Bar, ProviderResult
from framework.errors import first_line
from market.collect.errors import CollectError

SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9.\-]{0,9}$")
TIME_COLUMNS = ("datetime", "timestamp", "date_time", "date", "time")
SYMBOL_COLUMNS = ("symbol", "ticker")
PRICE_COLUMNS = ("open", "high", "low", "close", "volume")
SPACING_TIMEFRAMES = {60: "1Min", 300: "5Min", 900: "15Min", 3600: "1Hour"}


class CsvProvider:
    name = "csv"

    def __init__(self, path: Path, *, symbol: str | None = None, timeframe: str | None = None,
                 symbols: Iterable[str] | None = None) -> None:
        self.path = Path(path)
        wanted = set(symbols) if symbols else None
        frames = [_read(file, symbol) for file in _files(self.path)]
        rows = pd.concat(frames, ignore_index=True)
        if wanted is not None:
            rows = rows[rows["symbol"].isin(wanted)]
        self.timeframe = timeframe or _infer_timeframe(rows)
        self._by_date: dict[date, dict[str, list[Bar]]] = _index(rows, self.timeframe)
        self.symbols: tuple[str, ...] = tuple(dict.fromkeys(rows["symbol"]))

    def dates(self) -> list[date]:
        """Every New York date with rows (sessions or not: the runner skips non-sessions with a message)."""
        return sorted(self._by_date)

    def rows_on(self, day: date) -> int:
        return sum(len(bars) for bars in self._by_date.get(day, {}).values())

    def fetch(self, symbols: Sequence[str], sessions: Sequence[Session]) -> ProviderResult:
        days = [self._by_date.get(session.date, {}) for session in sessions]
        return ProviderResult(bars={s: [bar for day in days for bar in day.get(s, [])] for s in symbols})

    def close(self) -> None:
        """Nothing to release."""


def _files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.name.lower().endswith((".csv", ".csv.gz")))
        if found:
            return found
        raise CollectError(f"{path}: no .csv or .csv.gz files in this folder")
    raise CollectError(f"{path}: no such file or folder (set tasks.collect.csv_path or pass --path)")


def _normal(name: str) -> str:
    return re.sub(r"[\s_]+", "_", str(name).strip().lower())


def _read(file: Path, symbol: str | None) -> pd.DataFrame:
    """One CSV as a frame with columns symbol, ts (UTC), daily, open..volume, trade_count, vwap, line."""
    try:
        raw = pd.read_csv(file, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise CollectError(f"{file}: cannot read as CSV: {first_line(exc)}") from None
    raw.columns = [_normal(c) for c in raw.columns]
    time_column = next((c for c in TIME_COLUMNS if c in raw.columns), None)
    missing = [c for c in PRICE_COLUMNS if c not in raw.columns] + ([] if time_column else ["date or datetime"])
    if missing:
        raise CollectError(f"{file}: missing column(s) {', '.join(missing)} "
                           f"(found: {', '.join(raw.columns)})")
    out = pd.DataFrame({"line": raw.index + 2})
    out["symbol"] = _symbols(file, raw, symbol)
    out["ts"], out["daily"] = _times(file, raw[time_column])
    for name in PRICE_COLUMNS:
        out[name] = _numbers(file, raw, name)
    out["vwap"] = _numbers(file, raw, "vwap") if "vwap" in raw.columns else None
    count_column = next((c for c in ("trade_count", "trades") if c in raw.columns), None)
    out["trade_count"] = _numbers(file, raw, count_column) if count_column else None
    return out


def _symbols(file: Path, raw: pd.DataFrame, symbol: str | None) -> pd.Series:
    column = next((c for c in SYMBOL_COLUMNS if c in raw.columns), None)
    if column is not None:
        values = raw[column].str.strip().str.upper()
        bad = values[~values.str.match(SYMBOL_PATTERN)]
        if len(bad):
            raise CollectError(f"{file}:{bad.index[0] + 2}: `{raw[column][bad.index[0]]}` is not a ticker symbol")
        return values
    name = (symbol or file.name.split(".")[0]).upper()
    if not SYMBOL_PATTERN.match(name):
        raise CollectError(f"{file}: no Symbol/Ticker column and `{name}` (from the file name) is not a "
                           "ticker; pass --symbol")
    return pd.Series([name] * len(raw), index=raw.index)


def _times(file: Path, column: pd.Series) -> tuple[list[datetime], list[bool]]:
    """Bar starts in UTC; a date-only value is a daily bar stamped at New York midnight."""
    stamps: list[datetime] = []
    daily: list[bool] = []
    for index, text in column.items():
        try:
            parsed = pd.Timestamp(text.strip())
        except (ValueError, TypeError):
            parsed = pd.NaT
        if pd.isna(parsed):
            raise CollectError(f"{file}:{index + 2}: `{text}` is not a date or date-time")
        value = parsed.to_pydatetime()
        is_daily = value.tzinfo is None and value.time() == time(0) and len(text.strip()) <= 10
        if value.tzinfo is None:
            value = value.replace(tzinfo=NEW_YORK)
        stamps.append(value.astimezone(timezone.utc))
        daily.append(is_daily)
    return stamps, daily


def _numbers(file: Path, raw: pd.DataFrame, name: str) -> pd.Series:
    """Numbers; empty cells and `null`/`NaN` become missing; anything else non-numeric is an error."""
    text = raw[name].str.strip()
    values = pd.to_numeric(text.where(~text.str.lower().isin(["", "null", "nan", "na", "none"])), errors="coerce")
    bad = values.isna() & ~text.str.lower().isin(["", "null", "nan", "na", "none"])
    if bad.any():
        index = bad[bad].index[0]
        raise CollectError(f"{file}:{index + 2}: {name} `{raw[name][index]}` is not a number")
    return values


def _infer_timeframe(rows: pd.DataFrame) -> str:
    """1Day for date-only rows; otherwise the most common spacing between a symbol's bars in a day."""
    if rows.empty:
        raise CollectError("the CSV input has no rows (for the selected symbols)")
    if rows["daily"].all():
        return "1Day"
    if rows["daily"].any():
        raise CollectError("the CSV input mixes date-only and date-time rows; split it or pass --timeframe")
    ts = pd.to_datetime(rows["ts"], utc=True)
    frame = pd.DataFrame({"symbol": rows["symbol"], "day": ts.dt.tz_convert(NEW_YORK).dt.date, "ts": ts})
    gaps = frame.sort_values("ts").groupby(["symbol", "day"])["ts"].diff().dropna().dt.total_seconds()
    gaps = gaps[gaps > 0]
    if gaps.empty:
        raise CollectError("cannot tell the bar length from one bar per day; pass --timeframe")
    spacing = int(gaps.mode().iloc[0])
    if spacing not in SPACING_TIMEFRAMES:
        raise CollectError(f"bars are {spacing} s apart, not 1, 5, 15 or 60 minutes; pass --timeframe")
    return SPACING_TIMEFRAMES[spacing]


def _index(rows: pd.DataFrame, timeframe: str) -> dict[date, dict[str, list[Bar]]]:
    """Bars grouped by New York date, then symbol, in time order."""
    by_date: dict[date, dict[str, list[Bar]]] = defaultdict(lambda: defaultdict(list))
    ordered = rows.sort_values(["symbol", "ts"], kind="stable")
    for row in ordered.itertuples(index=False):
        ts = row.ts.to_pydatetime() if isinstance(row.ts, pd.Timestamp) else row.ts
        bar = Bar(row.symbol, ts, timeframe, _price(row.open), _price(row.high), _price(row.low),
                  _price(row.close), _volume(row.volume), _count(row.trade_count), _price(row.vwap))
        by_date[new_york_date(ts)][row.symbol].append(bar)
    return {day: dict(symbols) for day, symbols in by_date.items()}


def _price(value: object) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _volume(value: object) -> float | int | None:
    """Whole volumes land as integers (most files), fractional ones (crypto, some feeds) as they are."""
    if value is None or pd.isna(value):
        return None
    number = float(value)
    return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number


def _count(value: object) -> int | None:
    return None if value is None or pd.isna(value) else int(value)
