"""`medallion runs` ties a pipeline update to the job run whose task started it, even when an earlier job's task
ended in the same second (seen in the full suite under load, and in CI when the update was a JVM-free no-op)."""

from __future__ import annotations

from datetime import datetime, timezone

from framework.jobs.activity import job_running_at
from framework.jobs.history import JobRun, TaskRun

OLD = JobRun("old", "job", "test", "2026-12-07T05:20:50+00:00", "2026-12-07T05:20:51+00:00", "SUCCESS", None)
NEW = JobRun("new", "job", "test", "2026-12-07T05:20:51+00:00", None, "RUNNING", None)
JOBS = [(OLD, [TaskRun("old", "collect", 1, "2026-12-07T05:20:51+00:00", "2026-12-07T05:20:51+00:00", "SUCCESS", None)]),
        (NEW, [TaskRun("new", "pipeline", 1, "2026-12-07T05:20:51+00:00", "2026-12-07T05:21:30+00:00", "SUCCESS", None)])]


def test_in_history_kept_to_the_second_the_task_that_started_last_and_ran_longest_owns_the_update():
    moment = datetime(2026, 12, 7, 5, 20, 51, 500000, tzinfo=timezone.utc)
    assert job_running_at(moment, JOBS) == job_running_at(moment, JOBS[::-1]) == "new"
    assert job_running_at(datetime(2026, 12, 7, 5, 30, tzinfo=timezone.utc), JOBS) is None


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


def test_an_update_belongs_to_the_task_running_when_it_started_not_one_that_ended_that_second():
    """A no-op update can start and end within the second another job's task ended in (CI, session 27: the
    update was tied to the wrong job run half the time when times were kept to the second)."""

    def job(run_id: str, begin: str, end: str | None) -> tuple[JobRun, list[TaskRun]]:
        status = "SUCCESS" if end else "RUNNING"
        return (JobRun(run_id, "job", "test", begin, end, status, None),
                [TaskRun(run_id, "pipeline", 1, begin, end, status, None)])

    earlier = job("earlier", "2026-12-07T14:36:09.100000+00:00", "2026-12-07T14:36:09.200000+00:00")
    this = job("this", "2026-12-07T14:36:09.300000+00:00", "2026-12-07T14:36:09.900000+00:00")
    started = datetime(2026, 12, 7, 14, 36, 9, 500000, tzinfo=timezone.utc)
    assert job_running_at(started, [earlier, this]) == "this"
    assert job_running_at(started, [this, earlier]) == "this"
    assert job_running_at(started, [earlier]) is None
    legacy = job("legacy", "2026-12-07T14:36:09+00:00", "2026-12-07T14:36:09+00:00")  # kept to the second
    assert job_running_at(started, [legacy]) == "legacy"
    killed = job("killed", "2026-12-07T14:30:00.000000+00:00", None)  # left open, process gone
    assert job_running_at(started, [killed, this]) == "this"
