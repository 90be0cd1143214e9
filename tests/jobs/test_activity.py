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
