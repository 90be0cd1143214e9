"""Run the pipeline locally: declare it through the generic DLT module, then execute the graph.

`run_pipeline(project, env)` is one DLT *update*:

1. `framework.pipeline.register_tables` declares every dataset on a `LocalDLT` (same API as `dlt`);
2. the declared graph becomes flows, in dependency order (`plan`);
3. triggered mode runs each flow once over everything available (streams with `availableNow`,
   materialized views recomputed when their inputs changed) — a flow starts once its upstreams are
   done, up to `max_parallel_flows` at a time — then OPTIMIZEs the tables that changed;
   continuous mode keeps the streams running with the environment's trigger interval, refreshes
   materialized views as soon as an upstream commits and OPTIMIZEs every `optimize_interval`;
4. `RunResult` says what each flow read, wrote, dropped, quarantined and de-duplicated.

As in DLT, a failing flow stops only itself and the flows that depend on it. Development mode
(`development: true`) fails fast; production mode retries a failed flow with exponential backoff
(`retries` in the environment) first. SIGINT/SIGTERM stop the run between (or, if need be, inside)
micro-batches; Delta's atomic commits plus idempotent writes mean nothing is left half-written.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import signal
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Iterator

from framework.engine.autoloader import SchemaEvolutionError
from framework.engine.dlt_api import LocalDLT
from framework.engine.event_log import EventLog
from framework.engine.flows import ExpectationViolation, Flow, FlowError, FlowRun, _first_line
from framework.engine.metrics import FlowMetrics
from framework.engine.storage import Storage, is_delta_table
from framework.engine.tables import data_version, optimize
from framework.findings import did_you_mean
from framework.pipeline import PipelineDefinitionError, Registration, register_tables, table_name
from framework.spec.environment import Environment
from framework.spec.model import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from framework.project import Project

NOT_RETRIED = (ExpectationViolation, PipelineDefinitionError, SchemaEvolutionError)
"""Deterministic failures: running them again cannot help."""
INPUTS_STATE = "_inputs.json"


class RunError(RuntimeError):
    """The run could not start (bad selection, storage in use...); the message says why."""


# ---------------------------------------------------------------------------------------------------
# results and listener
# ---------------------------------------------------------------------------------------------------

@dataclass
class FlowResult:
    table: str
    """Published name, e.g. silver.bars."""
    spec: TableSpec
    status: str = "QUEUED"
    """COMPLETED, UP_TO_DATE, FAILED, SKIPPED, STOPPED, RUNNING (continuous)."""
    metrics: FlowMetrics = field(default_factory=FlowMetrics)
    error: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    violation: ExpectationViolation | None = None

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class RunResult:
    update_id: str
    env: str
    continuous: bool
    status: str = "RUNNING"
    """COMPLETED, FAILED or CANCELED."""
    flows: list[FlowResult] = field(default_factory=list)
    optimized: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    """What failed outside any flow (writing the event log at the end), for people."""

    @property
    def ok(self) -> bool:
        return self.status == "COMPLETED" or (self.status == "CANCELED" and not self.failed)

    @property
    def failed(self) -> list[FlowResult]:
        return [f for f in self.flows if f.status == "FAILED"]

    def flow(self, name: str) -> FlowResult:
        """By spec name (`bars`) or published name (`silver.bars`)."""
        for result in self.flows:
            if name in (result.name, result.table):
                return result
        raise KeyError(name)


class RunListener:
    """Receives progress while a run executes (the CLI draws it). Every method may be called from the
    Spark callback thread of a streaming query."""

    def run_started(self, result: RunResult, flows: list[FlowResult]) -> None: ...
    def flow_started(self, result: FlowResult) -> None: ...
    def flow_progress(self, result: FlowResult, batch: FlowMetrics) -> None:
        """After each committed micro-batch; `result.metrics` are the totals so far."""
    def flow_finished(self, result: FlowResult) -> None: ...
    def message(self, text: str) -> None: ...


# ---------------------------------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------------------------------

@dataclass
class PlannedFlow:
    registration: Registration
    flow: Flow | None
    """None for views (registered as temporary views, not materialized)."""

    @property
    def spec(self) -> TableSpec:
        return self.registration.spec

    @property
    def tables(self) -> list[str]:
        """Every table this flow writes: the target and its quarantine table."""
        if self.flow is None:
            return []
        return [self.flow.name] + [d.name for d, _ in self.flow.splits]


def plan(dlt: LocalDLT, registrations: list[Registration]) -> list[PlannedFlow]:
    """Turn the declared datasets into flows, in the order they were declared (dependency order)."""
    graph = dlt.graph
    splits: dict[str, list] = {}
    for dataset in graph.datasets.values():
        if (hint := dataset.split_hint) is not None:
            splits.setdefault(hint.source_dataset, []).append((dataset, hint.transform))
    planned = []
    for reg in registrations:
        spec = reg.spec
        if spec.kind == "view":
            planned.append(PlannedFlow(reg, None))
            continue
        target = graph.datasets[reg.table]
        if target.kind == "streaming_table":
            change = graph.change_flow_into(reg.table)
            if change is None:
                raise PipelineDefinitionError(f"{spec.file}: streaming table `{reg.table}` has no flow into it")
            flow = Flow(reg.table, "merge", target, graph.datasets[change.source], change.keys, change.sequence_by,
                        splits.get(change.source, []))
        else:
            kind = "append" if spec.kind == "streaming_table" else "materialize"
            flow = Flow(reg.table, kind, target, target, splits=splits.get(reg.table, []))
        planned.append(PlannedFlow(reg, flow))
    return planned


def select(planned: list[PlannedFlow], names: Iterable[str] | None, what: str) -> set[str]:
    """Spec names chosen by `--tables` / `--full-refresh` (spec or published names); all when `names` is None."""
    if names is None:
        return {p.spec.name for p in planned}
    by_name = {p.spec.name: p.spec.name for p in planned}
    by_name.update({p.registration.table: p.spec.name for p in planned})
    chosen = set()
    for name in names:
        name = name.strip()
        if not name:
            continue
        if name not in by_name:
            hint = did_you_mean(name, by_name)
            raise RunError(f"{what}: unknown table `{name}`" + (f"; {hint}" if hint else
                           f" (tables: {', '.join(sorted(p.spec.name for p in planned))})"))
        chosen.add(by_name[name])
    return chosen


# ---------------------------------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------------------------------

@contextmanager
def storage_lock(storage: Storage) -> Iterator[None]:
    """One run per storage folder at a time: two runs would fight over the same checkpoints.

    `flock` is released by the kernel when its holder dies, so a SIGKILLed run leaves no stale lock.
    """
    try:
        storage.root.mkdir(parents=True, exist_ok=True)
        handle = open(storage.lock_file, "a+")
    except OSError as exc:  # read-only, full or forbidden storage: say so before Spark starts
        raise RunError(f"cannot use the storage folder {storage.root}: {exc.strerror or exc} "
                       f"({type(exc).__name__}); `storage_root` of the environment must be a writable folder") from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunError(f"{storage.root} is in use by another `medallion run` ({holder}); wait for it or stop it")
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def root_cause(exc: BaseException) -> str:
    """The innermost I/O cause of a (Java) exception, e.g. `No space left on device`, else its first line."""
    causes = re.findall(r"(?:IOException|OSError|FileSystemException)[^:\n]*: ([^\n]+)", str(exc))
    return causes[-1].strip() if causes else _first_line(exc)


def interval_seconds(text: str) -> float:
    number, unit = re.fullmatch(r"\s*(\d+)\s+(\w+?)s?\s*", text).groups()  # type: ignore[union-attr]
    return int(number) * {"second": 1, "minute": 60, "hour": 3600}[unit]


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
    stop = stop_event or threading.Event()
    with storage_lock(storage):
        if spark is None:
            spark = build_session(env)
        else:  # a caller's (or the tests' shared) session: point it at this environment
            apply_runtime_conf(spark, env)
            attach_storage(spark, env)
        runner = _Runner(project, env, storage, spark, listener or RunListener(), stop)
        with _signals(runner, enabled=handle_signals):
            return runner.run(tables=tables, full_refresh=full_refresh, continuous=continuous)


@contextmanager
def _signals(runner: "_Runner", *, enabled: bool | None) -> Iterator[None]:
    if enabled is False or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: object) -> None:
        runner.request_stop(f"received {signal.Signals(signum).name}")

    for sig in previous:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class _Runner:
    def __init__(self, project: "Project", env: Environment, storage: Storage, spark: "SparkSession",
                 listener: RunListener, stop: threading.Event):
        self.project, self.env, self.storage, self.spark = project, env, storage, spark
        self.listener, self.stop = listener, stop
        self.event_log = EventLog(spark, env)
        self.active: list[FlowRun] = []
        self.changed = threading.Event()
        self.stop_requests = 0
        self.notices: list[str] = []

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

    def run(self, *, tables: Iterable[str] | None, full_refresh: bool | Iterable[str] | None,
            continuous: bool) -> RunResult:
        started = time.monotonic()
        result = RunResult(self.event_log.update_id, self.env.name, continuous)
        dlt = self.dlt = LocalDLT(self.spark)
        registrations = register_tables(dlt, self.spark, self.project, self.env)
        planned = plan(dlt, registrations)
        selected = select(planned, tables, "--tables")
        refresh = set() if not full_refresh else self._streaming_readers(select(
            planned, None if full_refresh is True else full_refresh, "--full-refresh"))
        selected |= refresh
        planned = [p for p in planned if p.spec.name in selected]
        result.flows = [FlowResult(p.registration.table, p.spec) for p in planned]
        self.event_log.ensure_table()
        self._reset(planned, refresh)
        self.event_log.emit("create_update", f"Update {result.update_id[:8]} started by medallion run.",
                            {"create_update": {"cause": "USER_ACTION", "full_refresh": full_refresh is True,
                                               "full_refresh_selection": sorted(refresh) if full_refresh is not True else [],
                                               "refresh_selection": sorted(selected) if tables else [],
                                               "continuous": continuous, "development": self.env.get("development")}})
        self.event_log.emit("update_progress", "Update is RUNNING.", {"update_progress": {"state": "RUNNING"}})
        self.event_log.flush(staged=False)  # a crashed run's staged events wait for this run's replays
        self.listener.run_started(result, result.flows)
        try:
            if continuous:
                self._continuous(planned, result)
            else:
                self._triggered(planned, result)
        finally:
            result.seconds = time.monotonic() - started
            if result.status == "RUNNING":
                result.status = "CANCELED" if self.stop.is_set() else ("FAILED" if result.failed else "COMPLETED")
            self.event_log.emit("update_progress", f"Update is {result.status}.",
                                {"update_progress": {"state": result.status}},
                                level="ERROR" if result.status == "FAILED" else "INFO")
            try:
                self.event_log.flush()
            except Exception as exc:  # noqa: BLE001 - e.g. a full disk; staged batch events wait for the next run
                result.status = "FAILED"
                result.error = f"the event log could not be written: {root_cause(exc)}"
        return result

    def _streaming_readers(self, names: set[str]) -> set[str]:
        """A rebuilt table is a new Delta table: every streaming table reading it as a stream must start
        over too (as in DLT), or its checkpoint would point into the old table."""
        from framework.spec.model import TablesSource

        result, pending = set(names), list(names)
        while pending:
            name = pending.pop()
            for spec in self.project.tables.values():
                if spec.name not in result and isinstance(spec.source, TablesSource) \
                        and spec.source.mode == "stream" and name in spec.source.tables:
                    self.listener.message(f"also rebuilding {spec.name}: it streams from {name}")
                    result.add(spec.name)
                    pending.append(spec.name)
        return result

    def _reset(self, planned: list[PlannedFlow], refresh: set[str]) -> None:
        from framework.engine.spark import forget_table

        for item in planned:
            if item.spec.name not in refresh or item.flow is None:
                continue
            if item.flow.target.table_properties.get("pipelines.reset.allowed", "true").lower() == "false":
                self.listener.message(f"{item.flow.name}: pipelines.reset.allowed is false; not reset")
                continue
            for table in item.tables:
                forget_table(self.spark, table)
                self.storage.reset(table)

    # -- triggered -----------------------------------------------------------------------------------

    def _triggered(self, planned: list[PlannedFlow], result: RunResult) -> None:
        """Run every flow once, as DLT does: a flow starts when its upstreams in this update are done, and
        up to `max_parallel_flows` run at the same time (they share the one SparkSession's executors)."""
        in_update = {p.spec.name for p in planned}
        waiting = list(zip(planned, result.flows))
        finished: set[str] = set()
        blocked: set[str] = set()
        running: dict[Future, tuple[PlannedFlow, FlowResult]] = {}
        workers = max(1, int(self.env.get("max_parallel_flows", 2)))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="flow") as pool:
            while waiting or running:
                progressed = False
                for item, flow_result in list(waiting):
                    upstreams = [u for u in item.spec.upstreams if u in in_update]
                    if any(u not in finished for u in upstreams):
                        continue
                    waiting.remove((item, flow_result))
                    progressed = True
                    if not self._startable(item, flow_result, upstreams, blocked):
                        finished.add(item.spec.name)
                    elif item.flow is None:
                        self._register_view(item, flow_result)
                        finished.add(item.spec.name)
                    else:
                        running[pool.submit(self._run_flow, item, flow_result)] = (item, flow_result)
                if not running:
                    if waiting and not progressed:  # the graph check rules cycles out before a run
                        raise RunError(f"cannot order {', '.join(i.spec.name for i, _ in waiting)}")
                    continue
                done, _ = wait(running, timeout=0.5, return_when=FIRST_COMPLETED)
                for future in done:
                    item, flow_result = running.pop(future)
                    future.result()  # _run_flow reports failures on the flow; anything else is a bug
                    finished.add(item.spec.name)
                    if flow_result.status == "FAILED":
                        blocked.add(item.spec.name)
        if not self.stop.is_set():
            self._optimize([p for p, r in zip(planned, result.flows) if r.metrics.written_rows > 0], result)

    def _startable(self, item: PlannedFlow, flow_result: FlowResult, upstreams: list[str], blocked: set[str]) -> bool:
        """False (and the flow marked SKIPPED) when the run is stopping or an upstream failed."""
        if self.stop.is_set():
            flow_result.status, flow_result.error = "SKIPPED", "the run was stopped"
            return False
        broken = [u for u in upstreams if u in blocked]
        if broken:
            flow_result.status, flow_result.error = "SKIPPED", f"upstream {', '.join(broken)} failed"
            blocked.add(item.spec.name)
            self._flow_event(flow_result, "SKIPPED", level="WARN")
            self.listener.flow_finished(flow_result)
            return False
        return True

    def _register_view(self, item: PlannedFlow, flow_result: FlowResult) -> None:
        """`kind: view`: not materialized; a temporary view downstream queries read by name."""
        from framework.pipeline import passes

        dataset = self.dlt.graph.datasets[item.registration.table]
        try:
            df = dataset.query()
            for expectation in dataset.expectations:
                if expectation.action == "drop":
                    df = df.where(passes(expectation.rule))
            df.createOrReplaceTempView(dataset.name)
            flow_result.status = "COMPLETED"
        except Exception as exc:  # noqa: BLE001
            flow_result.status, flow_result.error = "FAILED", f"{dataset.name}: {str(exc).splitlines()[0]}"
        self.listener.flow_finished(flow_result)

    def _run_flow(self, item: PlannedFlow, flow_result: FlowResult) -> None:
        assert item.flow is not None
        attempts = 1 if self.env.get("development", True) else int(self.env["retries"].get("max_attempts", 3))
        backoff = float(self.env["retries"].get("initial_backoff_seconds", 2))
        max_backoff = float(self.env["retries"].get("max_backoff_seconds", 60))
        run = FlowRun(item.flow, self.spark, self.storage, self.event_log,
                      on_progress=lambda total, batch: self._progress(flow_result, total, batch))
        started = time.monotonic()
        flow_result.status = "RUNNING"
        self.listener.flow_started(flow_result)
        self._flow_event(flow_result, "STARTING")
        while True:
            flow_result.attempts += 1
            run.error = None
            self.active.append(run)
            try:
                if item.flow.kind == "materialize":
                    self._materialize(item, run, flow_result)
                else:
                    run.run_triggered(self.stop_count)
                    flow_result.status = "STOPPED" if self.stop.is_set() else "COMPLETED"
                break
            except Exception as exc:  # noqa: BLE001 - every failure is reported on the flow
                error = exc if isinstance(exc, (FlowError, *NOT_RETRIED)) else \
                    FlowError(f"{item.flow.name}: {_first_line(exc)}")
                if self.stop.is_set():
                    flow_result.status = "STOPPED"
                    break
                retry = flow_result.attempts < attempts and not isinstance(error, NOT_RETRIED)
                flow_result.error = str(error)
                if isinstance(error, ExpectationViolation):
                    flow_result.violation = error
                if not retry:
                    flow_result.status = "FAILED"
                    break
                wait = min(backoff * 2 ** (flow_result.attempts - 1), max_backoff)
                self._flow_event(flow_result, "FAILED", level="WARN",
                                 message=f"attempt {flow_result.attempts} failed; retrying in {wait:.0f}s")
                self.listener.message(f"{flow_result.table}: attempt {flow_result.attempts} failed ({error}); "
                                      f"retrying in {wait:.0f}s")
                if self.stop.wait(wait):
                    flow_result.status = "STOPPED"
                    break
            finally:
                self.active.remove(run)
        flow_result.metrics = run.metrics
        flow_result.seconds = time.monotonic() - started
        if flow_result.status != "FAILED":
            flow_result.error = None
        self._flow_event(flow_result, flow_result.status, level="ERROR" if flow_result.status == "FAILED" else "INFO")
        self.listener.flow_finished(flow_result)

    def _materialize(self, item: PlannedFlow, run: FlowRun, flow_result: FlowResult, *, force: bool = False) -> bool:
        """Recompute a materialized view if its inputs or definition changed. Returns True if it ran."""
        assert item.flow is not None
        df = item.flow.source.query()
        if df.isStreaming:
            raise FlowError(f"{item.flow.name}: a materialized view needs a batch source (source.mode: batch)")
        fingerprint = self._fingerprint(item)
        state = run.checkpoint / INPUTS_STATE
        exists = is_delta_table(run.table_path)
        if not force and exists and state.is_file() and json.loads(state.read_text()).get("inputs") == fingerprint:
            flow_result.status = "UP_TO_DATE"
            return False
        run.prepare(df)
        run.process_batch(df, None)
        state.parent.mkdir(parents=True, exist_ok=True)
        state.write_text(json.dumps({"inputs": fingerprint}))
        flow_result.status = "COMPLETED"
        return True

    def _fingerprint(self, item: PlannedFlow) -> str:
        """What a materialized view was computed from: the data version of every upstream table and the
        spec (and environment variables). Unchanged since the last refresh -> nothing to recompute."""
        names = {spec.name: table_name(spec, self.env) for spec in self.project.tables.values()}
        inputs: dict[str, int | None] = {}
        pending, seen = list(item.spec.upstreams), set()
        while pending:
            upstream = pending.pop()
            if upstream in seen or upstream not in self.project.tables:
                continue
            seen.add(upstream)
            spec = self.project.tables[upstream]
            if spec.kind == "view":
                pending.extend(spec.upstreams)
                continue
            inputs[names[upstream]] = data_version(self.storage.table_path(names[upstream]))
        document = item.spec.document.data if item.spec.document else repr(item.spec)
        payload = json.dumps({"inputs": inputs, "spec": document, "variables": self.env.variables()},
                             sort_keys=True, default=str)
        return hashlib.sha256(payload.encode()).hexdigest()

    def _optimize(self, planned: list[PlannedFlow], result: RunResult) -> None:
        for item in planned:
            if item.flow is None:
                continue
            try:
                if sql := optimize(self.spark, item.flow.target):
                    result.optimized.append(item.flow.name)
                    self.listener.message(f"optimized {item.flow.name}: {sql.split(' ', 2)[2]}")
            except Exception as exc:  # noqa: BLE001 - maintenance must not fail the update
                self.listener.message(f"OPTIMIZE {item.flow.name} failed: {str(exc).splitlines()[0]}")

    def _progress(self, flow_result: FlowResult, total: FlowMetrics, batch: FlowMetrics) -> None:
        flow_result.metrics = total
        self.listener.flow_progress(flow_result, batch)

    def _flow_event(self, flow_result: FlowResult, status: str, *, level: str = "INFO",
                    message: str | None = None) -> None:
        details: dict = {"flow_progress": {"status": status}}
        error = None
        if status == "FAILED" and flow_result.error:
            error = {"fatal": level == "ERROR", "exceptions": [{"class_name": "FlowError", "message": flow_result.error}]}
            if flow_result.violation:
                v = flow_result.violation
                details["flow_progress"]["data_quality"] = {"violated_expectation": {
                    "name": v.rule, "dataset": v.dataset, "expression": v.expression, "failed_records": v.failed,
                    "sample": v.sample}}
        if status == "SKIPPED" and flow_result.error:
            details["flow_progress"]["reason"] = flow_result.error
        self.event_log.emit("flow_progress", message or f"Flow '{flow_result.table}' is {status}.", details,
                            level=level, flow=flow_result.table, error=error)

    # -- continuous ----------------------------------------------------------------------------------

    def _continuous(self, planned: list[PlannedFlow], result: RunResult) -> None:
        from framework.engine.continuous import ContinuousLoop

        ContinuousLoop(self, planned, result).run()
