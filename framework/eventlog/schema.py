"""The event log's shape and the events the local runtime writes, field for field as a Databricks pipeline's.

Columns follow the pipeline event log (id, sequence, origin, timestamp, message, level, maturity_level,
error, details, event_type); `details` is a JSON string, as in a Databricks event log table. Events:

* `create_update` when an update starts (cause, full refresh selection...);
* `update_progress` with the update's state (RUNNING, COMPLETED, FAILED, CANCELED);
* `flow_progress`: one status event per flow (STARTING, RUNNING, COMPLETED, FAILED, SKIPPED, STOPPED)
  and one event per micro-batch (status RUNNING; a materialized view's recomputation: COMPLETED) whose
  `details.flow_progress` holds exactly what Databricks documents for the flow's kind ("Pipeline event
  log schema", "Advanced AUTO CDC topics"):

  | flow kind (`FlowKind`) | `details.flow_progress.metrics` |
  |---|---|
  | append flow of a streaming table (quarantine tables too) | `num_output_rows` |
  | AUTO CDC flow (`create_auto_cdc_flow` / `apply_changes`) | `num_upserted_rows`, `num_deleted_rows` (no `num_output_rows`) |
  | materialized view | `num_output_rows` |

  plus, when the flow's datasets declare expectations, `data_quality.dropped_records` (every row a
  drop expectation removed; quarantine rules are drop rules of the table, so quarantined rows are in
  it) and `data_quality.expectations = [{name, dataset, passed_records, failed_records}]`, `dataset`
  naming the dataset that declares the expectation (for a de-duplicated table: its `<name>__changes`
  view). A quarantine table is a flow of its own, as on Databricks: its event reports the rows it
  received as `num_output_rows`.

LOCAL-ONLY: everything Databricks does not log lives OUTSIDE `details.flow_progress`, in
`details.medallion_local` (`LOCAL_DETAILS`; see `LOCAL_FIELDS`), so nothing that reads the log —
the quality checks, the catch-up wait, `medallion status` — can come to depend on a number a
Databricks event log does not have. Readers may show these numbers when present, never require them.

Portable SQL: Databricks' `details:flow_progress.x` shorthand needs a VARIANT in open-source Spark, so
write `get_json_object(details, '$.flow_progress.x')` (it runs on Databricks and locally), e.g.
`explode(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'), EXPECTATIONS_TYPE))`.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from datetime import datetime, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    from framework.spec.environment import Environment

ORIGIN_FIELDS = ("cloud", "region", "org_id", "pipeline_id", "pipeline_type", "pipeline_name", "cluster_id",
                 "update_id", "table_id", "table_name", "flow_id", "flow_name", "dataset_name", "host")
EVENT_LOG_DDL = (
    "id STRING NOT NULL, sequence STRING, origin STRUCT<" + ", ".join(f"{f}: STRING" for f in ORIGIN_FIELDS)
    + ", batch_id: BIGINT>, timestamp TIMESTAMP, message STRING, level STRING, maturity_level STRING, "
    "error STRING, details STRING, event_type STRING"
)
EVENT_LOG_COMMENT = "Medallion local pipeline event log (DLT shape)"
EXPECTATIONS_TYPE = "array<struct<name: string, dataset: string, passed_records: bigint, failed_records: bigint>>"
"""The shape of `details:flow_progress.data_quality.expectations` for from_json."""


class EventType(StrEnum):
    CREATE_UPDATE = "create_update"
    UPDATE_PROGRESS = "update_progress"
    FLOW_PROGRESS = "flow_progress"


class FlowKind(StrEnum):
    """What a flow does to its target: it decides which metrics its `flow_progress` events carry."""

    APPEND = "append"
    """A streaming table's append flow (its query, or a quarantine table fed by the same rows)."""
    AUTO_CDC = "auto_cdc"
    """`create_auto_cdc_flow` / `apply_changes` (a de-duplicated table): upserts by key."""
    MATERIALIZED_VIEW = "materialized_view"


LOCAL_DETAILS = "medallion_local"
"""`details.medallion_local`: the local runtime's own numbers, which a Databricks event log does not have."""
LOCAL_FIELDS: dict[str, str] = {
    "batch_id": "the micro-batch (also in `origin.batch_id`, as on Databricks); null for a recomputed view",
    "duration_seconds": "how long the batch took to process and write",
    "input_rows": "rows the flow read (before any expectation)",
    "dropped_rows": "rows removed by `drop` rules only (quarantined rows not included)",
    "quarantined_rows": "rows routed to `<table>_quarantine` (that flow's `num_output_rows` too)",
    "changes_rows": "AUTO CDC: rows that passed the expectations and entered the merge",
    "inserted_rows": "AUTO CDC: keys new to the table",
    "updated_rows": "AUTO CDC: keys whose row was replaced by one with a greater sequence value",
    "discarded_duplicates": "AUTO CDC: rows that changed nothing, because a row of the same key with a greater "
                            "(or equal) sequence value won: changes_rows - inserted_rows - updated_rows",
    "violated_expectation": "a FAILED flow's `fail` rule: {name, dataset, expression, failed_records, sample}",
    "reason": "why a flow was SKIPPED",
    "schema_evolution": "{added_columns}: fields found in landing files that become columns from the next batch",
}
"""Every key `details.medallion_local` may hold, and what it means. LOCAL ONLY: never read by a check."""


class Level(StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    METRICS = "METRICS"


class BatchCounts(Protocol):
    """What one micro-batch (or one recomputation) did (the engine's `FlowMetrics` has this shape)."""

    output_rows: int
    """Rows that passed the expectations and were written (append, materialized view)."""
    upserted_rows: int
    """AUTO CDC: keys inserted or updated."""
    deleted_rows: int
    """AUTO CDC: keys deleted."""
    dropped_rows: int
    """Removed by drop rules only (not counting quarantined rows)."""
    quarantined_rows: int
    expectations: dict[str, list[int]]
    """rule name -> [passed, failed]"""


def pipeline_id(env: "Environment") -> str:
    """Stable per project folder and environment, like a DLT pipeline id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"medallion:{env.root.resolve()}:{env.name}"))


def now_utc() -> datetime:
    """The event timestamp: naive UTC, as Spark's session time zone (UTC) stores it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def flow_progress_details(status: str, kind: FlowKind, counts: BatchCounts | None = None, *,
                          datasets: Mapping[str, str] | None = None, dataset: str = "",
                          local: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The `details` of a flow_progress event: `flow_progress` as Databricks documents it for a flow of
    `kind`, and the local-only numbers (`local`, keys of `LOCAL_FIELDS`) under `medallion_local`.

    An expectation's `dataset` is `datasets[name]` (the dataset declaring it), else `dataset`.
    """
    progress: dict[str, Any] = {"status": str(status)}
    if counts is not None:
        if kind == FlowKind.AUTO_CDC:
            progress["metrics"] = {"num_upserted_rows": counts.upserted_rows, "num_deleted_rows": counts.deleted_rows}
        else:
            progress["metrics"] = {"num_output_rows": counts.output_rows}
        if counts.expectations:
            progress["data_quality"] = {
                "dropped_records": counts.dropped_rows + counts.quarantined_rows,
                "expectations": [{"name": name, "dataset": (datasets or {}).get(name, dataset),
                                  "passed_records": passed, "failed_records": failed}
                                 for name, (passed, failed) in counts.expectations.items()],
            }
    details: dict[str, Any] = {"flow_progress": progress}
    if local:
        unknown = set(local) - set(LOCAL_FIELDS)
        assert not unknown, f"undocumented local-only event-log fields: {sorted(unknown)}"
        details[LOCAL_DETAILS] = dict(local)
    return details


def flow_status_details(status: str, *, error: str | None = None, fatal: bool = True, violation: Any = None,
                        reason: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(details, error column) of a flow's status event: FAILED carries the error in the `error` column
    (`fatal`: no retry follows). The violated expectation (an `ExpectationViolation`) and a SKIPPED
    flow's reason are local-only: `details.medallion_local.{violated_expectation, reason}`."""
    details: dict[str, Any] = {"flow_progress": {"status": str(status)}}
    error_column = None
    local: dict[str, Any] = {}
    if status == "FAILED" and error:
        error_column = {"fatal": fatal, "exceptions": [{"class_name": "FlowError", "message": error}]}
        if violation is not None:
            local["violated_expectation"] = {
                "name": violation.rule, "dataset": violation.dataset, "expression": violation.expression,
                "failed_records": violation.failed, "sample": violation.sample}
    if status == "SKIPPED" and reason:
        local["reason"] = reason
    if local:
        details[LOCAL_DETAILS] = local
    return details, error_column


Row = tuple
"""One event as the writer appends it, in EVENT_LOG_DDL's column order."""


def event_row(env: "Environment", update_id: str, sequence_number: int, event_type: str, message: str,
              details: dict[str, Any], *, level: str = Level.INFO, flow: str | None = None,
              flow_id: str | None = None, batch_id: int | None = None, error: dict[str, Any] | None = None) -> Row:
    """A complete event row; `sequence_number` orders the events of one writer."""
    origin: dict[str, str | None] = {f: None for f in ORIGIN_FIELDS}
    host = socket.gethostname()
    origin.update(cloud="local", region="local", pipeline_id=pipeline_id(env), pipeline_type="WORKSPACE",
                  pipeline_name=f"medallion-{env.name}", update_id=update_id, host=host)
    if flow:
        origin.update(flow_name=flow, dataset_name=flow, table_name=flow, flow_id=flow_id)
    sequence = json.dumps({"data_plane_id": {"instance": f"{host}:{os.getpid()}", "seq_no": sequence_number},
                           "control_plane_seq_no": sequence_number})
    return (str(uuid.uuid4()), sequence, (*[origin[f] for f in ORIGIN_FIELDS], batch_id), now_utc(), message,
            str(level), "STABLE", json.dumps(error) if error else None, json.dumps(details, default=str),
            str(event_type))


def row_to_json(row: Row) -> list[Any]:
    return [row[0], row[1], list(row[2]), row[3].isoformat(), *row[4:]]


def row_from_json(data: list[Any]) -> Row:
    return (data[0], data[1], tuple(data[2]), datetime.fromisoformat(data[3]), *data[4:])


def update_id_of(row: Row) -> str | None:
    return row[2][ORIGIN_FIELDS.index("update_id")]
