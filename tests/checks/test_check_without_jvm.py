"""Issue 24: `medallion check` on the local runtime after a run starts no JVM.

Every read but reconciliation is JVM-free (framework/checks/arrow_reader.py); reconciliation re-applies the
specs' SQL on Spark, and its numbers are memoized per table against the Delta versions of the tables its
statement reads (framework/checks/memo.py): the job's quality_checks task computes them after the update,
a later `medallion check` reuses them — in a process where `import pyspark` fails. A new version of any
of those tables (a run with new data) is a miss: computed again, then reused.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import pytest

from framework.checks.memo import ReconciliationMemo, memo_key
from tests.medallion_testing import REPO, bar_rows, make_local_project, market_root

DAY = date(2026, 11, 23)
BLOCK_PYSPARK = "raise ImportError('pyspark is unimportable in this test: no JVM may start')\n"


@pytest.fixture(scope="module")
def ran(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("check-nojvm") / "project")
    project.write_calendar()
    project.write_bars("a.jsonl", bar_rows("AAPL", DAY))
    result = project.run(spark)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    return project


def _reconcile(spark, project) -> dict[str, str]:
    """The reconciliation details by table, checked in-process with the shared session available."""
    from framework.checks.suite import CheckContext, run_checks

    loaded = project.load()
    report = run_checks(CheckContext(spark, loaded, loaded.environment(project.env_name)), ["reconciliation"])
    assert all(r.passed for r in report.results), report.results
    return {r.target: r.detail for r in report.results}


def _check_without_pyspark(project, tmp_path: Path) -> subprocess.CompletedProcess:
    blocker = tmp_path / "no_pyspark"
    (blocker / "pyspark").mkdir(parents=True, exist_ok=True)
    (blocker / "pyspark" / "__init__.py").write_text(BLOCK_PYSPARK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)]), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "framework", "check", "--env", "test", "--format", "json",
                           "--project", str(project.root)], capture_output=True, text=True, env=env, timeout=120,
                          cwd=project.root)


@pytest.mark.spark
def test_after_the_reconciliations_are_computed_check_needs_no_jvm(spark, ran, tmp_path):
    first = _reconcile(spark, ran)  # what the job's quality_checks task does after the update
    assert set(first) == {"bars", "trading_sessions"} and not any("reused" in d for d in first.values())

    done = _check_without_pyspark(ran, tmp_path)
    assert "Traceback" not in done.stderr, done.stderr
    report = json.loads(done.stdout)
    checks = {r["check"] for r in report["results"]}
    assert {"unique", "reconciliation", "expectations", "nyse_freshness", "nyse_completeness"} <= checks
    reconciled = {r["target"]: r for r in report["results"] if r["check"] == "reconciliation"}
    assert all(r["status"] == "PASS" for r in reconciled.values()), reconciled
    for table, result in reconciled.items():
        assert result["detail"].startswith(first[table]), "the same numbers and window, plus the reuse note"
        assert "; reused (computed " in result["detail"] and "bronze." in result["detail"]
    assert done.returncode == (0 if report["ok"] else 1), "exit codes as ever (a stale session fails freshness)"


@pytest.mark.spark
def test_the_event_log_window_read_with_arrow_is_the_one_spark_reads(spark, ran):
    """The newest update (a top-1) and its events, by start time and by update id: the same history."""
    from framework.checks.arrow_reader import ArrowReader
    from framework.checks.spark_reader import SparkReader
    from framework.engine.spark import attach_storage
    from framework.naming import TableRef

    env = ran.env()
    attach_storage(spark, env)
    log = TableRef.event_log(env)
    arrow, on_spark = ArrowReader(), SparkReader(spark)
    latest = arrow.latest_update(log)
    assert latest is not None and latest == on_spark.latest_update(log)
    since = datetime.fromisoformat(latest.timestamp.replace("Z", "+00:00"))
    for window in ((since, latest.update_id), (since, None), (None, latest.update_id), (None, None)):
        history = arrow.events(log, *window)
        assert history == on_spark.events(log, *window) and history.progress, window


@pytest.mark.spark
def test_a_new_version_of_the_upstream_is_computed_again(spark, ran):
    """Last: a second update with new bars gives bronze.bars_raw (and silver.bars) a new Delta version."""
    before = _reconcile(spark, ran)
    assert "reused" in before["bars"]
    ran.write_bars("b.jsonl", bar_rows("MSFT", DAY))
    result = ran.run(spark)
    assert result.ok, [(f.table, f.error) for f in result.failed]

    after = _reconcile(spark, ran)
    assert "reused" not in after["bars"], "the memo was computed on older versions: a miss"
    assert after["bars"].split(" = ")[0] != before["bars"].split(" = ")[0], "the new upstream rows are counted"
    again = _reconcile(spark, ran)
    assert again["bars"].startswith(after["bars"]) and "reused" in again["bars"]


def test_never_memoized_on_databricks_nor_for_random_values(tmp_path):
    from framework.project import load_project

    project = load_project(market_root(), env="prod")
    prod = project.environment("prod")
    assert memo_key("SELECT count(*) FROM `medallion_prod`.`silver`.`bars`", prod) is None
    local = make_local_project(tmp_path / "project")
    env = local.env()
    assert memo_key("SELECT count(*) FROM `silver`.`bars` WHERE rand() < 0.5", env) is None
    assert memo_key("SELECT count(*) FROM `silver`.`bars`", env) is None, "no such table yet: nothing to key on"
    assert ReconciliationMemo(env).path == local.storage / "checkpoints" / "_reconciliations.json"
