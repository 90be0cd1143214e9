"""Small parsers shared by the providers: provider values in, typed values out, located errors."""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any

from market.collect.errors import FetchError


def parse_instant(value: Any, where: str) -> datetime:
    """An RFC 3339 / ISO 8601 timestamp (with `Z` or an offset) as an aware UTC datetime."""
    if not isinstance(value, str):
        raise FetchError(f"{where}: time `{value!r}` is not a string")
    try:
        instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise FetchError(f"{where}: `{value}` is not an RFC 3339 time") from None
    if instant.tzinfo is None:
        raise FetchError(f"{where}: `{value}` has no UTC offset")
    return instant.astimezone(timezone.utc)


def number(value: Any, where: str) -> float | int | None:
    """A JSON number as landed (None stays None; NaN/inf become None: JSON cannot carry them)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FetchError(f"{where}: `{value!r}` is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
