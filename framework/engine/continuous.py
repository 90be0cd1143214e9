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

from framework.engine.autoloader import FilesNotSettled
from framework.engine.flows import FlowError, FlowRun
from framework.engine.tables import optimize

if TYPE_CHECKING:
    from framework.engine.runner import FlowResult, PlannedFlow, RunResult, _Runner

GRACEFUL_STOP_SECONDS = 60


class ContinuousLoop:
    def __init__(self, runner: "_Runner", planned: list["PlannedFlow"], result: "RunResult"):
        from framework.engine.runner import interval_seconds

        self.runner, self.result = runner, result
        self.items = list(zip(planned, result.flows))
        self.trigger = str(runner.env.get("trigger_interval", "5 seconds"))
        self.interval = interval_seconds(self.trigger)
        self.optimize_every = interval_seconds(str(runner.env.get("optimize_interval", "10 minutes")))
        self.runs: dict[str, FlowRun] = {}
        self.failures: dict[str, int] = {}
        self.retry_at: dict[str, float] = {}
        self.dirty: set[str] = set()

    # -- lifecycle -----------------------------------------------------------------------------------

    def run(self) -> None:
        runner = self.runner
        for item, flow_result in self.items:
            if item.flow is None:
                runner._register_view(item, flow_result)
                continue
            run = FlowRun(item.flow, runner.spark, runner.storage, runner.event_log,
                          on_progress=lambda total, batch, r=flow_result: self._progress(r, total, batch))
            run.changed = runner.changed
            self.runs[item.flow.name] = run
            runner.active.append(run)
            flow_result.status = "RUNNING"
            runner.listener.flow_started(flow_result)
            runner._flow_event(flow_result, "RUNNING")
            if item.flow.is_stream:
                run.start_stream(trigger_interval=self.trigger)
        runner.listener.message(f"continuous mode: trigger every {self.trigger}; Ctrl-C to stop")
        last_optimize = time.monotonic()
        try:
            self._refresh_views()
            while not runner.stop.is_set():
                runner.changed.wait(self.interval)
                runner.changed.clear()
                runner.flush_notices()
                if runner.stop.is_set():
                    break
                if not self._watch_streams():
                    break
                self._refresh_views()
                runner.event_log.flush()
                if time.monotonic() - last_optimize >= self.optimize_every:
                    self._optimize()
                    last_optimize = time.monotonic()
        finally:
            self._shutdown()

    def _progress(self, flow_result: "FlowResult", total, batch) -> None:  # type: ignore[no-untyped-def]
        flow_result.metrics = total
        self.dirty.add(flow_result.table)
        self.runner.listener.flow_progress(flow_result, batch)

    # -- streams -------------------------------------------------------------------------------------

    def _watch_streams(self) -> bool:
        """Restart finished or failed streams (with backoff in production); False when the update must stop."""
        runner = self.runner
        development = runner.env.get("development", True)
        retries = runner.env["retries"]
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
                runner.listener.message(str(run.error))
                run.error = None
                self.retry_at[name] = time.monotonic() + self.interval
                continue
            error = run.error or FlowError(f"{name}: stream stopped: {run.query.exception()}")
            if name not in self.retry_at:
                self.failures[name] = self.failures.get(name, 0) + 1
                flow_result.error = str(error)
                attempts = 1 if development else int(retries.get("max_attempts", 3))
                if self.failures[name] >= attempts or isinstance(error, _not_retried()):
                    flow_result.status = "FAILED"
                    runner._flow_event(flow_result, "FAILED", level="ERROR")
                    runner.listener.flow_finished(flow_result)
                    self.result.status = "FAILED"
                    return False
                wait = min(float(retries.get("initial_backoff_seconds", 2)) * 2 ** (self.failures[name] - 1),
                           float(retries.get("max_backoff_seconds", 60)))
                self.retry_at[name] = time.monotonic() + wait
                runner._flow_event(flow_result, "FAILED", level="WARN", message=f"retrying in {wait:.0f}s")
                runner.listener.message(f"{name}: failed ({error}); retrying in {wait:.0f}s")
            elif time.monotonic() >= self.retry_at[name]:
                del self.retry_at[name]
                run.error = None
                run.start_stream(trigger_interval=self.trigger)
        return True

    # -- materialized views and maintenance -----------------------------------------------------------

    def _refresh_views(self) -> None:
        runner = self.runner
        for item, flow_result in self.items:
            if item.flow is None or item.flow.kind != "materialize":
                continue
            run = self.runs[item.flow.name]
            try:
                if runner._materialize(item, run, flow_result):
                    self.dirty.add(item.flow.name)
                flow_result.status = "RUNNING"
            except Exception as exc:  # noqa: BLE001 - reported on the flow, the loop goes on
                flow_result.error = str(exc).splitlines()[0]
                runner.listener.message(f"{item.flow.name}: refresh failed: {flow_result.error}")

    def _optimize(self) -> None:
        for item, _ in self.items:
            if item.flow is None or item.flow.name not in self.dirty:
                continue
            run = self.runs[item.flow.name]
            with run.write_lock:
                try:
                    if optimize(self.runner.spark, item.flow.target):
                        self.result.optimized.append(item.flow.name)
                except Exception as exc:  # noqa: BLE001
                    self.runner.listener.message(f"OPTIMIZE {item.flow.name} failed: {str(exc).splitlines()[0]}")
        self.dirty.clear()

    def _shutdown(self) -> None:
        runner = self.runner
        runner.flush_notices()
        deadline = time.monotonic() + GRACEFUL_STOP_SECONDS
        for run in self.runs.values():
            query = run.query
            if query is None:
                continue
            while query.isActive and query.status.get("isTriggerActive") and time.monotonic() < deadline \
                    and runner.stop_requests < 2:
                time.sleep(0.1)
            if query.isActive:
                query.stop()
        for item, flow_result in self.items:
            if item.flow is None:
                continue
            run = self.runs.get(item.flow.name)
            if run is not None:
                flow_result.metrics = run.metrics
                if run in runner.active:
                    runner.active.remove(run)
            if flow_result.status == "RUNNING":
                flow_result.status = "STOPPED"
                runner._flow_event(flow_result, "STOPPED")
                runner.listener.flow_finished(flow_result)
        runner.event_log.flush()


def _not_retried() -> tuple[type, ...]:
    from framework.engine.runner import NOT_RETRIED

    return NOT_RETRIED
