"""Landing file names and how sessions are grouped into files: pure functions, no I/O.

Bars files::

    <provider>_<timeframe>_<first>_b<NNN>.jsonl                  one session of a batch (intraday)
    <provider>_1Day_<first>_<last>_b<NNN>.jsonl                  daily bars: many sessions of one year
    <provider>_<timeframe>_<first>[_<last>]_b<NNN>_<SYMBOL>.jsonl  one symbol, filled in after it failed

`first`/`last` are the first and last session the file holds (`last` is left out when they are the same
day); the manifest lists every session in between that the file holds. Calendar files are
`xnys_<first>[_<last>].jsonl`.

Why these periods: a file stream pays per file (list it, open it, track it), so a backfill of daily bars
must not land one file per session. Daily bars of a batch are grouped by **calendar year** — a year
of a 10-symbol batch is about 2,520 lines (~0.7 MB), 500 symbols x 20 years is 1,000 files instead of
250,000 — and a file never spans two years, so a year is the widest range the planner ever has to
reconcile. Minute bars stay one file per session: a session of a 10-symbol batch is already 3,900 lines.

Legacy names from before the timeframe was part of the name (`<provider>_<date>_b<NNN>[_<SYMBOL>]`)
are still recognised (their timeframe comes from the manifest), so a landing folder written by an
older version keeps its files and is never landed twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Sequence

DAILY = "1Day"
CALENDAR_PREFIX = "xnys"
_DATE = r"\d{4}-\d{2}-\d{2}"
_SYMBOL = r"[A-Z][A-Z0-9.\-]*"
BARS_NAME = re.compile(
    rf"^(?P<provider>[a-z][a-z0-9]*)_(?:(?P<timeframe>\d+(?:Min|Hour|Day))_)?(?P<first>{_DATE})"
    rf"(?:_(?P<last>{_DATE}))?_b(?P<batch>\d{{3,}})(?:_(?P<symbol>{_SYMBOL}))?\.jsonl$")
CALENDAR_NAME = re.compile(rf"^{CALENDAR_PREFIX}_(?P<first>{_DATE})(?:_(?P<last>{_DATE}))?\.jsonl$")


@dataclass(frozen=True)
class BarsName:
    """What a bars file name says: provider, timeframe (None on legacy names), session range, batch, symbol."""

    provider: str
    timeframe: str | None
    first: date
    last: date
    batch: int
    symbol: str | None

    @property
    def year(self) -> int:
        return self.first.year


def bars_file_name(provider: str, timeframe: str, sessions: Sequence[date], batch: int,
                   symbol: str | None = None) -> str:
    """The deterministic name of a file holding `sessions` (sorted) of a batch, or of one symbol of it."""
    first, last = sessions[0], sessions[-1]
    span = first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"
    stem = f"{provider}_{timeframe}_{span}_b{batch:03d}"
    return f"{stem}_{symbol}.jsonl" if symbol else f"{stem}.jsonl"


def parse_bars_name(name: str) -> BarsName | None:
    """The parts of a bars file name, or None for a name this module did not write."""
    match = BARS_NAME.match(name)
    if not match:
        return None
    first = date.fromisoformat(match["first"])
    last = date.fromisoformat(match["last"]) if match["last"] else first
    return BarsName(match["provider"], match["timeframe"], first, last, int(match["batch"]), match["symbol"])


def calendar_file_name(sessions: Sequence[date]) -> str:
    first, last = sessions[0], sessions[-1]
    span = first.isoformat() if first == last else f"{first.isoformat()}_{last.isoformat()}"
    return f"{CALENDAR_PREFIX}_{span}.jsonl"


def parse_calendar_name(name: str) -> tuple[date, date] | None:
    match = CALENDAR_NAME.match(name)
    if not match:
        return None
    first = date.fromisoformat(match["first"])
    return first, date.fromisoformat(match["last"]) if match["last"] else first


def period_of(timeframe: str, day: date) -> str:
    """The group a session's bars land in: its year for daily bars, the session itself otherwise."""
    return str(day.year) if timeframe == DAILY else day.isoformat()


def group_by_period(timeframe: str, days: Sequence[date]) -> list[tuple[str, list[date]]]:
    """`days` (sorted) cut into periods, in order: [(period, its days), ...]."""
    groups: list[tuple[str, list[date]]] = []
    for day in days:
        period = period_of(timeframe, day)
        if groups and groups[-1][0] == period:
            groups[-1][1].append(day)
        else:
            groups.append((period, [day]))
    return groups


def group_by_year(days: Sequence[date]) -> list[list[date]]:
    """Calendar files are grouped by year whatever the bars' timeframe (one line per session)."""
    return [group for _, group in group_by_period(DAILY, days)]


def consecutive_runs(days: Sequence[date], chosen: set[date]) -> list[tuple[date, ...]]:
    """The `chosen` ones of `days` (sorted) cut into runs of consecutive `days`: one file per run, so that a
    file's name (its first and last session) never spans sessions another file holds."""
    runs: list[tuple[date, ...]] = []
    current: list[date] = []
    for day in days:
        if day in chosen:
            current.append(day)
        elif current:
            runs.append(tuple(current))
            current = []
    if current:
        runs.append(tuple(current))
    return runs
