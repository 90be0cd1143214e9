"""`medallion run / sql / history / restore` in-process (click's runner, the shared SparkSession)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from medallion_testing import bar_rows
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
    from medallion_testing import make_local_project

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
    assert bars[4] == str(len(bar_rows("AAPL", DAY))) and bars[6] == "1"  # written, quarantined
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
