"""An explicit CAST in a transform never writes NULL silently (issue: runtime fidelity, casts).

Before: the local session ran with `spark.sql.ansi.enabled=false`, so `CAST(close AS DECIMAL(4,2))` of
a 100.x price wrote NULL with exit 0 — and the declared-type check could not see it, because the value
already had the declared type. Now the transform's explicit casts are guarded in the query both runtimes
build (`framework.pipeline.casts`): the flow fails naming the spec file:line:column of the CAST, the
column and the value, or — with `on_type_error: quarantine` — the row goes to the quarantine table with
the reason. The guard does not depend on ANSI (Spark's own ANSI error names neither spec nor column);
an environment can no longer turn ANSI off (validate refuses it), so only the ANSI run is tested here.
"""

from __future__ import annotations

from datetime import date

import pytest

from tests.medallion_testing import bar_rows

pytestmark = pytest.mark.spark

DAY = date(2026, 11, 24)
PRICES_SPEC = """\
name: bar_prices
layer: silver
description: Close prices as money, for a price list that assumed prices under 100.
source:
  tables: [bars_raw]
columns:
  - {name: symbol, type: STRING}
  - {name: ts, type: STRING}
  - {name: price, type: "DECIMAL(4,2)"}
transform:
  sql: |
    SELECT symbol, ts,
           CAST(close AS DECIMAL(4,2)) AS price
    FROM source
"""


def _project(local_project, spec: str, env: str = ""):
    project = local_project(env)
    (project.root / "tables/silver/bar_prices.yaml").write_text(spec)
    project.write_calendar()
    project.write_bars("day.jsonl", bar_rows("AAPL", DAY, price=150.0) + bar_rows("KO", DAY, price=50.0))
    return project


def test_an_overflowing_explicit_cast_fails_the_flow_at_the_cast_with_column_and_value(spark, local_project):
    project = _project(local_project, PRICES_SPEC, "development: false\nretries: {max_attempts: 3, "
                       "initial_backoff_seconds: 1}\n")
    result = project.run(spark, tables=["bars_raw", "bar_prices"])
    prices = result.flow("bar_prices")
    assert result.status == "FAILED" and prices.status == "FAILED"
    line = next(i for i, text in enumerate(PRICES_SPEC.splitlines(), 1) if "CAST(close" in text)
    column = PRICES_SPEC.splitlines()[line - 1].index("CAST(") + 1
    assert prices.error.startswith(f"tables/silver/bar_prices.yaml:{line}:{column}: table `bar_prices`: column "
                                   "`price` is given '15"), prices.error
    assert "(CAST(close AS DECIMAL(4,2))), which cannot be cast to DECIMAL(4,2)" in prices.error
    assert "try_cast" in prices.error and "Traceback" not in prices.error
    assert prices.attempts == 1  # production mode, but running again cannot help
    assert project.table(spark, "silver.bar_prices").count() == 0  # nothing half-written


def test_an_overflowing_explicit_cast_quarantines_the_row_under_on_type_error_quarantine(spark, local_project):
    spec = PRICES_SPEC.replace('{name: price, type: "DECIMAL(4,2)"}', '{name: price, type: "DECIMAL(4,2)", '
                               'on_type_error: quarantine}')
    project = _project(local_project, spec)
    result = project.run(spark, tables=["bars_raw", "bar_prices"])
    assert result.status == "COMPLETED", [(f.table, f.error) for f in result.failed]
    prices = project.table(spark, "silver.bar_prices")
    assert {r.symbol for r in prices.select("symbol").distinct().collect()} == {"KO"}
    assert prices.where("price IS NULL").count() == 0
    quarantine = project.table(spark, "silver.bar_prices_quarantine")
    assert quarantine.count() == len(bar_rows("AAPL", DAY, price=150.0))
    reasons = quarantine.first()["_failed_rules"]
    assert len(reasons) == 1 and reasons[0].startswith("price: '15"), reasons
    assert reasons[0].endswith("' (CAST(close AS DECIMAL(4,2))), which cannot be cast to DECIMAL(4,2)")
    assert "_medallion_cast_error_0" not in prices.columns + quarantine.columns
