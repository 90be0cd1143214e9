"""Issue 12, case 4, end to end on real Spark + Delta: a silver table scaffolded from bronze keeps one row
per key when the landing folder delivers a bar twice, so the duplicates quality check passes.

Before, `medallion new table x --layer silver --from bars_raw` declared keys without `dedupe`: the
re-sent bars were appended again and `medallion check` failed critically on them.
"""

from __future__ import annotations

from datetime import date

import pytest
from click.testing import CliRunner

from framework.checks.suite import CheckContext, check_unique
from framework.cli import cli
from tests.medallion_testing import bar_rows

pytestmark = pytest.mark.spark


def test_scaffolded_silver_table_keeps_one_row_per_key(spark, local_project) -> None:
    project = local_project()
    done = CliRunner().invoke(cli, ["new", "table", "x", "--layer", "silver", "--from", "bars_raw",
                                    "--project", str(project.root)], catch_exceptions=False)
    assert done.exit_code == 0, done.output
    bars = bar_rows("AAPL", date(2026, 11, 19), every_minutes=60)
    project.write_bars("batch_1.jsonl", bars)
    project.write_bars("batch_2.jsonl", bars[:3])  # the provider sent three bars again
    result = project.run(spark, tables=["bars_raw", "x"])
    assert result.ok, [(f.table, f.error) for f in result.failed]
    assert project.table(spark, "bronze.bars_raw").count() == len(bars) + 3  # bronze keeps what landed
    silver = project.table(spark, "silver.x")
    assert silver.count() == len(bars)
    assert silver.select("symbol", "ts", "timeframe").distinct().count() == len(bars)
    env = project.env()
    checks = [r for r in check_unique(CheckContext(spark, project.load(), env))
              if r.target == "x"]
    assert [(r.passed, r.observed) for r in checks] == [(True, 0)]
