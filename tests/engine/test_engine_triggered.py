"""The real specs of tables/ on the local runtime, end to end, on real Spark + Delta.

One project is run three times: the first run ingests landing files with injected defects, the
second finds nothing new and must change nothing, the third re-lands files (same name, new name).
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.medallion_testing import SESSIONS, bar_rows, make_local_project, rfc3339

pytestmark = pytest.mark.spark

DAYS = (date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25), date(2026, 11, 27))
SYMBOLS = ("AAPL", "MSFT")
TABLES = ("bronze.bars_raw", "bronze.nyse_sessions_raw", "silver.bars", "silver.bars_quarantine",
          "silver.trading_sessions", "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary")


def defects(day: date) -> list[str]:
    """One of each problem the pipeline must route: expected place in the comment."""
    good = bar_rows("AAPL", day)[3]
    opens, _ = SESSIONS[day]

    def at(minutes: int) -> str:
        return rfc3339(opens + timedelta(minutes=minutes))

    return [
        json.dumps(good),                                                    # exact duplicate -> de-duplicated
        '{"symbol": "AAPL", "ts": "2026-11-23T15:00:00Z", "open": 1',        # malformed -> quarantine
        json.dumps({**good, "ts": at(5), "open": "not a number"}),           # wrong type -> quarantine
        json.dumps({**good, "ts": at(7), "high": 1.0}),                      # high < low -> quarantine
        json.dumps({**good, "symbol": None, "ts": at(8)}),                   # no symbol -> quarantine
        json.dumps({**good, "ts": at(-60)}),                                 # pre-market -> dropped
    ]


@pytest.fixture(scope="module")
def pipeline(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("triggered") / "project")
    project.write_calendar()
    for day in DAYS:
        rows = [row for symbol in SYMBOLS for row in bar_rows(symbol, day)]
        project.write_bars(f"synthetic_{day}_b000.jsonl", rows + defects(day))
    first = project.run(spark)
    return project, first


def test_first_run_builds_every_table(pipeline):
    project, result = pipeline
    assert result.status == "COMPLETED", [(f.table, f.error) for f in result.failed]
    assert [f.status for f in result.flows] == ["COMPLETED"] * 7
    for table in TABLES:
        assert (project.storage / "tables" / table.replace(".", "/") / "_delta_log").is_dir(), table


def test_rows_are_accounted_for(spark, pipeline):
    """bronze = silver + dropped + quarantined + de-duplicated, from the tables and from the metrics."""
    project, result = pipeline
    bronze = project.table(spark, "bronze.bars_raw").count()
    silver = project.table(spark, "silver.bars").count()
    quarantine = project.table(spark, "silver.bars_quarantine").count()
    m = result.flow("bars").metrics
    valid = sum(len(bar_rows(s, d)) for s in SYMBOLS for d in DAYS)
    assert bronze == valid + 6 * len(DAYS) == m.input_rows
    assert silver == valid == m.written_rows
    assert (m.quarantined_rows, m.dropped_rows, m.deduplicated_rows) == (4 * len(DAYS), len(DAYS), len(DAYS))
    assert quarantine == m.quarantined_rows
    assert bronze == silver + m.dropped_rows + m.quarantined_rows + m.deduplicated_rows


def test_quarantine_keeps_rows_with_their_failed_rules(spark, pipeline):
    project, _ = pipeline
    rows = project.table(spark, "silver.bars_quarantine").collect()
    assert all(r["_quarantined_at"] is not None and r["_failed_rules"] for r in rows)
    rescued = [(r, json.loads(r["_rescued_data"])) for r in rows if r["_rescued_data"]]
    # a line that does not parse is kept whole, with its file, as Auto Loader's `{..., "_file_path": ...}`
    malformed = [r for r, fields in rescued if fields.get("_corrupt_record", "").endswith('"open": 1')]
    assert len(malformed) == len(DAYS) and "well_formed" in malformed[0]["_failed_rules"]
    assert all(fields["_file_path"] == r["_source_file"] for r, fields in rescued)
    inverted = [r for r in rows if r["_rescued_data"] is None and r["high"] == 1.0]
    assert {"high_not_below_low", "high_covers_open_close"} <= set(inverted[0]["_failed_rules"])
    assert "well_formed" not in inverted[0]["_failed_rules"]
    nameless = [r for r in rows if r["symbol"] is None and r["_rescued_data"] is None]
    assert len(nameless) == len(DAYS) and nameless[0]["_failed_rules"] == ["keys_present"]
    mistyped = [r for r, fields in rescued if fields.get("open") == "not a number"]  # only the field that did not fit
    assert len(mistyped) == len(DAYS) and set(json.loads(mistyped[0]["_rescued_data"])) == {"open", "_file_path"}
    assert mistyped[0]["symbol"] == "AAPL" and mistyped[0]["open"] is None  # the rest of the line is placed


def test_bronze_keeps_raw_lines_and_ingestion_metadata(spark, pipeline):
    project, _ = pipeline
    bronze = project.table(spark, "bronze.bars_raw")
    assert {"_rescued_data", "_source_file", "_ingested_at"} <= set(bronze.columns)
    files = {Path(r["_source_file"]).name for r in bronze.select("_source_file").distinct().collect()}
    assert files == {f"synthetic_{d}_b000.jsonl" for d in DAYS}
    assert bronze.where("_rescued_data IS NOT NULL").count() == 2 * len(DAYS)
    assert bronze.where("_ingested_at IS NULL").count() == 0


def test_gold_daily_bars_match_an_independent_computation(spark, pipeline):
    project, _ = pipeline
    day = date(2026, 11, 27)  # the 13:00 early close
    rows = bar_rows("MSFT", day)
    got = project.table(spark, "gold.daily_bars").where(f"symbol = 'MSFT' AND trade_date = DATE'{day}'").first()
    volume = sum(r["volume"] for r in rows)
    assert got["open"] == rows[0]["open"] and got["close"] == rows[-1]["close"]
    assert got["high"] == max(r["high"] for r in rows) and got["low"] == min(r["low"] for r in rows)
    assert got["volume"] == volume and got["bar_count"] == len(rows)
    assert got["vwap"] == pytest.approx(sum(r["vwap"] * r["volume"] for r in rows) / volume, rel=1e-12)
    last_utc = datetime.fromisoformat(rows[-1]["ts"].replace("Z", "+00:00"))
    assert got["last_bar_ts"].replace(tzinfo=timezone.utc) == last_utc
    new_york = last_utc.astimezone(ZoneInfo("America/New_York")).date()
    assert got["trade_date"] == new_york == day


def test_event_log_has_the_dlt_shape_and_matches_the_run(spark, pipeline):
    from framework.eventlog import EXPECTATIONS_TYPE, read_with_spark, table_metrics

    project, result = pipeline
    metrics = table_metrics(read_with_spark(spark, "ops.event_log"))
    bars = metrics["silver.bars"]
    m = result.flow("bars").metrics
    # documented fields only: the AUTO CDC flow's upserts, the quarantine flow's output, drops, and the
    # discarded duplicates derived from them (rows its view's rules saw - dropped - upserted)
    assert (bars.auto_cdc, bars.upserted_rows, bars.deleted_rows, bars.output_rows) == (True, m.upserted_rows, 0, 0)
    assert (bars.dropped, bars.quarantined, bars.discarded_duplicates) == \
        (m.dropped_rows, m.quarantined_rows, m.deduplicated_rows)
    assert bars.local["input_rows"] == m.input_rows and bars.local["discarded_duplicates"] == m.deduplicated_rows
    assert bars.expectations["in_session"].failed == 2 * len(DAYS)  # pre-market + malformed (no session)
    # the documented DLT data-quality query, in its portable form
    rows = spark.sql(f"""
        SELECT e.dataset, e.name, sum(e.passed_records) AS passed, sum(e.failed_records) AS failed
        FROM ops.event_log
        LATERAL VIEW explode(from_json(get_json_object(details, '$.flow_progress.data_quality.expectations'),
                                       '{EXPECTATIONS_TYPE}')) t AS e
        WHERE event_type = 'flow_progress' AND origin.update_id = '{result.update_id}'
        GROUP BY e.dataset, e.name""").collect()
    by_rule = {(r["dataset"], r["name"]): (r["passed"], r["failed"]) for r in rows}
    for name, (passed, failed) in m.expectations.items():
        assert by_rule[("bars__changes", name)] == (passed, failed), "declared on the AUTO CDC flow's source view"
    assert by_rule[("bars__changes", "well_formed")][1] == 2 * len(DAYS)
    types = {r["event_type"] for r in spark.sql(
        f"SELECT DISTINCT event_type FROM ops.event_log WHERE origin.update_id = '{result.update_id}'").collect()}
    assert {"create_update", "update_progress", "flow_progress"} <= types


def test_a_triggered_update_writes_its_events_in_one_commit(spark, pipeline):
    """An update's start (create_update, RUNNING) waits staged on disk and is written with the rest at its
    end: one event-log commit per triggered update, nothing left staged."""
    project, _ = pipeline
    log = project.storage / "tables" / "ops" / "event_log" / "_delta_log"
    writes = [p for p in sorted(log.glob("*.json")) if '"operation":"WRITE"' in p.read_text()]
    updates = spark.sql("SELECT count(DISTINCT origin.update_id) AS n FROM ops.event_log").first()["n"]
    assert len(writes) == updates >= 1
    assert not list((project.storage / "checkpoints" / "_events").glob("*.json"))


def test_new_batches_carry_their_commit_tag_without_idempotent_write_options(pipeline):
    """No batch of an uninterrupted run can be a replay: its commits are tagged (flow, batch) for a later
    replay to recognise, and carry no `txn` action (Delta would rebuild the table's state to check one)."""
    project, _ = pipeline
    for table in ("bronze/bars_raw", "silver/bars", "silver/bars_quarantine"):
        text = "".join(p.read_text() for p in (project.storage / "tables" / table / "_delta_log").glob("*.json"))
        assert '\\"batch\\": 0' in text, table
        assert '{"txn":' not in text, table


def test_rerun_without_new_files_changes_nothing(spark, pipeline):
    project, _ = pipeline
    before = {t: (project.versions(t), project.table(spark, t).count()) for t in TABLES}
    again = project.run(spark)
    assert again.ok
    assert all(f.metrics.input_rows == 0 for f in again.flows if f.spec.is_streaming)
    assert {f.status for f in again.flows if not f.spec.is_streaming} == {"UP_TO_DATE"}
    assert not again.optimized
    assert {t: (project.versions(t), project.table(spark, t).count()) for t in TABLES} == before


def test_relanded_files_are_ingested_once_per_name(spark, pipeline):
    project, _ = pipeline
    day = DAYS[0]
    bronze_before = project.table(spark, "bronze.bars_raw").count()
    silver_before = project.table(spark, "silver.bars").count()
    rows = [row for symbol in SYMBOLS for row in bar_rows(symbol, day)]
    project.write_bars(f"synthetic_{day}_b000.jsonl", rows)  # the same name again: already ingested
    project.write_bars(f"synthetic_{day}_b001.jsonl", rows)  # the same bars under a new name: duplicates
    result = project.run(spark, tables=["bars_raw", "bars"])
    assert [f.name for f in result.flows] == ["bars_raw", "bars"]
    assert project.table(spark, "bronze.bars_raw").count() == bronze_before + len(rows)
    assert project.table(spark, "silver.bars").count() == silver_before
    m = result.flow("bars").metrics
    # every re-landed bar replaced its key's row (a later `_ingested_at`): updates applied, not duplicates
    assert (m.input_rows, m.written_rows, m.updated_rows, m.deduplicated_rows) == (len(rows), 0, len(rows), 0)
    # the later ingestion won: silver now points at the new file for that day
    latest = project.table(spark, "silver.bars").where(f"trade_date = DATE'{day}'").select("_source_file").distinct()
    assert [Path(r[0]).name for r in latest.collect()] == [f"synthetic_{day}_b001.jsonl"]


def history(spark, project, table: str) -> list[tuple[int, str]]:
    path = project.storage / "tables" / table.replace(".", "/")
    return [(r.version, r.operation) for r in spark.sql(f"DESCRIBE HISTORY delta.`{path}`").collect()]


def as_of(spark, project, table: str, version: int):
    path = project.storage / "tables" / table.replace(".", "/")
    return spark.read.format("delta").option("versionAsOf", version).load(str(path))


def test_full_refresh_rebuilds_a_table_from_its_source_and_keeps_its_history(spark, pipeline):
    """As Databricks truncates a streaming table on a full refresh, the table gets a new, empty version:
    versions do not restart at 0 and time travel to before the refresh still works."""
    project, _ = pipeline
    silver = project.table(spark, "silver.bars").count()
    quarantine = project.table(spark, "silver.bars_quarantine").count()
    before = history(spark, project, "silver.bars")[0][0]
    result = project.run(spark, tables=["bars"], full_refresh=["bars"])
    assert result.ok and [f.name for f in result.flows] == ["bars"]
    m = result.flow("bars").metrics
    assert m.input_rows == project.table(spark, "bronze.bars_raw").count()  # re-read from the start
    assert project.table(spark, "silver.bars").count() == silver
    assert project.table(spark, "silver.bars_quarantine").count() == quarantine  # rebuilt, not appended to
    after = history(spark, project, "silver.bars")
    replaced = [v for v, op in after if v > before and "REPLACE" in op]
    assert replaced, after  # one new version: the empty table of the refresh
    assert as_of(spark, project, "silver.bars", replaced[0]).count() == 0
    assert as_of(spark, project, "silver.bars", before).count() == silver  # the past is still there


def test_small_writes_never_rewrite_the_history(spark, pipeline):
    """Tables asking for auto compaction are compacted by the engine's OPTIMIZE (once `optimize_min_files`
    new files exist), never by Delta's synchronous post-commit hook: that hook rewrote every small file of
    the table after each micro-batch, so a 390-row batch on 1M rows cost a rewrite of the 1M rows (and a
    day's update cost grew with the history)."""
    project, _ = pipeline
    day = DAYS[1]
    # Delta compacts once it counts `minNumFiles` small files (50) in its in-memory statistics; a long-lived
    # continuous process gets there, this test's few commits would not: lower it to make the hook fire.
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "2")
    try:
        for name in ("b101", "b102", "b103"):  # three more small commits to bronze and silver
            project.write_bars(f"synthetic_{day}_{name}.jsonl", [bar_rows("NVDA", day)[int(name[-1])]])
            assert project.run(spark, tables=["bars_raw", "bars"]).ok
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")
    for table in ("bronze.bars_raw", "silver.bars"):
        log = project.storage / "tables" / table.replace(".", "/") / "_delta_log"
        commits = [json.loads(line)["commitInfo"] for f in sorted(log.glob("*.json"))
                   for line in f.read_text().splitlines() if '"commitInfo"' in line]
        assert [c for c in commits if str(c.get("operationParameters", {}).get("auto")).lower() == "true"] == [], table
        assert len([c for c in commits if c["operation"] in ("WRITE", "MERGE", "STREAMING UPDATE")]) >= 4, table


def test_full_refresh_of_an_append_only_table_keeps_its_history(spark, pipeline):
    """bronze.bars_raw is `delta.appendOnly`: its refresh is still a new version, and the property stays."""
    project, _ = pipeline
    bronze = project.table(spark, "bronze.bars_raw").count()
    before = history(spark, project, "bronze.bars_raw")[0][0]
    result = project.run(spark, tables=["bars_raw"], full_refresh=["bars_raw"])
    assert result.ok, [(f.table, f.error) for f in result.failed]
    landed = sum(1 for f in (project.landing / "bars").glob("[!._]*") for line in f.read_text().splitlines()
                 if line.strip())
    assert project.table(spark, "bronze.bars_raw").count() == landed  # every landing file read again, as it is now
    assert as_of(spark, project, "bronze.bars_raw", before).count() == bronze
    path = project.storage / "tables/bronze/bars_raw"
    properties = {r.key: r.value for r in spark.sql(f"SHOW TBLPROPERTIES delta.`{path}`").collect()}
    assert properties["delta.appendOnly"] == "true"
