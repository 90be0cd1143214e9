"""The event log's shape and the events the local runtime writes, as in a DLT pipeline event log.

Columns follow the DLT event log (id, sequence, origin, timestamp, message, level, maturity_level,
error, details, event_type); `details` is a JSON string, as in a Databricks event log table. Events:

* `create_update` when an update starts (cause, full refresh selection...);
* `update_progress` with the update's state (RUNNING, COMPLETED, FAILED, CANCELED);
* `flow_progress` per micro-batch (status RUNNING) with `metrics.num_output_rows` and
  `data_quality.{dropped_records, expectations: [{name, dataset, passed_records, failed_records}]}`
  — plus local extras `metrics.num_input_rows`, `num_written_rows`, `num_upserted_rows`,
  `num_deduplicated_rows` and `data_quality.quarantined_records` — and one status event per flow
  (STARTING, RUNNING, COMPLETED, FAILED, SKIPPED, STOPPED).

As in DLT, `dropped_records` of a table counts every row its drop expectations removed, quarantined
rows included (they are dropped from the table and kept in `<table>_quarantine`).

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
from typing import TYPE_CHECKING, Any, Protocol

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


class Level(StrEnum):
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
    METRICS = "METRICS"


class BatchCounts(Protocol):
    """What one micro-batch (or one recomputation) did (the engine's `FlowMetrics` has this shape)."""

    input_rows: int
    output_rows: int
    written_rows: int
    upserted_rows: int
    dropped_rows: int
    """Removed by drop rules only (not counting quarantined rows)."""
    quarantined_rows: int
    deduplicated_rows: int
    expectations: dict[str, list[int]]
    """rule name -> [passed, failed]"""


def pipeline_id(env: "Environment") -> str:
    """Stable per project folder and environment, like a DLT pipeline id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"medallion:{env.root.resolve()}:{env.name}"))


def now_utc() -> datetime:
    """The event timestamp: naive UTC, as Spark's session time zone (UTC) stores it."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def flow_progress_details(status: str, dataset: str, counts: BatchCounts | None = None) -> dict[str, Any]:
    """The `details` of a flow_progress event (DLT shape plus the local extras)."""
    progress: dict[str, Any] = {"status": str(status)}
    if counts is not None:
        progress["metrics"] = {"num_output_rows": counts.output_rows, "num_input_rows": counts.input_rows,
                               "num_written_rows": counts.written_rows, "num_upserted_rows": counts.upserted_rows,
                               "num_deduplicated_rows": counts.deduplicated_rows}
        progress["data_quality"] = {
            "dropped_records": counts.dropped_rows + counts.quarantined_rows,
            "quarantined_records": counts.quarantined_rows,
            "deduplicated_records": counts.deduplicated_rows,
            "expectations": [{"name": name, "dataset": dataset, "passed_records": passed, "failed_records": failed}
                             for name, (passed, failed) in counts.expectations.items()],
        }
    return {"flow_progress": progress}


def flow_status_details(status: str, *, error: str | None = None, fatal: bool = True, violation: Any = None,
                        reason: str | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(details, error column) of a flow's status event: FAILED carries the error (and the violated
    expectation, an `ExpectationViolation`), SKIPPED the reason. `fatal`: no retry follows."""
    progress: dict[str, Any] = {"status": str(status)}
    error_column = None
    if status == "FAILED" and error:
        error_column = {"fatal": fatal, "exceptions": [{"class_name": "FlowError", "message": error}]}
        if violation is not None:
            progress["data_quality"] = {"violated_expectation": {
                "name": violation.rule, "dataset": violation.dataset, "expression": violation.expression,
                "failed_records": violation.failed, "sample": violation.sample}}
    if status == "SKIPPED" and reason:
        progress["reason"] = reason
    return {"flow_progress": progress}, error_column


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
