"""Executing one flow: a query feeding a Delta table, micro-batch by micro-batch.

Every micro-batch (or the single batch of a materialized view) goes through `FlowRun.process_batch`:

1. each row is tagged with the expectations it fails (a NULL result is a failure);
2. `fail` rules: if any row fails, the batch stops before anything is written, with the rule and a
   sample row in the error;
3. quarantine tables split off the same rows (`SplitHint`), so a row is read and counted once;
4. rows failing a `drop` rule (quarantine rules are declared as drop rules on the main table, the
   DLT pattern) are removed, the rest is appended, merged (apply_changes, SCD type 1) or, for a
   materialized view, overwrites the table;
5. the counts go to the run's metrics and, as `flow_progress` events shaped as Databricks documents them
   for the flow's kind (framework/eventlog/schema.py), to the event log: one for the flow and one for
   each quarantine table it fed (a flow of its own on Databricks).

Writes are exactly-once, and the stream's checkpoint makes sure no batch is skipped. Only one batch can
be a replay: the run's first, when the checkpoint planned it and never committed it (the process died
during it). Each table that batch writes is looked up in its history for the batch's commit tag
(flow, batch, checkpoint identity in `userMetadata`, on every commit): a table holding it is not written
again, the others are written with Delta's idempotent-write options (txnAppId = the flow's checkpoint
identity, txnVersion = the batch id). A replay's counts are computed explicitly, since no write (and no
plan-attached `Observation`) runs for it. Every other batch is new by construction and is written
without those options: an idempotent write makes Delta reconstruct the table's whole state to look up
the application's last version (three Spark jobs per write, at any size).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal
from zoneinfo import ZoneInfo

from framework.engine import autoloader
from framework.engine.dlt_api import Dataset, Expectation
from framework.engine.metrics import FlowMetrics
from framework.engine.retry import as_flow_error
from framework.engine.storage import Storage, newest_batch
from framework.delta_log import Box, may_hold, never_written
from framework.engine.tables import ensure_table
from framework.errors import ExpectationViolation, FilesNotSettled, FlowError, first_line
from framework.eventlog import LOCAL_DETAILS, EventLogWriter, EventType, Level, flow_progress_details
from framework.eventlog import FlowKind as LoggedKind
from framework.files import write_atomically
from framework.naming import INTERNAL_PREFIX, quote_name, sql_string
from framework.pipeline import failed_rules, latest_per_key

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, Row, SparkSession
    from pyspark.sql.streaming import StreamingQuery

FlowKind = Literal["append", "merge", "materialize"]
FAILED = f"{INTERNAL_PREFIX}failed"
SAMPLE_VALUE_CHARS = 200
FLOW_ID_FILE = "_flow_id"
REPLAY_HISTORY_DEPTH = 50
"""Table versions searched for a replayed batch's commit (it is one of the newest few)."""


@dataclass
class Flow:
    """What the runner executes for one table."""

    name: str
    """The target dataset (published table name)."""
    kind: FlowKind
    target: Dataset
    source: Dataset
    """The dataset whose query (and expectations) produce the rows: the target itself or an apply_changes view."""
    keys: tuple[str, ...] = ()
    sequence_by: str | None = None
    splits: list[tuple[Dataset, Callable[["DataFrame"], "DataFrame"]]] = field(default_factory=list)

    @property
    def expectations(self) -> tuple[Expectation, ...]:
        seen = {e.name for e in self.source.expectations}
        return self.source.expectations + tuple(e for e in self.target.expectations
                                                if self.target is not self.source and e.name not in seen)

    @property
    def is_stream(self) -> bool:
        return self.kind in ("append", "merge")

    @property
    def log_kind(self) -> LoggedKind:
        """How the event log reports the flow (Databricks' metrics differ per kind)."""
        return {"append": LoggedKind.APPEND, "merge": LoggedKind.AUTO_CDC}.get(self.kind, LoggedKind.MATERIALIZED_VIEW)

    @property
    def expectation_datasets(self) -> dict[str, str]:
        """Expectation name -> the dataset declaring it (the `dataset` of its event-log counts)."""
        declared = {e.name: self.target.name for e in self.target.expectations}
        return {**declared, **{e.name: self.source.name for e in self.source.expectations}}


@dataclass(frozen=True)
class ViewWrite:
    """A partial refresh of a materialized view: its recomputed rows replace only the rows matching
    `replace_where`, or are appended (`append`: every group only grew)."""

    replace_where: str | None = None
    append: bool = False
    within: str | None = None
    """For an append in place of a `replace_where` (the groups are new): the same predicate, which every
    appended row must meet — as Delta's replaceWhere checks its rows — else the write fails, naming it."""


def _rows_within(df: "DataFrame", predicate: str, table: str) -> "DataFrame":
    """`df`, failing the write on a row outside `predicate` — checked in the write itself, no extra job."""
    from pyspark.sql import functions as F

    message = (f"{table}: the refresh produced a row outside the groups it recomputed ({predicate}); "
               "a transform must return rows of the groups it was given only")
    return df.where(F.when(F.expr(predicate), F.lit(True)).otherwise(F.raise_error(F.lit(message))))


def flow_identity(checkpoint: Path) -> str:
    """A random id made with the checkpoint: Delta's txnAppId must change when a flow starts over (and a
    materialized view reading the table must notice it was rebuilt)."""
    marker = checkpoint / FLOW_ID_FILE
    if not marker.is_file():
        write_atomically(marker, uuid.uuid4().hex)
    return marker.read_text().strip()


def _batch_in_flight(stream_checkpoint: Path) -> bool:
    """True when the checkpoint planned a micro-batch it never committed (the process died during it).

    Only such a batch can be a replay of one already written to the table; without one, the run's first
    batch is new and the table-history lookup (`_is_replay`, ~1 s) is skipped.
    """
    planned, committed = newest_batch(stream_checkpoint, "offsets"), newest_batch(stream_checkpoint, "commits")
    return planned is not None and (committed is None or planned > committed)


@dataclass(frozen=True)
class KeyBounds:
    """A key column's lowest and highest value in a batch, as Spark casts them to strings."""

    column: str
    kind: str
    """The column's Spark type (`simpleString`)."""
    low: str
    high: str

    @property
    def sql(self) -> str:
        return (f"t.`{self.column}` BETWEEN CAST({sql_string(self.low)} AS {self.kind}) "
                f"AND CAST({sql_string(self.high)} AS {self.kind})")


def key_box(bounds: list[KeyBounds], time_zone: str) -> Box | None:
    """The bounds as values the Delta log's statistics compare with (`may_hold`); None when a key's type is
    not one compared there (strings, integers, dates and timestamps are)."""
    box: Box = {}
    for bound in bounds:
        try:
            if bound.kind == "string":
                box[bound.column] = (bound.low, bound.high)
            elif bound.kind in ("tinyint", "smallint", "int", "bigint"):
                box[bound.column] = (int(bound.low), int(bound.high))
            elif bound.kind == "date":
                box[bound.column] = (date.fromisoformat(bound.low), date.fromisoformat(bound.high))
            elif bound.kind == "timestamp":  # cast to string in the session's time zone
                zone = ZoneInfo(time_zone)
                # a wall-clock time repeated when clocks go back is ambiguous: widen by the hour it may be off
                margin = timedelta(0) if time_zone in ("UTC", "Etc/UTC", "GMT") else timedelta(hours=1)
                box[bound.column] = (datetime.fromisoformat(bound.low).replace(tzinfo=zone) - margin,
                                     datetime.fromisoformat(bound.high).replace(tzinfo=zone) + margin)
            else:
                return None
        except (ValueError, KeyError):  # an unknown zone name, an unexpected rendering: let Spark look
            return None
    return box


def _visible(df: "DataFrame") -> "DataFrame":
    return df.select(*[f"`{c}`" for c in df.columns if not c.startswith(INTERNAL_PREFIX)])


@dataclass
class FlowRun:
    """One execution of a flow within an update; `process_batch` is the foreachBatch function."""

    flow: Flow
    spark: "SparkSession"
    storage: Storage
    event_log: EventLogWriter
    on_progress: Callable[[FlowMetrics, FlowMetrics], None] | None = None
    """Called after every committed batch with (metrics so far, metrics of the batch)."""
    metrics: FlowMetrics = field(default_factory=FlowMetrics)
    error: BaseException | None = None
    changed: threading.Event | None = None
    """Set after every commit (continuous mode wakes materialized views with it)."""
    write_lock: threading.Lock = field(default_factory=threading.Lock)
    """Held while writing; maintenance (OPTIMIZE) takes it too, so they never conflict."""
    restart_requested: bool = False
    view_write: "ViewWrite | None" = None
    """How the next materialized-view batch replaces the table (None: all of it); see materialize.py."""
    query: "StreamingQuery | None" = None
    merge_session: "SparkSession | None" = None
    replay_checked: bool = False
    """Only the first micro-batch of a run can be a replay of a batch committed before a crash, and only when
    the checkpoint holds a batch it planned but never committed (`_batch_in_flight`)."""
    idempotent: bool = False
    """The batch being written may be a replay: its writes carry Delta's idempotent-write options."""
    committed_to: set[str] = field(default_factory=set)
    """Tables that already hold the (replayed) batch being written: their writes are skipped."""

    def __post_init__(self) -> None:
        self.metrics.auto_cdc = self.flow.kind == "merge"  # says so even when no batch runs
        self.checkpoint = self.storage.checkpoint(self.flow.name)
        self.app_id = f"medallion:{self.flow.name}:{flow_identity(self.checkpoint)}"
        self.table_path = self.storage.table_path(self.flow.name)

    # -- set-up --------------------------------------------------------------------------------------

    def prepare(self, df: "DataFrame") -> None:
        """Create the target and split tables (from their declared schema, else the query's)."""
        ensure_table(self.spark, self.storage, self.flow.target, df.schema)
        for dataset, transform in self.flow.splits:
            ensure_table(self.spark, self.storage, dataset, None if dataset.schema else transform(df).schema)

    # -- execution -----------------------------------------------------------------------------------

    def start_stream(self, *, trigger_interval: str | None = None) -> "StreamingQuery":
        """Start the streaming query: availableNow (triggered update) or processingTime (continuous)."""
        df = self.flow.source.query()
        if not df.isStreaming:
            raise FlowError(f"{self.flow.name}: expected a streaming source")
        self.prepare(df)
        self.replay_checked = not _batch_in_flight(self.checkpoint / "stream")
        writer = (df.writeStream.foreachBatch(self.process_batch)
                  .option("checkpointLocation", str(self.checkpoint / "stream"))
                  .queryName(f"{self.flow.name}-{uuid.uuid4().hex[:6]}"))
        writer = writer.trigger(processingTime=trigger_interval) if trigger_interval else writer.trigger(availableNow=True)
        self.query = writer.start()
        return self.query

    def run_triggered(self, stop_requests: Callable[[], int] = lambda: 0) -> FlowMetrics:
        """Process everything available, then stop. Raises FlowError on failure.

        `stop_requests()` > 0: stop once no micro-batch is in progress; > 1: stop at once.
        """
        if self.flow.is_stream:
            deadline = None
            while not self._stream_until_done(stop_requests):  # landing files still being written
                state = autoloader.state_for(self.checkpoint)
                settle = state.settle_seconds if state else 10.0
                deadline = deadline or time.monotonic() + max(6 * settle, 60.0)
                if time.monotonic() > deadline or stop_requests():
                    raise FlowError(str(self.error))
                time.sleep(min(max(settle / 4, 0.5), 2.0))
        else:
            df = self.flow.source.query()
            self.prepare(df)
            self.process_batch(df, None)
        return self.metrics

    def _stream_until_done(self, stop_requests: Callable[[], int]) -> bool:
        """Run the stream until it has processed everything; False if it must restart (unsettled files)."""
        self.error = None
        query = self.start_stream()
        try:
            while not query.awaitTermination(0.5):
                requests = stop_requests()
                if requests > 1 or (requests and not query.status.get("isTriggerActive")):
                    query.stop()
        except Exception as exc:  # StreamingQueryException wraps what our batch function raised
            if isinstance(self.error, FilesNotSettled):
                return False
            raise self.error if self.error else FlowError(f"{self.flow.name}: {first_line(exc)}") from exc
        if self.error:
            raise self.error
        return True

    # -- one batch -----------------------------------------------------------------------------------

    def process_batch(self, df: "DataFrame", batch_id: int | None) -> None:
        try:
            with self.write_lock:
                self._process(df, batch_id)
        except BaseException as exc:
            self.error = as_flow_error(exc, self.flow.name)
            raise

    def _process(self, df: "DataFrame", batch_id: int | None) -> None:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F

        spark = df.sparkSession
        if batch_id is not None and (state := autoloader.state_for(self.checkpoint)) is not None:
            if pending := autoloader.unsettled_files(state, self.checkpoint / "stream", batch_id):
                raise FilesNotSettled(self.flow.name, pending)  # before anything is read or written
        expectations = self.flow.expectations
        rules = {e.name: e.rule for e in expectations}
        drop_names = [e.name for e in expectations if e.action == "drop"]
        fail_rules = [e for e in expectations if e.action == "fail"]
        has_unknown = autoloader.UNKNOWN_KEYS_COLUMN in df.columns
        flagged = df.withColumn(FAILED, failed_rules(rules))
        dropped = F.arrays_overlap(F.col(FAILED), F.array(*[F.lit(n) for n in drop_names])) if drop_names else F.lit(False)
        aggregates = [F.count(F.lit(1)).alias("rows"),
                      F.coalesce(F.sum(F.when(dropped, 1).otherwise(0)), F.lit(0)).alias("dropped")]
        aggregates += [F.coalesce(F.sum(F.when(F.array_contains(F.col(FAILED), name), 1).otherwise(0)), F.lit(0))
                       .alias(f"rule_{i}") for i, name in enumerate(rules)]
        if has_unknown:
            unknown = F.col(autoloader.UNKNOWN_KEYS_COLUMN)
            aggregates.append(F.collect_set(F.when(F.size(unknown) > 0, unknown)).alias("unknown"))
        if self.flow.kind == "merge":
            aggregates += self._key_aggregates(flagged, dropped)  # in the same pass: no job of their own
        self.idempotent = batch_id is not None and not self.replay_checked
        self.committed_to = set()
        replay = batch_id is not None and self._is_replay(spark, batch_id)
        cached = bool(fail_rules or self.flow.splits or self.flow.kind == "merge" or replay)
        if batch_id is not None and not has_unknown and not cached and df.isEmpty():
            return  # a table source that only compacted files: nothing to write, no commit, no event
            # (a cached batch finds out from its statistics, without this extra job)
        started = time.monotonic()
        if cached:
            flagged = flagged.persist(StorageLevel.MEMORY_AND_DISK)
        try:
            stats, splits = self._write(spark, flagged, dropped, aggregates, fail_rules, cached, batch_id)
        finally:
            if cached:
                flagged.unpersist()
        if stats is None:
            return
        quarantined = sum(splits.values())
        metrics = FlowMetrics(input_rows=stats["rows"], output_rows=stats["rows"] - stats["dropped"],
                              dropped_rows=stats["dropped"] - quarantined, quarantined_rows=quarantined, batches=1,
                              auto_cdc=self.flow.kind == "merge")
        metrics.expectations = {name: [stats["rows"] - stats[f"rule_{i}"], stats[f"rule_{i}"]]
                                for i, name in enumerate(rules)}
        inserted = stats.get("_inserted")
        metrics.written_rows = metrics.output_rows if inserted is None else inserted
        if metrics.auto_cdc:
            metrics.updated_rows = stats.get("_updated", 0)
            metrics.upserted_rows = metrics.written_rows + metrics.updated_rows
            metrics.deduplicated_rows = metrics.output_rows - metrics.upserted_rows
        if has_unknown and stats.get("unknown"):
            self._evolve(sorted({k for keys in stats["unknown"] for k in keys}))
        self.metrics.add(metrics)
        self._record(spark, metrics, splits, batch_id, time.monotonic() - started)

    def _write(self, spark: "SparkSession", flagged: "DataFrame", dropped: Any, aggregates: list,
               fail_rules: list[Expectation], cached: bool,
               batch_id: int | None) -> tuple[dict | None, dict[str, int]]:
        """Write the batch: (its statistics, rows written to each quarantine table by name), or (None, {})
        for an empty micro-batch."""
        from pyspark.sql import Observation

        observation = None
        if cached:
            stats = flagged.agg(*aggregates).first().asDict()
            if batch_id is not None and stats["rows"] == 0:
                return None, {}
            self._check_fail_rules(flagged, fail_rules, stats)
            source = flagged
        else:
            observation = Observation()
            source = flagged.observe(observation, *aggregates)
            stats = {}
        # Quarantine rules are drop rules of the main table too, so a batch that drops nothing has nothing
        # to quarantine: no extra job. (A view's quarantine is replaced on every refresh, even when empty.)
        written_to = {dataset.name: 0 for dataset, _ in self.flow.splits}
        splits = [] if cached and batch_id is not None and stats["dropped"] == 0 else self.flow.splits
        for dataset, transform in splits:  # the batch is cached whenever there are splits
            rows = transform(source.drop(FAILED))  # it reads internal columns (type errors), writes visible ones
            count = rows.count()
            if count or batch_id is None:  # no empty commits; a view's quarantine is replaced every time
                self._save(spark, rows, dataset, batch_id, tag=f"{dataset.name}")
            written_to[dataset.name] = count
        kept = _visible(source.where(~dropped).drop(FAILED))
        if cached and batch_id is not None and stats["rows"] == stats["dropped"]:
            stats["_inserted"], stats["_updated"] = 0, 0  # every row dropped or quarantined: no empty commit
        elif self.flow.kind == "merge":
            stats["_inserted"], stats["_updated"] = self._merge(spark, kept, batch_id, self._key_bounds(kept, stats))
        else:
            self._save(spark, kept, self.flow.target, batch_id, tag="main",
                       merge_schema=autoloader.state_for(self.checkpoint) is not None)
        if observation is not None:
            stats = {**observation.get, **stats}
        return stats, written_to

    def _check_fail_rules(self, flagged: "DataFrame", fail_rules: list[Expectation], stats: dict) -> None:
        from pyspark.sql import functions as F

        index = {name: i for i, name in enumerate(dict.fromkeys(e.name for e in self.flow.expectations))}
        for rule in fail_rules:
            failed = stats[f"rule_{index[rule.name]}"]
            if failed:
                row = _visible(flagged.where(F.array_contains(F.col(FAILED), rule.name)).drop(FAILED)).first()
                sample = {k: (str(v)[:SAMPLE_VALUE_CHARS] if v is not None else None) for k, v in row.asDict().items()}
                raise ExpectationViolation(self.flow.name, rule.name, rule.rule, failed, sample)

    def _save(self, spark: "SparkSession", df: "DataFrame", dataset: Dataset, batch_id: int | None, *, tag: str,
              merge_schema: bool = False) -> None:
        path = str(self.storage.table_path(dataset.name))
        if batch_id is None:  # materialized view: recomputed as a whole, or the groups it recomputed
            partial = self.view_write if dataset is self.flow.target else None
            if partial is not None and partial.within:
                df = _rows_within(df, partial.within, dataset.name)
            writer = df.write.format("delta")
            if partial is not None and partial.append:
                writer = writer.mode("append")
            elif partial is not None and partial.replace_where:
                writer = writer.mode("overwrite").option("replaceWhere", partial.replace_where)
            else:
                writer = writer.mode("overwrite")
            writer.save(path)
            return
        if dataset.name in self.committed_to:
            return  # written before the crash that left this batch to replay
        writer = df.write.format("delta").mode("append").option("userMetadata", self._commit_tag(batch_id))
        if self.idempotent:
            writer = writer.option("txnAppId", f"{self.app_id}:{tag}").option("txnVersion", batch_id)
        if merge_schema:
            writer = writer.option("mergeSchema", "true")
        writer.save(path)

    def _merge(self, spark: "SparkSession", kept: "DataFrame", batch_id: int | None,
               bounds: list[KeyBounds]) -> tuple[int, int]:
        """apply_changes, SCD type 1: upsert the latest row per key; older or equal sequences lose.
        The batch's key `bounds` narrow the target files the MERGE reads (see `_key_bounds`)."""
        from pyspark.sql import Observation
        from pyspark.sql import functions as F

        assert self.flow.sequence_by and batch_id is not None
        seq = self.flow.sequence_by
        latest = latest_per_key(kept, self.flow.keys, seq)
        if self.flow.name in self.committed_to:  # merged (or appended) before the crash left it to replay
            return self._replayed_merge_counts(spark, batch_id)
        key_ranges = [bound.sql for bound in bounds]
        if never_written(self.table_path) or self._no_target_rows_in(spark, bounds):
            # Nothing in the target can match (empty, or no row inside the batch's key ranges, e.g. a new
            # day's orders): the merge is an insert of every key, written as an append.
            counted = Observation()
            self._save(spark, latest.observe(counted, F.count(F.lit(1)).alias("n")), self.flow.target, batch_id,
                       tag="main")
            return int(counted.get["n"]), 0
        view = f"{INTERNAL_PREFIX}changes_{abs(hash(self.flow.name))}_{batch_id}"
        latest.createOrReplaceGlobalTempView(view)
        on = " AND ".join([f"t.`{k}` <=> s.`{k}`" for k in self.flow.keys] + key_ranges)
        session = self._merge_session(spark)
        session.conf.set("spark.databricks.delta.commitInfo.userMetadata", self._commit_tag(batch_id))
        for key, value in {"spark.databricks.delta.write.txnAppId": f"{self.app_id}:main",
                           "spark.databricks.delta.write.txnVersion": str(batch_id)}.items():
            if self.idempotent:
                session.conf.set(key, value)
            else:
                session.conf.unset(key)
        try:
            result = session.sql(f"MERGE INTO {quote_name(self.flow.name)} AS t USING global_temp.{view} AS s ON {on} "
                                 f"WHEN MATCHED AND s.`{seq}` > t.`{seq}` THEN UPDATE SET * "
                                 "WHEN NOT MATCHED THEN INSERT *").collect()
        finally:
            spark.catalog.dropGlobalTempView(view)
        if result:
            return int(result[0]["num_inserted_rows"]), int(result[0]["num_updated_rows"])
        return self._replayed_merge_counts(spark, batch_id)

    def _no_target_rows_in(self, spark: "SparkSession", bounds: list[KeyBounds]) -> bool:
        """True when no target row lies inside the batch's key ranges, so no source row can match one.

        First from the target files' min/max statistics in the Delta log, without a Spark job (a new
        session's keys lie past every file's maximum); only when those cannot tell, a `LIMIT 1` scan that
        Delta's file statistics usually prune to nothing: either is far cheaper than a MERGE, which reads
        and joins before it finds there was nothing to update. Only this flow writes the table, under its
        write lock, so the answer holds until the append commits.
        """
        if not bounds:
            return False
        box = key_box(bounds, spark.conf.get("spark.sql.session.timeZone") or "UTC")
        if box is not None and (holds := may_hold(self.table_path, [box])) is not None:
            return not holds
        target = spark.read.format("delta").load(str(self.table_path))
        return target.where(" AND ".join(b.sql.removeprefix("t.") for b in bounds)).limit(1).count() == 0

    def _merge_session(self, spark: "SparkSession") -> "SparkSession":
        """A session of this flow's own for MERGE: Delta takes a MERGE's txnAppId/txnVersion/userMetadata
        from SQL settings, which must not leak into another flow's write running at the same time."""
        if self.merge_session is None:
            session = spark.newSession()
            for key, value in spark.conf.getAll.items():
                if key.startswith("spark.sql.") and not key.startswith("spark.sql.catalog"):
                    try:
                        session.conf.set(key, value)
                    except Exception:  # noqa: BLE001 - static settings are shared anyway
                        pass
            self.merge_session = session
        return self.merge_session

    def _range_keys(self, df: "DataFrame") -> list[str]:
        types = {f.name: f.dataType for f in df.schema.fields}
        return [k for k in self.flow.keys if types[k].typeName() not in ("boolean", "binary", "array", "map", "struct")]

    def _key_aggregates(self, flagged: "DataFrame", dropped: Any) -> list[Any]:
        """min, max and NULL count of each key over the rows that will be merged (not dropped/quarantined),
        computed with the batch's other statistics."""
        from pyspark.sql import functions as F

        out = []
        for i, k in enumerate(self._range_keys(flagged)):
            kept = F.when(~dropped, F.col(f"`{k}`"))
            out += [F.min(kept).cast("string").alias(f"key_lo{i}"), F.max(kept).cast("string").alias(f"key_hi{i}"),
                    F.count(F.when(~dropped & F.col(f"`{k}`").isNull(), 1)).alias(f"key_nulls{i}")]
        return out

    def _key_bounds(self, kept: "DataFrame", stats: dict[str, Any]) -> list[KeyBounds]:
        """The batch's lowest and highest value of each key column: `t.key BETWEEN min AND max` lets Delta
        skip target files by their statistics (Z-order/clustering makes those ranges tight), so an
        incremental merge does not scan the whole table. Only for keys without NULLs in the batch (a NULL
        key matches NULL, not a range).
        """
        types = {f.name: f.dataType for f in kept.schema.fields}
        bounds = []
        for i, k in enumerate(self._range_keys(kept)):
            lo, hi = stats.get(f"key_lo{i}"), stats.get(f"key_hi{i}")
            if stats.get(f"key_nulls{i}") == 0 and lo is not None:
                bounds.append(KeyBounds(k, types[k].simpleString(), lo, hi))
        return bounds

    def _commit_tag(self, batch_id: int) -> str:
        """`userMetadata` of a batch's commit: who wrote it (`medallion history` shows it) and for replays."""
        return json.dumps({"flow": self.flow.name, "batch": batch_id, "app": self.app_id})

    def _is_replay(self, spark: "SparkSession", batch_id: int) -> bool:
        """True when the first batch of this run was already committed to the target before a crash.

        Only a run's first micro-batch can be one (the checkpoint's offset log has it, its commit log does
        not); the commit is then among the table's newest versions (at most an OPTIMIZE came after it).
        Each table the batch writes (the target, its quarantine tables) is looked up: the process may have
        died between two of their commits. `committed_to` names those that hold it; their writes are
        skipped (a batch written before the crash carried no idempotent-write options of its own).
        """
        if self.replay_checked:
            return False
        self.replay_checked = True
        tables = [(self.flow.name, self.table_path)] + [(d.name, self.storage.table_path(d.name))
                                                        for d, _ in self.flow.splits]
        self.committed_to = {name for name, path in tables
                             if not never_written(path) and self._committed(spark, batch_id, path) is not None}
        return self.flow.name in self.committed_to

    def _committed(self, spark: "SparkSession", batch_id: int, path: Path | None = None) -> "Row | None":
        """The table-history entry of this flow's commit of `batch_id` to `path` (the target by default), if
        it is among the newest versions."""
        history = spark.sql(f"DESCRIBE HISTORY delta.`{path or self.table_path}` LIMIT {REPLAY_HISTORY_DEPTH}")
        return history.where(history.userMetadata == self._commit_tag(batch_id)).first()

    def _replayed_merge_counts(self, spark: "SparkSession", batch_id: int) -> tuple[int, int]:
        """The batch was merged before a crash: Delta skipped it; take its counts from the table history."""
        row = self._committed(spark, batch_id)
        metrics = (row["operationMetrics"] or {}) if row is not None else {}
        inserted = metrics.get("numTargetRowsInserted", metrics.get("numOutputRows", 0))  # MERGE or append
        return int(inserted), int(metrics.get("numTargetRowsUpdated", 0))

    def _evolve(self, keys: list[str]) -> None:
        state = autoloader.state_for(self.checkpoint)
        if state is None or state.mode != "add_new_columns":
            return
        added = state.add_columns(keys)
        if added:
            self.restart_requested = True
            self.event_log.emit(EventType.FLOW_PROGRESS, f"Flow '{self.flow.name}' found new field(s) {', '.join(added)}; "
                                "they become columns from the next micro-batch (earlier rows keep them in "
                                "_rescued_data).", {"flow_progress": {"status": "RUNNING"},
                                                    LOCAL_DETAILS: {"schema_evolution": {"added_columns": added}}},
                                level=Level.WARN, flow=self.flow.name)

    def _record(self, spark: "SparkSession", metrics: FlowMetrics, splits: dict[str, int], batch_id: int | None,
                seconds: float) -> None:
        """The batch's `flow_progress` events: the flow's, and one per quarantine table it fed (a flow of its
        own on Databricks, reporting its `num_output_rows`). What Databricks does not log goes to
        `details.medallion_local` only."""
        status = "RUNNING" if batch_id is not None else "COMPLETED"
        kind = self.flow.log_kind
        local: dict[str, Any] = {"batch_id": batch_id, "duration_seconds": round(seconds, 3),
                                 "input_rows": metrics.input_rows, "dropped_rows": metrics.dropped_rows,
                                 "quarantined_rows": metrics.quarantined_rows}
        if metrics.auto_cdc:
            local.update(changes_rows=metrics.output_rows, inserted_rows=metrics.written_rows,
                         updated_rows=metrics.updated_rows, discarded_duplicates=metrics.deduplicated_rows)
            written = (f"{metrics.written_rows} inserted, {metrics.updated_rows} updated, "
                       f"{metrics.deduplicated_rows} duplicate(s) discarded")
        else:
            written = f"{metrics.written_rows} written"
        details = flow_progress_details(status, kind, metrics, datasets=self.flow.expectation_datasets,
                                        dataset=self.flow.name, local=local)
        what = f"processed batch {batch_id}" if batch_id is not None else "been recomputed"
        rows = [(self.event_log.event(EventType.FLOW_PROGRESS,
                                      f"Flow '{self.flow.name}' has {what}: {metrics.input_rows} read, {written}",
                                      details, level=Level.METRICS, flow=self.flow.name, flow_id=self.app_id,
                                      batch_id=batch_id), "")]
        for split, count in splits.items():
            split_kind = LoggedKind.MATERIALIZED_VIEW if kind == LoggedKind.MATERIALIZED_VIEW else LoggedKind.APPEND
            split_details = flow_progress_details(status, split_kind, FlowMetrics(output_rows=count),
                                                  local={"batch_id": batch_id})
            rows.append((self.event_log.event(EventType.FLOW_PROGRESS,
                                              f"Flow '{split}' has {what}: {count} written", split_details,
                                              level=Level.METRICS, flow=split, flow_id=f"{self.app_id}:{split}",
                                              batch_id=batch_id), f"-{split}"))
        for row, suffix in rows:
            if batch_id is not None:
                self.event_log.stage(row, f"{self.app_id}-{batch_id}{suffix}")
            else:
                self.event_log.buffer(row)
        if self.changed is not None:
            self.changed.set()
        if self.on_progress:
            self.on_progress(self.metrics, metrics)
