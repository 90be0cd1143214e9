"""Two `medallion run` processes on one environment: the second refuses clearly; a dead holder's lock is recovered.

The engine holds an flock on `<storage>/run.lock` for the whole run (framework/engine/runner.py
`storage_lock`). The kernel releases an flock when its holder dies, so a SIGKILLed run leaves only a
stale file behind, never a stale lock.
"""

from __future__ import annotations

import signal

import pytest

from tests.medallion_testing import make_local_project
from tests.processes import land_history, start_run, wait_for

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.reliability]


def test_second_run_refuses_and_a_killed_holders_lock_is_recovered(tmp_path):
    project = make_local_project(tmp_path / "project")
    project.edit("tables/bronze/bars_raw.yaml", "max_files_per_trigger: 200", "max_files_per_trigger: 1")
    land_history(project)
    lock = project.storage / "run.lock"
    first_log, second_log, third_log = tmp_path / "first.log", tmp_path / "second.log", tmp_path / "third.log"

    first = start_run(project, log=first_log)
    try:
        wait_for(lambda: lock.exists() and lock.read_text().strip() == f"pid {first.pid}", 300,
                 "the first run to take the lock", first)
        second = start_run(project, log=second_log)
        code = second.wait(300)
        output = second_log.read_text()
        assert first.poll() is None, "the first run must still be running for this test to mean anything"
        assert code != 0
        assert f"is in use by another `medallion run` (pid {first.pid})" in output, output
        assert "Traceback" not in output
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(60)

    assert lock.read_text().strip() == f"pid {first.pid}", "the killed run leaves its (stale) lock file"
    third = start_run(project, log=third_log)
    assert third.wait(900) == 0, third_log.read_text()[-3000:]
    assert "in use by another" not in third_log.read_text()
