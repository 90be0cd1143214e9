"""Run the pipeline locally: declare it through the generic DLT module, then execute one update.

`run_pipeline(project, env)` is one DLT *update*:

1. `framework.pipeline.register_tables` declares every dataset on a `LocalDLT` (same API as `dlt`),
   with the engine's landing-file reader injected;
2. the declared graph becomes flows (`framework.engine.plan`), and `--tables` / `--full-refresh`
   pick which of them run;
3. triggered mode runs each flow once over everything available (streams with `availableNow`,
   materialized views recomputed when their inputs changed) — a flow starts when the graph's ready
   queue hands it out, up to `max_parallel_flows` at a time — then OPTIMIZEs the tables that changed;
   continuous mode (framework/engine/continuous.py) keeps the streams running and drives the same
   flows through `Update`'s public methods;
4. `RunResult` says what each flow read, wrote, dropped, quarantined and de-duplicated.

A triggered update of every table first asks, from files alone, whether there is anything to do
(framework/engine/noop.py); when there is not, it answers without starting Spark. Every update that
runs on Spark forgets the recorded definition first and records it again when it completed in full.

As in DLT, a failing flow stops only itself and the flows that depend on it. Retries follow
`framework.engine.retry`. SIGINT/SIGTERM stop the run between (or, if need be, inside) micro-batches;
Delta's atomic commits plus idempotent writes mean nothing is left half-written.
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterable, Iterator

from framework.engine import noop
from framework.engine.continuous import ContinuousLoop
from framework.engine.results import FlowStatus, RunListener, RunResult, UpdateStatus
from framework.engine.storage import Storage, storage_lock
from framework.engine.triggered import run_triggered
from framework.engine.update import Update
from framework.errors import RunError
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from framework.spec.project import Project


def run_pipeline(project: "Project", env: Environment | str, *, tables: Iterable[str] | None = None,
                 full_refresh: bool | Iterable[str] | None = None, continuous: bool = False,
                 spark: "SparkSession | None" = None, listener: RunListener | None = None,
                 stop_event: threading.Event | None = None, handle_signals: bool | None = None) -> RunResult:
    """Run one update of the pipeline on the local runtime and return what happened.

    tables: spec names to run (default: all). full_refresh: True for all tables, or names — their
    tables and checkpoints are cleared first and rebuilt from the sources. continuous: keep running
    until `stop_event` is set or SIGINT/SIGTERM arrives. Signal handlers are installed when called from
    the main thread (unless handle_signals=False).
    """
    from framework.engine.spark import apply_runtime_conf, attach_storage, build_session

    env = project.environment(env) if isinstance(env, str) else env
    if env.runtime != "local":
        raise RunError(f"environment `{env.name}` runs on {env.runtime}; the local runtime runs `runtime: local` "
                       "environments (deploy the others with `medallion deploy`)")
    storage = Storage.of(env)
    started = time.monotonic()
    with storage_lock(storage):
        whole = tables is None and not continuous
        if whole and not full_refresh and noop.why_run(project, env, storage) is None:
            return noop.noop_update(project, env, listener or RunListener(), started)
        noop.forget(storage)  # until this update completes, no later one is taken for a no-op
        if spark is None:
            spark = build_session(env)
        else:  # a caller's (or the tests' shared) session: point it at this environment
            apply_runtime_conf(spark, env)
            attach_storage(spark, env)
        update = Update(project, env, storage, spark, listener or RunListener(), stop_event or threading.Event())
        with _signals(update, enabled=handle_signals):
            planned, result = update.begin(tables=tables, full_refresh=full_refresh, continuous=continuous)
            try:
                if continuous:
                    ContinuousLoop(update, planned, result).run()
                else:
                    run_triggered(update, planned, result)
            finally:
                update.finish(result)
            if whole and result.status == UpdateStatus.COMPLETED and \
                    all(f.status in (FlowStatus.COMPLETED, FlowStatus.UP_TO_DATE) for f in result.flows):
                noop.mark_complete(project, env, storage)
            return result


@contextmanager
def _signals(update: Update, *, enabled: bool | None) -> Iterator[None]:
    if enabled is False or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: object) -> None:
        update.request_stop(f"received {signal.Signals(signum).name}")

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
