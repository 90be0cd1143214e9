"""Continuous mode: streams keep running, materialized views follow their inputs, OPTIMIZE on a timer.

Streaming tables run as streaming queries with the environment's `trigger_interval`. Every commit
wakes the main loop, which recomputes the materialized views whose inputs changed (in dependency
order), so a landed file reaches gold within a couple of trigger intervals. Tables with Z-order or
clustering are OPTIMIZEd every `optimize_interval`, holding the table's write lock so maintenance
never races a micro-batch. A failed stream is restarted with backoff in production mode; in
development mode (or once retries are exhausted) the update stops as FAILED.

Stopping (SIGINT/SIGTERM or the stop event): each stream finishes its micro-batch in progress, then
stops; a second signal stops them at once. Either way Delta commits are atomic and writes idempotent,
so the next run resumes exactly where this one ended.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from framework.engine.flows import FlowRun
from framework.engine.metrics import FlowMetrics
from framework.engine.results import FlowResult, FlowStatus, RunResult, UpdateStatus
from framework.errors import FilesNotSettled, FlowError, first_line
from framework.eventlog import Level

if TYPE_CHECKING:
    from framework.engine.plan import PlannedFlow
    from framework.engine.update import Update

GRACEFUL_STOP_SECONDS = 60


class ContinuousLoop:
    def __init__(self, update: "Update", planned: list["PlannedFlow"], result: RunResult):
        self.update, self.result = update, result
        self.items = list(zip(planned, result.flows))
        self.trigger = update.env.trigger_interval
        self.interval = update.env.trigger_seconds
        self.optimize_every = update.env.optimize_seconds
        self.runs: dict[str, FlowRun] = {}
        self.failures: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}
        self.dirty: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------------------

    def run(self) -> None:
        update = self.update
        for item, flow_result in self.items:
            if item.flow is None:
                update.register_view(item, flow_result)
                continue
            run = update.flow_run(item, flow_result,
                                  on_progress=lambda total, batch, r=flow_result: self._progress(r, total, batch))
            run.changed = update.changed
            self.runs[item.flow.name] = run
            update.active.append(run)
            flow_result.status = FlowStatus.RUNNING
            update.listener.flow_started(flow_result)
            update.flow_event(flow_result, FlowStatus.RUNNING)
            if item.flow.is_stream:
                run.start_stream(trigger_interval=self.trigger)
        update.listener.message(f"continuous mode: trigger every {self.trigger}; Ctrl-C to stop")
        last_optimize = time.monotonic()
        try:
            self._refresh_views()
            while not update.stop.is_set():
                update.changed.wait(self.interval)
                update.changed.clear()
                update.flush_notices()
                if update.stop.is_set():
                    break
                if not self._watch_streams():
                    break
                self._refresh_views()
                update.event_log.flush()
                if time.monotonic() - last_optimize >= self.optimize_every:
                    self._optimize()
                    last_optimize = time.monotonic()
        finally:
            self._shutdown()

    def _progress(self, flow_result: FlowResult, total: FlowMetrics, batch: FlowMetrics) -> None:
        flow_result.metrics = total
        self.dirty.add(flow_result.table)
        self.update.listener.flow_progress(flow_result, batch)

    # -- streams -------------------------------------------------------------------------------------

    def _watch_streams(self) -> bool:
        """Restart finished or failed streams (with backoff in production); False when the update must stop."""
        update = self.update
        for item, flow_result in self.items:
            run = self.runs.get(item.flow.name) if item.flow else None
            if run is None or not item.flow.is_stream or run.query is None:
                continue
            if run.query.isActive:
                if run.restart_requested and not run.query.status["isTriggerActive"]:
                    run.restart_requested = False
                    run.query.stop()
                    run.start_stream(trigger_interval=self.trigger)
                continue
            name = item.flow.name
            if isinstance(run.error, FilesNotSettled):  # not a failure: replay the batch once its files settle
                update.listener.message(str(run.error))
                run.error = None
                self.retry_at[name] = time.monotonic() + self.interval
                continue
            error = run.error or FlowError(f"{name}: stream stopped: {run.query.exception()}")
            if name not in self.retry_at:
                self.failures[name] = self.failures.get(name, 0) + 1
                flow_result.error = str(error)
                delay = update.retry.delay(self.failures[name], error)
                if delay is None:
                    update.fail_flow(flow_result, error)
                    self.result.status = UpdateStatus.FAILED
                    return False
                self.retry_at[name] = time.monotonic() + delay
                update.flow_event(flow_result, FlowStatus.FAILED, level=Level.WARN, message=f"retrying in {delay:.0f}s")
                update.listener.message(f"{name}: failed ({error}); retrying in {delay:.0f}s")
            elif time.monotonic() >= self.retry_at[name]:
                del self.retry_at[name]
                run.error = None
                run.start_stream(trigger_interval=self.trigger)
        return True

    # -- materialized views and maintenance -----------------------------------------------------------

    def _refresh_views(self) -> None:
        update = self.update
        for item, flow_result in self.items:
            if item.flow is None or item.flow.kind != "materialize":
                continue
            try:
                if update.materialize(item, self.runs[item.flow.name], flow_result):
                    self.dirty.add(item.flow.name)
                flow_result.status = FlowStatus.RUNNING
            except Exception as exc:  # noqa: BLE001 - reported on the flow, the loop goes on
                flow_result.error = first_line(exc)
                update.listener.message(f"{item.flow.name}: refresh failed: {flow_result.error}")

    def _optimize(self) -> None:
        self.update.optimize([item for item, _ in self.items if item.flow and item.flow.name in self.dirty],
                             self.result)
        self.dirty.clear()

    def _shutdown(self) -> None:
        update = self.update
        update.flush_notices()
        deadline = time.monotonic() + GRACEFUL_STOP_SECONDS
        for run in self.runs.values():
            query = run.query
            if query is None:
                continue
            while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline \
                    and update.stop_requests < 2:
                time.sleep(0.1)
            if query.isActive:
                query.stop()
        for item, flow_result in self.items:
            if item.flow is None:
                continue
            run = self.runs.get(item.flow.name)
            if run is not None:
                flow_result.metrics = run.metrics
                if run in update.active:
                    update.active.remove(run)
            if flow_result.status == FlowStatus.RUNNING:
                flow_result.status = FlowStatus.STOPPED
                update.flow_event(flow_result, FlowStatus.STOPPED)
                update.listener.flow_finished(flow_result)
        update.event_log.flush()
