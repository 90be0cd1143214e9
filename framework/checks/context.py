"""What a check reads through: `CheckContext` (the session, the project, the environment, the clock and
the event-log window), the public API a check kind uses besides `framework.checks.results`.

A check kind — built in (framework/checks/suite.py) or the project's (`check_kinds:`) — reads tables by
`ctx.name(spec)` (the published name, quoted, from `TableRef`), runs SQL with `ctx.spark.sql` or
`ctx.scalar`, reads the clock as `ctx.now` and its environment's defaults as `ctx.settings(kind)`.
A table or event log that does not exist is reported by `ctx.missing(...)`: a critical FAIL with a
one-line reason — never a silent skip, so a green gate always means the tables were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from typing import TYPE_CHECKING, Any, Callable

from framework.checks.kinds import CheckKind, resolve_kinds
from framework.checks.results import CheckResult
from framework.eventlog import EventHistory, latest_update, parse_since, read_with_spark
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


@dataclass
class CheckContext:
    spark: "SparkSession"
    project: Project
    env: Environment
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    since: datetime | None = None
    """Read the event log from this time on (`medallion check --since`); None: the newest update's events."""
    _exists: dict[str, bool] = field(default_factory=dict, init=False, repr=False)

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
