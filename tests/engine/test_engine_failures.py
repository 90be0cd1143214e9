"""Failures stay local to their flow: `fail` expectations, refused schema changes, retries in production."""

from __future__ import annotations

import json
import re
import sys
from datetime import date

import pytest

from tests.medallion_testing import SESSIONS, bar_rows, calendar_rows

pytestmark = pytest.mark.spark

FULL_SESSION_RULE = """expectations:
  - name: full_session
    rule: bar_count >= 10
    action: fail
    description: A trading day has at least ten half-hour bars.
  - name: ohlc_consistent"""

FLAKY_TRANSFORM = '''
"""A transform that fails the first time it is called (a transient error), then works."""
from pathlib import Path

ATTEMPTS = Path(__file__).with_name("flaky.attempts")


def sessions(df):
    calls = int(ATTEMPTS.read_text()) if ATTEMPTS.exists() else 0
    ATTEMPTS.write_text(str(calls + 1))
    if calls == 0:
        raise ConnectionError("transient: the object store timed out")
    return df.selectExpr("to_date(session_date) AS session_date", "to_timestamp(open_utc) AS open_utc",
                         "to_timestamp(close_utc) AS close_utc", "early_close", "_ingested_at")
'''


def test_failed_flows_stop_alone_and_say_which_rule_and_row(spark, local_project):
    project = local_project()
    project.edit("tables/gold/daily_bars.yaml", "expectations:\n  - name: ohlc_consistent", FULL_SESSION_RULE)
    project.edit("tables/bronze/nyse_sessions_raw.yaml", "    format: json\n",
                 "    format: json\n    schema_evolution: none\n")
    days = (date(2026, 11, 25), date(2026, 11, 27))  # a full session and the 13:00 early close (7 bars)
    project.write_bars("synthetic_b000.jsonl", [r for d in days for r in bar_rows("AAPL", d)])
    project.write_calendar("calendar.jsonl")
    rows = calendar_rows(days)
    rows[0]["exchange"] = "XNYS"  # a field the calendar spec does not declare
    from tests.medallion_testing import land

    land(project.landing / "calendar", "calendar_extra.jsonl", rows)

    result = project.run(spark)

    status = {f.name: f.status for f in result.flows}
    assert status == {"bars_raw": "COMPLETED", "nyse_sessions_raw": "FAILED", "bars": "COMPLETED",
                      "trading_sessions": "SKIPPED", "daily_bars": "FAILED", "daily_indicators": "SKIPPED",
                      "symbol_summary": "SKIPPED"}
    assert result.status == "FAILED" and not result.ok
    daily = result.flow("daily_bars")
    assert daily.violation is not None and daily.violation.rule == "full_session"
    assert daily.violation.failed == 1
    assert daily.violation.sample["trade_date"] == "2026-11-27" and daily.violation.sample["bar_count"] == "7"
    assert "full_session" in daily.error and "bar_count >= 10" in daily.error and "2026-11-27" in daily.error
    assert project.table(spark, "gold.daily_bars").count() == 0  # the failing batch wrote nothing
    assert project.table(spark, "silver.bars").count() == sum(len(bar_rows("AAPL", d)) for d in days)
    calendar = result.flow("nyse_sessions_raw")
    assert "`exchange`" in calendar.error and "calendar_extra.jsonl" in calendar.error
    assert "upstream" in result.flow("symbol_summary").error

    events = spark.sql(f"""SELECT origin.flow_name AS flow, level, error, details FROM ops.event_log
                           WHERE origin.update_id = '{result.update_id}' AND event_type = 'flow_progress'
                             AND get_json_object(details, '$.flow_progress.status') = 'FAILED'""").collect()
    failed = {e["flow"]: e for e in events}
    assert set(failed) == {"bronze.nyse_sessions_raw", "gold.daily_bars"}
    violated = json.loads(failed["gold.daily_bars"]["details"])["medallion_local"]["violated_expectation"]
    assert violated["name"] == "full_session" and violated["sample"]["symbol"] == "AAPL"
    assert failed["gold.daily_bars"]["level"] == "ERROR" and "full_session" in failed["gold.daily_bars"]["error"]
    state = spark.sql(f"""SELECT get_json_object(details, '$.update_progress.state') AS state FROM ops.event_log
                          WHERE origin.update_id = '{result.update_id}' AND event_type = 'update_progress'
                          ORDER BY timestamp DESC LIMIT 1""").first()["state"]
    assert state == "FAILED"


def _flaky_project(local_project, env_settings: str):
    project = local_project(env_settings)
    (project.root / "flaky.py").write_text(FLAKY_TRANSFORM)
    spec = project.root / "tables/silver/trading_sessions.yaml"
    text = spec.read_text()
    spec.write_text(re.sub(r"transform:\n  sql: \|\n(    .*\n|\n)+", "transform:\n  python: flaky:sessions\n", text))
    project.write_calendar()
    sys.modules.pop("flaky", None)  # each project has its own module of that name
    return project


def test_production_mode_retries_a_failed_flow_with_backoff(spark, local_project):
    project = _flaky_project(local_project, "development: false\n"
                             "retries: {max_attempts: 3, initial_backoff_seconds: 0.2, max_backoff_seconds: 1}\n")
    result = project.run(spark, tables=["nyse_sessions_raw", "trading_sessions"])
    sessions = result.flow("trading_sessions")
    assert result.ok and sessions.status == "COMPLETED" and sessions.attempts == 2
    assert project.table(spark, "silver.trading_sessions").count() == len(SESSIONS)
    retried = spark.sql(f"""SELECT message FROM ops.event_log WHERE origin.update_id = '{result.update_id}'
                            AND level = 'WARN' AND origin.flow_name = 'silver.trading_sessions'""").collect()
    assert any("retrying" in r["message"] for r in retried)


def test_development_mode_fails_fast(spark, local_project):
    project = _flaky_project(local_project, "development: true\n")
    result = project.run(spark, tables=["nyse_sessions_raw", "trading_sessions"])
    sessions = result.flow("trading_sessions")
    assert sessions.status == "FAILED" and sessions.attempts == 1
    assert "transient: the object store timed out" in sessions.error
    assert result.flow("nyse_sessions_raw").status == "COMPLETED"
