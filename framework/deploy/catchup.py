"""Waiting until a continuous pipeline has processed what this job run's `collect` landed.

A continuous update never finishes, so the job's pipeline step cannot wait for an end: it observes,
in the data and the event log, that the files this run landed went all the way through.

1. **Landed.** The files directly in each bronze spec's landing folder (`source.files.path`) modified
   at or after `since` (the job passes its start time) minus `CLOCK_SLACK`; names starting with `.`
   or `_` are skipped, as Auto Loader skips them. Listed once, through the Files API: `collect` has
   finished before this step starts.
2. **Ingested.** Each file's path is in its bronze table's `_source_file` — one exact `IN (...)`
   query per table (both `/Volumes/...` and `dbfs:/Volumes/...` spellings), cheap through Delta's data
   skipping. If all of a table's rows from those files were ingested before `since`, the files were
   replaced under names Auto Loader had already read (it does not read a name twice): nothing new
   comes from that table.
3. **Committed.** The bronze flow's first `flow_progress` event with row counts at or after the newest
   `_ingested_at` of those rows: the micro-batch that wrote them reports after it commits.
4. **Drained.** Every table downstream of an affected bronze table (`framework.graph`, through views,
   quarantine tables included), in dependency order, has a `flow_progress` event newer than the moment
   its inputs were drained that reports a processed batch — the row metrics Databricks documents for
   the flow's kind (`num_output_rows` of an append flow or a materialized view, `num_upserted_rows` /
   `num_deleted_rows` of an AUTO CDC flow), expectation counts, or COMPLETED — with no backlog left
   (`metrics.backlog_bytes/records/files` zero when reported). A flow whose inputs wrote no new rows
   (all of those metrics zero) is drained with them (nothing new can reach it, and it may never report).
   Only documented fields are read: nothing local-only (`details.medallion_local`).
5. **Failing.** The pipeline's latest update FAILED or CANCELED, or stopped (COMPLETED/STOPPING): fail
   at once. No file ingested and no flow drained for `stall_seconds`: fail. Not done by the timeout:
   fail. Every failure is one line naming the files and flows still pending.

The sources are pluggable (`CatchupSources`: the landing listing, SQL, the update state; and a
`Clock`), so tests drive recorded event-log sequences through the real SDK against a local REST server
with a fake clock. `WorkspaceSources` is the real one: databricks-sdk for files and the pipeline, SQL
through the cluster's Spark session (`spark_sql`) or a SQL warehouse (`warehouse_sql`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Protocol, Sequence

from framework.errors import WorkspaceError, first_line
from framework.eventlog import EventHistory, FlowProgress, read_with_statements
from framework.eventlog import parse_since  # noqa: F401  (`--since`, parsed as the checks parse theirs)
from framework.eventlog.readers import iso_utc
from framework.naming import INGESTED_AT_COLUMN, SOURCE_FILE_COLUMN, TableRef, quote_name, sql_string
from framework.spec.environment import Environment, substitute
from framework.spec.model import FilesSource

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient
    from pyspark.sql import SparkSession

    from framework.project import Project

CLOCK_SLACK = timedelta(minutes=5)
"""Files modified this long before `since` still count: the job's start time comes from the control
plane, file times from cloud storage. Counting a few older files costs nothing (they are ingested)."""
IN_LIST_SIZE = 200
"""Paths per coverage query."""
FAILED_UPDATE_STATES = frozenset({"FAILED", "CANCELED"})
STOPPED_UPDATE_STATES = frozenset({"COMPLETED", "STOPPING"})
TABLE_NOT_FOUND = "TABLE_OR_VIEW_NOT_FOUND"
SHOWN = 3
"""File names shown per table in a message (then `and N more`)."""

Rows = Sequence[Sequence[Any]]


class TableMissing(Exception):
    """A queried table does not exist yet (the pipeline creates bronze tables and its event log)."""


class CatchupSources(Protocol):
    """Where the wait looks: the landing folders, SQL over the tables and the event log, the update state."""

    def list_files(self, folder: str) -> list[tuple[str, datetime]]:
        """(absolute path, modification time) of the files directly in `folder`; [] if it does not exist."""

    def query(self, sql: str) -> Rows:
        """Every row of one statement; TableMissing if a table in it does not exist."""

    def update_state(self) -> tuple[str, str]:
        """(update id, state) of the pipeline's latest update."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# ---------------------------------------------------------------------------------------------------
# what to wait for
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LandedFile:
    table: str
    """The bronze spec reading the file."""
    path: str
    modified: datetime

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Flow:
    """A downstream flow (named like the table it writes) and the flows whose new rows it must process."""

    name: str
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class CatchupPlan:
    since: datetime
    files: tuple[LandedFile, ...]
    flows: tuple[Flow, ...]
    """Downstream of the affected bronze tables, in dependency order."""
    refs: dict[str, TableRef]
    """Every table of the plan (bronze and downstream) -> its names, for queries and messages."""
    event_log: TableRef

    @property
    def bronze(self) -> list[str]:
        return sorted({f.table for f in self.files})

    def files_of(self, table: str) -> list[LandedFile]:
        return [f for f in self.files if f.table == table]


def plan_catchup(project: "Project", env: Environment, sources: CatchupSources, since: datetime) -> CatchupPlan:
    """The landed files to see ingested and the downstream flows to see drained, for `env`'s pipeline."""
    graph = project.graph()
    variables = env.variables()
    cutoff = since - CLOCK_SLACK
    files: list[LandedFile] = []
    for name in graph.order():
        source = project.tables[name].source
        if not isinstance(source, FilesSource):
            continue
        folder = substitute(source.path, variables).rstrip("/")
        for path, modified in sources.list_files(folder):
            if not path.rsplit("/", 1)[-1].startswith((".", "_")) and modified >= cutoff:
                files.append(LandedFile(name, path, modified))
    affected = {f.table for f in files}
    downstream = graph.closure(affected, upstream=False) - affected
    flows: list[Flow] = []
    refs = {name: TableRef.of(project.tables[name], env) for name in affected}
    for name in graph.order():
        spec = project.tables[name]
        if name not in downstream or spec.kind == "view":
            continue
        inputs = tuple(sorted(graph.inputs(name) & (affected | downstream)))
        flows.append(Flow(name, inputs))
        refs[name] = TableRef.of(spec, env)
        if spec.quarantine_table:
            flows.append(Flow(spec.quarantine_table, inputs))
            refs[spec.quarantine_table] = refs[name].quarantine()
    return CatchupPlan(since, tuple(sorted(files, key=lambda f: (f.table, f.path))), tuple(flows), refs,
                       TableRef.event_log(env))


# ---------------------------------------------------------------------------------------------------
# what has been seen so far
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drained:
    at: datetime
    """When the flow had processed its inputs' new rows (its event's time; bronze: see module doc)."""
    wrote: bool
    """Whether it wrote new rows (else nothing new can reach its readers)."""


@dataclass
class CatchupState:
    plan: CatchupPlan
    ingested: dict[str, datetime] = field(default_factory=dict)
    """Landed file path -> newest `_ingested_at` of its rows."""
    drained: dict[str, Drained] = field(default_factory=dict)
    """Bronze and downstream flow -> when it caught up."""
    last_status: dict[str, str] = field(default_factory=dict)
    """Flow -> its latest event's status and time (`RUNNING 22:04:50Z`), for messages."""
    missing: set[str] = field(default_factory=set)
    """Tables (or the event log) a query found missing on the latest poll."""

    @property
    def done(self) -> bool:
        names = self.plan.bronze + [f.name for f in self.plan.flows]
        return len(self.ingested) == len(self.plan.files) and all(n in self.drained for n in names)

    @property
    def marker(self) -> tuple[int, int]:
        """Grows whenever anything moved forward (stall detection)."""
        return len(self.ingested), len(self.drained)

    def pending(self) -> str:
        """What is still missing, as one line."""
        parts = []
        for table in self.plan.bronze:
            waiting = [f for f in self.plan.files_of(table) if f.path not in self.ingested]
            published = self.plan.refs[table].published
            if waiting:
                names = ", ".join(f.name for f in waiting[:SHOWN])
                more = f" and {len(waiting) - SHOWN} more" if len(waiting) > SHOWN else ""
                absent = " (the table does not exist yet)" if published in self.missing else ""
                parts.append(f"{published}: {len(waiting)} of {len(self.plan.files_of(table))} landed file(s) "
                             f"not ingested{absent} ({names}{more})")
            elif table not in self.drained:
                parts.append(f"{published}: no progress event yet for the batch that ingested them")
        flows = [f.name for f in self.plan.flows if f.name not in self.drained]
        if flows:
            shown = [f"{self.plan.refs[n].published}{f' (last {s})' if (s := self.last_status.get(n)) else ''}"
                     for n in flows]
            parts.append(f"flows not past them: {', '.join(shown)}")
        if self.plan.event_log.published in self.missing:
            parts.append(f"event log {self.plan.event_log.published} does not exist yet")
        return "; ".join(parts) or "nothing"


# ---------------------------------------------------------------------------------------------------
# one observation
# ---------------------------------------------------------------------------------------------------

def observe(state: CatchupState, sources: CatchupSources, report: Callable[[str], None]) -> None:
    """Query what moved since the last poll and record it (never goes backwards)."""
    state.missing.clear()
    for table in state.plan.bronze:
        _observe_coverage(state, sources, table, report)
    cutoff = state.plan.since - CLOCK_SLACK
    for table in state.plan.bronze:
        newest = _newest_ingestion(state, table)
        if table not in state.drained and newest is not None and newest < cutoff:
            state.drained[table] = Drained(newest, wrote=False)
            report(f"{state.plan.refs[table].published}: rows of these files were ingested before {_hms(cutoff)} "
                   "(files replaced under names already read): nothing new downstream of it")
    bounds = _event_bounds(state)
    if not bounds:
        return
    by_flow = _by_flow(_read_events(state, sources, min(bounds)))
    for table in state.plan.bronze:
        newest = _newest_ingestion(state, table)
        if table in state.drained or newest is None or not _all_ingested(state, table):
            continue
        event = next((e for e in by_flow.get(table, []) if _at(e) >= newest and e.has_counts), None)
        if event is not None:
            state.drained[table] = Drained(_at(event), wrote=True)
            report(f"{state.plan.refs[table].published}: {len(state.plan.files_of(table))} landed file(s) "
                   f"ingested and committed by {_hms(_at(event))}")
    _note_statuses(state, by_flow)
    for flow in state.plan.flows:
        events = by_flow.get(flow.name, [])
        if flow.name in state.drained or not all(i in state.drained for i in flow.inputs):
            continue
        inputs = [state.drained[i] for i in flow.inputs]
        bound = max(d.at for d in inputs)
        published = state.plan.refs[flow.name].published
        if not any(d.wrote for d in inputs):
            state.drained[flow.name] = Drained(bound, wrote=False)
            report(f"{published}: no new rows reached it")
            continue
        event = next((e for e in events if _at(e) > bound and _processed(e)), None)
        if event is not None:
            state.drained[flow.name] = Drained(_at(event), event.wrote_rows is not False)
            report(f"{published}: caught up at {_hms(_at(event))}")


def _by_flow(history: EventHistory) -> dict[str, list[FlowProgress]]:
    """Events per flow, keyed by the table name (the log may qualify it, with or without backticks)."""
    by_flow: dict[str, list[FlowProgress]] = {}
    for event in history.progress:
        by_flow.setdefault(event.table, []).append(event)
    return by_flow


def _note_statuses(state: CatchupState, by_flow: dict[str, list[FlowProgress]]) -> None:
    for name, events in by_flow.items():
        state.last_status[name] = f"{events[-1].status or 'RUNNING'} {_hms(_at(events[-1]))}"


def explain(state: CatchupState, sources: CatchupSources) -> str:
    """`pending()` after reading every event since the run started, so each pending flow shows its latest
    status (read once, when the wait fails)."""
    _note_statuses(state, _by_flow(_read_events(state, sources, state.plan.since - CLOCK_SLACK)))
    return state.pending()


def _observe_coverage(state: CatchupState, sources: CatchupSources, table: str,
                      report: Callable[[str], None]) -> None:
    waiting = [f.path for f in state.plan.files_of(table) if f.path not in state.ingested]
    if not waiting:
        return
    ref = state.plan.refs[table]
    wanted = set(waiting)
    for start in range(0, len(waiting), IN_LIST_SIZE):
        try:
            rows = sources.query(coverage_sql(ref, waiting[start:start + IN_LIST_SIZE]))
        except TableMissing:
            state.missing.add(ref.published)
            return
        for source_file, ingested_at in rows:
            path = _plain_path(str(source_file))
            if path in wanted and ingested_at is not None:  # both spellings may be there: keep the newest
                moment = to_utc(ingested_at)
                state.ingested[path] = max(moment, state.ingested.get(path, moment))
    if _all_ingested(state, table):
        report(f"{ref.published}: all {len(state.plan.files_of(table))} landed file(s) are in {SOURCE_FILE_COLUMN}")


def coverage_sql(ref: TableRef, paths: Iterable[str]) -> str:
    """The newest ingestion time of each of `paths` found in the table's `_source_file` (exact match)."""
    spellings = sorted({spelling for path in paths for spelling in (path, "dbfs:" + path)})
    column = quote_name(SOURCE_FILE_COLUMN)
    return (f"SELECT {column} AS source_file, max({quote_name(INGESTED_AT_COLUMN)}) AS ingested_at "
            f"FROM {ref.quoted} WHERE {column} IN ({', '.join(sql_string(s) for s in spellings)}) "
            f"GROUP BY {column}")


def _read_events(state: CatchupState, sources: CatchupSources, since: datetime) -> EventHistory:
    try:
        return read_with_statements(sources.query, state.plan.event_log.quoted,
                                    since.astimezone(timezone.utc).replace(tzinfo=None))
    except TableMissing:
        state.missing.add(state.plan.event_log.published)
        return EventHistory()


def _event_bounds(state: CatchupState) -> list[datetime]:
    """The earliest time an event still needed can have, per flow whose inputs are known."""
    bounds = [newest for table in state.plan.bronze
              if table not in state.drained and _all_ingested(state, table)
              and (newest := _newest_ingestion(state, table)) is not None]
    for flow in state.plan.flows:
        if flow.name not in state.drained and all(i in state.drained for i in flow.inputs):
            bounds.append(max(state.drained[i].at for i in flow.inputs))
    return bounds


def _all_ingested(state: CatchupState, table: str) -> bool:
    return all(f.path in state.ingested for f in state.plan.files_of(table))


def _newest_ingestion(state: CatchupState, table: str) -> datetime | None:
    times = [state.ingested[f.path] for f in state.plan.files_of(table) if f.path in state.ingested]
    return max(times) if times and len(times) == len(state.plan.files_of(table)) else None


def _processed(event: FlowProgress) -> bool:
    """A processed batch (its kind's documented row metrics, or expectation counts) or a finished refresh,
    with nothing left in its sources."""
    return (event.has_counts or event.status == "COMPLETED") and event.backlog_clear


def _at(event: FlowProgress) -> datetime:
    return to_utc(event.timestamp)


def _plain_path(source_file: str) -> str:
    """`dbfs:/Volumes/x` and `file:///tmp/x` -> `/Volumes/x`, `/tmp/x` (how Spark may spell `_metadata.file_path`)."""
    for prefix in ("dbfs:", "file://", "file:"):
        if source_file.startswith(prefix):
            source_file = source_file[len(prefix):]
            break
    return source_file if source_file.startswith("/") else "/" + source_file


def to_utc(value: Any) -> datetime:
    """A timestamp from Spark (naive UTC datetime) or a warehouse (ISO string) -> aware UTC."""
    return datetime.fromisoformat(iso_utc(value).replace("Z", "+00:00"))


def _hms(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%H:%M:%SZ")


# ---------------------------------------------------------------------------------------------------
# the wait
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CatchupResult:
    files: int
    flows: int
    seconds: float
    update_id: str


def wait_for_catchup(plan: CatchupPlan, sources: CatchupSources, *, clock: Clock, timeout_s: float,
                     stall_s: float, poll_s: float, report: Callable[[str], None] = lambda line: None,
                     pipeline: str = "the pipeline") -> CatchupResult:
    """Poll until `plan` is caught up; WorkspaceError (one line naming what is pending) otherwise."""
    start = clock.now()
    if not plan.files:
        report(f"no landing file modified since {plan.since.isoformat()}: nothing to wait for")
        return CatchupResult(0, 0, 0.0, "")
    counts = ", ".join(f"{plan.refs[t].published} {len(plan.files_of(t))}" for t in plan.bronze)
    report(f"waiting for {len(plan.files)} landing file(s) modified since {plan.since.isoformat()} ({counts}), "
           f"then {len(plan.flows)} downstream flow(s)")
    state = CatchupState(plan)
    marker, moved = state.marker, start
    while True:
        observe(state, sources, report)
        now = clock.now()
        update_id, update_state = sources.update_state()
        if state.done:
            elapsed = (now - start).total_seconds()
            report(f"caught up: {len(plan.files)} landed file(s) and {len(plan.flows)} downstream flow(s) "
                   f"in {elapsed:.0f}s")
            return CatchupResult(len(plan.files), len(plan.flows), elapsed, update_id)
        if update_state in FAILED_UPDATE_STATES or update_state in STOPPED_UPDATE_STATES:
            verb = "is" if update_state in FAILED_UPDATE_STATES else "stopped:"
            raise WorkspaceError(f"update {update_id} of {pipeline} {verb} {update_state} before catching up; "
                                 f"pending: {explain(state, sources)}")
        if state.marker != marker:
            marker, moved = state.marker, now
        elif (now - moved).total_seconds() >= stall_s:
            raise WorkspaceError(f"{pipeline} made no progress for {stall_s:g}s (update {update_id} "
                                 f"{update_state}); pending: {explain(state, sources)}")
        remaining = timeout_s - (now - start).total_seconds()
        if remaining <= 0:
            raise WorkspaceError(f"{pipeline} did not catch up within {timeout_s:g}s (update {update_id} "
                                 f"{update_state}); pending: {explain(state, sources)}")
        clock.sleep(min(poll_s, remaining))


# ---------------------------------------------------------------------------------------------------
# the real sources
# ---------------------------------------------------------------------------------------------------

@dataclass
class WorkspaceSources:
    """The workspace through databricks-sdk (Files API, pipelines API) and a SQL runner."""

    w: "WorkspaceClient"
    pipeline_id: str
    sql: Callable[[str], Rows]

    def list_files(self, folder: str) -> list[tuple[str, datetime]]:
        from databricks.sdk.errors import NotFound

        try:
            entries = list(self.w.files.list_directory_contents(folder))
        except NotFound:
            return []
        return [(entry.path or f"{folder}/{entry.name}",
                 datetime.fromtimestamp(entry.last_modified / 1000, timezone.utc))
                for entry in entries if not entry.is_directory and entry.last_modified is not None]

    def query(self, sql: str) -> Rows:
        return self.sql(sql)

    def update_state(self) -> tuple[str, str]:
        from framework.deploy.operations import enum_value

        info = self.w.pipelines.get(self.pipeline_id)
        latest = (info.latest_updates or [None])[0]
        if latest is None:
            return "-", "NONE"
        return latest.update_id or "-", enum_value(latest.state) or "UNKNOWN"


def warehouse_sql(w: "WorkspaceClient", warehouse_id: str) -> Callable[[str], Rows]:
    """Statements on a SQL warehouse (a laptop, CI): rows as the warehouse sends them (strings)."""
    from framework.deploy.operations import run_statement

    def run(sql: str) -> Rows:
        try:
            return run_statement(w, warehouse_id, sql)
        except WorkspaceError as exc:
            if TABLE_NOT_FOUND in str(exc):
                raise TableMissing(str(exc)) from None
            raise

    return run


def spark_sql(spark: "SparkSession") -> Callable[[str], Rows]:
    """Statements in the cluster's own session (the job's task): typed rows."""

    def run(sql: str) -> Rows:
        try:
            return [tuple(row) for row in spark.sql(sql).collect()]
        except Exception as exc:  # Spark raises its own exception types; the message says what
            if TABLE_NOT_FOUND in str(exc):
                raise TableMissing(first_line(exc)) from None
            raise WorkspaceError(f"a catch-up query failed on the cluster: {first_line(exc)}") from None

    return run
