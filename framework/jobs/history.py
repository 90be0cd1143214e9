"""Run history of local jobs: one row per job run and per task run, in SQLite.

SQLite (stdlib, transactional, a single file under the environment's storage root) rather than a
Delta table, because history must be written before Spark starts and even when Spark cannot start,
and `medallion runs` must answer without a JVM.
"""

from __future__ import annotations

import os
import sqlite3
import uuid
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS job_runs (
    run_id TEXT PRIMARY KEY, job TEXT NOT NULL, env TEXT NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, error TEXT, pid INTEGER
);
CREATE TABLE IF NOT EXISTS task_runs (
    run_id TEXT NOT NULL REFERENCES job_runs(run_id), task TEXT NOT NULL, attempt INTEGER NOT NULL,
    started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, error TEXT,
    PRIMARY KEY (run_id, task, attempt)
);
"""


def now() -> str:
    """To the microsecond: `medallion runs` ties a pipeline update to the job task running when it started, and
    a no-op update can start and end within the second another task ended in."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class TaskRun:
    run_id: str
    task: str
    attempt: int
    started_at: str
    ended_at: str | None
    status: str
    error: str | None


@dataclass(frozen=True)
class JobRun:
    run_id: str
    job: str
    env: str
    started_at: str
    ended_at: str | None
    status: str
    error: str | None
    pid: int | None = None
    """The `medallion job` process that runs it: a RUNNING run whose process is gone was killed or crashed."""

    @property
    def abandoned(self) -> bool:
        """RUNNING, but its process is gone: it will never record an outcome."""
        return self.status == "RUNNING" and self.pid is not None and not process_alive(self.pid)


def process_alive(pid: int) -> bool:
    """Whether a process of this machine has `pid` (local jobs run on the machine that keeps their history)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


JOB_COLUMNS = "run_id, job, env, started_at, ended_at, status, error, pid"


class RunHistory:
    """Append-and-update store of job and task runs for one environment."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db:
            db.executescript(SCHEMA)
            columns = {row[1] for row in db.execute("PRAGMA table_info(job_runs)")}
            if "pid" not in columns:  # a history written before runs recorded their process
                db.execute("ALTER TABLE job_runs ADD COLUMN pid INTEGER")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def _execute(self, sql: str, params: tuple) -> None:
        with closing(self._connect()) as db:
            db.execute(sql, params)

    def start_job(self, job: str, env: str) -> str:
        run_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self._execute(f"INSERT INTO job_runs ({JOB_COLUMNS}) VALUES (?, ?, ?, ?, NULL, 'RUNNING', NULL, ?)",
                      (run_id, job, env, now(), os.getpid()))
        return run_id

    def end_job(self, run_id: str, status: str, error: str | None = None) -> None:
        self._execute("UPDATE job_runs SET ended_at = ?, status = ?, error = ? WHERE run_id = ?",
                      (now(), status, error, run_id))

    def start_task(self, run_id: str, task: str, attempt: int) -> None:
        self._execute("INSERT INTO task_runs VALUES (?, ?, ?, ?, NULL, 'RUNNING', NULL)",
                      (run_id, task, attempt, now()))

    def end_task(self, run_id: str, task: str, attempt: int, status: str, error: str | None = None) -> None:
        self._execute("UPDATE task_runs SET ended_at = ?, status = ?, error = ? "
                      "WHERE run_id = ? AND task = ? AND attempt = ?", (now(), status, error, run_id, task, attempt))

    def jobs(self, limit: int = 20) -> list[JobRun]:
        with closing(self._connect()) as db:
            rows = db.execute(f"SELECT {JOB_COLUMNS} FROM job_runs ORDER BY started_at DESC, run_id DESC LIMIT ?",
                              (limit,))
            return [JobRun(*row) for row in rows.fetchall()]

    def tasks(self, run_id: str) -> list[TaskRun]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT * FROM task_runs WHERE run_id = ? ORDER BY started_at, task, attempt",
                              (run_id,))
            return [TaskRun(*row) for row in rows.fetchall()]
