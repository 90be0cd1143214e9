"""A user adds a valid dataset to the project and everything the project's tests exercise still works (issue 22).

The repository project as it is — all of its tables/, whatever they hold — copied, plus a new bronze table
over a landing folder nothing has been written to yet and a silver table reading it: `medallion validate`
stays clean (the rendered bundle needs no re-render: it names no table), and a local run of the whole
project succeeds, the market tables filled, the new ones created empty.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.engine.results import FlowStatus
from tests.medallion_testing import BUNDLE_PARTS, PROJECT_PARTS, REPO, LocalProject, bar_rows, SESSIONS

WEB_ORDERS = """\
name: web_orders
layer: bronze
description: Orders placed on the web shop, landed as JSON lines (none yet).
owner: shop-team
source:
  files:
    path: ${landing_path}/web_orders
    format: json
columns:
  - {name: order_id, type: STRING, description: Order id.}
  - {name: amount, type: STRING, description: Order amount as text.}
  - {name: placed_at, type: STRING, description: When the order was placed (RFC 3339).}
keys: [order_id]
"""
ORDERS = """\
name: orders
layer: silver
description: Web orders, typed, one row per order (the latest landed).
owner: shop-team
source:
  tables: [web_orders]
columns:
  - {name: order_id, type: STRING, nullable: false, description: Order id.}
  - {name: amount, type: "DECIMAL(12,2)", description: Order amount.}
  - {name: placed_at, type: TIMESTAMP, description: When the order was placed.}
  - {name: _ingested_at, type: TIMESTAMP, description: When bronze ingested the order.}
keys: [order_id]
dedupe:
  sequence_by: _ingested_at
transform:
  sql: |
    SELECT order_id, try_cast(amount AS DECIMAL(12,2)) AS amount, try_to_timestamp(placed_at) AS placed_at,
           _ingested_at
    FROM source
expectations:
  - name: has_id
    rule: order_id IS NOT NULL
    action: quarantine
    description: An order needs an id.
"""


@pytest.fixture
def grown(tmp_path: Path) -> LocalProject:
    """The whole repository project (every spec in tables/) plus web_orders -> orders, in tmp."""
    root = tmp_path / "project"
    shutil.copytree(REPO / "tables", root / "tables")
    for part in (*PROJECT_PARTS, *BUNDLE_PARTS):
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, root / part)
    (root / "tables" / "bronze" / "web_orders.yaml").write_text(WEB_ORDERS)
    (root / "tables" / "silver" / "orders.yaml").write_text(ORDERS)
    return LocalProject(root)


def test_a_new_dataset_keeps_the_project_valid(grown):
    result = CliRunner().invoke(cli, ["validate", "--project", str(grown.root)])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("valid") and "warning" not in result.output, result.output
    assert "bundle" not in result.output, "the rendered bundle names no table: no re-render needed"


@pytest.mark.spark
def test_a_new_dataset_with_no_landed_file_runs_empty_beside_the_market_tables(spark, grown):
    (grown.root / "environments" / "test.yaml").write_text(
        f"name: test\nextends: local\nlanding_path: {grown.landing}\nstorage_root: {grown.storage}\n"
        "spark_conf:\n  spark.sql.shuffle.partitions: \"2\"\n")
    grown.write_calendar()
    day = sorted(SESSIONS)[2]
    grown.write_bars("synthetic_b000.jsonl", bar_rows("AAPL", day) + bar_rows("MSFT", day))
    assert not (grown.landing / "web_orders").exists()

    result = grown.run(spark)
    assert result.ok, [(f.table, f.status, f.error) for f in result.flows]
    statuses = {f.table: f.status for f in result.flows}
    assert statuses["bronze.web_orders"] == statuses["silver.orders"] == FlowStatus.COMPLETED, statuses
    assert grown.table(spark, "bronze.web_orders").count() == 0
    assert grown.table(spark, "silver.orders").count() == 0
    assert grown.table(spark, "silver.bars").count() == 2 * len(bar_rows("AAPL", day))
    assert grown.table(spark, "gold.daily_bars").count() == 2
