"""The NYSE trading calendar (exchange_calendars XNYS): which days are sessions, and when they open and close.

Everything that reasons about market time goes through here: the collection job (which sessions to
collect, the session stamped on every bar, the calendar files it lands) and the quality-checks job
(completeness against the real calendar). Days and instants are plain Python `date` / aware
`datetime` objects; pandas stays inside this module.

Why a wrapper: exchange_calendars builds a calendar for fixed bounds (about 20 years back and one year
ahead by default) and raises outside them. `_schedule` builds one calendar that covers whatever range
is asked for, once per process, so callers never think about bounds.
"""

from __future__ import annotations

import bisect
import threading
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc
REGULAR_CLOSE = time(16, 0)
COMPLETE_AFTER = time(17, 0)
"""A session counts as complete (its data final) from 17:00 New York, when the daily job runs."""

_DEFAULT_YEARS_BACK = 20
_DEFAULT_DAYS_AHEAD = 366


@dataclass(frozen=True, order=True)
class Session:
    """One NYSE trading session: its New York date and its open and close in UTC."""

    date: date
    open_utc: datetime
    close_utc: datetime

    @property
    def early_close(self) -> bool:
        """True when the session closes before 16:00 New York (13:00 on half days)."""
        return self.close_utc.astimezone(NEW_YORK).time() < REGULAR_CLOSE

    @property
    def minutes(self) -> int:
        """Length of the regular session in minutes (390, or 210 on a 13:00 early close)."""
        return int((self.close_utc - self.open_utc).total_seconds() // 60)

    @property
    def midnight_utc(self) -> datetime:
        """New York midnight of the session date in UTC: where daily bars are stamped (like Alpaca)."""
        return datetime.combine(self.date, time(0), NEW_YORK).astimezone(UTC)

    @property
    def complete_at(self) -> datetime:
        """The instant from which the session's data is final: 17:00 New York on its date."""
        return datetime.combine(self.date, COMPLETE_AFTER, NEW_YORK).astimezone(UTC)

    def to_record(self) -> dict[str, object]:
        """The calendar line the collection job lands (read by tables/bronze/nyse_sessions_raw.yaml)."""
        return {"session_date": self.date.isoformat(), "open_utc": rfc3339(self.open_utc),
                "close_utc": rfc3339(self.close_utc), "early_close": self.early_close}


def rfc3339(instant: datetime) -> str:
    """`2026-11-27T14:30:00Z`: the UTC timestamp format of every landed file."""
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_york_date(instant: datetime) -> date:
    """The trading date of an instant: its date in New York, never its UTC date."""
    return instant.astimezone(NEW_YORK).date()


class _Schedule:
    """Session dates (sorted) and their open/close, for one range of exchange_calendars XNYS."""

    def __init__(self, first: date, last: date) -> None:
        from exchange_calendars.exchange_calendar_xnys import XNYSExchangeCalendar

        calendar = XNYSExchangeCalendar(start=first.isoformat(), end=last.isoformat())
        frame = calendar.schedule
        self.first, self.last = first, last
        self.dates: list[date] = [ts.date() for ts in frame.index]
        self.sessions: dict[date, Session] = {
            d: Session(d, o.to_pydatetime(), c.to_pydatetime())
            for d, o, c in zip(self.dates, frame["open"], frame["close"])
        }

    def covers(self, first: date, last: date) -> bool:
        return self.first <= first and last <= self.last


_lock = threading.Lock()
_cached: _Schedule | None = None


def _schedule(first: date | None = None, last: date | None = None) -> _Schedule:
    """A schedule covering [first, last]; rebuilt (wider) only when a request falls outside it."""
    global _cached
    today = date.today()
    first = first or today
    last = last or today
    with _lock:
        if _cached is None or not _cached.covers(first, last):
            lo = min(first, today - timedelta(days=365 * _DEFAULT_YEARS_BACK),
                     *(() if _cached is None else (_cached.first,)))
            hi = max(last, today + timedelta(days=_DEFAULT_DAYS_AHEAD),
                     *(() if _cached is None else (_cached.last,)))
            _cached = _Schedule(lo, hi)
        return _cached


def is_session(day: date) -> bool:
    return day in _schedule(day, day).sessions


def session(day: date) -> Session:
    """The session on `day`; raises ValueError (with the reason) when the day is not a session."""
    found = _schedule(day, day).sessions.get(day)
    if found is None:
        raise ValueError(f"{day.isoformat()} is not an NYSE session ({non_session_reason(day)})")
    return found


def session_or_none(day: date) -> Session | None:
    return _schedule(day, day).sessions.get(day)


def session_of(instant: datetime) -> Session | None:
    """The session whose New York date is the instant's New York date (None on non-session days)."""
    return session_or_none(new_york_date(instant))


def non_session_reason(day: date) -> str:
    return "weekend" if day.weekday() >= 5 else "market holiday"


def sessions_between(first: date, last: date) -> list[Session]:
    """Every session with first <= date <= last, in order."""
    if last < first:
        return []
    schedule = _schedule(first, last)
    lo = bisect.bisect_left(schedule.dates, first)
    hi = bisect.bisect_right(schedule.dates, last)
    return [schedule.sessions[d] for d in schedule.dates[lo:hi]]


def non_sessions_between(first: date, last: date) -> list[date]:
    """Calendar days in [first, last] that are not sessions (weekends and holidays)."""
    sessions = {s.date for s in sessions_between(first, last)}
    return [d for d in _days(first, last) if d not in sessions]


def is_complete(day: Session, at: datetime | None = None) -> bool:
    """A session is complete once 17:00 New York on its date has passed."""
    return now_utc(at) >= day.complete_at


def last_completed_session(at: datetime | None = None) -> Session:
    """The latest session that is complete at `at` (default: now): the daily job's default date."""
    return last_completed_sessions(1, at)[0]


def last_completed_sessions(count: int, at: datetime | None = None) -> list[Session]:
    """The `count` latest complete sessions at `at`, oldest first."""
    if count < 1:
        raise ValueError("count must be at least 1")
    now = now_utc(at)
    today = new_york_date(now)
    span = timedelta(days=count * 2 + 14)
    while True:
        candidates = [s for s in sessions_between(today - span, today) if is_complete(s, now)]
        if len(candidates) >= count:
            return candidates[-count:]
        span *= 2


def previous_session(day: date) -> Session:
    """The last session strictly before `day`."""
    span = timedelta(days=14)
    while True:
        found = sessions_between(day - span, day - timedelta(days=1))
        if found:
            return found[-1]
        span *= 2


def _days(first: date, last: date) -> Iterable[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


def now_utc(at: datetime | None = None) -> datetime:
    """`at` (which must be timezone-aware) or the current instant, in UTC."""
    if at is None:
        return datetime.now(UTC)
    if at.tzinfo is None:
        raise ValueError("instants must be timezone-aware (use datetime.now(timezone.utc))")
    return at.astimezone(UTC)
