"""Deciding, without a JVM, that an update has nothing to do — and answering it as the update would.

Most runs in the developer's loop come after a run that processed everything: starting Spark (10-20 s)
to find that out is most of their time. A triggered update of every table has nothing to do when,
read from files alone:

* the project's definition — every table spec, the environment's settings and variables, the source of
  the packages holding python transforms — is the one the last complete update ran with
  (`definition_digest`, saved by `mark_complete`; any Spark run removes it first, so a run that failed
  or ran a subset leaves none);
* every table the update writes exists (target and quarantine) and the event log too, and no
  micro-batch event waits in the staging folder of a crashed run;
* no streaming checkpoint holds a micro-batch it planned but never committed;
* a table reading landing files: every file of its landing folder is in its file source's log
  (`framework.engine.pending.new_landing_files`);
* a streaming table reading tables: each upstream's last data-changing Delta version was consumed by
  the stream's last committed micro-batch (`pending.unconsumed_versions`);
* a materialized view: its fingerprint (inputs' data versions, definition) is current (`Materializer`).

Whenever a fact cannot be read for sure (a python transform outside the project, a stream reading a
view, a view with expectations, whose counts the local runtime computes at every update), the answer
is "run": a wrong "nothing to do" would hide data, a needless Spark start only costs time.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

from framework.delta_log import is_delta_table
from framework.engine.materialize import Materializer, transform_code_digest
from framework.engine.pending import new_landing_files, unconsumed_versions
from framework.engine.results import FlowResult, FlowStatus, RunListener, RunResult, UpdateStatus
from framework.engine.storage import Storage, newest_batch
from framework.errors import MedallionError
from framework.eventlog import EventLogWriter, EventType, flow_status_details
from framework.files import write_atomically
from framework.naming import TableRef
from framework.spec.environment import substitute
from framework.spec.model import FilesSource, TablesSource, TableSpec

if TYPE_CHECKING:
    from framework.spec.environment import Environment
    from framework.spec.project import Project

STATE_FILE = "_last_complete_update.json"
"""`<storage_root>/checkpoints/_last_complete_update.json`: the definition the last complete update ran."""


def state_path(storage: Storage) -> Path:
    return storage.state_file(STATE_FILE)


def definition_digest(project: "Project", env: "Environment") -> str | None:
    """A digest of everything an update's work depends on besides data: every spec file, the environment's
    resolved settings and variables, and the python sources of the packages holding transforms.
    None when a transform's source cannot be located in the project (then no update is a no-op)."""
    digest = hashlib.sha256()
    digest.update(json.dumps({"env": env.name, "settings": env.settings, "variables": env.variables()},
                             sort_keys=True, default=str).encode())
    for name in sorted(project.tables):
        spec = project.tables[name]
        document = spec.document.data if spec.document else repr(spec)
        digest.update(json.dumps({name: document}, sort_keys=True, default=str).encode())
        if spec.transform is not None and spec.transform.python:
            code = transform_code_digest(project.root, spec)
            if code is None:
                return None
            digest.update(code.encode())
    return digest.hexdigest()


def mark_complete(project: "Project", env: "Environment", storage: Storage) -> None:
    """After an update of every table completed: remember the definition it ran with."""
    digest = definition_digest(project, env)
    if digest is None:
        return
    write_atomically(state_path(storage), json.dumps({"definition": digest}))


def forget(storage: Storage) -> None:
    """Before an update runs on Spark: until it completes, no later update may be taken for a no-op."""
    state_path(storage).unlink(missing_ok=True)


def why_run(project: "Project", env: "Environment", storage: Storage) -> str | None:
    """None when a triggered update of every table has nothing to do; else the first reason it has."""
    try:
        return _why_run(project, env, storage)
    except (OSError, ValueError, MedallionError) as exc:  # anything unreadable (a damaged log...): let Spark look
        return f"could not read the storage folder ({exc})"


def _why_run(project: "Project", env: "Environment", storage: Storage) -> str | None:
    try:
        saved = json.loads(state_path(storage).read_text()).get("definition")
    except (OSError, ValueError, AttributeError):
        return "no complete update recorded since the last run"
    if saved is None or saved != definition_digest(project, env):
        return "the project's definition changed since the last complete update"
    if not is_delta_table(TableRef.event_log(env).path):
        return "the event log does not exist yet"
    staging = EventLogWriter(None, env).staging
    if staging.is_dir() and any(staging.glob("*.json")):
        return "events of an interrupted run wait to be written"
    materializer = Materializer(project, env, storage)
    for name in project.graph().order():
        spec = project.tables[name]
        reason = _why_table(spec, project, env, materializer)
        if reason:
            return f"{name}: {reason}"
    return None


def _why_table(spec: TableSpec, project: "Project", env: "Environment", materializer: Materializer) -> str | None:
    ref = TableRef.of(spec, env)
    if spec.kind == "view":
        return "a view with expectations is evaluated at every update" if spec.expectations else None
    for table in (ref, ref.quarantine()) if spec.quarantine_table else (ref,):
        if not is_delta_table(table.path):
            return f"table {table.published} does not exist yet"
    stream = ref.checkpoint / "stream"
    if spec.is_streaming:
        planned, committed = newest_batch(stream, "offsets"), newest_batch(stream, "commits")
        if planned is not None and (committed is None or planned > committed):
            return "a micro-batch was planned but never committed"
    if isinstance(spec.source, FilesSource):
        new = new_landing_files(substitute(spec.source.path, env.variables()), stream)
        return f"{len(new)} new landing file(s)" if new else None
    if spec.is_streaming:
        if not isinstance(spec.source, TablesSource):
            return "a streaming query whose sources are not read from files"
        for position, upstream in enumerate(spec.source.tables):
            upstream_spec = project.tables.get(upstream)
            path = TableRef.of(upstream_spec, env).path if upstream_spec is not None else None
            if path is None or upstream_spec.kind == "view" or not is_delta_table(path):  # type: ignore[union-attr]
                return f"reads {upstream}, which is no table with a Delta log"
            if unconsumed_versions(path, stream, position):
                return f"unprocessed data from {upstream}"
        return None
    if spec.kind == "materialized_view" and not materializer.is_current(spec):
        return "inputs (or its definition) changed since it was computed"
    return None


def noop_update(project: "Project", env: "Environment", listener: RunListener, started: float) -> RunResult:
    """The result of an update that had nothing to do, told to `listener` flow by flow as a Spark run does,
    and written to the event log as the Spark path logs such an update (`log_update`)."""
    writer = EventLogWriter(None, env)
    result = RunResult(writer.update_id, env.name, False)
    result.flows = [FlowResult(TableRef.of(project.tables[n], env).published, project.tables[n])
                    for n in project.graph().order()]
    listener.run_started(result, result.flows)
    for flow in result.flows:
        listener.flow_started(flow)
        flow.status = FlowStatus.UP_TO_DATE if flow.spec.kind == "materialized_view" else FlowStatus.COMPLETED
        listener.flow_finished(flow)
    result.status = UpdateStatus.COMPLETED
    try:
        log_update(writer, env, result)
    except Exception as exc:  # noqa: BLE001 - as a Spark run whose event log cannot be written
        result.status = UpdateStatus.FAILED
        result.error = f"the event log could not be written: {exc}"
    result.seconds = time.monotonic() - started
    return result


def log_update(writer: EventLogWriter, env: "Environment", result: RunResult) -> None:
    """The events `Update.begin`, the flows and `Update.finish` write for an update in which no flow
    read anything: create_update, update_progress RUNNING, each flow's STARTING then its final status
    (COMPLETED; UP_TO_DATE for a current materialized view), update_progress COMPLETED — one commit."""
    writer.emit(EventType.CREATE_UPDATE, f"Update {result.update_id[:8]} started by medallion run.",
                {"create_update": {"cause": "USER_ACTION", "full_refresh": False, "full_refresh_selection": [],
                                   "refresh_selection": [], "continuous": False, "development": env.development}})
    writer.emit(EventType.UPDATE_PROGRESS, "Update is RUNNING.", {"update_progress": {"state": UpdateStatus.RUNNING}})
    for flow in result.flows:
        if flow.spec.kind == "view":
            continue  # registered as a temporary view: no flow event (a view with expectations is no no-op)
        for status in (FlowStatus.STARTING, flow.status):
            details, _ = flow_status_details(status)
            writer.emit(EventType.FLOW_PROGRESS, f"Flow '{flow.table}' is {status}.", details, flow=flow.table)
    writer.emit(EventType.UPDATE_PROGRESS, f"Update is {result.status}.",
                {"update_progress": {"state": result.status}})
    writer.flush(staged=False)

