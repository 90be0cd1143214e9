"""Reading a pipeline event log into one typed history, through Spark, Databricks SQL or Arrow.

Three places read the log and each has a different engine at hand:

* the quality checks on a Databricks cluster: a SparkSession (`read_with_spark`, `latest_update`);
* `medallion status` on a laptop: a SQL warehouse through the statement execution API
  (`read_with_statements`, given a function that runs one statement and returns its rows);
* the local runtime's quality checks, the job history and the documentation generator, which must not
  start a JVM: the Delta table's parquet files through its transaction log and pyarrow
  (`read_with_arrow`, `latest_update_with_arrow`), filtered as the statements filter.

All three select the same columns of the same events (`create_update`, `update_progress`, `flow_progress`;
`EVENTS_SQL` for the first two) and hand the rows
to one parser, so every consumer gets the same `EventHistory` and the aggregations in
`framework.eventlog.metrics` work whatever the source. The SQL uses only forms that run on open-source
Spark and on Databricks (`details` is a JSON string in both).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from framework.delta_log import read_snapshot
from framework.errors import DeltaLogError
from framework.eventlog.schema import LOCAL_DETAILS, EventType
from framework.naming import sql_string
from framework.utc import as_utc

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EVENTS_SQL = """
SELECT origin.update_id AS update_id, timestamp, event_type, origin.flow_name AS flow_name,
       origin.dataset_name AS dataset_name, details
FROM {table}
WHERE event_type IN ('create_update', 'update_progress', 'flow_progress'){since}
ORDER BY timestamp
"""
LATEST_UPDATE_SQL = """
SELECT origin.update_id AS update_id, timestamp
FROM {table}
WHERE event_type = 'create_update'
ORDER BY timestamp DESC
LIMIT 1
"""
"""The newest update's id and start: a filtered top-1 the engine computes, not a read of the log."""
COLUMNS = ("update_id", "timestamp", "event_type", "flow_name", "dataset_name", "details")
BACKLOG_METRICS = ("backlog_bytes", "backlog_records", "backlog_files")
"""`details:flow_progress.metrics.*` a Databricks streaming flow reports about what its sources still hold."""


@dataclass(frozen=True)
class ExpectationCount:
    """Records that passed and failed one expectation in one event."""

    name: str
    dataset: str
    passed: int
    failed: int


@dataclass(frozen=True)
class UpdateStart:
    """A `create_update` event: an update began (and what it refreshed in full); with its latest
    `update_progress` event, how far it got (`details.update_progress.state`, "Pipeline event log schema")."""

    update_id: str
    timestamp: str
    full_refresh: bool = False
    full_refresh_selection: tuple[str, ...] = ()
    state: str | None = None
    """The state of the update's latest `update_progress` event (RUNNING, COMPLETED, FAILED, CANCELED...),
    None when the log has none (an update that crashed before its first)."""
    state_at: str | None = None
    """When that state was logged: for a finished update (COMPLETED, FAILED, CANCELED), when it ended."""


@dataclass(frozen=True)
class FlowProgress:
    """A `flow_progress` event: a flow's status and, for a processed batch, its documented counts.

    Only what a Databricks event log documents is read from `details.flow_progress`; the local
    runtime's own numbers (`details.medallion_local`) are in `local`, empty for a Databricks log."""

    update_id: str
    timestamp: str
    """ISO 8601 UTC (`2026-11-27T21:05:00.000000Z`), so events sort and print the same everywhere."""
    flow: str
    """The flow (= table) name as the log writes it, backticks removed: `silver.orders` locally."""
    status: str | None = None
    output_rows: int | None = None
    """`metrics.num_output_rows`: append flows and materialized views (not AUTO CDC flows)."""
    upserted_rows: int | None = None
    """`metrics.num_upserted_rows`: AUTO CDC flows."""
    deleted_rows: int | None = None
    """`metrics.num_deleted_rows`: AUTO CDC flows."""
    dropped_records: int | None = None
    """`data_quality.dropped_records`: rows drop expectations removed, quarantined rows included."""
    expectations: tuple[ExpectationCount, ...] = ()
    backlog: tuple[float, ...] = ()
    """The backlog metrics Databricks reports for a streaming flow's sources (`metrics.backlog_bytes`,
    `backlog_records`, `backlog_files`), those present; the local runtime reports none."""
    local: tuple[tuple[str, Any], ...] = ()
    """`details.medallion_local` (LOCAL ONLY, see `framework.eventlog.schema.LOCAL_FIELDS`): never
    needed by a check or the catch-up wait."""

    @property
    def table(self) -> str:
        """The spec name of the table the flow writes: the last part of the flow name, however the log
        qualifies it (`silver.orders` locally, `medallion_prod.silver.orders` or `orders` on Databricks).
        Unique within a project, as table names are."""
        return self.flow.split(".")[-1]

    @property
    def is_auto_cdc(self) -> bool:
        return self.upserted_rows is not None or self.deleted_rows is not None

    @property
    def has_counts(self) -> bool:
        """A processed batch: any documented row metric (per flow kind) or expectation counts."""
        return (self.output_rows is not None or self.upserted_rows is not None or self.deleted_rows is not None
                or bool(self.expectations))

    @property
    def wrote_rows(self) -> bool | None:
        """Whether the batch changed the table (rows appended, written, upserted or deleted); None when
        the event has no row metric (e.g. a refresh that reports only its status)."""
        counts = [c for c in (self.output_rows, self.upserted_rows, self.deleted_rows) if c is not None]
        return sum(counts) > 0 if counts else None

    @property
    def checked_rows(self) -> int | None:
        """Rows the flow's expectations saw (each sees every row), None without expectations."""
        return max(e.passed + e.failed for e in self.expectations) if self.expectations else None

    def local_count(self, name: str) -> int | None:
        return _int(dict(self.local).get(name))

    @property
    def backlog_clear(self) -> bool:
        """No backlog reported, or every reported backlog is zero: nothing left waiting in its sources."""
        return not any(self.backlog)


@dataclass(frozen=True)
class EventHistory:
    """The updates and flow progress of a log, oldest first."""

    updates: tuple[UpdateStart, ...] = ()
    progress: tuple[FlowProgress, ...] = ()

    def update_ids(self) -> list[str]:
        return [u.update_id for u in self.updates]

    def latest_update_id(self) -> str | None:
        return self.updates[-1].update_id if self.updates else None


# ---------------------------------------------------------------------------------------------------
# readers
# ---------------------------------------------------------------------------------------------------

def events_sql(table: str, since: datetime | None = None, update_id: str | None = None) -> str:
    """The one query both SQL readers run. `table` is a (quoted) table name; `since` (aware, or naive
    UTC) and `update_id` become filters of the read itself (Delta skips files by their timestamp
    statistics), so a log that grows for years is never read whole."""
    where = ""
    if since is not None:
        where += f" AND timestamp >= {timestamp_literal(since)}"
    if update_id is not None:
        where += f" AND origin.update_id = {sql_string(update_id)}"
    return EVENTS_SQL.format(table=table, since=where)


def timestamp_literal(moment: datetime) -> str:
    """`TIMESTAMP'2026-11-27 22:00:00+00:00'`: UTC spelt out, whatever the session's time zone (a
    Databricks cluster's may not be UTC). Whole seconds, rounded down: the bound never cuts an event."""
    return f"TIMESTAMP'{as_utc(moment).strftime('%Y-%m-%d %H:%M:%S')}+00:00'"


def parse_since(text: str) -> datetime:
    """An ISO 8601 time (`Z`, an offset, or none for UTC) -> aware UTC; ValueError with the text otherwise."""
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T", 1))
    except ValueError:
        raise ValueError(f"`{text}` is not an ISO 8601 time such as 2026-11-27T22:00:00Z") from None
    return as_utc(moment)


def read_with_spark(spark: "SparkSession", table: str, since: datetime | None = None,
                    update_id: str | None = None) -> EventHistory:
    rows = spark.sql(events_sql(table, since, update_id)).collect()
    return parse_events(tuple(row[c] for c in COLUMNS) for row in rows)


def read_with_statements(execute: Callable[[str], Sequence[Sequence[Any]]], table: str,
                         since: datetime | None = None, update_id: str | None = None) -> EventHistory:
    """`execute(sql)` runs one statement (e.g. on a SQL warehouse) and returns its rows as sequences."""
    return parse_events(execute(events_sql(table, since, update_id)))


def latest_update(execute: Callable[[str], Sequence[Sequence[Any]]], table: str) -> UpdateStart | None:
    """The newest update (id and start) of the log, or None when it has none."""
    rows = list(execute(LATEST_UPDATE_SQL.format(table=table)))
    if not rows or rows[0][0] is None:
        return None
    return UpdateStart(str(rows[0][0]), iso_utc(rows[0][1]))


def read_with_arrow(table_path: Path, since: datetime | None = None, update_id: str | None = None) -> EventHistory:
    """The log at `table_path` (a Delta folder), read from its live parquet files: no JVM. `since` and
    `update_id` filter the rows as `events_sql` does (a timestamp floor in whole seconds, the update's id)."""
    rows = [(row["update_id"], row["timestamp"], row["event_type"], row["flow_name"], row["dataset_name"],
             row["details"]) for row in _arrow_events(table_path, EVENTS, since, update_id)]
    rows.sort(key=lambda r: iso_utc(r[1]))
    return parse_events(rows)


def latest_update_with_arrow(table_path: Path) -> UpdateStart | None:
    """`latest_update` of the log at `table_path`, from its parquet files (no JVM)."""
    starts = [(iso_utc(row["timestamp"]), row["update_id"])
              for row in _arrow_events(table_path, (EventType.CREATE_UPDATE,), None, None, details=False)]
    if not starts:
        return None
    when, update = max(starts)
    return UpdateStart(str(update), when) if update is not None else None


EVENTS = (EventType.CREATE_UPDATE, EventType.UPDATE_PROGRESS, EventType.FLOW_PROGRESS)
"""The event types every reader selects (`EVENTS_SQL`)."""


def _arrow_events(table_path: Path, types: Sequence[str], since: datetime | None, update_id: str | None,
                  details: bool = True) -> list[dict[str, Any]]:
    """The rows of `types` (filtered as `events_sql` filters), as dicts of the `COLUMNS`."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    floor = as_utc(since).replace(microsecond=0) if since is not None else None  # as `timestamp_literal`
    snapshot = read_snapshot(table_path, history=1)
    rows: list[dict[str, Any]] = []
    for path in snapshot.file_paths():
        try:
            table = pq.read_table(path, columns=["timestamp", "event_type", "origin", *(["details"] if details else [])])
        except (OSError, pa.ArrowException) as exc:
            raise DeltaLogError(f"cannot read event log file {path}: {exc}") from None
        wanted = pc.is_in(table["event_type"], pa.array(list(types)))
        for row in table.filter(wanted).to_pylist():
            origin = row.get("origin") or {}
            moment = row.get("timestamp")
            if floor is not None and (moment is None or as_utc(moment) < floor):
                continue
            if update_id is not None and origin.get("update_id") != update_id:
                continue
            rows.append({"update_id": origin.get("update_id"), "timestamp": moment,
                         "event_type": row.get("event_type"), "flow_name": origin.get("flow_name"),
                         "dataset_name": origin.get("dataset_name"), "details": row.get("details")})
    return rows


# ---------------------------------------------------------------------------------------------------
# one parser
# ---------------------------------------------------------------------------------------------------

def parse_events(rows: Iterable[Sequence[Any]]) -> EventHistory:
    """Rows of (update_id, timestamp, event_type, flow_name, dataset_name, details) -> EventHistory."""
    updates: dict[str, UpdateStart] = {}
    states: dict[str, tuple[str, str]] = {}
    progress: list[FlowProgress] = []
    for update_id, timestamp, event_type, flow_name, dataset_name, details in rows:
        data = _as_dict(details)
        when = iso_utc(timestamp)
        if event_type == EventType.CREATE_UPDATE and update_id and update_id not in updates:
            create = data.get("create_update") or {}
            updates[update_id] = UpdateStart(update_id, when, _truthy(create.get("full_refresh")),
                                             tuple(str(s) for s in _as_list(create.get("full_refresh_selection"))))
        elif event_type == EventType.UPDATE_PROGRESS and update_id:
            state = (data.get("update_progress") or {}).get("state")
            if state and (update_id not in states or when >= states[update_id][1]):
                states[update_id] = (str(state), when)
        elif event_type == EventType.FLOW_PROGRESS:
            flow = _plain_name(flow_name or dataset_name)
            if flow:
                progress.append(_flow_progress(str(update_id or when), when, flow, data.get("flow_progress") or {},
                                               _as_dict(data.get(LOCAL_DETAILS))))
    ordered = sorted((replace(u, state=states[u.update_id][0], state_at=states[u.update_id][1])
                      if u.update_id in states else u for u in updates.values()),
                     key=lambda u: (u.timestamp, u.update_id))
    return EventHistory(tuple(ordered), tuple(progress))


def _flow_progress(update_id: str, when: str, flow: str, details: dict[str, Any],
                   local: dict[str, Any]) -> FlowProgress:
    metrics = details.get("metrics") or {}
    quality = details.get("data_quality") or {}
    expectations = tuple(
        ExpectationCount(str(item["name"]), _plain_name(item.get("dataset")) or flow,
                         _int(item.get("passed_records")) or 0, _int(item.get("failed_records")) or 0)
        for item in _as_list(quality.get("expectations")) if isinstance(item, dict) and "name" in item)
    return FlowProgress(update_id, when, flow, details.get("status"),
                        output_rows=_int(metrics.get("num_output_rows")),
                        upserted_rows=_int(metrics.get("num_upserted_rows")),
                        deleted_rows=_int(metrics.get("num_deleted_rows")),
                        dropped_records=_int(quality.get("dropped_records")),
                        expectations=expectations,
                        backlog=tuple(value for key in BACKLOG_METRICS
                                      if (value := _float(metrics.get(key))) is not None),
                        local=tuple(sorted((str(k), v) for k, v in local.items() if not isinstance(v, (dict, list)))))


def iso_utc(value: Any) -> str:
    """A timestamp as `YYYY-MM-DDTHH:MM:SS.ffffffZ` (naive values are UTC, as Spark writes them)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    if isinstance(value, datetime):
        return as_utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value or "")


def _plain_name(name: Any) -> str:
    return str(name).replace("`", "") if name else ""


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            return []
    return value if isinstance(value, list) else []


def _int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _float(value: Any) -> float | None:
    """A metric that may come as a number, a numeric string or `1.2E7`; None when absent or unreadable."""
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
