"""The built-in quality checks, and the runner of every check a project declares.

What is checked is declared in the table specs (`checks:`, framework/spec/checks.py), as dbt declares
source freshness and tests; the environment's `checks:` gives defaults only (severities, thresholds):

* `freshness` (declared): the newest value of a TIMESTAMP or DATE column is at most `max_age` old;
* `volume` (declared): at least `min_rows`, and at most `max_drop` fewer rows than the table's last
  Delta version before the update being checked (the table's history, then that version: `DESCRIBE
  HISTORY` / `VERSION AS OF` on Databricks, `deltalake` locally);
* `unique` (implicit on silver/gold tables with `keys`; declared for other columns or to turn it off);
* `reconciliation` (implicit on every table streamed from one upstream): BY KEY, from the tables
  themselves (framework/checks/reconcile.py);
* `expectations` (implicit): the pass rate of every expectation, from the event log;
* project kinds (`checks.custom`, `check_kinds:` in medallion.yaml): `function(ctx, spec, params)`
  (framework/checks/kinds.py), run after the built-in ones.

Only what a Databricks event log documents is read (never the local runtime's `details.medallion_local`),
and only the events of the window being checked: those since `--since` (the job run's start), else those
of the newest update — pushed into the read as a timestamp / update filter, so a bad day is not diluted
by weeks of a continuous update and the read does not grow with the log.

Tables and the event log are read through typed questions (`ctx.reader`, framework/checks/reader.py):
without a JVM on the local runtime, by the cluster's Spark on Databricks. Only reconciliation runs Spark
SQL (it re-applies the specs' transforms); locally its numbers are memoized against the Delta versions
of the tables it reads (framework/checks/memo.py), so a check after a run starts no JVM.

Names come from `framework.naming.TableRef` only (`silver.orders` locally, `<catalog>.silver.orders` on
Databricks). A table or event log a check needs that does not exist is a critical FAIL with a one-line
reason — never a silent skip, so a green gate always means the tables were read.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Callable, Iterable

from framework.checks.context import MISSING, CheckContext, EventWindow  # noqa: F401  (the checks' public API)
from framework.checks.memo import ReconciliationMemo, memo_key
from framework.checks.reader import Aggregate, Aggregation
from framework.checks.reconcile import (KeyReconciliation, discrepancies, holds, published_names,
                                       reconciliation_sql)
from framework.checks.results import CheckReport, CheckResult
from framework.eventlog import window_metrics
from framework.spec.checks import (EXPECTATIONS, FRESHNESS, RECONCILIATION, UNIQUE, VOLUME,
                                   ReconciliationCheck, UniqueCheck)
from framework.spec.model import TablesSource, TableSpec
from framework.utc import as_utc
from framework.validation.checks import column_types

_ON = ReconciliationCheck()
_IMPLICIT_UNIQUE = UniqueCheck()


def _streamed_from_one(spec: TableSpec) -> bool:
    return isinstance(spec.source, TablesSource) and spec.source.mode == "stream" and len(spec.source.tables) == 1


def check_freshness(ctx: CheckContext) -> Iterable[CheckResult]:
    """The newest value of the declared column is at most `max_age` old at `ctx.now` (a DATE counts
    from the midnight UTC that starts it); an empty table (or a column of NULLs) fails."""
    cfg = ctx.settings(FRESHNESS)
    for spec in ctx.tables(lambda s: s.checks.freshness is not None):
        declared = spec.checks.freshness
        if absent := ctx.missing(FRESHNESS, spec.name, ctx.ref(spec)):
            yield absent
            continue
        is_date = column_types(spec).get(declared.column) == "DATE"
        newest = ctx.aggregate(spec, Aggregation((Aggregate("newest", "max", declared.column),)))[0]["newest"]
        threshold = f"<= {declared.max_age}"
        severity = declared.severity or cfg["severity"]
        if newest is None:
            yield CheckResult(FRESHNESS, spec.name, False, severity, "empty", threshold,
                              f"no value in {declared.column}: the table is empty or the column is NULL")
            continue
        moment = _instant(newest)
        age = ctx.now - moment
        shown = moment.date().isoformat() if is_date else moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        yield CheckResult(FRESHNESS, spec.name, age <= declared.age, severity, shown, threshold,
                          f"newest {declared.column} {shown} is {_age_text(age)} old at "
                          f"{ctx.now.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')}")


def _instant(value: date | datetime) -> datetime:
    """A DATE counts from the midnight UTC that starts it; a TIMESTAMP is an instant (naive: UTC)."""
    if isinstance(value, datetime):
        return as_utc(value)
    return datetime(value.year, value.month, value.day, tzinfo=timezone.utc)


def _age_text(age: timedelta) -> str:
    if age < timedelta(0):
        return f"-{_age_text(-age)} (in the future)"
    hours, rest = divmod(int(age.total_seconds()), 3600)
    return f"{hours // 24}d {hours % 24}h {rest // 60}m" if hours >= 24 else f"{hours}h {rest // 60}m"


def check_volume(ctx: CheckContext) -> Iterable[CheckResult]:
    """At least `min_rows`; and at most `max_drop` of the rows gone since the table's last Delta version
    committed before the window (the job run's start, else the newest update's start): read from the
    table's history (`DESCRIBE HISTORY`) and that version (`VERSION AS OF`), which Databricks supports
    on streaming tables (validation keeps `max_drop` off materialized views)."""
    cfg = ctx.settings(VOLUME)
    for spec in ctx.tables(lambda s: s.checks.volume is not None):
        declared = spec.checks.volume
        if absent := ctx.missing(VOLUME, spec.name, ctx.ref(spec)):
            yield absent
            continue
        rows = ctx.count(spec)
        passed, limits, notes = True, [], [f"{rows} rows"]
        if declared.min_rows is not None:
            passed = rows >= declared.min_rows
            limits.append(f">= {declared.min_rows} rows")
        if declared.max_drop is not None:
            limits.append(f"<= {declared.max_drop:.0%} drop")
            before = _rows_before(ctx, spec)
            if isinstance(before, str):
                notes.append(before)
            else:
                version, earlier = before
                drop = (earlier - rows) / earlier if earlier else 0.0
                passed = passed and drop <= declared.max_drop
                change = f"down {drop:.1%}" if drop > 0 else ("unchanged" if drop == 0 else f"up {-drop:.1%}")
                notes.append(f"{earlier} at version {version}, before the update {ctx.window.label}: {change}")
        yield CheckResult(VOLUME, spec.name, passed, declared.severity or cfg["severity"], rows, ", ".join(limits),
                          "; ".join(notes))


def _rows_before(ctx: CheckContext, spec: TableSpec) -> tuple[int, int] | str:
    """(version, rows) of the table's last version before the window, or why there is none to compare."""
    since = ctx.window.since
    if since is None:
        return "no update in the event log to compare with (the drop is not judged)"
    version = ctx.reader.last_version_before(ctx.ref(spec), since)
    if version is None:
        return f"no version before the update {ctx.window.label}: its first update (the drop is not judged)"
    return version, ctx.reader.count(ctx.ref(spec), version)


def check_unique(ctx: CheckContext) -> Iterable[CheckResult]:
    """No two rows share the checked columns: `checks.unique.columns`, else `keys`. Implicit on silver and
    gold tables with keys (bronze keeps raw duplicates on purpose); a declaration may turn it off."""
    cfg = ctx.settings(UNIQUE)

    def selected(spec: TableSpec) -> bool:
        declared = spec.checks.unique
        if declared is None:
            return bool(spec.keys) and spec.layer != "bronze"
        return declared.enabled and bool(declared.columns or spec.keys)

    for spec in ctx.tables(selected):
        declared = spec.checks.unique or _IMPLICIT_UNIQUE
        if absent := ctx.missing(UNIQUE, spec.name, ctx.ref(spec)):
            yield absent
            continue
        columns = declared.columns or spec.keys
        limit = declared.max_duplicates if declared.max_duplicates is not None else cfg["max_duplicates"]
        count = ctx.reader.duplicate_groups(ctx.ref(spec), columns)
        yield CheckResult(UNIQUE, spec.name, count <= limit, declared.severity or cfg["severity"], count, limit,
                          f"values of ({', '.join(columns)}) on more than one row")


def check_reconciliation(ctx: CheckContext) -> Iterable[CheckResult]:
    """By key, from the tables: the distinct keys of the upstream rows that pass the rules are the table's
    keys, the rows failing a quarantine rule are in its quarantine table, the rest failed a drop rule
    (framework/checks/reconcile.py). Holds on every runtime: no event-log number is needed. For a
    de-duplicated table the detail adds, for the window, the upserts (Databricks' `num_upserted_rows`)
    and the duplicates discarded (rows entering the AUTO CDC flow — seen by its expectations, minus
    the rows they dropped — minus the keys upserted)."""
    cfg = ctx.settings(RECONCILIATION)
    names = published_names(ctx.project.tables.values(), ctx.env)
    for spec in ctx.tables(lambda s: _streamed_from_one(s) and (s.checks.reconciliation or _ON).enabled):
        severity = (spec.checks.reconciliation or _ON).severity or cfg["severity"]
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
        r, reused = _reconciled(ctx, spec, sql)
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
        yield CheckResult("reconciliation", spec.name, holds(spec, r), severity, discrepancies(spec, r), 0,
                          detail + reused)


def _reconciled(ctx: CheckContext, spec: TableSpec, sql: str) -> tuple[KeyReconciliation, str]:
    """The numbers of `sql` and a note when they were reused: on the local runtime from the memo while no
    table it reads has a new Delta version (framework/checks/memo.py), else computed on Spark (and stored)."""
    key = memo_key(sql, ctx.env)
    if key is None:
        return KeyReconciliation.of(ctx.spark.sql(sql).collect()[0]), ""
    memo = ReconciliationMemo(ctx.env)
    if (kept := memo.get(spec.name, key)) is not None:
        return kept.numbers, f"; {kept.note(key)}"
    numbers = KeyReconciliation.of(ctx.spark.sql(sql).collect()[0])
    memo.put(spec.name, key, numbers)
    return numbers, ""


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
    cfg = ctx.settings(EXPECTATIONS)
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


def check_custom(ctx: CheckContext, only: Iterable[str] | None = None) -> Iterable[CheckResult]:
    """Every `checks.custom` entry of every published table, in dependency order: the kind's function
    with the entry's parameters over the environment's `checks.<kind>` defaults. A missing table, a kind
    that does not import and a kind that raises are each a critical FAIL naming why."""
    wanted = set(only or ())
    for spec in ctx.tables(lambda s: bool(s.checks.custom)):
        for entry in spec.checks.custom:
            defaults = ctx.settings(entry.kind)
            if (wanted and entry.kind not in wanted) or not entry.enabled or not defaults.get("enabled", True):
                continue
            if absent := ctx.missing(entry.kind, spec.name, ctx.ref(spec)):
                yield absent
                continue
            kind = ctx.kinds.get(entry.kind)
            if kind is None or kind.function is None:
                reason = (kind.error if kind is not None
                          else "the project declares no such check kind (check_kinds: in medallion.yaml)")
                yield CheckResult(entry.kind, spec.name, False, "critical", "not run", "runs", reason)
                continue
            params = {k: v for k, v in defaults.items() if k != "enabled"} | entry.params
            try:
                yield from kind.function(ctx, spec, params)
            except Exception as exc:  # the project's code: its failure is this check's FAIL, not the gate's crash
                first = str(exc).splitlines()[0] if str(exc) else ""
                yield CheckResult(entry.kind, spec.name, False, "critical", "error", "runs",
                                  f"{kind.reference} raised {type(exc).__name__}: {first}")


CHECKS: dict[str, Callable[[CheckContext], Iterable[CheckResult]]] = {
    FRESHNESS: check_freshness,
    VOLUME: check_volume,
    UNIQUE: check_unique,
    RECONCILIATION: check_reconciliation,
    EXPECTATIONS: check_expectations,
}
"""The built-in kinds (`BUILTIN_KINDS`), in the order they run."""


def run_checks(ctx: CheckContext, only: Iterable[str] | None = None) -> CheckReport:
    """Run the built-in kinds, then the project's; `only` names kinds (built-in or the project's)."""
    only = tuple(only or ())
    report = CheckReport(ctx.env.name)
    for name, check in CHECKS.items():
        if (only and name not in only) or not ctx.settings(name).get("enabled", True):
            continue
        report.results.extend(check(ctx))
    if not only or any(name not in CHECKS for name in only):
        report.results.extend(check_custom(ctx, [name for name in only if name not in CHECKS]))
    return report
