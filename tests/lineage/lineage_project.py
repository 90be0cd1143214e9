"""A small project in a temporary git repository, for the lineage and diff tests.

Six tables: orders (files) -> orders_clean (streaming, AUTO CDC: keys + dedupe, quarantine) ->
customer_totals (SQL source: CTE, join, aggregate, window) and wide (transform over `*`), plus
customers (bronze, read from files) and scores (a Python transform with a declared mapping).
Fixtures live here, not in a conftest.py (see tests/cli/cli_project.py).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SPECS: dict[str, str] = {
    "bronze/orders.yaml": """\
name: orders
layer: bronze
description: Raw orders.
source:
  files: {path: "${landing_path}/orders", format: json}
columns:
  - {name: order_id, type: BIGINT}
  - {name: customer_id, type: INT}
  - {name: amount, type: "DECIMAL(10,2)"}
  - {name: ordered_at, type: TIMESTAMP}
  - {name: status, type: STRING}
""",
    "bronze/customers.yaml": """\
name: customers
layer: bronze
description: Raw customers.
source:
  files: {path: "${landing_path}/customers", format: json}
columns:
  - {name: customer_id, type: INT}
  - {name: region, type: STRING}
""",
    "silver/orders_clean.yaml": """\
name: orders_clean
layer: silver
description: Orders, one row per order (latest by ordered_at).
source:
  tables: [orders]
columns:
  - {name: order_id, type: BIGINT}
  - {name: customer_id, type: INT}
  - {name: amount, type: "DECIMAL(10,2)"}
  - {name: ordered_at, type: TIMESTAMP}
  - {name: is_open, type: BOOLEAN}
keys: [order_id]
dedupe: {sequence_by: ordered_at}
transform:
  sql: |
    SELECT order_id, customer_id, amount, ordered_at,
           status = 'open' AS is_open
    FROM source
expectations:
  - {name: amount_positive, rule: amount > 0, action: quarantine}
""",
    "silver/customer_totals.yaml": """\
name: customer_totals
layer: silver
description: Spend per customer and region, with the rank of the customer in its region.
source:
  sql: |
    WITH spend AS (
      SELECT customer_id, sum(amount) AS total, count(*) AS orders
      FROM orders_clean
      GROUP BY customer_id
    )
    SELECT s.customer_id,
           c.region,
           s.total,
           s.orders,
           rank() OVER (PARTITION BY c.region ORDER BY s.total DESC) AS region_rank
    FROM spend AS s
    JOIN customers AS c ON c.customer_id = s.customer_id
columns:
  - {name: customer_id, type: INT}
  - {name: region, type: STRING}
  - {name: total, type: "DECIMAL(20,2)"}
  - {name: orders, type: BIGINT}
  - {name: region_rank, type: INT}
""",
    "gold/wide.yaml": """\
name: wide
layer: gold
description: Every order column, through a star.
source:
  tables: [orders_clean]
  mode: batch
transform:
  sql: SELECT * FROM source
columns:
  - {name: order_id, type: BIGINT}
  - {name: customer_id, type: INT}
  - {name: amount, type: "DECIMAL(10,2)"}
  - {name: ordered_at, type: TIMESTAMP}
  - {name: is_open, type: BOOLEAN}
""",
    "gold/scores.yaml": """\
name: scores
layer: gold
description: A score per customer, computed in Python.
source:
  tables: [customer_totals]
  mode: batch
transform:
  python: scoring:score
  lineage:
    customer_id: [customer_id]
    score: [total, customer_totals.orders]
columns:
  - {name: customer_id, type: INT}
  - {name: score, type: DOUBLE}
""",
}


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def write_specs(root: Path, specs: dict[str, str]) -> None:
    for relative, text in specs.items():
        path = root / "tables" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def lineage_project(tmp_path: Path) -> Path:
    """The project, committed on `main` of a fresh git repository (the working tree is free to edit)."""
    root = tmp_path / "shop"
    root.mkdir()
    write_specs(root, SPECS)
    (root / "scoring.py").write_text("def score(df):\n    return df\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "add", ".")
    git(root, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q", "-m", "shop")
    return root


def edit(root: Path, relative: str, old: str, new: str) -> Path:
    path = root / "tables" / relative
    text = path.read_text()
    assert old in text, (relative, old)
    path.write_text(text.replace(old, new, 1))
    return path


def line_of(root: Path, relative: str, needle: str) -> int:
    lines = (root / "tables" / relative).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if needle in line)
