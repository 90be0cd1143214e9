"""What ran in a local environment, newest first: job runs and pipeline updates (`medallion runs`).

Two records exist and neither is complete alone: the job history (SQLite, framework/jobs/history.py)
knows `medallion job` runs and their tasks, the event log (ops.event_log) knows every pipeline update,
the ones `medallion run` started by hand included. Both are read without a JVM, the event log through
its Delta log and parquet files (`framework.eventlog.read_with_arrow`), so listing costs no Spark start.
An update started by a job's task is tied to that job run (`job_run_id`).

A run killed or crashed never records its end. Listed as RUNNING forever it would hide the failure, so
it is listed as FAILED with why: a job run whose `medallion job` process is gone, an update that has no
final state while no process holds the environment's storage (every local update holds it while it
runs: framework/engine/storage.py). The records themselves are left as they are.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any

from framework.delta_log import is_delta_table
from framework.errors import DeltaLogError
from framework.eventlog import UpdateSummary, read_with_arrow, update_summaries
from framework.jobs.history import JobRun, RunHistory, TaskRun
from framework.naming import TableRef
from framework.spec.environment import Environment
from framework.utc import as_utc

JOB = "job"
RUN = "run"
"""The two kinds of entry: a `medallion job` run, a pipeline update (`medallion run`, or a job's pipeline task)."""


@dataclass(frozen=True)
class RunEntry:
    """One job run or one pipeline update."""

    kind: str
    id: str
    started: datetime
    ended: datetime | None
    status: str
    processed: str
    """One line: a job's tasks and their statuses, an update's tables and rows written."""
    error: str | None = None
    job_run_id: str | None = None
    """The job run whose task started this update (pipeline updates only)."""
    details: dict[str, Any] = field(default_factory=dict)
    """`tasks` of a job run; `tables`, `failed`, `rows_written`, `full_refresh` of an update."""

    @property
    def seconds(self) -> float | None:
        return (self.ended - self.started).total_seconds() if self.ended else None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind, "id": self.id, "started_at": _iso(self.started),
                                "ended_at": _iso(self.ended) if self.ended else None, "seconds": self.seconds,
                                "status": self.status, "processed": self.processed, "error": self.error}
        if self.kind == JOB:
            data["run_id"] = self.id
        else:
            data["update_id"] = self.id
            data["job_run_id"] = self.job_run_id
        return {**data, **self.details}


@dataclass(frozen=True)
class Activity:
    entries: list[RunEntry]
    notes: list[str]
    """Why a record could not be read (the other one is still listed)."""


ABANDONED_JOB = "its process (pid {pid}) ended without recording an outcome: killed or crashed"
ABANDONED_UPDATE = ("ended without a final state: its process was killed or crashed (the next run resumes "
                    "from the checkpoints)")
FAILED = "FAILED"


def recent_runs(env: Environment, history: RunHistory, limit: int = 10, *, storage_in_use: bool = True) -> Activity:
    """The newest `limit` entries of both kinds, newest first.

    `storage_in_use`: whether a run holds the environment's storage now; when none does, an update
    without a final state is not running any more (the default assumes it may be)."""
    notes: list[str] = []
    jobs = [(run, history.tasks(run.run_id)) for run in history.jobs(limit)]
    entries = [_job_entry(run, tasks) for run, tasks in jobs]
    log = TableRef.event_log(env).path
    if is_delta_table(log):
        try:
            updates = update_summaries(read_with_arrow(log))
        except ImportError as exc:
            notes.append(f"pipeline updates not listed: reading the event log needs {exc.name or 'pyarrow'} "
                         '(pip install "medallion[local]")')
        except DeltaLogError as exc:
            notes.append(f"pipeline updates not listed: {exc}")
        else:
            entries += [_update_entry(u, jobs, storage_in_use) for u in updates[-limit:]]
    entries.sort(key=lambda e: (e.started, e.kind == JOB), reverse=True)
    return Activity(entries[:limit], notes)


def _job_entry(run: JobRun, tasks: list[TaskRun]) -> RunEntry:
    if run.abandoned:
        run = replace(run, status=FAILED, error=ABANDONED_JOB.format(pid=run.pid))
        tasks = [replace(t, status=FAILED) if t.status == "RUNNING" else t for t in tasks]
    processed = ", ".join(f"{t.task}{f'#{t.attempt}' if t.attempt > 1 else ''} {t.status}" for t in tasks)
    return RunEntry(JOB, run.run_id, _parse(run.started_at), _parse(run.ended_at) if run.ended_at else None,
                    run.status, processed or "no task ran", run.error,
                    details={"job": run.job, "tasks": [_task(t) for t in tasks]})


def _update_entry(update: UpdateSummary, jobs: list[tuple[JobRun, list[TaskRun]]],
                  storage_in_use: bool) -> RunEntry:
    started = _parse(update.started)
    abandoned = update.ended is None and not storage_in_use
    processed = f"{len(update.tables)} table(s), {update.rows_written:,} row(s) written"
    if update.failed:
        processed += f"; failed: {', '.join(update.failed)}"
    if update.full_refresh:
        processed += "; full refresh"
    return RunEntry(RUN, update.update_id, started, _parse(update.ended) if update.ended else None,
                    FAILED if abandoned else update.state or "UNKNOWN", processed,
                    ABANDONED_UPDATE if abandoned else None, job_run_id=job_running_at(started, jobs),
                    details={"tables": list(update.tables), "failed": list(update.failed),
                             "rows_written": update.rows_written, "full_refresh": update.full_refresh})


def job_running_at(started: datetime, jobs: list[tuple[JobRun, list[TaskRun]]]) -> str | None:
    """The job run one of whose tasks was running when the update started. Only one update of an environment
    runs at a time (it holds the storage), so one task at most contains its start; the latest to start wins
    over a task left open by a job that was killed. History written before times had microseconds is
    compared to the second, where several tasks may match: the latest to start, then to end, wins."""
    best: tuple[datetime, datetime, str] | None = None
    for run, tasks in jobs:
        for task in tasks:
            begin, end = _parse(task.started_at), _task_end(task.ended_at)
            if begin <= started <= end and (best is None or (begin, end) > best[:2]):
                best = (begin, end, run.run_id)
    return best[2] if best else None


def _task_end(text: str | None) -> datetime:
    """When a task ended; still open: now. A time recorded to the second covers that whole second."""
    if text is None:
        return datetime.now(timezone.utc)
    end = _parse(text)
    return end + timedelta(seconds=1) if "." not in text else end


def _task(task: TaskRun) -> dict[str, Any]:
    return {"task": task.task, "attempt": task.attempt, "started_at": task.started_at, "ended_at": task.ended_at,
            "status": task.status, "error": task.error}


def _parse(text: str) -> datetime:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds")
