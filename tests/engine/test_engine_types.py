"""Declared column types are enforced at run time: a value that cannot be cast is never a silent NULL.

Issue 12, case 1: a transform putting a string into a DOUBLE column (`symbol AS vwap`) used to run
`completed` and write NULL in every row. Now it fails the flow naming the spec file, the column, a value
and the type — or, where the spec says `on_type_error: quarantine`, the row goes to the quarantine
table with the reason, counted so that read = written + dropped + quarantined + de-duplicated.
Covered shapes: a de-duplicated streaming table (`__changes` view), a plain streaming table and a
materialized view (both through the `__typed` view), each on real Spark + Delta.
"""

from __future__ import annotations

import re
from datetime import date

import pytest

from tests.medallion_testing import bar_rows, make_local_project

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)
VOLUMES_SPEC = """\
name: bar_volumes
layer: silver
description: Volume per bar, from a text column that is not always a number.
source:
  tables: [bars_raw]
columns:
  - {name: symbol, type: STRING}
  - {name: ts, type: STRING}
  - {name: volume, type: BIGINT}
on_type_error: quarantine
transform:
  sql: SELECT symbol, ts, CASE WHEN symbol = 'MSFT' THEN 'n/a' ELSE CAST(CAST(volume AS BIGINT) AS STRING) END AS volume FROM source
"""
SUMMARY_SPEC = """\
name: volume_summary
layer: gold
description: Total volume per symbol, as text that does not always cast.
source:
  tables: [bar_volumes]
  mode: batch
columns:
  - {name: symbol, type: STRING}
  - {name: total_volume, type: BIGINT, on_type_error: quarantine}
transform:
  sql: |
    SELECT symbol, CASE WHEN symbol = 'AAPL' THEN 'lots' ELSE CAST(sum(volume) AS STRING) END AS total_volume
    FROM source GROUP BY symbol
"""


def _land(project) -> None:
    project.write_calendar()
    project.write_bars("day.jsonl", bar_rows("AAPL", DAY) + bar_rows("MSFT", DAY) + bar_rows("TSLA", DAY))


VWAPS_SPEC = """\
name: bar_vwaps
layer: silver
description: VWAP per bar, from a Python transform that picks the wrong column.
source:
  tables: [bars_raw]
columns:
  - {name: symbol, type: STRING}
  - {name: ts, type: STRING}
  - {name: vwap, type: DOUBLE}
transform:
  python: vwap_typo:vwaps
"""
WRONG_COLUMN = '''\
def vwaps(df):
    return df.select("symbol", "ts", df["symbol"].alias("vwap"))  # the bug: symbol, not vwap
'''


def test_an_uncastable_value_fails_the_flow_with_spec_column_value_and_type(spark, local_project):
    """What validation cannot see (a Python transform's output types) is still never a silent NULL."""
    project = local_project("development: false\nretries: {max_attempts: 3, initial_backoff_seconds: 1}\n")
    (project.root / "tables/silver/bar_vwaps.yaml").write_text(VWAPS_SPEC)
    (project.root / "vwap_typo.py").write_text(WRONG_COLUMN)  # a module name no other test's project has
    _land(project)
    result = project.run(spark, tables=["bars_raw", "bar_vwaps"])
    bars = result.flow("bar_vwaps")
    assert result.status == "FAILED" and bars.status == "FAILED"
    line = next(i for i, text in enumerate(VWAPS_SPEC.splitlines(), 1) if "name: vwap" in text)
    assert bars.error.startswith(f"tables/silver/bar_vwaps.yaml:{line}:"), bars.error
    assert re.search(r"column `vwap` is DOUBLE, but the query gives '(AAPL|MSFT|TSLA)' \(STRING\), which cannot "
                     r"be cast to DOUBLE", bars.error), bars.error
    assert "on_type_error: quarantine" in bars.error and "Traceback" not in bars.error
    assert bars.attempts == 1  # production mode, but running again cannot help
    assert project.table(spark, "silver.bar_vwaps").count() == 0  # nothing half-written


@pytest.fixture(scope="module")
def quarantined(spark, tmp_path_factory):
    project = make_local_project(tmp_path_factory.mktemp("types") / "project")
    project.edit("tables/silver/bars.yaml", "{name: vwap, type: DOUBLE, description: Bar VWAP (may be null).}",
                 "{name: vwap, type: DOUBLE, description: Bar VWAP (may be null)., on_type_error: quarantine}")
    project.edit("tables/silver/bars.yaml", "      vwap,\n",
                 "      CASE WHEN symbol = 'MSFT' THEN 'n/a' ELSE CAST(vwap AS STRING) END AS vwap,\n")
    (project.root / "tables/silver/bar_volumes.yaml").write_text(VOLUMES_SPEC)
    (project.root / "tables/gold/volume_summary.yaml").write_text(SUMMARY_SPEC)
    _land(project)
    result = project.run(spark, tables=["bars_raw", "bars", "bar_volumes", "volume_summary"])
    assert result.status == "COMPLETED", [(f.table, f.error) for f in result.failed]
    return project, result


def test_a_deduplicated_table_quarantines_uncastable_rows_with_the_reason(spark, quarantined):
    project, result = quarantined
    silver = project.table(spark, "silver.bars")
    assert {r.symbol for r in silver.select("symbol").distinct().collect()} == {"AAPL", "TSLA"}
    assert silver.where("vwap IS NULL").count() == 0  # the good rows keep their values
    rows = project.table(spark, "silver.bars_quarantine").where("symbol = 'MSFT'").collect()
    assert len(rows) == len(bar_rows("MSFT", DAY))
    assert all("vwap: 'n/a' (STRING) cannot be cast to DOUBLE" in r["_failed_rules"] for r in rows)
    m = result.flow("bars").metrics
    assert m.quarantined_rows == len(rows) and m.expectations["_column_types"] == [m.input_rows - len(rows), len(rows)]
    bronze = project.table(spark, "bronze.bars_raw").count()
    assert bronze == silver.count() + m.dropped_rows + m.quarantined_rows + m.deduplicated_rows


def test_a_streaming_table_and_a_materialized_view_quarantine_through_their_typed_view(spark, quarantined):
    project, result = quarantined
    volumes = project.table(spark, "silver.bar_volumes")
    assert {r.symbol for r in volumes.select("symbol").distinct().collect()} == {"AAPL", "TSLA"}
    assert dict(volumes.dtypes)["volume"] == "bigint" and "_medallion_type_errors" not in volumes.columns
    quarantine = project.table(spark, "silver.bar_volumes_quarantine")
    assert quarantine.count() == len(bar_rows("MSFT", DAY))
    assert quarantine.first()["_failed_rules"] == ["volume: 'n/a' (STRING) cannot be cast to BIGINT"]
    m = result.flow("bar_volumes").metrics
    assert m.input_rows == m.written_rows + m.dropped_rows + m.quarantined_rows and m.quarantined_rows == quarantine.count()
    summary = {r.symbol: r.total_volume for r in project.table(spark, "gold.volume_summary").collect()}
    assert summary == {"TSLA": sum(r["volume"] for r in bar_rows("TSLA", DAY))}
    assert [r["_failed_rules"] for r in project.table(spark, "gold.volume_summary_quarantine").collect()] == [
        ["total_volume: 'lots' (STRING) cannot be cast to BIGINT"]]
    assert result.flow("volume_summary").metrics.quarantined_rows == 1
