"""Views honour their expectations as tables do (issue: runtime fidelity, expectations per dataset kind).

Before: a view applied only its `drop` rules; `warn` was never counted and `fail` never stopped anything,
although validation accepted both. Now `drop` filters, `fail` stops the flow (the view's own, for a
batch view, and any flow reading a violating row), and a batch view's rules are counted in the event log.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.medallion_testing import bar_rows

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)
VIEW_SPEC = """\
name: priced_bars
layer: silver
kind: view
description: Bars with a price band, for the summary below.
source:
  tables: [bars]
  mode: batch
columns:
  - {name: symbol, type: STRING}
  - {name: close, type: DOUBLE}
  - {name: volume, type: BIGINT}
transform:
  sql: SELECT symbol, close, volume FROM source
expectations:
  - {name: busy, rule: volume > 1100, action: warn}
  - {name: not_penny, rule: close >= 10, action: drop}
  - {name: known_symbol, rule: "symbol IN ('AAPL', 'PENNY')", action: fail}
"""
SUMMARY_SPEC = """\
name: priced_summary
layer: gold
description: Bars per symbol, through the view.
source:
  tables: [priced_bars]
  mode: batch
columns:
  - {name: symbol, type: STRING}
  - {name: bars, type: BIGINT}
transform:
  sql: SELECT symbol, count(*) AS bars FROM source GROUP BY symbol
"""
TABLES = ["bars_raw", "nyse_sessions_raw", "trading_sessions", "bars", "priced_bars", "priced_summary"]


def _project(local_project, symbols: dict[str, float]):
    project = local_project()
    (project.root / "tables/silver/priced_bars.yaml").write_text(VIEW_SPEC)
    (project.root / "tables/gold/priced_summary.yaml").write_text(SUMMARY_SPEC)
    project.write_calendar()
    project.write_bars("day.jsonl", [row for symbol, price in symbols.items()
                                     for row in bar_rows(symbol, DAY, price=price)])
    return project


def test_a_view_drops_counts_warn_rules_and_feeds_its_readers(spark, local_project):
    project = _project(local_project, {"AAPL": 150.0, "PENNY": 1.0})
    result = project.run(spark, tables=TABLES)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    summary = {r.symbol: r.bars for r in project.table(spark, "gold.priced_summary").collect()}
    assert summary == {"AAPL": len(bar_rows("AAPL", DAY))}  # PENNY's rows dropped by the view
    metrics = result.flow("priced_bars").metrics
    rows = 2 * len(bar_rows("AAPL", DAY))
    busy_failed = sum(1 for r in bar_rows("AAPL", DAY) if r["volume"] <= 1100) * 2
    assert metrics.input_rows == rows and metrics.dropped_rows == rows // 2
    assert metrics.expectations["busy"] == [rows - busy_failed, busy_failed]
    events = spark.table("ops.event_log").where(f"origin.update_id = '{result.update_id}'")
    logged = events.where("event_type = 'flow_progress' AND origin.flow_name = 'priced_bars'") \
                   .where("get_json_object(details, '$.flow_progress.data_quality') IS NOT NULL").count()
    assert logged == 1


def test_a_violated_fail_rule_on_a_view_fails_the_update(spark, local_project):
    project = _project(local_project, {"AAPL": 150.0, "MSFT": 300.0})
    result = project.run(spark, tables=TABLES)
    assert result.status == "FAILED"
    view = result.flow("priced_bars")
    assert view.status == "FAILED" and "known_symbol" in view.error and "MSFT" in view.error, view.error
    assert result.flow("priced_summary").status != "COMPLETED"
