"""The continuous pipeline's catch-up wait: recorded event-log sequences served by the loopback workspace
(real databricks-sdk, real HTTP: Files API listing, SQL statements, pipeline state) with a fake clock —
caught up, lagging then caught up, stalled, pipeline FAILED, replaced files, tables not created yet,
the timeout — then the same SQL on real Spark, and `medallion trigger --wait-for-catchup` end to end.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from framework.deploy.catchup import (WorkspaceSources, parse_since, plan_catchup, spark_sql, wait_for_catchup,
                                      warehouse_sql)
from framework.deploy.workspace import workspace_client
from framework.errors import WorkspaceError
from framework.project import load_project

from .catchup_scenario import CATALOG, T0, FakeClock, Timeline, at
from tests.medallion_testing import market_root
from .test_workspace_commands import medallion, one_error_line, server  # noqa: F401  (fixture)
from .workspace_server import WorkspaceServer

DOWNSTREAM = ["silver.bars", "silver.bars_quarantine", "silver.trading_sessions",
              "silver.trading_sessions_quarantine", "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary"]
B0, B1, CAL = "alpaca_2026-11-27_b000.jsonl", "alpaca_2026-11-27_b001.jsonl", "xnys_2026-11-27.jsonl"


@pytest.fixture
def prod(server: WorkspaceServer):  # noqa: F811
    """The prod project, its continuous pipeline RUNNING in the loopback workspace, this run's landing files."""
    project = load_project(market_root(), env="prod")
    env = project.environment("prod")
    pipeline = server.add_pipeline("medallion_prod", continuous=True, state="RUNNING")
    server.add_update(pipeline, "RUNNING")
    clock = FakeClock(at("22:02:00"))
    timeline = Timeline(clock)
    timeline.install(server)
    paths = {name: timeline.land(server, "bars", name, at("22:01:00")) for name in (B0, B1)}
    paths[CAL] = timeline.land(server, "calendar", CAL, at("22:01:01"))
    timeline.land(server, "bars", "alpaca_2026-11-26_b000.jsonl", T0 - timedelta(days=1))  # yesterday's
    timeline.land(server, "bars", f".{B1}.x1y2.tmp", at("22:01:00"))  # a temp file Auto Loader ignores
    w, _ = workspace_client(env, 5)
    sources = WorkspaceSources(w, pipeline.pipeline_id, warehouse_sql(w, "wh-1"))
    return project, env, server, pipeline, clock, timeline, paths, sources


BARS_RULES = ("well_formed", "keys_present", "in_session")
"""A few of silver.bars' rules, declared on its `bars__changes` view (the AUTO CDC flow's source)."""


def bars_quality(rows: int, failed: int = 0) -> dict[str, tuple[int, int]]:
    return {name: (rows - (failed if name == "in_session" else 0), failed if name == "in_session" else 0)
            for name in BARS_RULES}


def record_good_day(timeline: Timeline, paths: dict[str, str]) -> None:
    """Lagging, then caught up: two bronze batches, silver working off a backlog, gold refreshing twice.

    Every event as Databricks documents it for its flow's kind: the bronze append flows and the
    quarantine tables report `num_output_rows`; silver's AUTO CDC flows `num_upserted_rows` and
    `num_deleted_rows` only, with the expectations of the view they read (`bars__changes`); the gold
    materialized views COMPLETED with `num_output_rows`, or with no metric at all."""
    timeline.ingest("bars_raw", paths[B0], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.bars_raw", rows=6_000, backlog_files=1)
    timeline.ingest("nyse_sessions_raw", paths[CAL], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.nyse_sessions_raw", rows=1)
    timeline.ingest("bars_raw", paths[B1], at("22:04:00"))
    timeline.progress(at("22:04:10"), "bronze.bars_raw", rows=6_000, backlog_files=0)
    timeline.cdc(at("22:03:00"), "silver.bars", 5_990, expectations=bars_quality(5_990), view="bars__changes",
                 backlog_bytes=0)  # the first batch only
    timeline.cdc(at("22:03:00"), "silver.trading_sessions", 1, expectations={"valid_session": (1, 0)},
                 view="trading_sessions__changes")
    timeline.progress(at("22:03:00"), "silver.trading_sessions_quarantine", rows=0)
    timeline.progress(at("22:03:30"), "gold.daily_bars", rows=12, status="COMPLETED")  # before b001: no
    timeline.cdc(at("22:04:20"), "silver.bars", 4_000, expectations=bars_quality(4_000), view="bars__changes",
                 backlog_bytes=2_000_000)  # still behind
    timeline.cdc(at("22:04:50"), "silver.bars", 1_990, expectations=bars_quality(1_992, 2), view="bars__changes",
                 backlog_bytes=0)
    timeline.progress(at("22:04:50"), "silver.bars_quarantine", rows=2)
    timeline.progress(at("22:05:30"), "gold.daily_bars", rows=12, status="COMPLETED")
    timeline.progress(at("22:06:00"), "gold.daily_indicators", status="COMPLETED")
    timeline.progress(at("22:06:10"), "gold.symbol_summary", rows=12, status="COMPLETED")


def wait(project, env, sources, clock, lines: list[str] | None = None, **options):
    plan = plan_catchup(project, env, sources, T0)
    settings = {"timeout_s": 3600, "stall_s": 600, "poll_s": 30, **options}
    return plan, wait_for_catchup(plan, sources, clock=clock, report=(lines if lines is not None else []).append,
                                  pipeline="`medallion_prod`", **settings)


def test_the_plan_is_this_runs_files_and_everything_downstream(prod):
    project, env, server, _, _, _, paths, sources = prod
    plan = plan_catchup(project, env, sources, T0)
    assert [(f.table, f.name) for f in plan.files] == [("bars_raw", B0), ("bars_raw", B1), ("nyse_sessions_raw", CAL)]
    assert [plan.refs[f.name].published for f in plan.flows] == [f"{CATALOG}.{n}" for n in DOWNSTREAM]
    inputs = {f.name: f.inputs for f in plan.flows}
    assert inputs["bars_quarantine"] == inputs["bars"] == ("bars_raw",)
    assert inputs["symbol_summary"] == ("daily_bars", "trading_sessions")
    assert plan.event_log.quoted == f"`{CATALOG}`.`ops`.`pipeline_event_log`"
    listed = [p for m, p, _ in server.requests if p.startswith("/api/2.0/fs/directories")]
    assert listed == [f"/api/2.0/fs/directories/Volumes/{CATALOG}/bronze/landing/bars",
                      f"/api/2.0/fs/directories/Volumes/{CATALOG}/bronze/landing/calendar"]


def test_already_caught_up_returns_at_the_first_look(prod):
    project, env, server, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    clock._now = at("22:07:00")
    lines: list[str] = []
    plan, result = wait(project, env, sources, clock, lines)
    assert (result.files, result.flows, clock.slept) == (3, 7, [])
    assert lines[-1] == "caught up: 3 landed file(s) and 7 downstream flow(s) in 0s"
    coverage = [s for s in server.statements if "_source_file" in s]
    assert coverage[0] == (
        "SELECT `_source_file` AS source_file, max(`_ingested_at`) AS ingested_at FROM "
        f"`{CATALOG}`.`bronze`.`bars_raw` WHERE `_source_file` IN ('/Volumes/{CATALOG}/bronze/landing/bars/{B0}', "
        f"'/Volumes/{CATALOG}/bronze/landing/bars/{B1}', 'dbfs:/Volumes/{CATALOG}/bronze/landing/bars/{B0}', "
        f"'dbfs:/Volumes/{CATALOG}/bronze/landing/bars/{B1}') GROUP BY `_source_file`")
    events = [s for s in server.statements if "pipeline_event_log" in s]
    assert len(events) == 1 and f"FROM `{CATALOG}`.`ops`.`pipeline_event_log`" in events[0]
    assert "timestamp >= TIMESTAMP'2026-11-27 22:02:30+00:00'" in events[0], "events read from the first ingestion on"


def test_lagging_then_caught_up(prod):
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    lines: list[str] = []
    _, result = wait(project, env, sources, clock, lines)
    assert clock.now() == at("22:06:30"), "done at the first poll after gold.symbol_summary refreshed"
    assert result.seconds == 270 and clock.slept == [30] * 9
    caught = {line.split(":")[0]: line for line in lines if "caught up at" in line}
    assert caught[f"{CATALOG}.silver.bars"].endswith("caught up at 22:04:50Z"), "not at 22:03 (before b001) " \
        "nor at 22:04:20 (backlog left)"
    assert caught[f"{CATALOG}.gold.daily_bars"].endswith("caught up at 22:05:30Z"), "not the 22:03:30 refresh"
    assert f"{CATALOG}.bronze.bars_raw: 2 landed file(s) ingested and committed by 22:04:10Z" in lines
    assert lines[0].startswith("waiting for 3 landing file(s) modified since 2026-11-27T22:00:00+00:00 "
                               f"({CATALOG}.bronze.bars_raw 2, {CATALOG}.bronze.nyse_sessions_raw 1), then 7")


def test_stalled_fails_naming_the_files_and_flows_still_pending(prod):
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    timeline.bronze = [row for row in timeline.bronze if not row[1].endswith(B1)]  # b001 is never ingested
    with pytest.raises(WorkspaceError) as failure:
        wait(project, env, sources, clock)
    message = str(failure.value)
    assert clock.now() == at("22:13:00"), "600 s after the last step forward (22:03:00: silver.trading_sessions)"
    assert message.startswith("`medallion_prod` made no progress for 600s (update upd-")
    assert f"{CATALOG}.bronze.bars_raw: 1 of 2 landed file(s) not ingested ({B1})" in message
    assert (f"flows not past them: {CATALOG}.silver.bars (last RUNNING 22:04:50Z), {CATALOG}.silver.bars_quarantine "
            f"(last RUNNING 22:04:50Z), {CATALOG}.gold.daily_bars (last COMPLETED 22:05:30Z), "
            f"{CATALOG}.gold.daily_indicators (last COMPLETED 22:06:00Z)") in message
    assert "trading_sessions" not in message.split("flows not past them")[1], "that branch caught up"
    assert "\n" not in message


def test_a_failed_update_fails_at_once(prod):
    project, env, _, pipeline, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    clock.at(at("22:03:00"), lambda: pipeline.updates[0].update(state="FAILED"))
    with pytest.raises(WorkspaceError) as failure:
        wait(project, env, sources, clock)
    assert clock.now() == at("22:03:00") and len(clock.slept) == 2
    message = str(failure.value)
    update_id = pipeline.updates[0]["update_id"]
    assert message.startswith(f"update {update_id} of `medallion_prod` is FAILED before catching up; pending: ")
    assert f"{CATALOG}.bronze.bars_raw: 1 of 2 landed file(s) not ingested ({B1})" in message


def test_a_stopped_pipeline_fails_at_once(prod):
    project, env, _, pipeline, clock, timeline, paths, sources = prod
    pipeline.updates[0]["state"] = "CANCELED"
    with pytest.raises(WorkspaceError, match=r"is CANCELED before catching up; pending: .*3 of|2 of 2 landed"):
        wait(project, env, sources, clock)
    assert clock.slept == []


def test_files_replaced_under_names_already_read_wait_for_nothing_downstream(prod):
    """A re-run replaced yesterday's files under the same names: Auto Loader never re-reads them, so
    their rows are old and no downstream flow will (or needs to) report anything."""
    project, env, _, _, clock, timeline, paths, sources = prod
    for name, table in ((B0, "bars_raw"), (B1, "bars_raw"), (CAL, "nyse_sessions_raw")):
        timeline.ingest(table, paths[name], T0 - timedelta(hours=20))
    lines: list[str] = []
    _, result = wait(project, env, sources, clock, lines)
    assert clock.slept == [] and result.flows == 7
    assert sum("no new rows reached it" in line for line in lines) == 7


def test_a_flow_that_wrote_nothing_new_releases_its_readers(prod):
    """Every bar of the run was quarantined: silver.bars wrote no rows, so gold has nothing to refresh for."""
    project, env, _, _, clock, timeline, paths, sources = prod
    for name in (B0, B1):
        timeline.ingest("bars_raw", paths[name], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.bars_raw", rows=12_000)
    timeline.ingest("nyse_sessions_raw", paths[CAL], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.nyse_sessions_raw", rows=1)
    timeline.cdc(at("22:03:00"), "silver.bars", 0, backlog_bytes=0)
    timeline.progress(at("22:03:00"), "silver.bars_quarantine", rows=12_000)
    timeline.cdc(at("22:03:00"), "silver.trading_sessions", 0)
    timeline.progress(at("22:03:00"), "silver.trading_sessions_quarantine", rows=1)
    lines: list[str] = []
    wait(project, env, sources, clock, lines)
    assert clock.now() == at("22:03:00"), "the poll that sees silver write nothing releases gold at once"
    assert [line.split(":")[0] for line in lines if "no new rows reached it" in line] == [
        f"{CATALOG}.gold.daily_bars", f"{CATALOG}.gold.daily_indicators", f"{CATALOG}.gold.symbol_summary"]


def test_auto_cdc_flows_that_only_discarded_duplicates_release_their_readers(prod):
    """Today's files repeat bars already in silver: the AUTO CDC flows saw every row (their views'
    expectations say so) and upserted none. Databricks logs no `num_output_rows` for them — only
    `num_upserted_rows` / `num_deleted_rows`, both 0 — so gold has nothing to refresh for."""
    project, env, _, _, clock, timeline, paths, sources = prod
    for name in (B0, B1):
        timeline.ingest("bars_raw", paths[name], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.bars_raw", rows=12_000)
    timeline.ingest("nyse_sessions_raw", paths[CAL], at("22:02:30"))
    timeline.progress(at("22:02:40"), "bronze.nyse_sessions_raw", rows=1)
    timeline.cdc(at("22:03:00"), "silver.bars", 0, expectations=bars_quality(12_000), view="bars__changes",
                 backlog_bytes=0)
    timeline.progress(at("22:03:00"), "silver.bars_quarantine", rows=0)
    timeline.cdc(at("22:03:00"), "silver.trading_sessions", 0, expectations={"valid_session": (1, 0)},
                 view="trading_sessions__changes")
    timeline.progress(at("22:03:00"), "silver.trading_sessions_quarantine", rows=0)
    lines: list[str] = []
    _, result = wait(project, env, sources, clock, lines)
    assert clock.now() == at("22:03:00") and result.flows == 7
    assert [line.split(":")[0] for line in lines if "no new rows reached it" in line] == [
        f"{CATALOG}.gold.daily_bars", f"{CATALOG}.gold.daily_indicators", f"{CATALOG}.gold.symbol_summary"]


def test_auto_cdc_progress_without_expectations_is_a_processed_batch(prod):
    """An AUTO CDC flow's event with its two documented metrics and nothing else (no expectation counts
    on it) still reports a processed batch: silver catches up, and its upserts wake gold."""
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    for i, (when, flow, details) in enumerate(timeline.events):
        if flow.startswith("silver.") and "quarantine" not in flow:
            timeline.events[i] = (when, flow, {k: v for k, v in details.items() if k != "data_quality"})
    assert all("num_output_rows" not in d.get("metrics", {}) for _, f, d in timeline.events
               if f in ("silver.bars", "silver.trading_sessions"))
    lines: list[str] = []
    wait(project, env, sources, clock, lines)
    assert clock.now() == at("22:06:30")
    assert any(line.endswith("silver.bars: caught up at 22:04:50Z") for line in lines)


def test_tables_not_created_yet_are_waited_for_and_named(prod):
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    timeline.created = {f"{CATALOG}.bronze.bars_raw": at("22:08:00"), f"{CATALOG}.ops.pipeline_event_log": at("22:09:00")}
    _, result = wait(project, env, sources, clock)
    assert clock.now() == at("22:09:00")
    timeline.created = {f"{CATALOG}.bronze.bars_raw": at("23:59:00")}
    clock._now = at("22:02:00")
    with pytest.raises(WorkspaceError) as failure:
        wait(project, env, sources, clock, stall_s=300)
    assert (f"{CATALOG}.bronze.bars_raw: 2 of 2 landed file(s) not ingested (the table does not exist yet) "
            f"({B0}, {B1})") in str(failure.value)


def test_flows_named_by_bare_table_names_are_recognised(prod):
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    timeline.flow_spelling = lambda flow: flow.split(".")[-1]
    wait(project, env, sources, clock)
    assert clock.now() == at("22:06:30")


def test_the_timeout_names_what_is_pending(prod):
    project, env, _, _, clock, timeline, paths, sources = prod
    record_good_day(timeline, paths)
    with pytest.raises(WorkspaceError) as failure:
        wait(project, env, sources, clock, timeout_s=150)
    assert clock.now() == at("22:04:30")
    assert str(failure.value).startswith("`medallion_prod` did not catch up within 150s (update ")
    assert f"{CATALOG}.gold.symbol_summary" in str(failure.value)


def test_nothing_landed_means_nothing_to_wait_for(server: WorkspaceServer):  # noqa: F811
    project = load_project(market_root(), env="prod")
    env = project.environment("prod")
    pipeline = server.add_pipeline("medallion_prod", continuous=True, state="RUNNING")
    w, _ = workspace_client(env, 5)
    sources = WorkspaceSources(w, pipeline.pipeline_id, warehouse_sql(w, "wh-1"))
    lines: list[str] = []
    plan, result = wait(project, env, sources, FakeClock(at("22:02:00")), lines)
    assert plan.files == () and result.files == 0
    assert lines == ["no landing file modified since 2026-11-27T22:00:00+00:00: nothing to wait for"]
    assert server.statements == [], "no folder (404) and no statement"


def test_since_accepts_what_the_job_passes():
    expected = datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc)
    for text in ("2026-11-27T22:00:00Z", "2026-11-27T22:00:00.000+00:00", "2026-11-27T17:00:00-05:00",
                 "2026-11-27 22:00:00"):
        assert parse_since(text) == expected, text
    with pytest.raises(ValueError, match=r"`\{\{job.start_time.iso_datetime\}\}` is not an ISO 8601 time"):
        parse_since("{{job.start_time.iso_datetime}}")


# --- the same statements on real Spark ---------------------------------------------------------------

@pytest.mark.spark
def test_the_catchup_statements_run_on_spark(spark, local_project):
    """The coverage and event-log statements, executed by real Spark against Delta tables shaped as on
    Databricks (`_source_file` spelt `dbfs:/Volumes/...`, the event log's columns and JSON details),
    read through `spark_sql` with typed values (timestamps are datetimes here, not strings)."""
    import json

    from framework.engine.spark import attach_storage, register_table
    from framework.eventlog.schema import EVENT_LOG_DDL, ORIGIN_FIELDS

    project = local_project("schemas: {bronze: cu_bronze, silver: cu_silver, gold: cu_gold, ops: cu_ops}\n")
    env = project.env()
    attach_storage(spark, env)
    loaded = project.load()
    bars = project.write_bars(B0, [{"symbol": "AAPL"}])
    calendar = project.write_calendar(CAL)
    since = datetime.now(timezone.utc) - timedelta(minutes=1)

    class LocalSources:
        sql = staticmethod(spark_sql(spark))

        def list_files(self, folder: str):
            return [(str(p), datetime.fromtimestamp(p.stat().st_mtime, timezone.utc)) for p in Path(folder).iterdir()]

        def query(self, statement: str):
            return self.sql(statement)

        def update_state(self):
            return "u-local", "RUNNING"

    plan = plan_catchup(loaded, env, LocalSources(), since)
    assert [f.path for f in plan.files] == [str(bars), str(calendar)]
    ingested = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    for table, path in (("bars_raw", bars), ("nyse_sessions_raw", calendar)):
        ref = plan.refs[table]
        spark.createDataFrame([("dbfs:" + str(path), ingested)], "_source_file STRING, _ingested_at TIMESTAMP") \
            .write.format("delta").save(str(ref.path))
        register_table(spark, ref.published, ref.path)
    origin = lambda flow: tuple(flow if f in ("flow_name", "dataset_name") else "x" for f in ORIGIN_FIELDS) + (1,)  # noqa: E731
    seconds_after = {"bronze": 5, "silver": 10, "daily_bars": 15, "daily_indicators": 20, "symbol_summary": 20}
    auto_cdc = {"cu_silver.bars", "cu_silver.trading_sessions"}  # documented: upserted/deleted, no num_output_rows
    rows = [("e1", "{}", origin(flow), ingested + timedelta(seconds=seconds_after.get(
                flow.split(".")[-1], seconds_after.get(flow.split(".")[0][3:], 0))), "", "INFO", "STABLE", None,
             json.dumps({"flow_progress": {"status": "COMPLETED" if flow.startswith("cu_gold") else "RUNNING",
                                           "metrics": ({"num_upserted_rows": 1, "num_deleted_rows": 0}
                                                       if flow in auto_cdc else {"num_output_rows": 1})
                                           | {"backlog_bytes": 0}}}), "flow_progress")
            for flow in ["cu_bronze.bars_raw", "cu_bronze.nyse_sessions_raw"] + [f"cu_{name}" for name in DOWNSTREAM]]
    log = plan.event_log
    spark.createDataFrame(rows, EVENT_LOG_DDL).write.format("delta").save(str(log.path))
    register_table(spark, log.published, log.path)
    lines: list[str] = []
    result = wait_for_catchup(plan, LocalSources(), clock=FakeClock(datetime.now(timezone.utc)), timeout_s=60,
                              stall_s=60, poll_s=1, report=lines.append)
    assert (result.files, result.flows) == (2, 7), lines


def test_a_query_the_cluster_refuses_is_one_line():
    class Refusing:
        def sql(self, text):
            raise RuntimeError("[INSUFFICIENT_PERMISSIONS] User does not have SELECT on table.\n  at java...")

    with pytest.raises(WorkspaceError, match=r"^a catch-up query failed on the cluster: \[INSUFFICIENT_PERMISSIONS\] "
                                             r"User does not have SELECT on table\.$"):
        spark_sql(Refusing())("SELECT 1")


# --- the command ---------------------------------------------------------------------------------------

def test_trigger_waits_for_catchup_end_to_end(prod, monkeypatch):
    _, _, server, pipeline, clock, timeline, paths, _ = prod
    record_good_day(timeline, paths)
    clock._now = datetime.now(timezone.utc) + timedelta(days=3650)  # the statements see every event
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "wh-42")
    result = medallion("trigger", "--env", "prod", "--wait-for-catchup", "--since", "2026-11-27T22:00:00Z",
                       "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"continuous pipeline already running update {pipeline.updates[0]['update_id']}" in out
    assert "waiting for 3 landing file(s)" in out and "caught up: 3 landed file(s) and 7 downstream flow(s)" in out
    assert {body["warehouse_id"] for m, p, body in server.requests if p == "/api/2.0/sql/statements"} == {"wh-42"}


def test_trigger_catchup_with_a_failed_update_is_one_line(prod, monkeypatch):
    _, _, server, pipeline, clock, timeline, paths, _ = prod
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "wh-42")
    pipeline.continuous = False  # a triggered pipeline: the update runs to its end first
    pipeline.final_state = "COMPLETED"
    pipeline.updates[0]["state"] = "FAILED"
    line = one_error_line(medallion("trigger", "--env", "prod", "--wait-for-catchup", "--since",
                                    "2026-11-27T22:00:00Z", "--poll-interval", "0.01"))
    assert "stopped: COMPLETED before catching up; pending: medallion_prod.bronze.bars_raw: 2 of 2" in line


def test_trigger_catchup_needs_since_and_a_place_to_query(server: WorkspaceServer, monkeypatch):  # noqa: F811
    server.add_pipeline("medallion_prod", continuous=True, state="RUNNING")
    result = medallion("trigger", "--env", "prod", "--wait-for-catchup")
    assert result.exit_code == 2 and "--wait-for-catchup needs --since" in result.stderr
    result = medallion("trigger", "--env", "prod", "--wait-for-catchup", "--since", "{{job.start_time.iso_datetime}}")
    assert result.exit_code == 2 and "is not an ISO 8601 time" in result.stderr
    monkeypatch.delenv("DATABRICKS_WAREHOUSE_ID", raising=False)
    monkeypatch.delenv("DATABRICKS_RUNTIME_VERSION", raising=False)
    line = one_error_line(medallion("trigger", "--env", "prod", "--wait-for-catchup", "--since", "2026-11-27T22:00:00Z",
                                    "--poll-interval", "0.01"))
    assert "run it on a Databricks cluster (the job's pipeline task does) or set DATABRICKS_WAREHOUSE_ID" in line
    assert os.environ.get("DATABRICKS_TOKEN") not in line
