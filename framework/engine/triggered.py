"""Triggered mode: run every selected flow once, in dependency order, as a DLT triggered update does.

The graph's ready queue (`TableGraph.queue`) hands out the flows whose upstreams in this update are
done; up to `max_parallel_flows` run at the same time (they share the one SparkSession's executors).
A flow whose upstream failed is skipped with the reason; a failed flow is retried as
framework/engine/retry.py says. When every flow has finished, the tables that changed are OPTIMIZEd.
"""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from framework.engine.plan import PlannedFlow
from framework.engine.results import FlowResult, FlowStatus, RunResult
from framework.engine.retry import as_flow_error
from framework.engine.update import Update
from framework.errors import ExpectationViolation, RunError
from framework.eventlog import Level


def run_triggered(update: Update, planned: list[PlannedFlow], result: RunResult) -> None:
    """Run every flow once, as DLT does: a flow starts when the graph's ready queue hands it out
    (its upstreams in this update are done), up to `max_parallel_flows` at a time (they share the one
    SparkSession's executors)."""
    items = {p.name: (p, r) for p, r in zip(planned, result.flows)}
    queue = update.project.graph().queue(items)
    running: dict[Future, str] = {}
    with ThreadPoolExecutor(max_workers=update.env.max_parallel_flows, thread_name_prefix="flow") as pool:
        while not queue.finished:
            ready = queue.ready()
            for name in ready:
                item, flow_result = items[name]
                if not _startable(update, flow_result, queue.failed_upstreams(name)):
                    queue.done(name, failed=flow_result.status == FlowStatus.SKIPPED and not update.stop.is_set())
                elif item.flow is None:
                    update.register_view(item, flow_result)
                    queue.done(name, failed=flow_result.status == FlowStatus.FAILED)
                else:
                    running[pool.submit(_run_flow, update, item, flow_result)] = name
            if not running:
                if not ready and not queue.finished:  # the graph check rules cycles out before a run
                    raise RunError(f"cannot order {', '.join(queue.waiting)}")
                continue
            done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                future.result()  # _run_flow reports failures on the flow; anything else is a bug
                queue.done(name, failed=items[name][1].status == FlowStatus.FAILED)
    if not update.stop.is_set():
        update.optimize([p for p, r in zip(planned, result.flows) if r.metrics.written_rows > 0], result)


def _startable(update: Update, flow_result: FlowResult, broken: list[str]) -> bool:
    """False (and the flow marked SKIPPED) when the run is stopping or an upstream failed."""
    if update.stop.is_set():
        flow_result.status, flow_result.error = FlowStatus.SKIPPED, "the run was stopped"
        return False
    if broken:
        flow_result.status, flow_result.error = FlowStatus.SKIPPED, f"upstream {', '.join(broken)} failed"
        update.flow_event(flow_result, FlowStatus.SKIPPED, level=Level.WARN)
        update.listener.flow_finished(flow_result)
        return False
    return True


def _run_flow(update: Update, item: PlannedFlow, flow_result: FlowResult) -> None:
    assert item.flow is not None
    run = update.flow_run(item, flow_result)
    started = time.monotonic()
    flow_result.status = FlowStatus.RUNNING
    update.listener.flow_started(flow_result)
    update.flow_event(flow_result, FlowStatus.STARTING)
    while True:
        flow_result.attempts += 1
        run.error = None
        update.active.append(run)
        try:
            if item.flow.kind == "materialize":
                update.materialize(item, run, flow_result)
            else:
                run.run_triggered(update.stop_count)
                flow_result.status = FlowStatus.STOPPED if update.stop.is_set() else FlowStatus.COMPLETED
            break
        except Exception as exc:  # noqa: BLE001 - every failure is reported on the flow
            error = as_flow_error(exc, item.flow.name)
            if update.stop.is_set():
                flow_result.status = FlowStatus.STOPPED
                break
            flow_result.error = str(error)
            delay = update.retry.delay(flow_result.attempts, error)
            if delay is None:
                flow_result.status = FlowStatus.FAILED
                if isinstance(error, ExpectationViolation):
                    flow_result.violation = error
                break
            update.flow_event(flow_result, FlowStatus.FAILED, level=Level.WARN,
                            message=f"attempt {flow_result.attempts} failed; retrying in {delay:.0f}s")
            update.listener.message(f"{flow_result.table}: attempt {flow_result.attempts} failed ({error}); "
                                  f"retrying in {delay:.0f}s")
            if update.stop.wait(delay):
                flow_result.status = FlowStatus.STOPPED
                break
        finally:
            update.active.remove(run)
    flow_result.metrics = run.metrics
    flow_result.seconds = time.monotonic() - started
    if flow_result.status != FlowStatus.FAILED:
        flow_result.error = None
    update.flow_event(flow_result, flow_result.status,
                    level=Level.ERROR if flow_result.status == FlowStatus.FAILED else Level.INFO)
    update.listener.flow_finished(flow_result)
