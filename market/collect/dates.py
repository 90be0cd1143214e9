"""Which sessions a run collects: explicit dates, a backfill range, the last N, or the default.

Non-sessions (weekends, holidays) and sessions not complete yet (before 17:00 New York on their date)
are never collected; they come back as `Skipped` with the reason so the command can say so. Skipping
incomplete sessions matters beyond tidiness: a session's bars land once (a re-run rewrites the file
under the same name), and Spark's file stream would never re-read it once the rest of the day arrived.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Iterable

from market.collect import calendar
from market.collect.calendar import Session
from market.collect.errors import CollectError


@dataclass(frozen=True)
class Skipped:
    day: date
    reason: str


def select_sessions(*, dates: Iterable[date] | None = None, start: date | None = None, end: date | None = None,
                    last: int | None = None, available: Iterable[date] | None = None, default_last: int = 1,
                    at: datetime | None = None) -> tuple[list[Session], list[Skipped]]:
    """Sessions to collect, oldest first, and the days skipped with why.

    Precedence: `dates` > `start`/`end` > `last` > `available` (the csv provider's dates) >
    the last `default_last` completed sessions. `available` also limits explicit choices.
    """
    if dates is not None and (start or end or last):
        raise CollectError("give either dates or a start/end range or a number of sessions, not several")
    if (start or end) and last:
        raise CollectError("give either a start/end range or a number of sessions, not both")
    pool = set(available) if available is not None else None
    if dates is not None:
        candidates = sorted(set(dates))
    elif start or end:
        today = calendar.new_york_date(calendar.now_utc(at))
        last_day, first_day = end or today, start or end or today
        if last_day < first_day:
            raise CollectError(f"start {first_day} is after end {last_day}")
        candidates = [first_day] if first_day == last_day else _range(first_day, last_day, pool)
    elif last and pool is not None:
        candidates = [d for d in sorted(pool) if calendar.is_session(d)][-last:]
    elif last:
        return calendar.last_completed_sessions(last, at), []
    elif pool is not None:
        candidates = sorted(pool)
    else:
        return calendar.last_completed_sessions(default_last, at), []
    return _classify(candidates, pool, at)


def _range(first: date, last: date, pool: set[date] | None) -> list[date]:
    """Every day in the range: sessions to collect, non-sessions to report (only those with data for csv)."""
    sessions = [s.date for s in calendar.sessions_between(first, last)]
    if pool is not None:
        return sorted(d for d in pool if first <= d <= last)
    return sorted(set(sessions) | set(calendar.non_sessions_between(first, last)))


def _classify(candidates: list[date], pool: set[date] | None,
              at: datetime | None) -> tuple[list[Session], list[Skipped]]:
    sessions: list[Session] = []
    skipped: list[Skipped] = []
    for day in candidates:
        found = calendar.session_or_none(day)
        if found is None:
            skipped.append(Skipped(day, f"not an NYSE session ({calendar.non_session_reason(day)})"))
        elif not calendar.is_complete(found, at):
            skipped.append(Skipped(day, "session not complete yet (data is final from 17:00 New York)"))
        elif pool is not None and day not in pool:
            skipped.append(Skipped(day, "no rows for this session in the input"))
        else:
            sessions.append(found)
    return sessions, skipped
