"""The quality checks per runtime: the exact Unity Catalog names and SQL on Databricks (prod and dev),
the cluster's own session used untouched, and a missing table or event log failing — never skipped.

A recording stand-in for a Databricks cluster's session (recording_cluster.py) answers from canned
data and keeps every statement and existence question; the statements it recorded are then parsed by
real Spark's SQL parser, and the local and off-cluster behaviour runs on the real shared session.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner

from framework.checks.session import RUNTIME_VARIABLE, cluster_session
from framework.checks.suite import MISSING, CheckContext, run_checks
from framework.cli import cli
from framework.eventlog import events_sql
from framework.project import load_project
from tests.checks.recording_cluster import CannedTable, RecordingCluster, create_update, flow_event
from tests.medallion_testing import market_root

REPO = market_root()
"""The market project (its specs by name), not whatever else tables/ holds."""
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
"""Monday morning: the latest completed NYSE session is Friday 2026-11-27 (a 13:00 early close)."""
LAST_SESSION = date(2026, 11, 27)
NAME_IN_SQL = re.compile(r"\b(?:FROM|JOIN)\s+(`[^\s]+)")


def project_and_env(env_name: str):
    project = load_project(REPO, env=env_name)
    assert project.ok, [f.render() for f in project.errors]
    return project, project.environment(env_name)


BARS_KEYS = 99_990
"""bronze holds 100,000 bars: 3 quarantined, 2 dropped, and 99,995 passing the rules for 99,990 keys —
5 bars landed twice (a re-sent file): on Databricks no event says how many rows were de-duplicated."""


def healthy_cluster(catalog: str) -> RecordingCluster:
    """A pipeline's tables after a good day, as Unity Catalog would answer for `catalog`, and its event log
    as Databricks documents it: the AUTO CDC flows report `num_upserted_rows`/`num_deleted_rows` (no
    `num_output_rows`), their rules are declared on their `__changes` views, quarantine flows report
    `num_output_rows`; nothing local-only."""
    daily = CannedTable(rows=24, max_trade_date=LAST_SESSION,
                        spans=[{"symbol": s, "first": date(2026, 11, 24), "last": LAST_SESSION, "present": 3}
                               for s in ("AAPL", "MSFT")])
    bars_reconcile = {"upstream_rows": 100_000, "expected_quarantined": 3, "dropped": 2, "passing_rows": 99_995,
                      "passing_keys": BARS_KEYS, "table_rows": BARS_KEYS, "table_keys": BARS_KEYS, "missing_keys": 0,
                      "extra_keys": 0, "quarantined": 3}
    sessions_reconcile = {"upstream_rows": 10, "expected_quarantined": 0, "dropped": 0, "passing_rows": 10,
                          "passing_keys": 10, "table_rows": 10, "table_keys": 10, "missing_keys": 0, "extra_keys": 0,
                          "quarantined": 0}
    tables = {
        f"{catalog}.bronze.bars_raw": CannedTable(rows=100_000, reconcile=bars_reconcile),
        f"{catalog}.bronze.nyse_sessions_raw": CannedTable(rows=10, reconcile=sessions_reconcile),
        f"{catalog}.silver.bars": CannedTable(rows=BARS_KEYS, minutes=[
            {"symbol": "AAPL", "trade_date": LAST_SESSION, "minutes": 210}]),
        f"{catalog}.silver.bars_quarantine": CannedTable(rows=3),
        f"{catalog}.silver.trading_sessions": CannedTable(rows=10),
        f"{catalog}.silver.trading_sessions_quarantine": CannedTable(rows=0),
        f"{catalog}.gold.daily_bars": daily,
        f"{catalog}.gold.daily_indicators": daily,
        f"{catalog}.gold.symbol_summary": CannedTable(rows=2),
    }
    bars = {"status": "RUNNING", "metrics": {"num_upserted_rows": BARS_KEYS, "num_deleted_rows": 0},
            "data_quality": {"dropped_records": 5, "expectations": [
                {"name": "high_not_below_low", "dataset": "bars__changes", "passed_records": 99_997,
                 "failed_records": 3},
                {"name": "in_session", "dataset": "bars__changes", "passed_records": 99_998, "failed_records": 2}]}}
    events = [create_update("u1", "2026-11-27T22:00:00.000Z"),
              flow_event("u1", "2026-11-27T22:01:00.000Z", f"{catalog}.silver.bars", bars),
              flow_event("u1", "2026-11-27T22:01:00.000Z", f"{catalog}.silver.bars_quarantine",
                         {"status": "RUNNING", "metrics": {"num_output_rows": 3}}),
              flow_event("u1", "2026-11-27T22:01:30.000Z", f"{catalog}.silver.trading_sessions",
                         {"status": "RUNNING", "metrics": {"num_upserted_rows": 10, "num_deleted_rows": 0},
                          "data_quality": {"dropped_records": 0, "expectations": [
                              {"name": "valid_session", "dataset": "trading_sessions__changes",
                               "passed_records": 10, "failed_records": 0}]}})]
    return RecordingCluster(tables, events, event_log=f"{catalog}.ops.pipeline_event_log")


@pytest.mark.parametrize("env_name,catalog", [("prod", "medallion_prod"), ("dev", "medallion_dev")])
def test_databricks_checks_ask_for_unity_catalog_names_and_the_bundles_event_log(env_name, catalog):
    project, env = project_and_env(env_name)
    cluster = healthy_cluster(catalog)
    report = run_checks(CheckContext(cluster, project, env, now=NOW))

    assert report.exit_code == 0, [r for r in report.results if not r.passed]
    assert {r.check for r in report.results} == {"nyse_freshness", "nyse_completeness", "unique", "reconciliation",
                                                 "expectations"}
    q = lambda name: ".".join(f"`{part}`" for part in name.split("."))  # noqa: E731
    assert set(cluster.exists_asked) == {q(f"{catalog}.{name}") for name in (
        "ops.pipeline_event_log", "bronze.bars_raw", "bronze.nyse_sessions_raw", "silver.bars",
        "silver.bars_quarantine", "silver.trading_sessions", "silver.trading_sessions_quarantine",
        "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary")}
    assert len(cluster.exists_asked) == len(set(cluster.exists_asked)), "each name is asked once"
    # every statement reads three-part names of this environment's catalog, and only those
    named = [name for text in cluster.sql_texts for name in NAME_IN_SQL.findall(text)]
    assert named and all(name.startswith(f"`{catalog}`.`") and name.count("`.`") == 2 for name in named), named
    event_log = q(f"{catalog}.ops.pipeline_event_log")
    reads = [text for text in cluster.sql_texts if f"FROM {event_log}" in text and "flow_progress" in text]
    assert reads == [events_sql(event_log, datetime(2026, 11, 27, 22, tzinfo=timezone.utc), "u1")], \
        "the event log is read once, for the newest update only (its start and id pushed into the read)"
    reconciliations = [text for text in cluster.sql_texts if "AS passing_keys" in text]
    assert len(reconciliations) == 2 and all(
        f"(SELECT count(*) FROM {q(f'{catalog}.silver.{name}_quarantine')})" in text
        for name, text in zip(("bars", "trading_sessions"), reconciliations))
    assert (f"SELECT count(*) FROM (SELECT `symbol`, `ts`, `timeframe` FROM {q(f'{catalog}.silver.bars')} "
            "GROUP BY `symbol`, `ts`, `timeframe` HAVING count(*) > 1)") in cluster.sql_texts
    assert f"SELECT max(trade_date) FROM {q(f'{catalog}.gold.daily_bars')}" in cluster.sql_texts
    reconciled = {r.target: r for r in report.results if r.check == "reconciliation"}
    assert reconciled["bars"].passed and reconciled["bars"].observed == 0
    assert reconciled["bars"].detail == (
        "bars_raw 100000 = 99995 passing the rules + quarantined 3 (bars_quarantine 3) + dropped 2; the passing "
        "rows hold 99990 keys, bars holds 99990 keys: 0 missing, 0 extra; 5 passing row(s) superseded by a later row "
        "of their key (updates or discarded duplicates); in update u1 (started 2026-11-27T22:00:00Z): 99990 "
        "upserted (new keys and updates applied), 5 duplicate(s) discarded"), \
        "flows matched by their fully qualified names; discarded = rows the view's rules saw - dropped - upserted"


def test_a_missing_table_or_event_log_fails_with_one_line_never_a_skip():
    project, env = project_and_env("prod")
    cluster = healthy_cluster("medallion_prod")
    del cluster.tables["medallion_prod.gold.daily_bars"]
    cluster.event_log = "medallion_prod.ops.somewhere_else"  # the configured event log is not there
    report = run_checks(CheckContext(cluster, project, env, now=NOW))

    missing = {(r.check, r.target): r for r in report.results if r.observed == MISSING}
    assert set(missing) == {("nyse_freshness", "daily_bars"), ("nyse_completeness", "daily_bars"),
                            ("unique", "daily_bars"), ("expectations", "medallion_prod.ops.pipeline_event_log")}, \
        "reconciliation reads the tables only: a missing event log does not stop it"
    for result in missing.values():
        assert (result.status, result.severity, result.threshold) == ("FAIL", "critical", "exists")
        assert "\n" not in result.detail
    assert missing[("nyse_freshness", "daily_bars")].detail == (
        "table medallion_prod.gold.daily_bars does not exist or this identity cannot see it (USE CATALOG, "
        "USE SCHEMA, SELECT): the pipeline creates it on its first update")
    assert "event log medallion_prod.ops.pipeline_event_log does not exist" in \
        missing[("expectations", "medallion_prod.ops.pipeline_event_log")].detail
    assert not any("daily_bars`" in text and "gold" in text for text in cluster.sql_texts), \
        "nothing is queried from a table that is not there"
    assert not any("pipeline_event_log" in text for text in cluster.sql_texts)
    assert report.exit_code == 1
    assert json.loads(report.to_json())["summary"]["FAIL"] == 4


@pytest.mark.spark
def test_the_recorded_prod_statements_are_valid_spark_sql(spark):
    project, env = project_and_env("prod")
    cluster = healthy_cluster("medallion_prod")
    run_checks(CheckContext(cluster, project, env, now=NOW))
    parser = spark._jsparkSession.sessionState().sqlParser()
    for text in cluster.sql_texts:
        plan = parser.parsePlan(text)  # raises ParseException on bad SQL; names are not resolved
        assert "medallion_prod" in plan.toString()


def test_check_on_a_databricks_environment_off_cluster_is_one_line_and_starts_no_jvm(monkeypatch):
    monkeypatch.delenv(RUNTIME_VARIABLE, raising=False)
    import framework.engine.spark as local_engine

    def no_local_session(*args, **kwargs):
        raise AssertionError("the local engine's session must not be built for a Databricks environment")

    monkeypatch.setattr(local_engine, "build_session", no_local_session)
    result = CliRunner().invoke(cli, ["check", "--env", "prod", "--project", str(REPO)])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: environment `prod` runs on Databricks"), result.stderr
    assert "on a Databricks cluster" in lines[0] and "--env local" in lines[0]


@pytest.mark.spark
def test_on_a_cluster_the_active_session_is_used_untouched(spark, monkeypatch):
    """With DATABRICKS_RUNTIME_VERSION set, `medallion check --env prod` reads through the active session
    as it is: no schema created, no setting changed, no table registered — and every table it cannot
    see is a FAIL (this local session has no `medallion_prod` catalog)."""
    monkeypatch.setenv(RUNTIME_VARIABLE, "16.4")
    import framework.engine.spark as local_engine

    monkeypatch.setattr(local_engine, "build_session", lambda *a, **k: pytest.fail("local session built"))
    _, env = project_and_env("prod")
    assert cluster_session(env) is spark
    schemas = sorted(r[0] for r in spark.sql("SHOW SCHEMAS").collect())
    conf = dict(spark.sparkContext.getConf().getAll()) | {k: spark.conf.get(k) for k in (
        "spark.sql.shuffle.partitions", "spark.sql.session.timeZone", "spark.sql.ansi.enabled")}

    result = CliRunner().invoke(cli, ["check", "--env", "prod", "--format", "json", "--project", str(REPO)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert report["results"] and all(r["status"] == "FAIL" and r["observed"] == MISSING for r in report["results"])
    assert {r["target"] for r in report["results"]} >= {"daily_bars", "bars", "medallion_prod.ops.pipeline_event_log"}
    assert sorted(r[0] for r in spark.sql("SHOW SCHEMAS").collect()) == schemas
    assert conf == dict(spark.sparkContext.getConf().getAll()) | {k: spark.conf.get(k) for k in (
        "spark.sql.shuffle.partitions", "spark.sql.session.timeZone", "spark.sql.ansi.enabled")}


@pytest.mark.spark
def test_local_checks_before_any_run_fail_on_every_missing_table(spark, local_project):
    """Real local Spark: nothing has run yet, so nothing was checked — and the gate says so, per check."""
    from framework.engine.spark import attach_storage

    project = local_project()
    env = project.env()
    attach_storage(spark, env)
    report = run_checks(CheckContext(spark, project.load(), env, now=NOW))
    assert report.exit_code == 1
    assert {r.check for r in report.results} == {"nyse_freshness", "nyse_completeness", "unique", "reconciliation",
                                                 "expectations"}
    assert all(r.observed == MISSING and r.status == "FAIL" for r in report.results), report.results
    event_log = next(r for r in report.results if r.check == "expectations")
    assert event_log.target == "ops.event_log"
    assert event_log.detail == "event log ops.event_log does not exist: run the pipeline first (medallion run --env test)"


def continuous_cluster(catalog: str) -> RecordingCluster:
    """A continuous update started weeks ago: 25 good days of silver.bars, then a bad one (this run)."""
    cluster = healthy_cluster(catalog)
    cluster.events = [create_update("u-cont", "2026-11-01T14:00:00.000Z")]
    for day in range(2, 27):
        good = {"status": "RUNNING", "metrics": {"num_upserted_rows": 10_000, "num_deleted_rows": 0},
                "data_quality": {"dropped_records": 0, "expectations": [
                    {"name": "in_session", "dataset": "bars__changes", "passed_records": 10_000, "failed_records": 0}]}}
        cluster.events.append(flow_event("u-cont", f"2026-11-{day:02d}T22:01:00.000Z", f"{catalog}.silver.bars", good))
    bad = {"status": "RUNNING", "metrics": {"num_upserted_rows": 9_000, "num_deleted_rows": 0},
           "data_quality": {"dropped_records": 1_000, "expectations": [
               {"name": "in_session", "dataset": "bars__changes", "passed_records": 9_000, "failed_records": 1_000}]}}
    cluster.events.append(flow_event("u-cont", "2026-11-27T22:01:00.000Z", f"{catalog}.silver.bars", bad))
    return cluster


def test_a_bad_day_in_a_continuous_update_is_judged_on_its_own_rows():
    """`--since` (the job run's start) scopes the pass rates: 90% today is a WARN, not 99.6% over weeks —
    and the event log is read from that time on (the filter is in the statement), not whole."""
    project, env = project_and_env("prod")
    since = datetime(2026, 11, 27, 22, tzinfo=timezone.utc)
    cluster = continuous_cluster("medallion_prod")
    report = run_checks(CheckContext(cluster, project, env, now=NOW, since=since), ["expectations"])
    in_session = next(r for r in report.results if r.target == "bars.in_session")
    assert (in_session.status, in_session.observed) == ("WARN", 0.9)
    assert in_session.detail == "9000 passed, 1000 failed since 2026-11-27T22:00:00Z"
    reads = [text for text in cluster.sql_texts if "pipeline_event_log" in text]
    assert reads == [events_sql("`medallion_prod`.`ops`.`pipeline_event_log`", since)]
    assert "timestamp >= TIMESTAMP'2026-11-27 22:00:00+00:00'" in reads[0]

    # without --since: the newest update's events, from its start (here, the whole continuous update)
    cluster = continuous_cluster("medallion_prod")
    report = run_checks(CheckContext(cluster, project, env, now=NOW), ["expectations"])
    in_session = next(r for r in report.results if r.target == "bars.in_session")
    assert in_session.passed and in_session.detail.endswith("in update u-cont (started 2026-11-01T14:00:00Z)")


def test_nothing_checked_in_the_window_is_said_not_silently_passed():
    project, env = project_and_env("prod")
    report = run_checks(CheckContext(continuous_cluster("medallion_prod"), project, env, now=NOW,
                                     since=datetime(2026, 11, 28, tzinfo=timezone.utc)), ["expectations"])
    assert [(r.status, r.severity, r.detail) for r in report.results] == [
        ("PASS", "info", "no expectation evaluated any record since 2026-11-28T00:00:00Z")]


def test_keys_missing_from_the_table_fail_the_reconciliation():
    project, env = project_and_env("prod")
    cluster = healthy_cluster("medallion_prod")
    cluster.tables["medallion_prod.bronze.bars_raw"].reconcile.update(missing_keys=2, table_keys=BARS_KEYS - 2)
    report = run_checks(CheckContext(cluster, project, env, now=NOW), ["reconciliation"])
    bars = next(r for r in report.results if r.target == "bars")
    assert (bars.status, bars.observed) == ("FAIL", 2) and "2 missing, 0 extra" in bars.detail


def test_check_since_must_be_a_time():
    result = CliRunner().invoke(cli, ["check", "--env", "prod", "--since", "yesterday", "--project", str(REPO)])
    assert result.exit_code == 2 and "--since: `yesterday` is not an ISO 8601 time" in result.stderr


def test_an_environment_turns_a_project_kind_off_and_gives_its_defaults():
    project, env = project_and_env("prod")
    env.settings["checks"] = {**env.settings["checks"], "nyse_completeness": {"enabled": False},
                              "nyse_freshness": {"severity": "warning", "max_age_sessions": 0}}
    cluster = healthy_cluster("medallion_prod")
    cluster.tables["medallion_prod.gold.daily_bars"].max_trade_date = date(2026, 11, 25)  # two sessions behind
    report = run_checks(CheckContext(cluster, project, env, now=NOW), ["nyse_freshness", "nyse_completeness"])
    assert [(r.check, r.target, r.status, r.threshold) for r in report.results] == [
        ("nyse_freshness", "daily_bars", "WARN", "<= 0 session(s) behind 2026-11-27")]


def test_a_project_kind_that_does_not_import_fails_critically_with_the_reason():
    project, env = project_and_env("prod")
    project.check_kinds["nyse_freshness"] = "market.checks:no_such_function"
    report = run_checks(CheckContext(healthy_cluster("medallion_prod"), project, env, now=NOW), ["nyse_freshness"])
    assert [(r.check, r.target, r.status, r.severity) for r in report.results] == [
        ("nyse_freshness", "daily_bars", "FAIL", "critical")]
    assert report.results[0].detail == "`market.checks:no_such_function`: module `market.checks` has no callable " \
                                       "`no_such_function`"
