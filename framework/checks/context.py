"""What a check reads through: `CheckContext` (the tables, the project, the environment, the clock and
the event-log window), the public API a check kind uses besides `framework.checks.results`.

A check kind — built in (framework/checks/suite.py) or the project's (`check_kinds:`) — reads tables
through typed questions, answered JVM-free on the local runtime and by the cluster's Spark on Databricks
(`ctx.reader`, a `TableReader`: framework/checks/reader.py):

    from framework.checks.reader import Aggregate, Aggregation, Equals, In, NotNull

    rows = ctx.aggregate(spec, Aggregation((Aggregate("first", "min", "order_date"),
                                            Aggregate("days", "count_distinct", "order_date")),
                                           group_by=("customer",), where=(NotNull("order_date"),)))

(min / max / count / count_distinct / collect_set per group, under equality, not-null and membership
filters; DATEs come back as dates, TIMESTAMPs as aware UTC datetimes, NULLs as Spark treats them), and
`ctx.count(spec)`. It reads the clock as `ctx.now` and its environment's defaults as
`ctx.settings(kind)`. A kind that needs more of Spark may still use `ctx.spark` (`ctx.spark.sql(...)`,
`ctx.scalar(sql)` with `ctx.name(spec)`, the published name, quoted): the session starts on first use —
on the local runtime that is a JVM start (15-20 s), which the typed questions avoid.

A table or event log that does not exist is reported by `ctx.missing(...)`: a critical FAIL with a
one-line reason — never a silent skip, so a green gate always means the tables were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from framework.checks.arrow_reader import ArrowReader
from framework.checks.kinds import CheckKind, resolve_kinds
from framework.checks.reader import Aggregation, Row, TableReader
from framework.checks.results import CheckResult
from framework.checks.spark_reader import SparkReader
from framework.eventlog import EventHistory, parse_since
from framework.naming import TableRef
from framework.spec.environment import Environment
from framework.spec.model import TableSpec
from framework.spec.project import Project

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

MISSING = "missing"
"""`observed` of a result whose table (or event log) does not exist."""


@dataclass(frozen=True)
class EventWindow:
    """The events the checks read: since a time (the job run's start), or of one update (the newest)."""

    since: datetime | None
    update_id: str | None
    label: str
    """For people: `since 2026-11-27T22:00:00Z`, `in update 1a2b3c4d (started ...)`."""


SessionSource = Callable[[], "SparkSession"]
"""Starts (or returns) the session on first call: `framework.checks.session.lazy_checks_session`."""


@dataclass
class CheckContext:
    session: "SparkSession | SessionSource"
    """The session, or what starts it when a check first needs Spark (the local runtime's checks mostly don't)."""
    project: Project
    env: Environment
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    since: datetime | None = None
    """Read the event log from this time on (`medallion check --since`); None: the newest update's events."""
    _exists: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def spark(self) -> "SparkSession":
        """The SparkSession, started on first use (for reconciliation, or a kind that asks for Spark)."""
        return self.session() if callable(self.session) else self.session

    @cached_property
    def reader(self) -> TableReader:
        """Typed reads of tables and the event log: JVM-free from the Delta folders on the local runtime,
        through the (cluster's) session elsewhere — and locally for a table deltalake cannot read exactly
        (deletion vectors: framework/checks/arrow_reader.py)."""
        if self.env.runtime != "local":
            return SparkReader(self.spark)
        return ArrowReader(fallback=lambda: SparkReader(self.spark))

    def aggregate(self, spec: TableSpec, query: Aggregation) -> list[Row]:
        """`query` over the spec's table (framework/checks/reader.py has the semantics)."""
        return self.reader.aggregate(self.ref(spec), query)

    def count(self, spec: TableSpec) -> int:
        return self.reader.count(self.ref(spec))

    def settings(self, kind: str) -> dict[str, Any]:
        """The environment's defaults for a check kind (`checks.<kind>` over the built-in defaults)."""
        return self.env.check_settings(kind)

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
        latest = self.reader.latest_update(self.event_log_ref)
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
        return self.reader.events(self.event_log_ref, window.since, window.update_id)

    def exists(self, ref: TableRef) -> bool:
        """Whether the table exists and this identity can see it (asked once per name)."""
        name = ref.published
        if name not in self._exists:
            self._exists[name] = self.reader.exists(ref)
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

        The local log writes `silver.orders`; a Databricks log writes the flow of a Unity Catalog table
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
        """The first value of a Spark SQL statement's first row (starts the session on first use)."""
        return self.spark.sql(sql).collect()[0][0]

    @cached_property
    def kinds(self) -> dict[str, "CheckKind"]:
        """The project's check kinds (`check_kinds:`), imported from the project root on first use."""
        return resolve_kinds(self.project.check_kinds, self.project.root)

    def tables(self, predicate: Callable[[TableSpec], bool]) -> list[TableSpec]:
        """The published tables (views are private to the pipeline) that `predicate` selects, in
        dependency order. Whether each exists is the check's to report: `missing()`."""
        return [self.project.tables[n] for n in self.project.graph().order()
                if self.project.tables[n].kind != "view" and predicate(self.project.tables[n])]
