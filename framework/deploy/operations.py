"""Workspace operations on the bundle's pipeline and job: find them by name, report status, trigger.

Everything is plain REST through databricks-sdk (pipelines list/get/start update/get update, jobs
list/run now/get run, SQL statement execution), so tests drive it against a local HTTP server. The
pipeline and job are found by the names the bundle renders (framework.deploy.names), including the
`[dev <user>] ` prefix development mode adds.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.deploy import names
from framework.errors import WorkspaceError
from framework.eventlog import TableMetrics, latest_with_data, read_with_statements
from framework.eventlog import latest_update as newest_logged_update
from framework.naming import TableRef
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

TERMINAL_UPDATE_STATES = frozenset({"COMPLETED", "FAILED", "CANCELED"})
TERMINAL_RUN_STATES = frozenset({"TERMINATED", "SKIPPED", "INTERNAL_ERROR"})
FAILED_STATES = frozenset({"FAILED", "CANCELED", "INTERNAL_ERROR", "SKIPPED", "TIMEDOUT", "UPSTREAM_FAILED",
                           "UPSTREAM_CANCELED", "SUCCESS_WITH_FAILURES"})
"""Final states of an update or run that a caller (a job task, a script) must treat as failure."""


@dataclass(frozen=True)
class Update:
    update_id: str
    state: str
    cause: str = ""
    created_ms: int | None = None
    full_refresh: bool = False


@dataclass
class PipelineStatus:
    pipeline_id: str
    name: str
    state: str
    health: str
    continuous: bool
    latest_update: Update | None


@dataclass(frozen=True)
class TriggerResult:
    kind: str  # "pipeline" or "job"
    object_id: str
    name: str
    run_id: str
    started: bool
    state: str
    note: str = ""
    url: str = ""

    @property
    def ok(self) -> bool:
        return self.state not in FAILED_STATES


def enum_value(enum_or_str: Any) -> str:
    """An SDK enum's value (or a plain string), "" for None."""
    return getattr(enum_or_str, "value", enum_or_str) or ""


def find_pipeline(w: WorkspaceClient, env_name: str, developer: str | None = None,
                  project: str = names.BUNDLE_NAME) -> tuple[str, str]:
    """(pipeline_id, name) of the environment's pipeline; a WorkspaceError if none or several match."""
    rendered = names.pipeline_name(env_name, project)
    found = [(p.pipeline_id, p.name) for p in w.pipelines.list_pipelines(filter=f"name LIKE '%{rendered}'")
             if p.name and names.matches_name(p.name, rendered)]
    return _one(found, "pipeline", rendered, env_name, developer)


def find_job(w: WorkspaceClient, env_name: str, developer: str | None = None,
             project: str = names.BUNDLE_NAME) -> tuple[int, str]:
    """(job_id, name) of the environment's job; the exact name first, then development-mode copies."""
    rendered = names.job_name(env_name, project)
    found = [(j.job_id, j.settings.name) for j in w.jobs.list(name=rendered)
             if j.settings and j.settings.name == rendered]
    if not found:
        found = [(j.job_id, j.settings.name) for j in w.jobs.list()
                 if j.settings and j.settings.name and names.matches_name(j.settings.name, rendered)]
    return _one(found, "job", rendered, env_name, developer)


def _one(found: list[tuple[Any, str]], kind: str, rendered: str, env_name: str,
         developer: str | None = None) -> tuple[Any, str]:
    if developer:  # a per-user target: this developer's development-mode copy
        found = [f for f in found if f[1] == f"[dev {developer}] {rendered}"] or found
    if not found:
        raise WorkspaceError(f"no {kind} named `{rendered}` in this workspace; deploy it with "
                             f"`medallion deploy --env {env_name}`")
    exact = [f for f in found if f[1] == rendered]
    if len(exact) == 1 or len(found) == 1:
        return (exact or found)[0]
    listed = ", ".join(f"`{name}` ({object_id})" for object_id, name in found)
    raise WorkspaceError(f"several {kind}s match `{rendered}`: {listed}; development-mode copies are per user")


def latest_update(w: WorkspaceClient, pipeline_id: str, updates: list[Any] | None) -> Update | None:
    if not updates:
        return None
    info = w.pipelines.get_update(pipeline_id, updates[0].update_id).update
    return Update(info.update_id or updates[0].update_id, enum_value(info.state), enum_value(info.cause),
                  info.creation_time, bool(info.full_refresh))


def pipeline_status(w: WorkspaceClient, env: Environment, project: str = names.BUNDLE_NAME) -> PipelineStatus:
    """`project`: the project's name (medallion.yaml), which the bundle's resource names start with."""
    pipeline_id, name = find_pipeline(w, env.name, env.developer, project)
    info = w.pipelines.get(pipeline_id)
    return PipelineStatus(pipeline_id, info.name or name, enum_value(info.state) or "UNKNOWN",
                          enum_value(info.health) or "-", bool(info.spec and info.spec.continuous),
                          latest_update(w, pipeline_id, info.latest_updates))


def expectation_metrics(w: WorkspaceClient, env: Environment) -> tuple[dict[str, TableMetrics], str]:
    """Each table's expectation counts in its latest update with data, from the published event log.

    Read through a SQL warehouse (the statement execution API): returns the metrics and a note saying
    where they came from, or why they were skipped (no warehouse configured); a query that does not
    succeed raises WorkspaceError.
    """
    variable = env.databricks.warehouse_id_env
    warehouse = os.environ.get(variable)
    if not warehouse:
        return {}, f"skipped: set {variable} to a SQL warehouse id to read expectation metrics from the event log"
    table = TableRef.event_log(env)

    def execute(sql: str):
        return run_statement(w, warehouse, sql)

    newest = newest_logged_update(execute, table.quoted)  # one top-1 query; a continuous log grows without bound
    if newest is None:
        return {}, f"from {table.published}: no update yet"
    history = read_with_statements(execute, table.quoted, update_id=newest.update_id)
    return latest_with_data(history), f"from {table.published}, update {newest.update_id}"


def run_statement(w: WorkspaceClient, warehouse: str, sql: str) -> list[list[Any]]:
    """Every row of one SQL statement on a warehouse (all result chunks), or a WorkspaceError."""
    from databricks.sdk.service.sql import Disposition, ExecuteStatementRequestOnWaitTimeout, Format

    response = w.statement_execution.execute_statement(
        statement=sql, warehouse_id=warehouse, wait_timeout="30s",
        on_wait_timeout=ExecuteStatementRequestOnWaitTimeout.CANCEL, format=Format.JSON_ARRAY,
        disposition=Disposition.INLINE)
    state = enum_value(response.status.state) if response.status else "UNKNOWN"
    if state != "SUCCEEDED":
        error = response.status.error.message if response.status and response.status.error else ""
        raise WorkspaceError(f"the event log query on warehouse {warehouse} {state.lower()}"
                             f"{f': {error}' if error else ''}")
    chunk = response.result
    rows: list[list[Any]] = list((chunk.data_array if chunk else None) or [])
    while chunk is not None and chunk.next_chunk_index is not None and response.statement_id:
        chunk = w.statement_execution.get_statement_result_chunk_n(response.statement_id, chunk.next_chunk_index)
        rows.extend(chunk.data_array or [])
    return rows


def trigger_pipeline(w: WorkspaceClient, env: Environment, full_refresh: bool = False, wait: bool = False,
                     timeout_s: float = 3600, poll_s: float = 10, project: str = names.BUNDLE_NAME) -> TriggerResult:
    """Start an update (or, for a continuous pipeline that is running, report the active one).

    With `wait`, a triggered pipeline is followed to the end of its update; a continuous one until it
    is RUNNING (it never ends). The job's `pipeline` step then waits for the data to catch up
    (framework.deploy.catchup).
    """
    pipeline_id, name = find_pipeline(w, env.name, env.developer, project)
    info = w.pipelines.get(pipeline_id)
    continuous = bool(info.spec and info.spec.continuous)
    active = [u for u in info.latest_updates or [] if enum_value(u.state) not in TERMINAL_UPDATE_STATES]
    if continuous and active and not full_refresh:
        update_id, started, note = active[0].update_id, False, "continuous pipeline already running"
    else:
        update_id, started, note = w.pipelines.start_update(pipeline_id, full_refresh=full_refresh).update_id, True, ""
    state = enum_value(w.pipelines.get_update(pipeline_id, update_id).update.state)
    done = (lambda s: s == "RUNNING" or s in TERMINAL_UPDATE_STATES) if continuous else \
        (lambda s: s in TERMINAL_UPDATE_STATES)
    deadline = time.monotonic() + timeout_s
    while wait and not done(state):
        if time.monotonic() > deadline:
            raise WorkspaceError(f"update {update_id} of `{name}` still {state} after {timeout_s:g}s")
        time.sleep(poll_s)
        state = enum_value(w.pipelines.get_update(pipeline_id, update_id).update.state)
    return TriggerResult("pipeline", pipeline_id, name, update_id, started, state, note)


def run_job(w: WorkspaceClient, env: Environment, full_refresh: bool = False, wait: bool = False,
            timeout_s: float = 4 * 3600, poll_s: float = 15, project: str = names.BUNDLE_NAME) -> TriggerResult:
    """Run the environment's job now (its pipeline task with a full refresh if asked); with `wait`, to the end."""
    from databricks.sdk.service.jobs import PipelineParams

    job_id, name = find_job(w, env.name, env.developer, project)
    params = PipelineParams(full_refresh=True) if full_refresh else None
    run_id = w.jobs.run_now(job_id, pipeline_params=params).response.run_id
    run = w.jobs.get_run(run_id)
    deadline = time.monotonic() + timeout_s
    while wait and enum_value(run.state.life_cycle_state if run.state else None) not in TERMINAL_RUN_STATES:
        if time.monotonic() > deadline:
            raise WorkspaceError(f"run {run_id} of `{name}` did not finish within {timeout_s:g}s")
        time.sleep(poll_s)
        run = w.jobs.get_run(run_id)
    life = enum_value(run.state.life_cycle_state) if run.state else "UNKNOWN"
    result = enum_value(run.state.result_state) if run.state else ""
    state = result if life in TERMINAL_RUN_STATES and result else life
    return TriggerResult("job", str(job_id), name, str(run_id), True, state, url=run.run_page_url or "")
