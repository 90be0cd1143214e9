"""The event log, field for field as Databricks documents it ("Pipeline event log schema", "Advanced AUTO
CDC topics"): per flow kind the metrics it logs and nothing else, the local runtime's own numbers apart
in `details.medallion_local`; readers and aggregations that need only the documented fields.

The first tests are pure (the writer's details, the parser, the aggregations over a Databricks-shaped
log); the others run the real pipeline on real Spark + Delta and read what it logged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest

from framework.eventlog import (LOCAL_DETAILS, LOCAL_FIELDS, FlowKind, events_sql, flow_progress_details,
                                parse_events, window_metrics)
from tests.medallion_testing import bar_rows, make_local_project

DOCUMENTED_METRICS = {
    FlowKind.APPEND: {"num_output_rows"},
    FlowKind.AUTO_CDC: {"num_upserted_rows", "num_deleted_rows"},
    FlowKind.MATERIALIZED_VIEW: {"num_output_rows"},
}
"""`details.flow_progress.metrics` per flow kind (the backlog metrics of a Databricks source aside)."""
DOCUMENTED_PROGRESS = {"status", "metrics", "data_quality"}
DOCUMENTED_QUALITY = {"dropped_records", "expectations"}
DOCUMENTED_EXPECTATION = {"name", "dataset", "passed_records", "failed_records"}


@dataclass
class Counts:
    output_rows: int = 0
    upserted_rows: int = 0
    deleted_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    expectations: dict[str, list[int]] = field(default_factory=dict)


def assert_documented(details: dict, kind: FlowKind) -> None:
    """`details` holds `flow_progress` as documented for `kind`, and local numbers only in `medallion_local`."""
    assert set(details) <= {"flow_progress", LOCAL_DETAILS}, details
    progress = details["flow_progress"]
    assert set(progress) <= DOCUMENTED_PROGRESS, progress
    if "metrics" in progress:
        assert set(progress["metrics"]) == DOCUMENTED_METRICS[kind], (kind, progress["metrics"])
    if "data_quality" in progress:
        assert set(progress["data_quality"]) == DOCUMENTED_QUALITY
        assert all(set(e) == DOCUMENTED_EXPECTATION for e in progress["data_quality"]["expectations"])
    assert set(details.get(LOCAL_DETAILS, {})) <= set(LOCAL_FIELDS)


@pytest.mark.parametrize("kind", list(FlowKind))
def test_each_flow_kind_logs_its_documented_metrics_only(kind):
    counts = Counts(output_rows=90, upserted_rows=80, dropped_rows=4, quarantined_rows=6,
                    expectations={"in_session": [96, 4], "keys_present": [94, 6]})
    details = flow_progress_details("RUNNING", kind, counts, datasets={"in_session": "bars__changes"},
                                    dataset="silver.bars", local={"input_rows": 100, "discarded_duplicates": 10})
    assert_documented(details, kind)
    quality = details["flow_progress"]["data_quality"]
    assert quality["dropped_records"] == 10, "drop rules and quarantine rules (drop rules of the table) alike"
    assert [e["dataset"] for e in quality["expectations"]] == ["bars__changes", "silver.bars"]
    assert details[LOCAL_DETAILS] == {"input_rows": 100, "discarded_duplicates": 10}
    assert "data_quality" not in flow_progress_details("RUNNING", kind, Counts(output_rows=5))["flow_progress"], \
        "a flow without expectations logs no data_quality"
    with pytest.raises(AssertionError, match="undocumented local-only"):
        flow_progress_details("RUNNING", kind, counts, local={"num_deduplicated_rows": 1})


def databricks_log() -> list[tuple]:
    """A Databricks event log of one update: silver.bars' AUTO CDC flow (rules on its view), its quarantine
    flow, bronze's append flow and a gold materialized view — nothing local-only."""
    def event(when: str, flow: str, progress: dict) -> tuple:
        name = ".".join(f"`{p}`" for p in f"medallion_prod.{flow}".split("."))
        return ("u1", when, "flow_progress", name, name, json.dumps({"flow_progress": progress}))

    rules = lambda rows, failed: [  # noqa: E731
        {"name": "keys_present", "dataset": "bars__changes", "passed_records": rows - failed, "failed_records": failed},
        {"name": "in_session", "dataset": "bars__changes", "passed_records": rows - 2, "failed_records": 2}]
    return [("u1", "2026-11-27T22:00:00Z", "create_update", None, None, json.dumps({"create_update": {}})),
            event("2026-11-27T22:01:00Z", "bronze.bars_raw", {"status": "RUNNING", "metrics": {"num_output_rows": 1000}}),
            event("2026-11-27T22:02:00Z", "silver.bars", {"status": "RUNNING", "metrics": {
                "num_upserted_rows": 600, "num_deleted_rows": 0}, "data_quality": {
                "dropped_records": 5, "expectations": rules(600, 3)}}),
            event("2026-11-27T22:03:00Z", "silver.bars", {"status": "RUNNING", "metrics": {
                "num_upserted_rows": 380, "num_deleted_rows": 0}, "data_quality": {
                "dropped_records": 2, "expectations": rules(400, 0)}}),
            event("2026-11-27T22:02:00Z", "silver.bars_quarantine", {"status": "RUNNING",
                                                                     "metrics": {"num_output_rows": 3}}),
            event("2026-11-27T22:04:00Z", "gold.daily_bars", {"status": "COMPLETED", "metrics": {"num_output_rows": 12}})]


def test_documented_fields_alone_give_the_counts_of_every_flow_kind():
    history = parse_events(databricks_log())
    metrics = window_metrics(history)
    bars = metrics["medallion_prod.silver.bars"]
    assert (bars.auto_cdc, bars.upserted_rows, bars.output_rows, bars.local) == (True, 980, 0, {})
    assert (bars.quarantined, bars.dropped) == (3, 4), "quarantine flow output; drop rules = dropped_records - it"
    assert bars.entered == 1000 - 7 and bars.discarded_duplicates == 13, \
        "rows the view's rules saw - dropped - upserted: discarded duplicates without a local-only field"
    assert metrics["medallion_prod.gold.daily_bars"].output_rows == 12
    cdc = [e for e in history.progress if e.table == "bars"]
    assert all(e.has_counts and e.is_auto_cdc and e.output_rows is None for e in cdc)
    assert [e.wrote_rows for e in cdc] == [True, True]


def test_an_auto_cdc_event_with_only_its_two_metrics_is_a_processed_batch():
    rows = [("u1", "2026-11-27T22:02:00Z", "flow_progress", "silver.bars", "silver.bars", json.dumps(
        {"flow_progress": {"status": "RUNNING", "metrics": {"num_upserted_rows": 0, "num_deleted_rows": 0}}}))]
    event = parse_events(rows).progress[0]
    assert event.has_counts and event.wrote_rows is False and event.checked_rows is None
    assert window_metrics(parse_events(rows))["silver.bars"].discarded_duplicates is None, \
        "not derivable without expectations: said unknown, never guessed"


def test_event_log_reads_push_their_window_into_the_statement():
    new_york = timezone(-timedelta(hours=5))
    sql = events_sql("`c`.`ops`.`log`", datetime(2026, 11, 27, 17, tzinfo=new_york), "u'1")
    assert "timestamp >= TIMESTAMP'2026-11-27 22:00:00+00:00'" in sql
    assert "origin.update_id = 'u\\'1'" in sql


@pytest.mark.spark
def test_the_time_bound_is_utc_whatever_the_session_time_zone(spark):
    zone = spark.conf.get("spark.sql.session.timeZone")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        same = spark.sql("SELECT TIMESTAMP'2026-11-27 22:00:00+00:00' = "
                         "timestamp_seconds(unix_seconds(TIMESTAMP'2026-11-27 17:00:00')) AS same").first()["same"]
    finally:
        spark.conf.set("spark.sql.session.timeZone", zone)
    assert same


# --- the real pipeline -------------------------------------------------------------------------------------

DAY, LATER = date(2026, 11, 24), date(2026, 11, 25)


@pytest.fixture(scope="module")
def logged(spark, tmp_path_factory):
    """Two runs: the first lands a day of bars with one bar twice (a duplicate), a bad bar (quarantined)
    and a pre-market bar (dropped); the second re-lands two of the day's bars with new prices under a new
    name (updates: a later `_ingested_at` wins) and one bar of another day twice in one file."""
    project = make_local_project(tmp_path_factory.mktemp("eventlog") / "project")
    project.write_calendar()
    rows = bar_rows("AAPL", DAY)
    bad = {**rows[1], "ts": rows[1]["ts"].replace(":00Z", ":01Z"), "high": 1.0}
    early = {**rows[0], "ts": rows[0]["ts"].replace("14:30", "13:30")}
    project.write_bars("first_b000.jsonl", rows + [rows[2], bad, early])
    first = project.run(spark)
    assert first.ok, [(f.table, f.error) for f in first.failed]
    new_day = bar_rows("MSFT", LATER)[:1]
    project.write_bars("second_b000.jsonl", [{**rows[3], "close": 1.5 * rows[3]["close"], "high": 999.0},
                                             {**rows[4], "volume": 7}] + new_day + new_day)
    second = project.run(spark)
    assert second.ok, [(f.table, f.error) for f in second.failed]
    events = spark.read.format("delta").load(str(project.storage / "tables" / "ops" / "event_log")) \
        .where("event_type = 'flow_progress'").collect()
    return project, first, second, events, len(rows)


KINDS = {"bronze.bars_raw": FlowKind.APPEND, "bronze.nyse_sessions_raw": FlowKind.APPEND,
         "silver.bars": FlowKind.AUTO_CDC, "silver.trading_sessions": FlowKind.AUTO_CDC,
         "silver.bars_quarantine": FlowKind.APPEND, "silver.trading_sessions_quarantine": FlowKind.APPEND,
         "gold.daily_bars": FlowKind.MATERIALIZED_VIEW, "gold.daily_indicators": FlowKind.MATERIALIZED_VIEW,
         "gold.symbol_summary": FlowKind.MATERIALIZED_VIEW}


@pytest.mark.spark
def test_every_flow_progress_event_has_the_documented_shape_of_its_flow_kind(logged):
    _, _, _, events, _ = logged
    seen = set()
    for event in events:
        flow = event["origin"]["flow_name"]
        details = json.loads(event["details"])
        assert_documented(details, KINDS[flow])
        if "metrics" in details["flow_progress"]:
            seen.add(flow)
    assert seen == set(KINDS), "every flow, quarantine tables included (flows of their own), reports its rows"


@pytest.mark.spark
def test_the_run_summary_tells_updates_from_discarded_duplicates(logged):
    from framework.cli.run import summary_table
    from rich.console import Console

    _, first, second, _, day_rows = logged
    bars = first.flow("bars").metrics
    assert (bars.input_rows, bars.written_rows, bars.updated_rows, bars.deduplicated_rows) == \
        (day_rows + 3, day_rows, 0, 1)
    assert (bars.quarantined_rows, bars.dropped_rows) == (1, 1)
    bars = second.flow("bars").metrics
    assert (bars.input_rows, bars.written_rows, bars.updated_rows, bars.deduplicated_rows) == (4, 1, 2, 1), \
        "2 re-landed bars replaced theirs (updates), the new bar twice: 1 written, 1 discarded"
    assert bars.input_rows == bars.written_rows + bars.updated_rows + bars.deduplicated_rows
    console = Console(width=200, record=True)
    console.print(summary_table(second))
    text = console.export_text()
    assert "updated" in text and "duplicates discarded" in text
    line = next(row for row in text.splitlines() if row.startswith("│ silver.bars "))
    assert [cell.strip() for cell in line.split("│")[3:9]] == ["4", "1", "2", "0", "0", "1"]
    raw = next(row for row in text.splitlines() if row.startswith("│ bronze.bars_raw "))
    assert raw.split("│")[5].strip() == "-", "nothing is updated by an append flow"


@pytest.mark.spark
def test_the_log_alone_gives_the_same_split(spark, logged):
    from framework.eventlog import read_with_spark

    project, _, second, _, _ = logged
    log = f"delta.`{project.storage / 'tables' / 'ops' / 'event_log'}`"
    history = read_with_spark(spark, log, update_id=second.update_id)
    bars = window_metrics(history)["silver.bars"]
    m = second.flow("bars").metrics
    assert (bars.upserted_rows, bars.discarded_duplicates) == (m.upserted_rows, m.deduplicated_rows) == (3, 1)
    assert (bars.local["inserted_rows"], bars.local["updated_rows"]) == (1, 2)


@pytest.mark.spark
def test_reconciliation_by_key_holds_on_the_tables_and_catches_a_lost_key(spark, logged):
    from framework.checks.suite import CheckContext, run_checks

    project, _, second, _, day_rows = logged
    loaded, env = project.load(), project.env()
    report = run_checks(CheckContext(spark, loaded, env), ["reconciliation"])
    bars = next(r for r in report.results if r.target == "bars")
    assert bars.passed, bars.detail
    assert bars.detail.startswith(f"bars_raw {day_rows + 7} = {day_rows + 5} passing the rules + quarantined 1 "
                                  f"(bars_quarantine 1) + dropped 1; the passing rows hold {day_rows + 1} keys, "
                                  f"bars holds {day_rows + 1} keys: 0 missing, 0 extra; 4 passing row(s) superseded")
    assert bars.detail.endswith(": 3 upserted (new keys and updates applied), 1 duplicate(s) discarded")
    silver = project.storage / "tables" / "silver" / "bars"
    spark.sql(f"DELETE FROM delta.`{silver}` WHERE symbol = 'MSFT'")  # a key lost between bronze and silver
    report = run_checks(CheckContext(spark, loaded, env), ["reconciliation"])
    bars = next(r for r in report.results if r.target == "bars")
    assert (bars.status, bars.observed) == ("FAIL", 2) and "1 missing, 0 extra" in bars.detail, \
        "a key missing, and one row short of one per key"
    spark.sql(f"INSERT INTO delta.`{silver}` SELECT * FROM delta.`{silver}` LIMIT 2")  # two rows twice
    report = run_checks(CheckContext(spark, loaded, env), ["reconciliation"])
    bars = next(r for r in report.results if r.target == "bars")
    assert bars.status == "FAIL" and f"bars holds {day_rows} keys in {day_rows + 2} rows" in bars.detail
