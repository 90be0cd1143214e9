"""One update of the local runtime: its flows, its event log, and what both run modes share.

`Update.begin` declares the pipeline through the generic DLT module (with the engine's landing-file
reader injected), plans the flows (framework/engine/plan.py), applies `--tables` / `--full-refresh`
and logs `create_update`; `Update.finish` settles the final state. In between, triggered mode
(framework/engine/triggered.py) or continuous mode (framework/engine/continuous.py) drives the flows
through the public methods here: `flow_run`, `register_view`, `materialize`, `flow_event`,
`fail_flow`, `optimize`, and the stop controls.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable, Iterable

from framework.engine.autoloader import read_files_stream
from framework.engine.dlt_api import LocalDLT
from framework.engine.flows import FlowRun
from framework.engine.materialize import Materializer
from framework.engine.metrics import FlowMetrics
from framework.engine.pending import left_out_inputs
from framework.engine.plan import PlannedFlow, plan, select
from framework.engine.results import FlowResult, FlowStatus, RunListener, RunResult, UpdateStatus
from framework.engine.retry import RetryRule
from framework.engine.storage import Storage
from framework.engine.tables import ensure_event_log, optimize, replace_table
from framework.engine.views import count_expectations, with_expectations
from framework.errors import ExpectationViolation, first_line, io_root_cause
from framework.eventlog import EventLogWriter, EventType, Level, flow_progress_details, flow_status_details
from framework.naming import TableRef
from framework.pipeline import register_tables
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from framework.spec.project import Project


class Update:
    """One update of the local runtime: its flows, their event log, and how to stop it."""

    def __init__(self, project: "Project", env: Environment, storage: Storage, spark: "SparkSession",
                 listener: RunListener, stop: threading.Event):
        self.project, self.env, self.storage, self.spark = project, env, storage, spark
        self.listener, self.stop = listener, stop
        self.event_log = EventLogWriter(spark, env)
        self.retry = RetryRule.of(env)
        self.materializer = Materializer(project, env, storage, spark)
        self.dlt = LocalDLT(spark)
        self.active: list[FlowRun] = []
        self.changed = threading.Event()
        """Set after every commit: continuous mode wakes up to refresh the materialized views."""
        self.stop_requests = 0
        self.notices: list[str] = []
        self.started = time.monotonic()

    # -- control -------------------------------------------------------------------------------------

    def request_stop(self, why: str) -> None:
        """First request: finish the micro-batch in progress, then stop. Second: stop at once.

        Called from a signal handler, so it only sets flags: the loops that own the streaming queries
        (and the py4j connection of the main thread) act on them.
        """
        self.stop_requests += 1
        self.notices.append(f"{why}: stopping" + (" now" if self.stop_requests > 1 else
                                                  " after the current micro-batch (again to stop at once)"))
        self.stop.set()
        self.changed.set()

    def stop_count(self) -> int:
        """How many stop requests arrived (a stop_event set by a caller counts as one)."""
        self.flush_notices()
        return max(self.stop_requests, 1 if self.stop.is_set() else 0)

    def flush_notices(self) -> None:
        while self.notices:
            self.listener.message(self.notices.pop(0))

    # -- the update ----------------------------------------------------------------------------------

    def begin(self, *, tables: Iterable[str] | None, full_refresh: bool | Iterable[str] | None,
              continuous: bool) -> tuple[list[PlannedFlow], RunResult]:
        """Plan the flows, reset what is refreshed in full, log the start."""
        self.started = time.monotonic()
        result = RunResult(self.event_log.update_id, self.env.name, continuous)
        planned, selected, refresh = self.select_flows(tables, full_refresh)
        result.flows = [FlowResult(p.registration.table, p.spec) for p in planned]
        if tables is not None:
            result.pending = left_out_inputs(self.project, self.env, selected)
        ensure_event_log(self.spark, TableRef.event_log(self.env))
        self._reset(planned, refresh)
        self.event_log.emit(EventType.CREATE_UPDATE, f"Update {result.update_id[:8]} started by medallion run.",
                            {"create_update": {"cause": "USER_ACTION", "full_refresh": full_refresh is True,
                                               "full_refresh_selection": sorted(refresh) if full_refresh is not True
                                               else [],
                                               "refresh_selection": sorted(selected) if tables else [],
                                               "continuous": continuous, "development": self.env.development}})
        self.event_log.emit(EventType.UPDATE_PROGRESS, "Update is RUNNING.",
                            {"update_progress": {"state": UpdateStatus.RUNNING}})
        if continuous:  # its events are written as it goes; a crashed run's staged ones wait for its replays
            self.event_log.flush(staged=False)
        else:  # one event-log commit per triggered update, at its end; staged, a crash cannot lose them
            self.event_log.stage_buffered(f"{self.event_log.update_id}-begin")
        self.listener.run_started(result, result.flows)
        if continuous:  # a triggered update lists them in its summary; a continuous one ends much later
            for pending in result.pending:
                self.listener.message(f"note: {pending.message}")
        return planned, result

    def select_flows(self, tables: Iterable[str] | None, full_refresh: bool | Iterable[str] | None
                     ) -> tuple[list[PlannedFlow], set[str], set[str]]:
        """Declare and plan the pipeline (no Spark job runs); the flows of this update, the spec names
        selected, and those refreshed in full (with the streaming tables that read them)."""
        registrations = register_tables(self.dlt, self.spark, self.project, self.env, read_files_stream)
        planned = plan(self.dlt, registrations)
        selected = select(planned, tables, "--tables")
        refresh = set() if not full_refresh else self._with_stream_readers(select(
            planned, None if full_refresh is True else full_refresh, "--full-refresh"))
        selected |= refresh
        return [p for p in planned if p.name in selected], selected, refresh

    def finish(self, result: RunResult) -> None:
        """Settle the update's final state and write the rest of its events."""
        result.seconds = time.monotonic() - self.started
        if result.status == UpdateStatus.RUNNING:
            result.status = (UpdateStatus.CANCELED if self.stop.is_set() else
                             UpdateStatus.FAILED if result.failed else UpdateStatus.COMPLETED)
        self.event_log.emit(EventType.UPDATE_PROGRESS, f"Update is {result.status}.",
                            {"update_progress": {"state": result.status}},
                            level=Level.ERROR if result.status == UpdateStatus.FAILED else Level.INFO)
        try:
            self.event_log.flush()
        except Exception as exc:  # noqa: BLE001 - e.g. a full disk; staged batch events wait for the next run
            result.status = UpdateStatus.FAILED
            result.error = f"the event log could not be written: {io_root_cause(exc)}"

    def _with_stream_readers(self, names: set[str]) -> set[str]:
        """A full refresh of a table also rebuilds the streaming tables that read it as a stream."""
        graph = self.project.graph()
        result = graph.stream_readers(names)
        for name in [n for n in graph.order() if n in result - names]:
            upstream = next(u for u in graph.upstreams(name) if u in result)
            self.listener.message(f"also rebuilding {name}: it streams from {upstream}")
        return result

    def _reset(self, planned: list[PlannedFlow], refresh: set[str]) -> None:
        """Full refresh: each table is replaced by an empty new version (its history stays) and its flow's
        checkpoint is cleared, so the flow reprocesses everything from its sources."""
        for item in planned:
            if item.name not in refresh or item.flow is None:
                continue
            if item.flow.target.table_properties.get("pipelines.reset.allowed", "true").lower() == "false":
                self.listener.message(f"{item.flow.name}: pipelines.reset.allowed is false; not reset")
                continue
            for table in item.tables:
                replace_table(self.spark, self.storage, self.dlt.graph.datasets[table])
                self.storage.reset_checkpoint(table)

    # -- what triggered and continuous mode share ----------------------------------------------------

    def flow_run(self, item: PlannedFlow, flow_result: FlowResult,
                 on_progress: Callable[[FlowMetrics, FlowMetrics], None] | None = None) -> FlowRun:
        """A FlowRun of `item` that reports its batches on `flow_result`."""
        assert item.flow is not None

        def progress(total: FlowMetrics, batch: FlowMetrics) -> None:
            flow_result.metrics = total
            self.listener.flow_progress(flow_result, batch)

        return FlowRun(item.flow, self.spark, self.storage, self.event_log, on_progress=on_progress or progress)

    def register_view(self, item: PlannedFlow, flow_result: FlowResult) -> None:
        """`kind: view`: not materialized; a temporary view downstream queries read by name, with its
        expectations acting on the rows it gives them (framework/engine/views.py)."""
        dataset = self.dlt.graph.datasets[item.registration.table]
        try:
            df = dataset.query()
            if dataset.expectations and not df.isStreaming:
                flow_result.metrics = count_expectations(df, dataset)
                self.event_log.emit(EventType.FLOW_PROGRESS, f"Flow '{dataset.name}' has been evaluated.",
                                    flow_progress_details("COMPLETED", dataset.name, flow_result.metrics),
                                    level=Level.METRICS, flow=dataset.name)
            with_expectations(df, dataset).createOrReplaceTempView(dataset.name)
            flow_result.status = FlowStatus.COMPLETED
        except ExpectationViolation as exc:
            self.fail_flow(flow_result, exc)
            return
        except Exception as exc:  # noqa: BLE001
            flow_result.status, flow_result.error = FlowStatus.FAILED, f"{dataset.name}: {first_line(exc)}"
        self.listener.flow_finished(flow_result)

    def materialize(self, item: PlannedFlow, run: FlowRun, flow_result: FlowResult) -> bool:
        """Recompute a materialized view if its inputs or definition changed. Returns True if it ran."""
        ran = self.materializer.refresh(item, run)
        flow_result.status = FlowStatus.COMPLETED if ran else FlowStatus.UP_TO_DATE
        return ran

    def flow_event(self, flow_result: FlowResult, status: FlowStatus, *, level: Level = Level.INFO,
                   message: str | None = None) -> None:
        """A flow_progress status event (STARTING, RUNNING, COMPLETED, FAILED, SKIPPED, STOPPED...)."""
        details, error = flow_status_details(status, error=flow_result.error, fatal=level == Level.ERROR,
                                             violation=flow_result.violation, reason=flow_result.error)
        self.event_log.emit(EventType.FLOW_PROGRESS, message or f"Flow '{flow_result.table}' is {status}.", details,
                            level=level, flow=flow_result.table, error=error)

    def fail_flow(self, flow_result: FlowResult, error: Exception) -> None:
        """Record a flow's final failure: on the result, in the event log, to the listener."""
        flow_result.status, flow_result.error = FlowStatus.FAILED, str(error)
        if isinstance(error, ExpectationViolation):
            flow_result.violation = error
        self.flow_event(flow_result, FlowStatus.FAILED, level=Level.ERROR)
        self.listener.flow_finished(flow_result)

    def optimize(self, items: Iterable[PlannedFlow], result: RunResult) -> None:
        """OPTIMIZE (Z-order, clustering, compaction) the tables of `items`; maintenance never fails the update."""
        for item in items:
            if item.flow is None:
                continue
            run = next((r for r in self.active if r.flow is item.flow), None)
            path, threshold = self.storage.table_path(item.flow.name), self.env.optimize_min_files
            try:
                if run is not None:
                    with run.write_lock:
                        sql = optimize(self.spark, item.flow.target, path, threshold)
                else:
                    sql = optimize(self.spark, item.flow.target, path, threshold)
                if sql:
                    result.optimized.append(item.flow.name)
                    self.listener.message(f"optimized {item.flow.name}: {sql.split(' ', 2)[2]}")
            except Exception as exc:  # noqa: BLE001
                self.listener.message(f"OPTIMIZE {item.flow.name} failed: {first_line(exc)}")
