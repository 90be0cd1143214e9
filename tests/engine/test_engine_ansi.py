"""The local session runs with the SQL semantics of the runtime its environment targets: ANSI.

Before, the local session set `spark.sql.ansi.enabled=false`, so `CAST(vwap AS DECIMAL(4,2))` — the kind
of cast validate's own hint used to suggest — wrote NULL for every value that did not fit, and the run
completed with exit 0. Now such a cast fails the flow (the lead's part makes the message name the spec,
column and value); a bad text in bronze written as `try_to_timestamp` still becomes a quarantined row.
"""

from __future__ import annotations

from datetime import date

import pytest

from framework.spec.runtimes import ANSI_CONF, RUNTIMES
from tests.medallion_testing import bar_rows

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)


def test_the_local_session_runs_ansi_sql(spark, local_project):
    assert spark.conf.get(ANSI_CONF) == "true"
    with pytest.raises(Exception, match="NUMERIC_VALUE_OUT_OF_RANGE|CAST_OVERFLOW|overflow"):
        spark.sql("SELECT CAST(123.456 AS DECIMAL(4,2)) AS x").collect()
    assert spark.sql("SELECT try_cast(123.456 AS DECIMAL(4,2)) AS x").first().x is None  # lenient, on purpose


def test_runtime_conf_derives_ansi_from_the_runtime_and_spark_conf_cannot_undo_it(tmp_path):
    from framework.engine.spark import SESSION_DEFAULTS, runtime_conf
    from framework.spec.environment import DEFAULTS, Environment, deep_merge

    env = Environment("t", deep_merge(DEFAULTS, {"spark_conf": {ANSI_CONF: "false"}}), tmp_path)
    assert env.target_runtime is RUNTIMES["17.3"]
    assert ANSI_CONF not in SESSION_DEFAULTS  # not a session default: the runtime's semantics
    assert runtime_conf(env)[ANSI_CONF] == "true"  # validate also reports the spark_conf (test_bundle_render)


def test_an_overflowing_decimal_cast_fails_the_run_instead_of_writing_null(spark, local_project):
    project = local_project()
    project.edit("tables/silver/bars.yaml", "      vwap,\n", "      CAST(vwap AS DECIMAL(4,2)) AS vwap,\n")
    assert project.load().errors == []  # valid SQL: only the data tells
    project.write_calendar()
    project.write_bars("day.jsonl", bar_rows("AAPL", DAY))  # vwap ~100: does not fit DECIMAL(4,2)
    result = project.run(spark, tables=["bars_raw", "bars"])
    bars = result.flow("bars")
    assert result.status == "FAILED" and bars.status == "FAILED", (result.status, bars.status)
    assert "DECIMAL(4,2)" in bars.error or "NUMERIC_VALUE_OUT_OF_RANGE" in bars.error, bars.error
    written = project.table(spark, "silver.bars") if (project.storage / "tables/silver/bars/_delta_log").is_dir() \
        else None
    assert written is None or written.where("vwap IS NULL").count() == 0  # never a silent NULL


def test_bad_bronze_texts_are_quarantined_not_a_crash_under_ansi(spark, local_project):
    """silver.bars converts with try_to_timestamp: a bad `ts` becomes a quarantined row (keys_present)
    and the run completes; with `to_timestamp` ANSI would have failed the whole flow."""
    project = local_project()
    project.write_calendar()
    rows = bar_rows("AAPL", DAY)
    rows[1] = {**rows[1], "ts": "not a time"}
    rows[2] = {**rows[2], "session_open": "2026-13-45T99:00:00Z"}
    project.write_bars("day.jsonl", rows)
    result = project.run(spark, tables=["bars_raw", "bars", "nyse_sessions_raw", "trading_sessions"])
    assert result.status == "COMPLETED", [(f.table, f.error) for f in result.failed]
    quarantine = project.table(spark, "silver.bars_quarantine")
    assert quarantine.count() == 1 and "keys_present" in quarantine.first()["_failed_rules"]
    assert project.table(spark, "silver.bars").count() == len(rows) - 2  # the bad session_open row: dropped
