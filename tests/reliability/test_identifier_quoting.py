"""Identifiers from specs are quoted wherever the engine generates SQL.

A pipeline whose columns are SQL reserved words (`order`, `select`, `from`, `timestamp`) runs end to
end on real Spark + Delta: CREATE TABLE with the declared schema, expectations, the quarantine split,
the de-duplicating MERGE (keys, key-range pruning and sequence column all reserved words), a
materialized view and OPTIMIZE ZORDER BY. Any unquoted identifier would be a parse error.
"""

from __future__ import annotations

import json
import shutil

import pytest

from tests.medallion_testing import land, make_local_project

pytestmark = [pytest.mark.spark, pytest.mark.reliability]

SPECS = {
    "bronze/orders_raw.yaml": """\
name: orders_raw
layer: bronze
description: Orders whose columns are SQL reserved words.
source:
  files:
    path: ${landing_path}/orders
    format: json
columns:
  - {name: order, type: STRING}
  - {name: select, type: STRING}
  - {name: from, type: DOUBLE}
  - {name: timestamp, type: STRING}
zorder_by: [order]
""",
    "silver/orders.yaml": """\
name: orders
layer: silver
description: Typed orders, latest row per (order, select).
source:
  tables: [orders_raw]
columns:
  - {name: order, type: STRING, nullable: false}
  - {name: select, type: STRING, nullable: false}
  - {name: from, type: DOUBLE}
  - {name: timestamp, type: TIMESTAMP}
keys: [order, select]
dedupe:
  sequence_by: timestamp
zorder_by: [order, select]
transform:
  sql: |
    SELECT `order`, `select`, `from`, to_timestamp(`timestamp`) AS `timestamp` FROM source
expectations:
  - {name: from_positive, rule: "`from` > 0", action: quarantine}
  - {name: has_select, rule: "`select` IS NOT NULL", action: drop}
""",
    "gold/order_totals.yaml": """\
name: order_totals
layer: gold
description: Total per order.
source:
  tables: [orders]
  mode: batch
columns:
  - {name: order, type: STRING}
  - {name: from, type: DOUBLE}
keys: [order]
zorder_by: [order]
transform:
  sql: SELECT `order`, sum(`from`) AS `from` FROM source GROUP BY `order`
""",
}


def order(key: str, select: str | None, amount: float, ts: str) -> dict:
    return {"order": key, "select": select, "from": amount, "timestamp": ts}


def test_reserved_word_identifiers_run_end_to_end(spark, tmp_path):
    project = make_local_project(tmp_path / "project", "optimize_min_files: 2\n")  # OPTIMIZE on the 2nd file
    shutil.rmtree(project.root / "tables")
    for relative, text in SPECS.items():
        (project.root / "tables" / relative).parent.mkdir(parents=True, exist_ok=True)
        (project.root / "tables" / relative).write_text(text)
    folder = project.landing / "orders"
    land(folder, "a.jsonl", [order("o1", "s1", 10, "2026-11-20T10:00:00"), order("o1", "s2", 5, "2026-11-20T10:00:00"),
                             order("o2", "s1", -1, "2026-11-20T10:00:00"), order("o3", None, 7, "2026-11-20T10:00:00")])
    first = project.run(spark)
    assert first.ok, [f.error for f in first.failed]

    # a second file merges into the now non-empty table: a newer row wins, an older one loses
    land(folder, "b.jsonl", [order("o1", "s1", 20, "2026-11-21T10:00:00"), order("o1", "s2", 1, "2026-11-19T10:00:00"),
                             order("o4", "s1", 3, "2026-11-21T10:00:00")])
    second = project.run(spark)
    assert second.ok, [f.error for f in second.failed]

    silver = {(r["order"], r["select"]): r["from"] for r in project.table(spark, "silver.orders").collect()}
    assert silver == {("o1", "s1"): 20.0, ("o1", "s2"): 5.0, ("o4", "s1"): 3.0}
    quarantined = project.table(spark, "silver.orders_quarantine").collect()
    assert [(r["order"], list(r["_failed_rules"])) for r in quarantined] == [("o2", ["from_positive"])]
    totals = {r["order"]: r["from"] for r in project.table(spark, "gold.order_totals").collect()}
    assert totals == {"o1": 25.0, "o4": 3.0}
    metrics = second.flow("silver.orders").metrics
    # o4 is a new row, o1/s1 replaced its key's row (an update applied), o1/s2 is older than the row of its key
    # already in the table (a duplicate discarded): written 1 + updated 1 + discarded 1 = the 3 rows read
    assert (metrics.input_rows, metrics.written_rows, metrics.updated_rows, metrics.upserted_rows,
            metrics.deduplicated_rows) == (3, 1, 1, 2, 1)
    optimized = json.dumps(first.optimized + second.optimized)
    assert "bronze.orders_raw" in optimized  # two files by then: OPTIMIZE ZORDER BY (`order`) ran
