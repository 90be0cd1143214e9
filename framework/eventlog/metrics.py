"""What the event log says about tables: row counts per update, expectation pass rates and their history.

Pure functions over an `EventHistory` (framework.eventlog.readers), so the quality checks, `medallion
status` and the docs compute the same numbers the same way, whichever reader produced the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

from framework.eventlog.readers import EventHistory, FlowProgress
from framework.naming import is_quarantine_name, quarantined_table

RECENT_UPDATES = 20
"""How far back `latest_with_data` looks for a table's latest update that processed rows."""


@dataclass
class ExpectationMetrics:
    name: str
    passed: int = 0
    failed: int = 0

    @property
    def checked(self) -> int:
        return self.passed + self.failed

    @property
    def pass_rate(self) -> float:
        return self.passed / self.checked if self.checked else 1.0


@dataclass
class TableMetrics:
    """Rows of one table over one or more updates, from the event log: the documented counts per flow
    kind (and the local runtime's own numbers when the log has them, see `local`)."""

    table: str
    """As the log names it: the published name (`silver.orders` locally)."""
    status: str | None = None
    output_rows: int = 0
    """`num_output_rows`: rows an append flow or a materialized view wrote."""
    upserted_rows: int = 0
    """`num_upserted_rows`: keys an AUTO CDC flow inserted or updated."""
    deleted_rows: int = 0
    """`num_deleted_rows`: keys an AUTO CDC flow deleted."""
    auto_cdc: bool = False
    """The table is written by an AUTO CDC flow (its events carry upserted/deleted rows)."""
    dropped_records: int = 0
    """`dropped_records`: rows drop expectations removed, quarantined rows included."""
    quarantined: int = 0
    """`num_output_rows` of the table's quarantine flow (`<table>_quarantine`)."""
    checked: int | None = None
    """Rows the expectations saw (the largest passed + failed of an event, summed); None without expectations."""
    expectations: dict[str, ExpectationMetrics] = field(default_factory=dict)
    local: dict[str, int] = field(default_factory=dict)
    """LOCAL ONLY: `details.medallion_local` counters summed (empty for a Databricks log)."""

    @property
    def name(self) -> str:
        """The table's own name, without catalog or schema."""
        return self.table.split(".")[-1]

    @property
    def has_data(self) -> bool:
        return any(e.checked for e in self.expectations.values())

    @property
    def dropped(self) -> int:
        """Rows removed by drop rules only (quarantined rows are counted in `quarantined`)."""
        return self.dropped_records - self.quarantined

    @property
    def entered(self) -> int | None:
        """Rows that passed the expectations into the flow's write (an AUTO CDC flow's merge): the rows
        the expectations saw minus those they dropped — documented fields only; else the local count."""
        if self.checked is not None:
            return self.checked - self.dropped_records
        return self.local.get("changes_rows") if self.auto_cdc else None

    @property
    def discarded_duplicates(self) -> int | None:
        """AUTO CDC: rows that changed nothing because a row of their key with a greater (or equal)
        sequence value won: rows entering the flow minus keys upserted or deleted. None when neither
        the documented fields (expectations) nor the local ones tell how many rows entered."""
        if not self.auto_cdc or (entered := self.entered) is None:
            return None
        return entered - self.upserted_rows - self.deleted_rows

    def add(self, other: "TableMetrics") -> None:
        self.output_rows += other.output_rows
        self.upserted_rows += other.upserted_rows
        self.deleted_rows += other.deleted_rows
        self.auto_cdc = self.auto_cdc or other.auto_cdc
        self.dropped_records += other.dropped_records
        self.quarantined += other.quarantined
        if other.checked is not None:
            self.checked = (self.checked or 0) + other.checked
        for key, value in other.local.items():
            self.local[key] = self.local.get(key, 0) + value
        for name, e in other.expectations.items():
            mine = self.expectations.setdefault(name, ExpectationMetrics(name))
            mine.passed += e.passed
            mine.failed += e.failed


LOCAL_COUNTERS = ("input_rows", "dropped_rows", "quarantined_rows", "changes_rows", "inserted_rows", "updated_rows",
                  "discarded_duplicates")
"""The `details.medallion_local` numbers that add up over batches."""


def table_metrics(history: EventHistory, updates: Iterable[str] | None = None) -> dict[str, TableMetrics]:
    """Per-table counts and expectation results of the given updates (default: the latest one).

    Keys are the log's table names; quarantine tables are folded into the table they belong to.
    """
    if updates is None:
        latest = history.latest_update_id()
        updates = [latest] if latest else []
    chosen = set(updates)
    return window_metrics(EventHistory(history.updates, tuple(e for e in history.progress if e.update_id in chosen)))


def window_metrics(history: EventHistory) -> dict[str, TableMetrics]:
    """Per-table counts and expectation results of every event in `history` — read for a window (e.g.
    `read_with_spark(..., since=job start)`), so a continuous update spanning weeks counts this run only.

    Keys are the log's table names; a quarantine flow's `num_output_rows` becomes its table's `quarantined`.
    """
    result: dict[str, TableMetrics] = {}
    quarantine_rows: dict[str, int] = {}
    for event in history.progress:
        if is_quarantine_name(event.flow):
            base = quarantined_table(event.flow)
            quarantine_rows[base] = quarantine_rows.get(base, 0) + (event.output_rows or 0)
            continue
        metrics = result.setdefault(event.flow, TableMetrics(event.flow))
        if event.status and event.status != "RUNNING":
            metrics.status = event.status
        if event.has_counts:
            _add_event(metrics, event)
    for table, count in quarantine_rows.items():
        if table in result:
            result[table].quarantined += count
    return result


def _add_event(metrics: TableMetrics, event: FlowProgress) -> None:
    metrics.output_rows += event.output_rows or 0
    metrics.upserted_rows += event.upserted_rows or 0
    metrics.deleted_rows += event.deleted_rows or 0
    metrics.auto_cdc = metrics.auto_cdc or event.is_auto_cdc
    metrics.dropped_records += event.dropped_records or 0
    if (checked := event.checked_rows) is not None:
        metrics.checked = (metrics.checked or 0) + checked
    for key in LOCAL_COUNTERS:
        if (value := event.local_count(key)) is not None:
            metrics.local[key] = metrics.local.get(key, 0) + value
    for item in event.expectations:
        e = metrics.expectations.setdefault(item.name, ExpectationMetrics(item.name))
        e.passed += item.passed
        e.failed += item.failed


def updates_since_reset(history: EventHistory, *names: str) -> list[str]:
    """Updates whose rows are in a table now: from its last full refresh on (every update if none).

    DLT records full refreshes in `create_update` events (`full_refresh`, `full_refresh_selection`),
    locally and on Databricks alike; `names` are the spellings the selection may use for the table.
    """
    ids = history.update_ids()
    resets = [i for i, u in enumerate(history.updates)
              if u.full_refresh or any(n in u.full_refresh_selection for n in names)]
    return ids[resets[-1]:] if resets else ids


def totals(history: EventHistory, table: str, updates: Iterable[str]) -> TableMetrics:
    """One table's counts summed over `updates`."""
    total = TableMetrics(table)
    for update in updates:
        if (metrics := table_metrics(history, [update]).get(table)) is not None:
            total.add(metrics)
    return total


def latest_with_data(history: EventHistory, recent: int = RECENT_UPDATES) -> dict[str, TableMetrics]:
    """Each table's metrics in its latest update (among the `recent` newest) that checked expectations."""
    latest: dict[str, TableMetrics] = {}
    for update in reversed(history.update_ids()[-recent:]):
        for table, metrics in table_metrics(history, [update]).items():
            if table not in latest and metrics.has_data:
                latest[table] = metrics
    return dict(sorted(latest.items()))


@dataclass(frozen=True)
class RunQuality:
    """One update of one table: passed/failed records per expectation."""

    run_id: str
    started: str
    counts: tuple[tuple[str, int, int], ...]
    """(expectation, passed, failed), sorted by expectation."""

    def pass_rate(self, name: str) -> float | None:
        for expectation, passed, failed in self.counts:
            if expectation == name and passed + failed:
                return passed / (passed + failed)
        return None

    @property
    def records(self) -> int:
        """Records checked in this run (the largest count over expectations: each sees every row)."""
        return max((p + f for _, p, f in self.counts), default=0)


@dataclass(frozen=True)
class QualityHistory:
    """The recent runs of one table, oldest first, and the expectations seen in them."""

    table: str
    runs: tuple[RunQuality, ...]
    expectations: tuple[str, ...]

    @property
    def latest(self) -> RunQuality:
        return self.runs[-1]


def quality_history(history: EventHistory, runs: int = 12) -> dict[str, QualityHistory]:
    """The newest `runs` updates with checked records, per table (keyed by the table's own name: the
    table the flow writes, whichever of its datasets declares the expectation)."""
    totals_: dict[tuple[str, str], dict[str, list[int]]] = {}
    started: dict[tuple[str, str], str] = {}
    for event in history.progress:
        for item in event.expectations:
            # the table the flow writes, not the dataset declaring the rule (a de-duplicated table's
            # rules are declared on its `__changes` view)
            key = (event.table, event.update_id)
            counts = totals_.setdefault(key, {}).setdefault(item.name, [0, 0])
            counts[0] += item.passed
            counts[1] += item.failed
            started[key] = min(started.get(key, event.timestamp), event.timestamp)
    histories: dict[str, list[RunQuality]] = {}
    for (table, run_id), by_name in totals_.items():
        if not any(p + f for p, f in by_name.values()):
            continue
        counts = tuple((name, p, f) for name, (p, f) in sorted(by_name.items()))
        histories.setdefault(table, []).append(RunQuality(run_id, started[(table, run_id)], counts))
    out = {}
    for table, runs_of_table in sorted(histories.items()):
        recent = tuple(sorted(runs_of_table, key=lambda q: (q.started, q.run_id))[-runs:])
        names = tuple(sorted({name for run in recent for name, _, _ in run.counts}))
        out[table] = QualityHistory(table, recent, names)
    return out


FINISHED_STATES = frozenset({"COMPLETED", "FAILED", "CANCELED"})
"""`update_progress` states after which an update does nothing more ("Pipeline event log schema")."""


@dataclass(frozen=True)
class UpdateSummary:
    """One pipeline update as a run history shows it: when, how it ended, what it processed."""

    update_id: str
    started: str
    state: str | None
    """The latest `update_progress` state; None when the log has none."""
    ended: str | None
    """When it reached a finished state (COMPLETED, FAILED, CANCELED); None while running (or crashed)."""
    full_refresh: bool
    tables: tuple[str, ...]
    """The tables whose flows reported in this update (quarantine flows folded into their table)."""
    failed: tuple[str, ...]
    rows_written: int
    """Rows appended or written (`num_output_rows`) plus keys upserted (`num_upserted_rows`)."""


def update_summaries(history: EventHistory) -> list[UpdateSummary]:
    """Every update of the log, oldest first, with what each one processed."""
    out = []
    for update in history.updates:
        metrics = table_metrics(history, [update.update_id])
        ended = update.state_at if update.state in FINISHED_STATES else None
        out.append(UpdateSummary(
            update.update_id, update.timestamp, update.state, ended,
            update.full_refresh or bool(update.full_refresh_selection),
            tuple(sorted(m.name for m in metrics.values())),
            tuple(sorted(m.name for m in metrics.values() if m.status == "FAILED")),
            sum(m.output_rows + m.upserted_rows for m in metrics.values())))
    return out
