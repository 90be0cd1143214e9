"""The NYSE calendar helpers and the choice of sessions a run collects."""

from __future__ import annotations

from datetime import date, datetime, time, timezone

import pytest

from market.collect import calendar
from market.collect.calendar import NEW_YORK
from market.collect.dates import select_sessions
from market.collect.errors import CollectError


def ny(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=NEW_YORK)


def test_holidays_and_weekends_are_not_sessions() -> None:
    assert not calendar.is_session(date(2025, 11, 27))  # Thanksgiving
    assert not calendar.is_session(date(2025, 7, 4))
    assert not calendar.is_session(date(2025, 11, 29))  # Saturday
    assert calendar.is_session(date(2025, 11, 28))
    assert calendar.non_session_reason(date(2025, 11, 27)) == "market holiday"
    assert calendar.non_session_reason(date(2025, 11, 29)) == "weekend"
    with pytest.raises(ValueError, match="2025-12-25 is not an NYSE session .market holiday."):
        calendar.session(date(2025, 12, 25))


@pytest.mark.parametrize("day", [date(2025, 11, 28), date(2024, 12, 24), date(2025, 7, 3)])
def test_early_closes_at_13_new_york(day: date) -> None:
    session = calendar.session(day)
    assert session.early_close
    assert session.close_utc.astimezone(NEW_YORK).time() == time(13, 0)
    assert session.open_utc.astimezone(NEW_YORK).time() == time(9, 30)
    assert session.minutes == 210


def test_regular_session_in_utc_across_daylight_saving() -> None:
    winter = calendar.session(date(2025, 3, 7))   # EST: 14:30Z-21:00Z
    summer = calendar.session(date(2025, 3, 10))  # EDT: 13:30Z-20:00Z
    assert (winter.open_utc.hour, winter.close_utc.hour) == (14, 21)
    assert (summer.open_utc.hour, summer.close_utc.hour) == (13, 20)
    assert not winter.early_close and winter.minutes == 390
    assert summer.midnight_utc == datetime(2025, 3, 10, 4, 0, tzinfo=timezone.utc)
    assert summer.to_record() == {"session_date": "2025-03-10", "open_utc": "2025-03-10T13:30:00Z",
                                  "close_utc": "2025-03-10T20:00:00Z", "early_close": False}


def test_last_completed_session_turns_at_17_new_york() -> None:
    # Friday after Thanksgiving: before 17:00 the Wednesday is the last complete session
    assert calendar.last_completed_session(ny(2025, 11, 28, 16, 59)).date == date(2025, 11, 26)
    assert calendar.last_completed_session(ny(2025, 11, 28, 17, 0)).date == date(2025, 11, 28)
    assert calendar.last_completed_session(ny(2025, 11, 30, 12)).date == date(2025, 11, 28)  # Sunday
    assert calendar.last_completed_session(ny(2025, 12, 1, 10)).date == date(2025, 11, 28)   # Monday morning
    last3 = calendar.last_completed_sessions(3, ny(2025, 12, 1, 18))
    assert [s.date for s in last3] == [date(2025, 11, 26), date(2025, 11, 28), date(2025, 12, 1)]
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar.last_completed_session(datetime(2025, 12, 1, 18))


def test_sessions_between_and_old_dates_widen_the_calendar() -> None:
    week = calendar.sessions_between(date(2025, 11, 24), date(2025, 11, 30))
    assert [s.date.day for s in week] == [24, 25, 26, 28]
    assert calendar.non_sessions_between(date(2025, 11, 24), date(2025, 11, 30)) == [
        date(2025, 11, 27), date(2025, 11, 29), date(2025, 11, 30)]
    # 2001-09-11..14: the exchange was closed after the attacks (ad-hoc closures, not regular holidays)
    sept = calendar.sessions_between(date(2001, 9, 10), date(2001, 9, 17))
    assert [s.date.day for s in sept] == [10, 17]
    assert calendar.previous_session(date(2025, 12, 1)).date == date(2025, 11, 28)
    assert calendar.session_of(datetime(2025, 11, 28, 4, 59, tzinfo=timezone.utc)) is None  # Thanksgiving night in NY


def test_select_sessions_reports_what_it_skips() -> None:
    at = ny(2025, 11, 28, 12)  # Friday noon: the half day is not complete yet
    chosen, skipped = select_sessions(dates=[date(2025, 11, 26), date(2025, 11, 27), date(2025, 11, 28),
                                             date(2025, 11, 29)], at=at)
    assert [s.date for s in chosen] == [date(2025, 11, 26)]
    assert [(s.day.day, s.reason.split(" (")[0]) for s in skipped] == [
        (27, "not an NYSE session"), (28, "session not complete yet"), (29, "not an NYSE session")]
    chosen, skipped = select_sessions(start=date(2025, 11, 20), end=date(2025, 11, 26), at=at)
    assert [s.date.day for s in chosen] == [20, 21, 24, 25, 26]
    assert [s.day.day for s in skipped] == [22, 23]
    assert [s.date for s in select_sessions(last=2, at=at)[0]] == [date(2025, 11, 25), date(2025, 11, 26)]
    assert [s.date for s in select_sessions(default_last=1, at=at)[0]] == [date(2025, 11, 26)]


def test_select_sessions_rejects_conflicting_choices() -> None:
    with pytest.raises(CollectError, match="not several"):
        select_sessions(dates=[date(2025, 11, 26)], last=3)
    with pytest.raises(CollectError, match="after end"):
        select_sessions(start=date(2025, 11, 26), end=date(2025, 11, 20))


def test_select_sessions_from_available_dates() -> None:
    available = [date(2025, 11, 26), date(2025, 11, 27), date(2025, 11, 28)]
    at = ny(2025, 12, 5, 18)
    chosen, skipped = select_sessions(available=available, at=at)
    assert [s.date.day for s in chosen] == [26, 28]
    assert [s.day.day for s in skipped] == [27]
    assert [s.date.day for s in select_sessions(available=available, last=1, at=at)[0]] == [28]
    chosen, skipped = select_sessions(available=available, dates=[date(2025, 11, 25)], at=at)
    assert chosen == [] and skipped[0].reason == "no rows for this session in the input"
