"""`as_utc`: a naive time is UTC; an aware one is converted, never re-labelled."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from framework.utc import as_utc


def test_a_naive_time_is_taken_as_utc_and_an_aware_one_is_converted():
    assert as_utc(datetime(2026, 12, 7, 17, 0)) == datetime(2026, 12, 7, 17, 0, tzinfo=timezone.utc)
    new_york = timezone(timedelta(hours=-5))
    converted = as_utc(datetime(2026, 12, 7, 12, 0, tzinfo=new_york))
    assert converted.tzinfo == timezone.utc and converted.hour == 17
