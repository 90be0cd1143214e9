"""Liquid clustering locally: `cluster_by: [cols]` is `CLUSTER BY (...)`; `cluster_by: auto` (automatic
liquid clustering, `CLUSTER BY AUTO` on Databricks) has no open-source Delta counterpart, so the table
is created unclustered with one notice (issue 21, item 6).

Before: the spec schema rejected `cluster_by: auto` (a list was required), so none of this loaded.
"""

from __future__ import annotations

from datetime import date

import pytest

from framework.engine.dlt_api import LocalDLT
from framework.pipeline import register_tables
from tests.medallion_testing import bar_rows

DAY = date(2026, 11, 24)
TABLES = ["bars_raw", "nyse_sessions_raw", "trading_sessions", "bars"]


def _clustered_project(local_project):
    """silver.bars (a create_streaming_table target) on automatic clustering, bronze.bars_raw (a
    streaming table) on liquid clustering by `symbol`."""
    project = local_project()
    project.edit("tables/silver/bars.yaml", "zorder_by: [symbol, trade_date]", "cluster_by: auto")
    project.edit("tables/bronze/bars_raw.yaml", "zorder_by: [symbol]", "cluster_by: [symbol]")
    return project


def test_cluster_by_auto_reaches_the_local_dataset(local_project):
    project = _clustered_project(local_project)
    loaded = project.load()
    dlt = LocalDLT()
    register_tables(dlt, None, loaded, loaded.environment(project.env_name))
    bars, raw = dlt.graph.datasets["silver.bars"], dlt.graph.datasets["bronze.bars_raw"]
    assert (bars.cluster_by, bars.cluster_by_auto) == ((), True)
    assert (raw.cluster_by, raw.cluster_by_auto) == (("symbol",), False)


@pytest.mark.spark
def test_delta_spark_has_no_cluster_by_auto(spark, tmp_path):
    """Why the local engine does not apply automatic clustering. If a delta-spark upgrade parses it,
    this fails: then `engine.tables.table_definition` should emit `CLUSTER BY AUTO` instead of the notice."""
    from pyspark.errors import ParseException

    with pytest.raises(ParseException, match="AUTO"):
        spark.sql(f"CREATE TABLE clustering_probe (a INT) USING delta CLUSTER BY AUTO LOCATION '{tmp_path / 't'}'")


@pytest.mark.spark
def test_a_cluster_by_auto_table_is_created_unclustered_with_one_notice(spark, local_project, capsys):
    project = _clustered_project(local_project)
    project.write_calendar()
    project.write_bars("day.jsonl", bar_rows("AAPL", DAY) + bar_rows("MSFT", DAY))
    result = project.run(spark, tables=TABLES)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    assert project.table(spark, "silver.bars").count() == len(bar_rows("AAPL", DAY)) * 2
    storage = project.storage / "tables"
    detail = {name: spark.sql(f"DESCRIBE DETAIL delta.`{storage / name}`").first()["clusteringColumns"]
              for name in ("silver/bars", "bronze/bars_raw")}
    assert detail == {"silver/bars": [], "bronze/bars_raw": ["symbol"]}
    notices = [line for line in capsys.readouterr().err.splitlines() if "cluster_by: auto" in line]
    assert len(notices) == 1 and "`silver.bars`" in notices[0] and "unclustered" in notices[0], notices
