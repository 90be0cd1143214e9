"""Times as aware UTC datetimes: a naive value is UTC, as Spark and Delta write timestamps.

Spark hands a TIMESTAMP to Python as a naive datetime, the job history and the event log store UTC
instants, and a user may type a time without an offset (`--since`): every comparison, subtraction or
literal made of them goes through `as_utc`, so no naive value is ever read in the process's local time.
"""

from __future__ import annotations

from datetime import datetime, timezone


def as_utc(moment: datetime) -> datetime:
    """`moment` as an aware UTC datetime (a naive `moment` is taken to be UTC already)."""
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
