"""Appending one update's events to the local event log (a Delta table), exactly once.

Events are buffered and written in one commit per flush (a triggered update flushes once, at its end). Per-batch events are staged on disk under
the name of their batch first (a replay after a crash rewrites the same file), so a micro-batch's
event is never counted twice nor lost: staged files left by a crashed run are written when the next
run flushes (after its replays have rewritten theirs), minus any already in the log.

The table itself is created by the engine (framework/engine/tables.py `ensure_event_log`); this
module only appends to its folder. A writer without a SparkSession (an update that had nothing to do
answers without a JVM: framework/engine/noop.py) appends its events through the `deltalake` package
(delta-rs), which writes the same Delta protocol (the event log is reader 1 / writer 2, append-only).
"""

from __future__ import annotations

import itertools
import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from framework.delta_log import is_delta_table
from framework.eventlog.schema import (EVENT_LOG_DDL, ORIGIN_FIELDS, Level, Row, event_row, row_from_json, row_to_json,
                                       update_id_of)
from framework.files import write_atomically
from framework.naming import CHECKPOINTS_FOLDER, TableRef, sql_string

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from framework.spec.environment import Environment

STAGING_FOLDER = "_events"
"""Beside the flows' checkpoints: `<storage_root>/checkpoints/_events/`."""


@dataclass
class EventLogWriter:
    """Writes the events of one update (one `medallion run`)."""

    spark: "SparkSession | None"
    """None: append with delta-rs (no JVM); only for a writer that stages no micro-batch event."""
    env: "Environment"
    update_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    _buffer: list[Row] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _sequence: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def table(self) -> TableRef:
        return TableRef.event_log(self.env)

    @property
    def staging(self) -> Path:
        return self.env.storage_root.resolve() / CHECKPOINTS_FOLDER / STAGING_FOLDER

    def event(self, event_type: str, message: str, details: dict[str, Any], *, level: str = Level.INFO,
              flow: str | None = None, flow_id: str | None = None, batch_id: int | None = None,
              error: dict[str, Any] | None = None) -> Row:
        """A new event row of this update (not yet buffered)."""
        return event_row(self.env, self.update_id, next(self._sequence), event_type, message, details, level=level,
                         flow=flow, flow_id=flow_id, batch_id=batch_id, error=error)

    def emit(self, event_type: str, message: str, details: dict[str, Any], **options: Any) -> None:
        """Buffer an event; `flush()` writes buffered events in one commit."""
        self.buffer(self.event(event_type, message, details, **options))

    def buffer(self, row: Row) -> None:
        with self._lock:
            self._buffer.append(row)

    def stage(self, row: Row, key: str) -> None:
        """Keep a micro-batch's event on disk until the next flush (durable, exactly once).

        `key` names the batch (flow identity + batch id): a batch replayed after a crash rewrites the
        same file instead of adding a second event.
        """
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in key)
        write_atomically(self.staging / f"{safe}.json", json.dumps(row_to_json(row)))

    def stage_buffered(self, key: str) -> None:
        """Move the buffered events to the staging folder: durable (a crash leaves them for the next run's
        flush) without a commit of their own; the next `flush()` writes them with the rest."""
        with self._lock:
            rows, self._buffer = self._buffer, []
        for index, row in enumerate(rows):
            self.stage(row, f"{key}-{index}")

    def flush(self, *, staged: bool = True) -> None:
        """Write buffered (and staged) events in one commit, then forget the staged files."""
        with self._lock:
            rows, self._buffer = self._buffer, []
            files = sorted(self.staging.glob("*.json")) if staged and self.staging.is_dir() else []
            self._flush(rows, files)

    def _flush(self, rows: list[Row], staged: list[Path]) -> None:
        staged_rows = [row_from_json(json.loads(f.read_text())) for f in staged]
        leftovers = [r for r in staged_rows if update_id_of(r) != self.update_id]
        if leftovers:  # a run that crashed after its flush commit: never write an event twice
            present = self._present_ids([r[0] for r in leftovers])
            staged_rows = [r for r in staged_rows if r[0] not in present]
        rows = staged_rows + rows
        if rows and self.spark is None:
            append_without_jvm(self.table.path, rows)
        elif rows:
            self.spark.createDataFrame(rows, EVENT_LOG_DDL).write.format("delta").mode("append") \
                .save(str(self.table.path))
        for file in staged:
            file.unlink(missing_ok=True)

    def _present_ids(self, ids: list[str]) -> set[str]:
        path = self.table.path
        if not is_delta_table(path):
            return set()
        assert self.spark is not None, "a writer without Spark flushes no staged events"
        found = (self.spark.read.format("delta").load(str(path)).select("id")
                 .where(f"id IN ({', '.join(sql_string(i) for i in ids)})").collect())
        return {r["id"] for r in found}


def append_without_jvm(path: Path, rows: list[Row]) -> None:
    """Append event rows to the event log table in one Delta commit, with delta-rs instead of Spark.

    The Arrow schema is EVENT_LOG_DDL's, as Spark maps it (TIMESTAMP: microseconds, UTC; the rows hold
    naive UTC datetimes); delta-rs checks it against the table's schema and honours `delta.appendOnly`.
    """
    import pyarrow as pa
    from deltalake import write_deltalake

    origin = pa.struct([(f, pa.string()) for f in ORIGIN_FIELDS] + [("batch_id", pa.int64())])
    schema = pa.schema([pa.field("id", pa.string(), nullable=False), ("sequence", pa.string()), ("origin", origin),
                        ("timestamp", pa.timestamp("us", tz="UTC")), ("message", pa.string()), ("level", pa.string()),
                        ("maturity_level", pa.string()), ("error", pa.string()), ("details", pa.string()),
                        ("event_type", pa.string())])
    columns = list(zip(*rows))
    origin_names = [*ORIGIN_FIELDS, "batch_id"]
    columns[2] = tuple(dict(zip(origin_names, value)) for value in columns[2])
    arrays = [pa.array(list(values), type=field.type) for index, (values, field) in enumerate(zip(columns, schema))
              if index != 3]
    # microseconds since the epoch, cast: converting datetime objects would make pyarrow import pandas (~1.5 s)
    epoch = datetime(1970, 1, 1)
    micros = [None if t is None else (t - epoch) // timedelta(microseconds=1) for t in columns[3]]
    arrays.insert(3, pa.array(micros, type=pa.int64()).cast(schema.field("timestamp").type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    write_deltalake(str(path), table, mode="append")
