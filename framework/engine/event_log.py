"""The local event log: a Delta table shaped like the DLT pipeline event log, and a reader for it.

Columns follow the DLT event log (id, sequence, origin, timestamp, message, level, maturity_level,
error, details, event_type); `details` is a JSON string, as in DLT. Written events:

* `create_update` when a run starts, `update_progress` (RUNNING / COMPLETED / FAILED / CANCELED);
* `flow_progress` per micro-batch (status RUNNING) with `metrics.num_output_rows` and
  `data_quality.{dropped_records, expectations: [{name, dataset, passed_records, failed_records}]}`
  — plus local extras `metrics.num_input_rows`, `metrics.num_deduplicated_rows`,
  `data_quality.quarantined_records` — and one final status event per flow (COMPLETED, FAILED, SKIPPED).

As in DLT, `dropped_records` of a table counts every row its drop expectations removed, quarantined
rows included (they are dropped from the table and kept in `<table>_quarantine`).

Per-batch events are staged on disk under the name of their batch (a replay after a crash
rewrites the same file) and written with the run's other events in one commit per flush, so a batch
is never counted twice nor lost. `table_metrics()` sums them per table; its SQL
uses only forms that also run against a Databricks event log table (where `details` is a STRING too).

Portable SQL: Databricks' `details:flow_progress.x` shorthand needs a VARIANT in open-source Spark,
so write `get_json_object(details, '$.flow_progress.x')` or `parse_json(details):flow_progress.x`
(both run on Databricks and locally), e.g.
`explode(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'), EXPECTATIONS_TYPE))`.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.engine.metrics import FlowMetrics
from framework.engine.storage import EVENT_LOG_TABLE, Storage, is_delta_table, sql_string
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

ORIGIN_FIELDS = ("cloud", "region", "org_id", "pipeline_id", "pipeline_type", "pipeline_name", "cluster_id",
                 "update_id", "table_id", "table_name", "flow_id", "flow_name", "dataset_name", "host")
EVENT_LOG_DDL = (
    "id STRING NOT NULL, sequence STRING, origin STRUCT<" + ", ".join(f"{f}: STRING" for f in ORIGIN_FIELDS)
    + ", batch_id: BIGINT>, timestamp TIMESTAMP, message STRING, level STRING, maturity_level STRING, "
    "error STRING, details STRING, event_type STRING"
)

EXPECTATIONS_TYPE = "array<struct<name: string, dataset: string, passed_records: bigint, failed_records: bigint>>"
"""The shape of `details:flow_progress.data_quality.expectations` for from_json."""


def event_log_name(env: Environment) -> str:
    return f"{env.schema_for('ops')}.{EVENT_LOG_TABLE}"


def pipeline_id(env: Environment) -> str:
    """Stable per project folder and environment, like a DLT pipeline id."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"medallion:{env.root.resolve()}:{env.name}"))


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


@dataclass
class EventLog:
    """Appends events for one update (one `medallion run`)."""

    spark: "SparkSession"
    env: Environment
    update_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _buffer: list[tuple] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _counter: Any = field(default_factory=lambda: itertools.count(1))

    @property
    def name(self) -> str:
        return event_log_name(self.env)

    @property
    def path(self) -> Path:
        return Storage.of(self.env).table_path(self.name)

    def ensure_table(self) -> None:
        from framework.engine.spark import register_table

        if not is_delta_table(self.path):
            from framework.engine.tables import create_table

            create_table(self.spark, self.name, self.path,
                         f"({EVENT_LOG_DDL}) USING delta LOCATION {sql_string(self.path)} "
                         "COMMENT 'Medallion local pipeline event log (DLT shape)' "
                         "TBLPROPERTIES ('delta.appendOnly' = 'true')")
        register_table(self.spark, self.name, self.path)

    def event(self, event_type: str, message: str, details: dict, *, level: str = "INFO", flow: str | None = None,
              flow_id: str | None = None, batch_id: int | None = None, error: dict | None = None) -> tuple:
        seq = next(self._counter)
        origin = {f: None for f in ORIGIN_FIELDS}
        origin.update(cloud="local", region="local", pipeline_id=pipeline_id(self.env), pipeline_type="WORKSPACE",
                      pipeline_name=f"medallion-{self.env.name}", update_id=self.update_id,
                      host=socket.gethostname())
        if flow:
            origin.update(flow_name=flow, dataset_name=flow, table_name=flow, flow_id=flow_id)
        sequence = json.dumps({"data_plane_id": {"instance": f"{socket.gethostname()}:{os.getpid()}", "seq_no": seq},
                               "control_plane_seq_no": seq})
        return (str(uuid.uuid4()), sequence, (*[origin[f] for f in ORIGIN_FIELDS], batch_id), _now(), message,
                level, "STABLE", json.dumps(error) if error else None, json.dumps(details, default=str), event_type)

    def emit(self, *args: Any, **kwargs: Any) -> None:
        """Buffer an event; `flush()` writes buffered events in one commit."""
        with self._lock:
            self._buffer.append(self.event(*args, **kwargs))

    def buffer(self, row: tuple) -> None:
        with self._lock:
            self._buffer.append(row)

    @property
    def staging(self) -> Path:
        return Storage.of(self.env).root / "checkpoints" / "_events"

    def stage(self, row: tuple, key: str) -> None:
        """Keep a micro-batch's event on disk until the next flush (durable, exactly once).

        `key` names the batch (flow identity + batch id): a batch replayed after a crash rewrites the
        same file instead of adding a second event. Staged files left by a crashed run are written
        when the next run ends (after its replays have rewritten theirs), minus any already in the log.
        """
        self.staging.mkdir(parents=True, exist_ok=True)
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
        tmp = self.staging / f".{safe}.{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(_row_to_json(row)))
        tmp.replace(self.staging / f"{safe}.json")

    def flush(self, *, staged: bool = True) -> None:
        """Write buffered (and staged) events in one commit, then forget the staged files."""
        with self._lock:
            rows, self._buffer = self._buffer, []
            files = sorted(self.staging.glob("*.json")) if staged and self.staging.is_dir() else []
            self._flush(rows, files)

    def _flush(self, rows: list[tuple], staged: list[Path]) -> None:
        staged_rows = [_row_from_json(json.loads(f.read_text())) for f in staged]
        leftovers = [r for r in staged_rows if r[2][ORIGIN_FIELDS.index("update_id")] != self.update_id]
        if leftovers:  # a run that crashed after its flush commit: never write an event twice
            present = self._present_ids([r[0] for r in leftovers])
            staged_rows = [r for r in staged_rows if r[0] not in present]
        rows = staged_rows + rows
        if rows:
            self._write(self.spark, rows)
        for file in staged:
            file.unlink(missing_ok=True)

    def _present_ids(self, ids: list[str]) -> set[str]:
        if not is_delta_table(self.path):
            return set()
        found = (self.spark.read.format("delta").load(str(self.path)).select("id")
                 .where(f"id IN ({', '.join(sql_string(i) for i in ids)})").collect())
        return {r["id"] for r in found}

    def _write(self, spark: "SparkSession", rows: list[tuple]) -> None:
        spark.createDataFrame(rows, EVENT_LOG_DDL).write.format("delta").mode("append").save(str(self.path))


def _row_to_json(row: tuple) -> list:
    return [row[0], row[1], list(row[2]), row[3].isoformat(), *row[4:]]


def _row_from_json(data: list) -> tuple:
    return (data[0], data[1], tuple(data[2]), datetime.fromisoformat(data[3]), *data[4:])


def flow_progress_details(status: str, dataset: str, metrics: FlowMetrics | None = None) -> dict:
    """The `details` of a flow_progress event (DLT shape plus the local extras)."""
    progress: dict[str, Any] = {"status": status}
    if metrics is not None:
        progress["metrics"] = {"num_output_rows": metrics.output_rows, "num_input_rows": metrics.input_rows,
                               "num_written_rows": metrics.written_rows,
                               "num_upserted_rows": metrics.upserted_rows,
                               "num_deduplicated_rows": metrics.deduplicated_rows}
        progress["data_quality"] = {
            "dropped_records": metrics.dropped_rows + metrics.quarantined_rows,
            "quarantined_records": metrics.quarantined_rows,
            "deduplicated_records": metrics.deduplicated_rows,
            "expectations": [{"name": name, "dataset": dataset, "passed_records": passed, "failed_records": failed}
                             for name, (passed, failed) in metrics.expectations.items()],
        }
    return {"flow_progress": progress}


# ---------------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------------

@dataclass
class ExpectationMetrics:
    name: str
    passed: int
    failed: int

    @property
    def pass_rate(self) -> float:
        total = self.passed + self.failed
        return self.passed / total if total else 1.0


@dataclass
class TableMetrics:
    """Rows of one table in one update, from the event log."""

    table: str
    """Published name, e.g. silver.bars."""
    status: str | None = None
    rows_read: int = 0
    rows_written: int = 0
    dropped: int = 0
    """Removed by drop expectations only (quarantined rows are counted in `quarantined`)."""
    quarantined: int = 0
    deduplicated: int = 0
    expectations: dict[str, ExpectationMetrics] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.table.split(".")[-1]


def latest_update_id(spark: "SparkSession", event_log: str) -> str | None:
    row = spark.sql(f"SELECT origin.update_id AS id FROM {event_log} WHERE event_type = 'create_update' "
                    "ORDER BY timestamp DESC LIMIT 1").first()
    return row["id"] if row else None


def update_ids(spark: "SparkSession", event_log: str) -> list[str]:
    """Every update in the log, oldest first."""
    rows = spark.sql(f"SELECT origin.update_id AS id, min(timestamp) AS started FROM {event_log} "
                     "WHERE event_type = 'create_update' GROUP BY origin.update_id ORDER BY started").collect()
    return [r["id"] for r in rows]


FLOW_PROGRESS_SQL = """
SELECT
  origin.flow_name AS flow,
  get_json_object(details, '$.flow_progress.status') AS status,
  CAST(get_json_object(details, '$.flow_progress.metrics.num_output_rows') AS BIGINT) AS output_rows,
  CAST(get_json_object(details, '$.flow_progress.metrics.num_input_rows') AS BIGINT) AS input_rows,
  CAST(get_json_object(details, '$.flow_progress.metrics.num_written_rows') AS BIGINT) AS written_rows,
  CAST(get_json_object(details, '$.flow_progress.metrics.num_deduplicated_rows') AS BIGINT) AS deduplicated_rows,
  CAST(get_json_object(details, '$.flow_progress.data_quality.dropped_records') AS BIGINT) AS dropped_records,
  CAST(get_json_object(details, '$.flow_progress.data_quality.quarantined_records') AS BIGINT) AS quarantined_records,
  get_json_object(details, '$.flow_progress.data_quality.expectations') AS expectations
FROM {event_log}
WHERE event_type = 'flow_progress' AND origin.update_id IN ({updates})
ORDER BY timestamp
"""


def table_metrics(spark: "SparkSession", *, event_log: str = "ops.event_log", update_id: str | None = None,
                  all_updates: bool = False) -> dict[str, TableMetrics]:
    """Per-table row counts and expectation results of the latest update (or `update_id`, or all updates).

    Keys are the published table names (`silver.bars`); quarantine tables are folded into the table
    they belong to. Works on the local log and on a Databricks event log table alike.
    """
    if all_updates:
        ids = update_ids(spark, event_log)
    else:
        chosen = update_id or latest_update_id(spark, event_log)
        ids = [chosen] if chosen else []
    if not ids:
        return {}
    rows = spark.sql(FLOW_PROGRESS_SQL.format(event_log=event_log,
                                              updates=", ".join(sql_string(i) for i in ids))).collect()
    result: dict[str, TableMetrics] = {}
    quarantine_rows: dict[str, int] = {}
    for row in rows:
        flow = row["flow"]
        if flow is None:
            continue
        if flow.endswith("_quarantine"):
            quarantine_rows[flow[: -len("_quarantine")]] = quarantine_rows.get(flow[: -len("_quarantine")], 0) \
                + (row["output_rows"] or 0)
            continue
        metrics = result.setdefault(flow, TableMetrics(flow))
        if row["status"] and row["status"] != "RUNNING":
            metrics.status = row["status"]
        if row["output_rows"] is None and row["expectations"] is None:
            continue
        quarantined = row["quarantined_records"] or 0
        dropped_all = row["dropped_records"] or 0
        output = row["output_rows"] or 0
        dedup = row["deduplicated_rows"] or 0
        metrics.quarantined += quarantined
        metrics.dropped += dropped_all - quarantined
        metrics.deduplicated += dedup
        metrics.rows_written += row["written_rows"] if row["written_rows"] is not None else output - dedup
        metrics.rows_read += row["input_rows"] if row["input_rows"] is not None else output + dropped_all
        for item in json.loads(row["expectations"] or "[]"):
            exp = metrics.expectations.setdefault(item["name"], ExpectationMetrics(item["name"], 0, 0))
            exp.passed += int(item.get("passed_records") or 0)
            exp.failed += int(item.get("failed_records") or 0)
    for table, count in quarantine_rows.items():
        if table in result and result[table].quarantined == 0 and count:
            # a Databricks log: the quarantine flow's output, and the main table's drops included them
            result[table].quarantined = count
            result[table].dropped -= count
    return result
