"""Quality checks declared in table specs (issue 22), on a small orders project with real Spark + Delta:
two real pipeline updates, then each declared kind judged on the tables — passing on good data, failing
on an old table (freshness), a drop since the previous update (volume), a duplicate key (unique), and a
project check kind from the project's own module whose failure (and crash) shows in the report.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from tests.checks.orders_project import land_orders, write_orders_project

pytestmark = pytest.mark.spark

TODAY = datetime.now(timezone.utc).date()


def orders(first: int, count: int, day: date, amount: float = 40.0) -> list[dict]:
    return [{"order_id": f"o{i:03d}", "customer": f"c{i % 3}", "amount": amount, "order_date": day.isoformat()}
            for i in range(first, first + count)]


@pytest.fixture(scope="module")
def shop(spark, tmp_path_factory):
    """Update 1: 10 orders yesterday; update 2: 6 orders today (one day's revenue is below 50)."""
    project = write_orders_project(tmp_path_factory.mktemp("orders") / "project")
    land_orders(project, "orders_1.jsonl", orders(0, 10, TODAY - timedelta(days=1)))
    first = project.run(spark)
    assert first.ok, [(f.table, f.error) for f in first.failed]
    land_orders(project, "orders_2.jsonl", orders(10, 1, TODAY, amount=30.0))
    second = project.run(spark)
    assert second.ok, [(f.table, f.error) for f in second.failed]
    return project


def _run(spark, project, now=None, only=None):
    from framework.checks.suite import CheckContext, run_checks
    from framework.engine.spark import attach_storage

    env = project.env()
    attach_storage(spark, env)
    ctx = CheckContext(spark, project.load(), env, now=now or datetime.now(timezone.utc))
    return {(r.check, r.target): r for r in run_checks(ctx, only).results}


def test_each_declared_check_runs_and_passes_on_good_data(spark, shop):
    results = _run(spark, shop, only=["freshness", "volume", "unique", "reconciliation"])
    assert set(results) == {("freshness", "orders_raw"), ("freshness", "daily_revenue"), ("volume", "orders"),
                            ("unique", "orders"), ("unique", "daily_revenue"), ("reconciliation", "orders")}
    assert all(r.passed for r in results.values()), [r for r in results.values() if not r.passed]
    volume = results[("volume", "orders")]
    assert volume.observed == 11 and volume.threshold == ">= 1 rows, <= 50% drop"
    assert "10 at version" in volume.detail and "up 10.0%" in volume.detail, volume.detail
    assert results[("freshness", "daily_revenue")].observed == TODAY.isoformat()


def test_freshness_fails_on_an_old_table(spark, shop):
    later = datetime.now(timezone.utc) + timedelta(days=5)
    results = _run(spark, shop, now=later, only=["freshness"])
    raw, daily = results[("freshness", "orders_raw")], results[("freshness", "daily_revenue")]
    assert (raw.status, raw.threshold) == ("FAIL", "<= 26 hours")
    assert "newest _ingested_at" in raw.detail and " old at " in raw.detail
    assert (daily.status, daily.observed) == ("FAIL", TODAY.isoformat())
    assert daily.detail.startswith(f"newest order_date {TODAY.isoformat()} is 5d")


def test_a_custom_kind_from_the_project_runs_and_its_failure_shows(spark, shop):
    results = _run(spark, shop, only=["revenue_at_least", "broken_kind"])
    revenue = results[("revenue_at_least", "daily_revenue")]
    assert (revenue.status, revenue.observed, revenue.threshold) == ("FAIL", 1, ">= 50 per day"), \
        "the spec's entry (min_revenue 50, critical) wins over the environment's defaults (10, warning)"
    assert revenue.detail == f"{TODAY.isoformat()}: 30" and revenue.missing == [TODAY.isoformat()]
    broken = results[("broken_kind", "daily_revenue")]
    assert (broken.status, broken.observed) == ("FAIL", "error")
    assert broken.detail == "orders_checks:broken_kind raised ValueError: the threshold table is not configured"


def test_check_json_shows_each_declared_check(spark, shop):
    from framework.cli import cli

    out = CliRunner().invoke(cli, ["check", "--format", "json", "--env", "test", "--project", str(shop.root)],
                             catch_exceptions=False)
    assert out.exit_code == 1, out.output  # the custom kinds fail (critical)
    report = json.loads(out.stdout)
    shown = {(r["check"], r["target"], r["status"]) for r in report["results"]}
    assert {("freshness", "orders_raw", "PASS"), ("freshness", "daily_revenue", "PASS"), ("volume", "orders", "PASS"),
            ("unique", "orders", "PASS"), ("reconciliation", "orders", "PASS"),
            ("revenue_at_least", "daily_revenue", "FAIL"), ("broken_kind", "daily_revenue", "FAIL")} <= shown
    assert any(r["check"] == "expectations" for r in report["results"])
    bad = CliRunner().invoke(cli, ["check", "--only", "revenue_at_lest", "--env", "test", "--project", str(shop.root)])
    assert bad.exit_code == 2 and "unknown check kind `revenue_at_lest` (did you mean `revenue_at_least`?)" in bad.stderr


def test_volume_fails_on_a_drop_and_unique_on_a_duplicate(spark, shop):
    """Last: it damages silver (8 orders lost after the update began, then one order twice)."""
    silver = shop.storage / "tables" / "silver" / "orders"
    spark.sql(f"DELETE FROM delta.`{silver}` WHERE order_id < 'o008'")
    results = _run(spark, shop, only=["volume", "unique"])
    volume = results[("volume", "orders")]
    assert (volume.status, volume.observed) == ("FAIL", 3)
    assert "10 at version" in volume.detail and "down 70.0%" in volume.detail, volume.detail
    assert results[("unique", "orders")].passed

    spark.sql(f"INSERT INTO delta.`{silver}` SELECT * FROM delta.`{silver}` WHERE order_id = 'o009'")
    unique = _run(spark, shop, only=["unique"])[("unique", "orders")]
    assert (unique.status, unique.observed, unique.detail) == ("FAIL", 1, "values of (order_id) on more than one row")
