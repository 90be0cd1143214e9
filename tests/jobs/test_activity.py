"""`medallion runs` ties a pipeline update to the job run whose task started it, even when task times (to the
second) make an earlier job's task end in the same second (seen in the full suite under load)."""

from __future__ import annotations

from datetime import datetime, timezone

from framework.jobs.activity import _job_of  # noqa: PLC2701 - the rule under test, no Spark needed
from framework.jobs.history import JobRun, TaskRun

OLD = JobRun("old", "job", "test", "2026-12-07T05:20:50+00:00", "2026-12-07T05:20:51+00:00", "SUCCESS", None)
NEW = JobRun("new", "job", "test", "2026-12-07T05:20:51+00:00", None, "RUNNING", None)
JOBS = [(OLD, [TaskRun("old", "collect", 1, "2026-12-07T05:20:51+00:00", "2026-12-07T05:20:51+00:00", "SUCCESS", None)]),
        (NEW, [TaskRun("new", "pipeline", 1, "2026-12-07T05:20:51+00:00", "2026-12-07T05:21:30+00:00", "SUCCESS", None)])]


def test_the_task_that_started_last_and_ran_longest_owns_the_update_whatever_the_order():
    moment = datetime(2026, 12, 7, 5, 20, 51, 500000, tzinfo=timezone.utc)
    assert _job_of(moment, JOBS) == _job_of(moment, JOBS[::-1]) == "new"
    assert _job_of(datetime(2026, 12, 7, 5, 30, tzinfo=timezone.utc), JOBS) is None


def dead_pid() -> int:
    """A pid no process has any more (a child that has exited and been reaped)."""
    import subprocess
    import sys

    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(child.stdout)


def test_a_job_run_whose_process_is_gone_is_listed_failed_saying_why(tmp_path):
    import sqlite3

    from framework.jobs.activity import recent_runs
    from framework.jobs.history import RunHistory
    from tests.medallion_testing import make_local_project

    env = make_local_project(tmp_path / "project").env()
    history = RunHistory(tmp_path / "job_runs.sqlite")
    alive = history.start_job("job", "test")  # this process: still running
    crashed = history.start_job("job", "test")
    history.start_task(crashed, "pipeline", 1)
    pid = dead_pid()
    with sqlite3.connect(history.path) as db:
        db.execute("UPDATE job_runs SET pid = ? WHERE run_id = ?", (pid, crashed))
    entries = {e.id: e for e in recent_runs(env, history).entries}
    assert (entries[alive].status, entries[alive].error) == ("RUNNING", None)
    assert entries[crashed].status == "FAILED" and f"pid {pid}" in entries[crashed].error
    assert entries[crashed].processed == "pipeline FAILED"


def test_a_history_written_before_runs_recorded_their_process_still_lists(tmp_path):
    import sqlite3

    from framework.jobs.history import RunHistory

    path = tmp_path / "job_runs.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE job_runs (run_id TEXT PRIMARY KEY, job TEXT NOT NULL, env TEXT NOT NULL, "
                   "started_at TEXT NOT NULL, ended_at TEXT, status TEXT NOT NULL, error TEXT)")
        db.execute("INSERT INTO job_runs VALUES ('r1', 'job', 'test', '2026-12-01T00:00:00+00:00', NULL, 'RUNNING', NULL)")
    [old] = RunHistory(path).jobs()
    assert (old.run_id, old.pid, old.abandoned) == ("r1", None, False), "no pid: not judged"


def test_an_update_without_a_final_state_is_failed_once_no_run_holds_the_storage(tmp_path):
    from framework.engine.storage import Storage, storage_in_use, storage_lock
    from framework.eventlog import EventLogWriter, EventType
    from framework.jobs.activity import recent_runs
    from framework.jobs.history import RunHistory
    from tests.medallion_testing import make_local_project

    env = make_local_project(tmp_path / "project").env()
    writer = EventLogWriter(None, env)  # an update that died after it started: no final state
    writer.emit(EventType.CREATE_UPDATE, "Update started.", {"create_update": {"cause": "USER_ACTION"}})
    writer.emit(EventType.UPDATE_PROGRESS, "Update is RUNNING.", {"update_progress": {"state": "RUNNING"}})
    writer.flush(staged=False)
    history, storage = RunHistory(tmp_path / "job_runs.sqlite"), Storage.of(env)
    with storage_lock(storage):  # a run holds the storage: the update may be running
        assert storage_in_use(storage)
        [running] = recent_runs(env, history, storage_in_use=storage_in_use(storage)).entries
        assert (running.id, running.status, running.error) == (writer.update_id, "RUNNING", None)
    storage.lock_file.write_text(f"pid {dead_pid()}")  # as a killed run leaves it
    assert not storage_in_use(storage)
    [crashed] = recent_runs(env, history, storage_in_use=storage_in_use(storage)).entries
    assert crashed.status == "FAILED" and "killed or crashed" in crashed.error
