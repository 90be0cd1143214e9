"""A small orders project (not market data) that declares its quality checks in its specs, for the
tests of declared checks: landing JSON -> bronze `orders_raw` -> silver `orders` (de-duplicated by
`order_id`) -> gold `daily_revenue`, and a project check kind `revenue_at_least` from its own module.

`write_orders_project(root, ...)` writes the files; specs can be replaced to test validation.
"""

from __future__ import annotations

from pathlib import Path

from tests.medallion_testing import LocalProject, land

ORDERS_RAW = """\
name: orders_raw
layer: bronze
description: Orders as landed.
source:
  files: {path: "${landing_path}/orders", format: json}
columns:
  - {name: order_id, type: STRING}
  - {name: customer, type: STRING}
  - {name: amount, type: DOUBLE}
  - {name: order_date, type: STRING}
checks:
  freshness:
    max_age: 26 hours          # of _ingested_at, the default column
"""

ORDERS = """\
name: orders
layer: silver
description: One row per order.
source:
  tables: [orders_raw]
columns:
  - {name: order_id, type: STRING, nullable: false}
  - {name: customer, type: STRING}
  - {name: amount, type: DOUBLE}
  - {name: order_date, type: DATE}
  - {name: _ingested_at, type: TIMESTAMP}
keys: [order_id]
dedupe:
  sequence_by: _ingested_at
transform:
  sql: |
    SELECT order_id, customer, amount, try_cast(order_date AS DATE) AS order_date, _ingested_at
    FROM source
checks:
  volume:
    min_rows: 1
    max_drop: 0.5
"""

DAILY_REVENUE = """\
name: daily_revenue
layer: gold
description: Revenue per order date.
source:
  tables: [orders]
  mode: batch
columns:
  - {name: order_date, type: DATE, nullable: false}
  - {name: revenue, type: DOUBLE}
  - {name: orders, type: BIGINT}
keys: [order_date]
transform:
  sql: |
    SELECT order_date, sum(amount) AS revenue, count(*) AS orders FROM source GROUP BY order_date
checks:
  freshness:
    column: order_date
    max_age: 3 days
  custom:
    - kind: revenue_at_least
      min_revenue: 50
      severity: critical
    - kind: broken_kind
"""

CHECK_KINDS = '''\
"""The orders project's own check kinds (declared in medallion.yaml)."""

from framework.checks.results import CheckResult


def revenue_at_least(ctx, spec, params):
    """Every day's revenue is at least `min_revenue`."""
    floor = float(params["min_revenue"])
    low = ctx.spark.sql(f"SELECT order_date, revenue FROM {ctx.name(spec)} WHERE revenue < {floor} "
                        "ORDER BY order_date").collect()
    yield CheckResult("revenue_at_least", spec.name, not low, params.get("severity", "warning"), len(low),
                      f">= {floor:g} per day", ", ".join(f"{r['order_date']}: {r['revenue']:g}" for r in low),
                      missing=[str(r["order_date"]) for r in low])


def broken_kind(ctx, spec, params):
    raise ValueError("the threshold table is not configured")
'''

MEDALLION_YAML = """\
check_kinds:
  revenue_at_least: orders_checks:revenue_at_least
  broken_kind: orders_checks:broken_kind
"""


def write_orders_project(root: Path, **specs: str) -> LocalProject:
    """The orders project under `root` with a local `test` environment; `specs` replace spec texts by name."""
    texts = {"bronze/orders_raw": ORDERS_RAW, "silver/orders": ORDERS, "gold/daily_revenue": DAILY_REVENUE}
    for path, text in texts.items():
        name = path.split("/")[1]
        target = root / "tables" / f"{path}.yaml"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(specs.get(name, text))
    (root / "environments").mkdir(parents=True, exist_ok=True)
    (root / "environments" / "test.yaml").write_text(
        "name: test\nruntime: local\ncatalog: shop_local\n"
        f"landing_path: {root / 'landing'}\nstorage_root: {root / 'storage'}\n"
        "spark_conf:\n  spark.sql.shuffle.partitions: \"2\"\n  spark.sql.session.timeZone: UTC\n"
        "checks:\n  revenue_at_least: {severity: warning, min_revenue: 10}\n")
    (root / "orders_checks.py").write_text(CHECK_KINDS)
    (root / "medallion.yaml").write_text(MEDALLION_YAML)
    return LocalProject(root)


def land_orders(project: LocalProject, name: str, rows: list[dict]) -> Path:
    return land(project.landing / "orders", name, rows)
