"""`medallion run / sql / history / restore` in-process (click's runner, the shared SparkSession)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from tests.medallion_testing import bar_rows
from framework.cli import cli

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)


def invoke(project, *args: str):
    result = CliRunner().invoke(cli, [*args, "--env", "test", "--project", str(project.root)],
                                catch_exceptions=False, env={"COLUMNS": "200"})
    return result


@pytest.fixture(scope="module")
def ran(spark, tmp_path_factory):
    """A project after `medallion run --tables bars_raw,bars`, and that command's output."""
    from tests.medallion_testing import make_local_project

    project = make_local_project(tmp_path_factory.mktemp("cli") / "project")
    project.write_calendar()
    project.write_bars("a.jsonl", bar_rows("AAPL", DAY) + ['{"broken": '])
    return project, invoke(project, "run", "--tables", "bars_raw,bars")


@pytest.fixture
def project(ran):
    return ran[0]


def test_run_prints_a_summary_per_table_and_exits_zero(ran):
    result = ran[1]
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line for line in result.output.splitlines() if line.count("│") > 5}
    bars = [c.strip() for c in lines["silver.bars"].split("│")]
    assert bars[2] == "completed" and bars[3] == str(len(bar_rows("AAPL", DAY)) + 1)  # read
    assert bars[4] == str(len(bar_rows("AAPL", DAY))) and bars[7] == "1"  # written, quarantined
    assert (bars[5], bars[8]) == ("0", "0")  # updated, duplicates discarded: a de-duplicated table
    raw = [c.strip() for c in lines["bronze.bars_raw"].split("│")]
    assert (raw[5], raw[8]) == ("-", "-")  # an append flow updates and discards nothing
    assert "completed in" in result.output


def test_run_rejects_unknown_tables_with_a_hint(project):
    result = invoke(project, "run", "--tables", "barz")
    assert result.exit_code == 2 and "unknown table `barz`" in result.output and "did you mean `bars`" in result.output


def test_sql_queries_tables_by_layer_schema(project):
    result = invoke(project, "sql", "SELECT symbol, count(*) AS n FROM silver.bars GROUP BY symbol", "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [{"symbol": "AAPL", "n": len(bar_rows("AAPL", DAY))}]
    bad = invoke(project, "sql", "SELECT nope FROM silver.bars")
    assert bad.exit_code == 1 and "query failed" in bad.output and "nope" in bad.output
    assert "Traceback" not in bad.output


def test_history_and_restore_roll_a_table_back(spark, project):
    before = project.table(spark, "silver.bars").count()
    version_before = project.versions("silver.bars") - 1
    project.write_bars("b.jsonl", bar_rows("MSFT", DAY))
    assert invoke(project, "run", "--tables", "bars_raw,bars").exit_code == 0
    assert project.table(spark, "silver.bars").count() == before + len(bar_rows("MSFT", DAY))
    history = invoke(project, "history", "bars")
    assert history.exit_code == 0 and "silver.bars" in history.output and "CREATE TABLE" in history.output
    versions = [int(line.split("│")[1]) for line in history.output.splitlines()
                if line.count("│") > 3 and line.split("│")[1].strip().isdigit()]
    assert max(versions) > version_before
    restored = invoke(project, "restore", "silver.bars", "--version", str(version_before))
    assert restored.exit_code == 0, restored.output
    assert "restored silver.bars" in restored.output
    assert project.table(spark, "silver.bars").count() == before
    assert invoke(project, "restore", "bars").exit_code == 2
    assert "version" in invoke(project, "restore", "bars", "--version", "999").output


def test_run_history_and_runs_print_json(project):
    from framework.jobs.runner import history_for

    ran = json.loads(invoke(project, "run", "--tables", "bars", "--format", "json").stdout)
    assert ran["ok"] and [f["table"] for f in ran["flows"]] == ["silver.bars"]
    assert ran["flows"][0]["status"] == "COMPLETED" and ran["flows"][0]["metrics"]["read"] == 0
    history = json.loads(invoke(project, "history", "bars", "--format", "json").stdout)
    assert history["table"] == "silver.bars"
    assert history["versions"][-1]["operation"] == "CREATE TABLE"
    assert any(isinstance(v["by"], dict) and v["by"]["flow"] == "silver.bars" for v in history["versions"])
    runs = history_for(project.env())
    run_id = runs.start_job("market_data", "test")
    runs.start_task(run_id, "collect", 1)
    runs.end_task(run_id, "collect", 1, "SUCCESS")
    runs.end_job(run_id, "SUCCESS")
    listed = json.loads(invoke(project, "runs", "--format", "json").stdout)
    assert listed[0]["run_id"] == run_id and listed[0]["status"] == "SUCCESS"
    assert [(t["task"], t["status"]) for t in listed[0]["tasks"]] == [("collect", "SUCCESS")]


def test_runs_lists_pipeline_updates_beside_job_runs_newest_first(project):
    """`medallion runs` reads the event log too: every `medallion run` update, and the job run whose task
    started one (issue 22: it listed job runs only)."""
    from framework.jobs.runner import history_for

    history = history_for(project.env())
    job = history.start_job("job", "test")
    history.start_task(job, "pipeline", 1)
    assert invoke(project, "run", "--tables", "bars").exit_code == 0
    history.end_task(job, "pipeline", 1, "SUCCESS")
    history.end_job(job, "SUCCESS")

    listed = json.loads(invoke(project, "runs", "--format", "json", "--limit", "50").stdout)
    starts = [entry["started_at"] for entry in listed]
    assert starts == sorted(starts, reverse=True)
    update = listed[0]
    # Another test's job may have started in the same second, so find this one by id.
    job_entry = next(entry for entry in listed if entry["kind"] == "job" and entry["id"] == job)
    assert (update["kind"], update["status"], update["job_run_id"], update["tables"]) == ("run", "COMPLETED", job, ["bars"])
    assert update["seconds"] > 0 and update["rows_written"] == 0  # nothing new to read
    assert (job_entry["kind"], job_entry["id"], job_entry["status"]) == ("job", job, "SUCCESS")
    first = [entry for entry in listed if entry["kind"] == "run"][-1]  # the fixture's `run --tables bars_raw,bars`
    rows = len(bar_rows("AAPL", DAY))
    assert first["tables"] == ["bars", "bars_raw"] and first["job_run_id"] is None
    assert first["rows_written"] == (rows + 1) + rows  # bronze keeps the broken line; silver quarantines it
    # text: one row per entry, its kind first (the console's width is whatever it was when created, so
    # only the narrow first column is read)
    kinds = [line.split("│")[1].strip() for line in invoke(project, "runs").output.splitlines()
             if line.count("│") > 5 and line.split("│")[1].strip()]
    assert kinds[:2] == ["run", "job"] and set(kinds) == {"run", "job"}, kinds


def test_sql_text_format_and_its_old_spelling(project):
    text = invoke(project, "sql", "SELECT count(*) AS n FROM silver.bars_quarantine", "--format", "text")
    table = invoke(project, "sql", "SELECT count(*) AS n FROM silver.bars_quarantine", "--format", "table")
    assert text.exit_code == table.exit_code == 0 and text.output == table.output and "1 row(s)" in text.output


def test_sql_changes_a_table_only_with_write(spark, project):
    quarantine = lambda: project.table(spark, "silver.bars_quarantine").count()  # noqa: E731
    assert quarantine() == 1
    refused = invoke(project, "sql", "DELETE FROM silver.bars_quarantine")
    assert refused.exit_code == 2 and "read-only unless you add --write" in refused.output
    assert quarantine() == 1
    done = invoke(project, "sql", "DELETE FROM silver.bars_quarantine", "--write")
    assert done.exit_code == 0, done.output
    assert quarantine() == 0


def test_a_spark_command_prints_no_jvm_banner(tmp_path):
    """A fresh JVM (its own process): no `WARNING: Using incubator modules`, no `Setting default log level`."""
    import subprocess
    import sys

    from tests.medallion_testing import REPO, make_local_project

    fresh = make_local_project(tmp_path / "fresh")
    done = subprocess.run([sys.executable, "-m", "framework", "sql", "SELECT 1 AS x", "--format", "json",
                           "--env", "test", "--project", str(fresh.root)],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"x": 1}]
    assert done.stderr == ""
