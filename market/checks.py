"""The market project's check kinds, measured against the real NYSE calendar (holidays, 13:00 closes).

Declared in medallion.yaml (`check_kinds:`) and used by the market specs under `checks.custom`:

* `nyse_freshness` — the latest completed NYSE session is in the table (`max(trade_date)`), at most
  `max_age_sessions` sessions behind (default 1); severity default critical.
* `nyse_completeness` — `grain: session` (default): the sessions missing per symbol between its first
  and last `trade_date`; `grain: minute`: the minutes missing per session of 1-minute bars (`ts`,
  `timeframe = '1Min'`). Fails above `max_missing_ratio` (default 0); severity default warning. The
  detail names the first few gaps, `CheckResult.missing` (in `--format json`) all of them.

Each is `function(ctx, spec, params) -> Iterable[CheckResult]` over the public API of framework/checks:
the table exists when it is called (the framework reports a missing one), its rows are read through
typed aggregations (`ctx.aggregate`: framework/checks/reader.py — JVM-free on the local runtime, the
cluster's Spark on Databricks), `ctx.now` is the clock. Environment defaults come in `params`
(`checks.nyse_completeness`).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Iterable

from framework.checks.reader import Aggregate, Aggregation, Equals, In, NotNull
from framework.checks.results import CheckResult, first_few
from market.collect import calendar

if TYPE_CHECKING:
    from framework.checks.context import CheckContext
    from framework.spec.model import TableSpec

FRESHNESS, COMPLETENESS = "nyse_freshness", "nyse_completeness"
INTRADAY = (Equals("timeframe", "1Min"), NotNull("symbol"), NotNull("trade_date"))
"""The 1-minute bars with a symbol and a trading date."""
MAX_LISTED = 5


def nyse_freshness(ctx: "CheckContext", spec: "TableSpec", params: dict[str, Any]) -> Iterable[CheckResult]:
    """The latest completed NYSE session is present (within `max_age_sessions`)."""
    severity, max_age = params.get("severity", "critical"), int(params.get("max_age_sessions", 1))
    expected = calendar.last_completed_session(ctx.now).date
    latest: date | None = ctx.aggregate(spec, Aggregation((Aggregate("latest", "max", "trade_date"),)))[0]["latest"]
    behind = len(calendar.sessions_between(latest, expected)) - 1 if latest and latest <= expected else (
        0 if latest else None)
    ok = behind is not None and behind <= max_age
    yield CheckResult(FRESHNESS, spec.name, ok, severity, str(latest) if latest else "empty",
                      f"<= {max_age} session(s) behind {expected}",
                      f"{behind} session(s) behind" if behind is not None else "no rows")


def nyse_completeness(ctx: "CheckContext", spec: "TableSpec", params: dict[str, Any]) -> Iterable[CheckResult]:
    """Missing sessions per symbol (`grain: session`) or missing minutes per session (`grain: minute`)."""
    severity, limit = params.get("severity", "warning"), float(params.get("max_missing_ratio", 0.0))
    if params.get("grain", "session") == "minute":
        yield from _minute_completeness(ctx, spec, severity, limit)
        return
    spans = ctx.aggregate(spec, Aggregation((Aggregate("first", "min", "trade_date"),
                                             Aggregate("last", "max", "trade_date"),
                                             Aggregate("present", "count_distinct", "trade_date")),
                                            group_by=("symbol",), where=(NotNull("trade_date"),)))
    gappy = [r["symbol"] for r in spans
             if r["present"] < len(calendar.sessions_between(r["first"], r["last"]))]
    dates = _dates_of(ctx, spec, gappy)  # only the symbols with gaps: the rest is counted, not listed
    for row in sorted(spans, key=lambda r: r["symbol"] or ""):
        first, last = row["first"], row["last"]
        sessions = calendar.sessions_between(first, last)
        present = dates.get(row["symbol"])
        missing = [s.date.isoformat() for s in sessions if s.date not in present] if present is not None else []
        ratio = len(missing) / len(sessions) if sessions else 0.0
        yield CheckResult(COMPLETENESS, f"{spec.name}[{row['symbol']}]", ratio <= limit, severity,
                          len(missing), f"<= {limit:.2%} of {len(sessions)} sessions",
                          f"{len(missing)} of {len(sessions)} NYSE sessions missing ({first} .. {last})"
                          + first_few(missing), missing=missing)


def _dates_of(ctx: "CheckContext", spec: "TableSpec", symbols: list[str]) -> dict[str, set[date]]:
    """The trading dates present for each of `symbols` (only those are read into the driver)."""
    if not symbols:
        return {}
    rows = ctx.aggregate(spec, Aggregation((Aggregate("dates", "collect_set", "trade_date"),), group_by=("symbol",),
                                           where=(NotNull("trade_date"), In(("symbol",), tuple((s,) for s in symbols)))))
    return {r["symbol"]: set(r["dates"]) for r in rows}


def _minute_completeness(ctx: "CheckContext", spec: "TableSpec", severity: str,
                         limit: float) -> Iterable[CheckResult]:
    """1-minute bars: every minute of every NYSE session between a symbol's first and last bar."""
    counts = ctx.aggregate(spec, Aggregation((Aggregate("minutes", "count_distinct", "ts"),),
                                             group_by=("symbol", "trade_date"), where=INTRADAY))
    if not counts:
        return
    present = {(r["symbol"], r["trade_date"]): r["minutes"] for r in counts}
    expected_total, gaps = 0, {}
    for symbol in sorted({s for s, _ in present}):
        dates = [d for s, d in present if s == symbol]
        for session in calendar.sessions_between(min(dates), max(dates)):
            expected_total += session.minutes
            if present.get((symbol, session.date), 0) < session.minutes:
                gaps[(symbol, session.date)] = session
    minutes = _present_minutes(ctx, spec, [key for key in gaps if key in present])
    incomplete = []
    for (symbol, day), session in gaps.items():
        ranges = _missing_ranges(session, minutes.get((symbol, day), set()))
        if ranges:
            incomplete.append({"symbol": symbol, "session": day.isoformat(),
                               "missing_minutes": sum(n for _, _, n in ranges),
                               "ranges": [[_utc(a), _utc(b)] for a, b, _ in ranges]})
    missing_total = sum(g["missing_minutes"] for g in incomplete)
    ratio = missing_total / expected_total if expected_total else 0.0
    detail = f"{missing_total} of {expected_total} session minutes missing"
    if incomplete:
        shown = [f"{g['symbol']} {g['session']} {_ranges_text(g['ranges'])}" for g in incomplete]
        detail += f" in {len(incomplete)} session(s)" + first_few(shown, noun="session(s)")
    yield CheckResult(COMPLETENESS, f"{spec.name}[1Min]", ratio <= limit, severity, missing_total,
                      f"<= {limit:.2%} of {expected_total} minutes", detail, missing=incomplete)


def _present_minutes(ctx: "CheckContext", spec: "TableSpec",
                     keys: list[tuple[str, date]]) -> dict[tuple[str, date], set[datetime]]:
    """The distinct bar minutes (UTC) of the given (symbol, trade_date) groups only."""
    if not keys:
        return {}
    rows = ctx.aggregate(spec, Aggregation((Aggregate("bars", "collect_set", "ts"),), group_by=("symbol", "trade_date"),
                                           where=(*INTRADAY, In(("symbol", "trade_date"), tuple(keys)))))
    # the reader gives TIMESTAMPs as UTC instants; a bar's minute is its start truncated to the minute
    return {(r["symbol"], r["trade_date"]): {m.replace(second=0, microsecond=0) for m in r["bars"]} for r in rows}


def _missing_ranges(session: Any, present: set[datetime]) -> list[tuple[datetime, datetime, int]]:
    """Runs of consecutive session minutes without a bar: (first, last, count)."""
    ranges: list[tuple[datetime, datetime, int]] = []
    for i in range(session.minutes):
        minute = session.open_utc + timedelta(minutes=i)
        if minute in present:
            continue
        if ranges and ranges[-1][1] + timedelta(minutes=1) == minute:
            ranges[-1] = (ranges[-1][0], minute, ranges[-1][2] + 1)
        else:
            ranges.append((minute, minute, 1))
    return ranges


def _utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%MZ")


def _ranges_text(ranges: list[list[str]]) -> str:
    parts = [a[11:16] + ("" if a == b else "-" + b[11:16]) for a, b in ranges[:MAX_LISTED]]
    return ", ".join(parts) + (f" +{len(ranges) - MAX_LISTED} more" if len(ranges) > MAX_LISTED else "") + " UTC"
