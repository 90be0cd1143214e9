"""The quality checks, each a small function over a `CheckContext` returning `CheckResult`s.

Thresholds and severities come from YAML: the environment's `checks:` section and each spec's
`quality:` block. What is checked follows from the specs themselves — every silver/gold table with
`keys` is checked for duplicates, every streamed table is reconciled BY KEY against its upstream from
the tables themselves (framework/checks/reconcile.py), every expectation's pass rate is read from the
event log — so a new dataset is checked with no new code.

Only what a Databricks event log documents is read (never the local runtime's `details.medallion_local`),
and only the events of the window being checked: those since `--since` (the job run's start), else those
of the newest update — pushed into the read as a timestamp / update filter, so a bad day is not diluted
by weeks of a continuous update and the read does not grow with the log.
The calendar checks (freshness, completeness) apply to tables with the market columns `symbol` and
`trade_date` (daily) or `symbol`, `ts` and `timeframe` (intraday).

Names come from `framework.naming.TableRef` only: `silver.bars` and `ops.event_log` locally,
`medallion_prod.silver.bars` and the bundle's event log `medallion_prod.ops.pipeline_event_log` on
Databricks. A table or event log a check needs that does not exist is a critical FAIL with a one-line
reason — never a silent skip, so a green gate always means the tables were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable, Iterable

from framework.checks.reconcile import (KeyReconciliation, discrepancies, holds, published_names,
                                       reconciliation_sql)
from framework.checks.results import CheckReport, CheckResult
from market.collect import calendar
from framework.eventlog import EventHistory, latest_update, parse_since, read_with_spark, window_metrics
from framework.naming import TableRef, quote_name, sql_string
from framework.spec.environment import Environment
from framework.spec.model import TablesSource, TableSpec
from framework.spec.project import Project

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MAX_LISTED = 5
"""Missing items a check names in its text detail; `--format json` has all of them."""

DEFAULTS: dict[str, dict[str, Any]] = {
    "freshness": {"enabled": True, "severity": "critical", "max_age_sessions": 1},
    "completeness": {"enabled": True, "severity": "warning", "max_missing_ratio": 0.0},
    "duplicates": {"enabled": True, "severity": "critical", "max_duplicates": 0},
    "reconciliation": {"enabled": True, "severity": "critical"},
    "expectations": {"enabled": True, "severity": "warning", "min_pass_rate": 0.99},
}


MISSING = "missing"
"""`observed` of a result whose table (or event log) does not exist."""


@dataclass(frozen=True)
class EventWindow:
    """The events the checks read: since a time (the job run's start), or of one update (the newest)."""

    since: datetime | None
    update_id: str | None
    label: str
    """For people: `since 2026-11-27T22:00:00Z`, `in update 1a2b3c4d (started ...)`."""


@dataclass
class CheckContext:
    spark: "SparkSession"
    project: Project
    env: Environment
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    since: datetime | None = None
    """Read the event log from this time on (`medallion check --since`); None: the newest update's events."""
    _exists: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    def settings(self, check: str) -> dict[str, Any]:
        return {**DEFAULTS[check], **((self.env.get("checks") or {}).get(check) or {})}

    def ref(self, spec: TableSpec) -> TableRef:
        return TableRef.of(spec, self.env)

    def name(self, spec: TableSpec) -> str:
        """The table's published name, quoted for SQL."""
        return self.ref(spec).quoted

    @property
    def event_log_ref(self) -> TableRef:
        return TableRef.event_log(self.env)

    @property
    def event_log(self) -> str:
        return self.event_log_ref.quoted

    @cached_property
    def window(self) -> EventWindow:
        """`since`, else the newest update (asked of the log as a filtered top-1, not by reading it)."""
        if self.since is not None:
            return EventWindow(self.since, None, f"since {self.since.strftime('%Y-%m-%dT%H:%M:%SZ')}")
        latest = latest_update(lambda sql: [tuple(r) for r in self.spark.sql(sql).collect()], self.event_log)
        if latest is None:
            return EventWindow(None, None, "(no update in the event log yet)")
        started = parse_since(latest.timestamp)
        return EventWindow(started, latest.update_id,
                           f"in update {latest.update_id[:8]} (started {started.strftime('%Y-%m-%dT%H:%M:%SZ')})")

    @cached_property
    def history(self) -> EventHistory:
        """The events of `window`, read once for all checks (filters pushed into the read)."""
        window = self.window
        if window.since is None and window.update_id is None:
            return EventHistory()
        return read_with_spark(self.spark, self.event_log, since=window.since, update_id=window.update_id)

    def exists(self, ref: TableRef) -> bool:
        """Whether the table exists and this identity can see it (asked once per name)."""
        name = ref.published
        if name not in self._exists:
            try:
                self._exists[name] = bool(self.spark.catalog.tableExists(ref.quoted))
            except Exception:  # an unknown catalog or schema, or no USE privilege on it: not there for us
                self._exists[name] = False
        return self._exists[name]

    def missing(self, check: str, target: str, ref: TableRef) -> CheckResult | None:
        """A critical FAIL saying `ref` does not exist, or None when it does."""
        if self.exists(ref):
            return None
        return CheckResult(check, target, False, "critical", MISSING, "exists", self._missing_reason(ref))

    def _missing_reason(self, ref: TableRef) -> str:
        what = "event log" if ref == self.event_log_ref else "table"
        if self.env.runtime == "local":
            return f"{what} {ref.published} does not exist: run the pipeline first (medallion run --env {self.env.name})"
        made_by = ("the pipeline publishes it (its event_log setting) once it has run" if what == "event log"
                   else "the pipeline creates it on its first update")
        return (f"{what} {ref.published} does not exist or this identity cannot see it (USE CATALOG, USE SCHEMA, "
                f"SELECT): {made_by}")

    def log_name(self, ref: TableRef) -> str:
        """How the event log names the table's flow: the published name, else the one flow ending in its name.

        The local log writes `silver.bars`; a Databricks log writes the flow of a Unity Catalog table
        fully qualified (backticks are removed when read), older ones the bare name.
        """
        flows = self._log_flows
        if ref.published in flows:
            return ref.published
        candidates = [flow for flow, table in flows.items() if table == ref.name]
        return candidates[0] if len(candidates) == 1 else ref.published

    @cached_property
    def _log_flows(self) -> dict[str, str]:
        """Flow names in the log -> the spec name of the table each writes."""
        return {event.flow: event.table for event in self.history.progress}

    def scalar(self, sql: str) -> Any:
        return self.spark.sql(sql).collect()[0][0]

    def tables(self, predicate: Callable[[TableSpec], bool]) -> list[TableSpec]:
        """The published tables (views are private to the pipeline) that `predicate` selects, in
        dependency order. Whether each exists is the check's to report: `missing()`."""
        return [self.project.tables[n] for n in self.project.graph().order()
                if self.project.tables[n].kind != "view" and predicate(self.project.tables[n])]


def _has(spec: TableSpec, *columns: str) -> bool:
    return all(c in spec.column_names for c in columns)


def _is_daily_bars(spec: TableSpec) -> bool:
    """A gold table of one OHLC bar per symbol and trading date."""
    return spec.keys == ("symbol", "trade_date") and _has(spec, "open", "high", "low", "close")


def check_duplicates(ctx: CheckContext) -> Iterable[CheckResult]:
    """Silver and gold promise one row per key; bronze keeps raw duplicates on purpose."""
    cfg = ctx.settings("duplicates")
    for spec in ctx.tables(lambda s: bool(s.keys) and s.layer != "bronze"):
        if absent := ctx.missing("duplicates", spec.name, ctx.ref(spec)):
            yield absent
            continue
        keys = ", ".join(quote_name(k) for k in spec.keys)
        count = ctx.scalar(f"SELECT count(*) FROM (SELECT {keys} FROM {ctx.name(spec)} "
                           f"GROUP BY {keys} HAVING count(*) > 1)")
        yield CheckResult("duplicates", spec.name, count <= cfg["max_duplicates"], cfg["severity"], count,
                          cfg["max_duplicates"], f"keys ({', '.join(spec.keys)}) with more than one row")


def check_reconciliation(ctx: CheckContext) -> Iterable[CheckResult]:
    """By key, from the tables: the distinct keys of the upstream rows that pass the rules are the table's
    keys, the rows failing a quarantine rule are in its quarantine table, the rest failed a drop rule
    (framework/checks/reconcile.py). Holds on every runtime: no event-log number is needed. For a
    de-duplicated table the detail adds, for the window, the upserts (Databricks' `num_upserted_rows`)
    and the duplicates discarded (rows entering the AUTO CDC flow — seen by its expectations, minus
    the rows they dropped — minus the keys upserted)."""
    cfg = ctx.settings("reconciliation")
    streamed = lambda s: isinstance(s.source, TablesSource) and s.source.mode == "stream" and len(s.source.tables) == 1
    names = published_names(ctx.project.tables.values(), ctx.env)
    for spec in ctx.tables(streamed):
        upstream = ctx.project.tables[spec.source.tables[0]]
        quarantine = ctx.ref(spec).quarantine() if spec.quarantine_table else None
        needed = [(spec.name, ctx.ref(spec)), (upstream.name, ctx.ref(upstream))]
        needed += [(spec.quarantine_table, quarantine)] if quarantine else []
        absent_tables = [result for target, ref in needed if (result := ctx.missing("reconciliation", target, ref))]
        if absent_tables:
            yield from absent_tables
            continue
        sql = reconciliation_sql(spec, ctx.ref(upstream), ctx.ref(spec), quarantine, ctx.env, names)
        if sql is None:
            yield CheckResult("reconciliation", spec.name, False, "warning", "not reconciled", "a SQL transform",
                              f"the transform is Python ({spec.transform.python if spec.transform else ''}): "
                              "it cannot be re-applied in SQL to the upstream's rows")
            continue
        r = KeyReconciliation.of(ctx.spark.sql(sql).collect()[0])
        if spec.keys:
            held = f"{r.table_keys} keys" + (f" in {r.table_rows} rows" if r.table_rows != r.table_keys else "")
            keyed = f"hold {r.passing_keys} keys, {spec.name} holds {held}: {r.missing_keys} missing, {r.extra_keys} extra"
        else:
            keyed = f"are {r.passing_rows} rows, {spec.name} holds {r.table_rows}"
        detail = (f"{upstream.name} {r.upstream_rows} = {r.passing_rows} passing the rules + quarantined "
                  f"{r.expected_quarantined} ({spec.quarantine_table or 'no quarantine table'} {r.quarantined}) "
                  f"+ dropped {r.dropped}; the passing rows {keyed}")
        if spec.dedupe_sequence_by:
            detail += (f"; {r.superseded} passing row(s) superseded by a later row of their key "
                       f"(updates or discarded duplicates){_window_cdc(ctx, spec)}")
        yield CheckResult("reconciliation", spec.name, holds(spec, r), cfg["severity"], discrepancies(spec, r), 0,
                          detail)


def _window_cdc(ctx: CheckContext, spec: TableSpec) -> str:
    """`; since ...: 990 upserted, 5 duplicate(s) discarded` from the window's documented event fields."""
    if not ctx.exists(ctx.event_log_ref):
        return ""
    metrics = window_metrics(ctx.history).get(ctx.log_name(ctx.ref(spec)))
    if metrics is None:
        return f"; {ctx.window.label}: no batch of {spec.name} in the event log"
    discarded = metrics.discarded_duplicates
    return (f"; {ctx.window.label}: {metrics.upserted_rows} upserted (new keys and updates applied), "
            + (f"{discarded} duplicate(s) discarded" if discarded is not None
               else "duplicates discarded not in this event log (no expectations report the rows entering the flow)"))


def check_expectations(ctx: CheckContext) -> Iterable[CheckResult]:
    """Pass rate of each expectation over the window's events (the job run, else the newest update),
    against spec or env thresholds: a bad day is judged on its own rows."""
    cfg = ctx.settings("expectations")
    if absent := ctx.missing("expectations", ctx.event_log_ref.published, ctx.event_log_ref):
        yield absent
        return
    window = ctx.window
    checked = {table: m for table, m in sorted(window_metrics(ctx.history).items()) if m.has_data}
    if not checked:
        yield CheckResult("expectations", ctx.event_log_ref.published, True, "info", 0, "records checked",
                          f"no expectation evaluated any record {window.label}")
        return
    for table, metrics in checked.items():
        spec = ctx.project.tables.get(metrics.name)
        quality = spec.quality if spec else {}
        threshold = quality.get("min_pass_rate", cfg["min_pass_rate"])
        for name, e in sorted(metrics.expectations.items()):
            rate = e.passed / (e.passed + e.failed) if e.passed + e.failed else 1.0
            yield CheckResult("expectations", f"{metrics.name}.{name}", rate >= threshold,
                              quality.get("severity", cfg["severity"]), round(rate, 6), threshold,
                              f"{e.passed} passed, {e.failed} failed {window.label}")


def check_freshness(ctx: CheckContext) -> Iterable[CheckResult]:
    """The latest completed NYSE session is present (within `max_age_sessions`)."""
    cfg = ctx.settings("freshness")
    expected = calendar.last_completed_session(ctx.now).date
    for spec in ctx.tables(_is_daily_bars):
        if absent := ctx.missing("freshness", spec.name, ctx.ref(spec)):
            yield absent
            continue
        latest: date | None = ctx.scalar(f"SELECT max(trade_date) FROM {ctx.name(spec)}")
        behind = len(calendar.sessions_between(latest, expected)) - 1 if latest and latest <= expected else (
            0 if latest else None)
        ok = behind is not None and behind <= cfg["max_age_sessions"]
        yield CheckResult("freshness", spec.name, ok, cfg["severity"], str(latest) if latest else "empty",
                          f"<= {cfg['max_age_sessions']} session(s) behind {expected}",
                          f"{behind} session(s) behind" if behind is not None else "no rows")


def check_completeness(ctx: CheckContext) -> Iterable[CheckResult]:
    """Missing sessions per symbol (daily) and missing minutes per session (1-minute bars), named:
    the detail lists the first few, `CheckResult.missing` all of them."""
    cfg = ctx.settings("completeness")
    limit = cfg["max_missing_ratio"]
    for spec in ctx.tables(_is_daily_bars):
        if absent := ctx.missing("completeness", spec.name, ctx.ref(spec)):
            yield absent
            continue
        spans = ctx.spark.sql(f"SELECT symbol, min(trade_date) AS first, max(trade_date) AS last, "
                              f"count(DISTINCT trade_date) AS present FROM {ctx.name(spec)} "
                              "WHERE trade_date IS NOT NULL GROUP BY symbol").collect()
        gappy = [r["symbol"] for r in spans
                 if r["present"] < len(calendar.sessions_between(r["first"], r["last"]))]
        dates = _dates_of(ctx, spec, gappy)  # only the symbols with gaps: the rest is counted, not listed
        for row in sorted(spans, key=lambda r: r["symbol"] or ""):
            first, last = row["first"], row["last"]
            sessions = calendar.sessions_between(first, last)
            present = dates.get(row["symbol"])
            missing = [s.date.isoformat() for s in sessions if s.date not in present] if present is not None else []
            ratio = len(missing) / len(sessions) if sessions else 0.0
            yield CheckResult("completeness", f"{spec.name}[{row['symbol']}]", ratio <= limit, cfg["severity"],
                              len(missing), f"<= {limit:.2%} of {len(sessions)} sessions",
                              f"{len(missing)} of {len(sessions)} NYSE sessions missing ({first} .. {last})"
                              + _first_few(missing), missing=missing)
    for spec in ctx.tables(lambda s: _has(s, "symbol", "ts", "timeframe", "trade_date") and s.layer == "silver"):
        if absent := ctx.missing("completeness", f"{spec.name}[1Min]", ctx.ref(spec)):
            yield absent
            continue
        yield from _intraday_completeness(ctx, spec, cfg)


def _dates_of(ctx: CheckContext, spec: TableSpec, symbols: list[str]) -> dict[str, set[date]]:
    """The trading dates present for each of `symbols` (only those are read into the driver)."""
    if not symbols:
        return {}
    rows = ctx.spark.sql(f"SELECT symbol, collect_set(trade_date) AS dates FROM {ctx.name(spec)} "
                         f"WHERE trade_date IS NOT NULL AND symbol IN ({', '.join(sql_string(s) for s in symbols)}) "
                         "GROUP BY symbol").collect()
    return {r["symbol"]: set(r["dates"]) for r in rows}


INTRADAY = "timeframe = '1Min' AND symbol IS NOT NULL AND trade_date IS NOT NULL"


def _intraday_completeness(ctx: CheckContext, spec: TableSpec, cfg: dict[str, Any]) -> Iterable[CheckResult]:
    """1-minute bars: every minute of every NYSE session between a symbol's first and last bar."""
    counts = ctx.spark.sql(f"SELECT symbol, trade_date, count(DISTINCT ts) AS minutes FROM {ctx.name(spec)} "
                           f"WHERE {INTRADAY} GROUP BY symbol, trade_date").collect()
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
    limit = cfg["max_missing_ratio"]
    detail = f"{missing_total} of {expected_total} session minutes missing"
    if incomplete:
        shown = [f"{g['symbol']} {g['session']} {_ranges_text(g['ranges'])}" for g in incomplete]
        detail += f" in {len(incomplete)} session(s)" + _first_few(shown, noun="session(s)")
    yield CheckResult("completeness", f"{spec.name}[1Min]", ratio <= limit, cfg["severity"], missing_total,
                      f"<= {limit:.2%} of {expected_total} minutes", detail, missing=incomplete)


def _present_minutes(ctx: CheckContext, spec: TableSpec,
                     keys: list[tuple[str, date]]) -> dict[tuple[str, date], set[datetime]]:
    """The distinct bar minutes (UTC) of the given (symbol, trade_date) groups only."""
    if not keys:
        return {}
    wanted = ", ".join(f"({sql_string(symbol)}, DATE{sql_string(day.isoformat())})" for symbol, day in keys)
    rows = ctx.spark.sql(f"SELECT symbol, trade_date, collect_set(unix_seconds(date_trunc('minute', ts))) AS minutes "
                         f"FROM {ctx.name(spec)} WHERE {INTRADAY} AND (symbol, trade_date) IN ({wanted}) "
                         "GROUP BY symbol, trade_date").collect()
    # epoch seconds: Python would turn a TIMESTAMP into the *process's* local time
    return {(r["symbol"], r["trade_date"]): {datetime.fromtimestamp(m, timezone.utc) for m in r["minutes"]}
            for r in rows}


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


def _first_few(items: list[str], noun: str = "") -> str:
    """`: a, b, c` naming the first MAX_LISTED items, then how many more (all are in --format json)."""
    if not items:
        return ""
    text = ("; " if noun else ": ") + ("; " if noun else ", ").join(items[:MAX_LISTED])
    if len(items) > MAX_LISTED:
        text += f"{'; ' if noun else ', '}and {len(items) - MAX_LISTED} more {noun}".rstrip() + " (all in --format json)"
    return text


CHECKS: dict[str, Callable[[CheckContext], Iterable[CheckResult]]] = {
    "freshness": check_freshness,
    "completeness": check_completeness,
    "duplicates": check_duplicates,
    "reconciliation": check_reconciliation,
    "expectations": check_expectations,
}


def run_checks(ctx: CheckContext, only: Iterable[str] | None = None) -> CheckReport:
    report = CheckReport(ctx.env.name)
    for name, check in CHECKS.items():
        if (only and name not in only) or not ctx.settings(name).get("enabled", True):
            continue
        report.results.extend(check(ctx))
    return report
