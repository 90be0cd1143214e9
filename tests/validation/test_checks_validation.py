"""`checks:` in specs and environments: every mistake is a located finding (file:line:column, what is
wrong, how to fix it), found without a JVM — unknown column, unknown kind with "did you mean", bad
duration, a check on a table it cannot apply to."""

from __future__ import annotations

from pathlib import Path

import pytest

from framework.project import load_project
from framework.spec.checks import parse_duration
from tests.checks.orders_project import DAILY_REVENUE, ORDERS_RAW, write_orders_project


def findings_of(root: Path) -> list:
    return load_project(root).findings


def only_error(root: Path):
    errors = [f for f in findings_of(root) if f.severity == "error"]
    assert len(errors) == 1, [f.render() for f in errors]
    return errors[0]


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_orders_project_is_valid(tmp_path):
    write_orders_project(tmp_path)
    assert [f.render() for f in findings_of(tmp_path) if f.severity == "error"] == []


def test_unknown_freshness_column_is_located_with_a_close_name(tmp_path):
    spec = DAILY_REVENUE.replace("column: order_date", "column: order_dat")
    write_orders_project(tmp_path, daily_revenue=spec)
    finding = only_error(tmp_path)
    assert (finding.file, finding.line) == ("tables/gold/daily_revenue.yaml", line_of(spec, "column: order_dat"))
    assert finding.column == spec.splitlines()[finding.line - 1].index("order_dat") + 1
    assert finding.message == "freshness reads column `order_dat`, which this table does not have"
    assert finding.hint == "did you mean `order_date`?"


def test_freshness_needs_a_time_column_and_the_default_needs_ingested_at(tmp_path):
    spec = DAILY_REVENUE.replace("column: order_date", "column: revenue")
    write_orders_project(tmp_path, daily_revenue=spec)
    assert only_error(tmp_path).message == ("freshness reads column `revenue` of type DOUBLE: it needs a "
                                             "TIMESTAMP or DATE")
    spec = DAILY_REVENUE.replace("    column: order_date\n", "")
    write_orders_project(tmp_path, daily_revenue=spec)
    finding = only_error(tmp_path)
    assert finding.message == "freshness reads column `_ingested_at` (the default), which this table does not have"
    assert finding.line == line_of(spec, "freshness:")


def test_bad_duration_is_located_and_suggests_the_unit(tmp_path):
    spec = ORDERS_RAW.replace("max_age: 26 hours", "max_age: 26 hors")
    write_orders_project(tmp_path, orders_raw=spec)
    finding = only_error(tmp_path)
    assert (finding.file, finding.line) == ("tables/bronze/orders_raw.yaml", line_of(spec, "26 hors"))
    assert finding.message.startswith("`26 hors` is not a duration like `26 hours` (did you mean `hours`?)")


def test_unknown_custom_kind_suggests_the_project_kind(tmp_path):
    spec = DAILY_REVENUE.replace("kind: revenue_at_least", "kind: revenue_at_lest")
    write_orders_project(tmp_path, daily_revenue=spec)
    finding = only_error(tmp_path)
    assert finding.line == line_of(spec, "revenue_at_lest")
    assert (finding.message, finding.hint) == ("unknown check kind `revenue_at_lest`",
                                               "did you mean `revenue_at_least`?")
    assert finding.doc_path == "checks.custom[0].kind"


def test_a_built_in_kind_under_custom_says_where_it_goes(tmp_path):
    spec = DAILY_REVENUE.replace("kind: broken_kind", "kind: volume")
    write_orders_project(tmp_path, daily_revenue=spec)
    assert only_error(tmp_path).hint == "`volume` is built in: declare it as `checks.volume`, not under `custom`"


def test_unknown_key_under_checks_is_a_schema_finding_with_a_close_name(tmp_path):
    spec = ORDERS_RAW.replace("  freshness:", "  freshnes:")
    write_orders_project(tmp_path, orders_raw=spec)
    finding = only_error(tmp_path)
    assert (finding.line, finding.message, finding.hint) == (line_of(spec, "freshnes:"), "unknown key `freshnes`",
                                                             "did you mean `freshness`?")


def test_max_drop_needs_a_streaming_table(tmp_path):
    spec = DAILY_REVENUE.replace("checks:\n", "checks:\n  volume: {max_drop: 0.2}\n")
    write_orders_project(tmp_path, daily_revenue=spec)
    finding = only_error(tmp_path)
    assert finding.line == line_of(spec, "max_drop")
    assert "materialized_view has no time travel on Databricks" in finding.message


def test_unique_columns_and_reconciliation_must_apply(tmp_path):
    spec = ORDERS_RAW.replace("checks:\n", "checks:\n  unique: {columns: [order_idd]}\n  reconciliation: {}\n")
    write_orders_project(tmp_path, orders_raw=spec)
    messages = sorted(f.message for f in findings_of(tmp_path) if f.severity == "error")
    assert messages == ["reconciliation applies to a table streamed from one upstream table (source.tables with one "
                        "table, read as a stream)", "unique names column `order_idd`, which this table does not have"]


def test_an_environment_names_only_known_check_kinds(tmp_path):
    project = write_orders_project(tmp_path)
    env = project.root / "environments" / "test.yaml"
    env.write_text(env.read_text().replace("revenue_at_least: {", "revenue_at_leest: {"))
    finding = only_error(tmp_path)
    assert (finding.file, finding.message, finding.hint) == (
        "environments/test.yaml", "unknown check kind `revenue_at_leest`", "did you mean `revenue_at_least`?")


def test_a_malformed_check_kinds_entry_is_located(tmp_path):
    write_orders_project(tmp_path)
    (tmp_path / "medallion.yaml").write_text("check_kinds:\n  revenue_at_least: orders_checks.revenue_at_least\n"
                                             "  broken_kind: orders_checks:broken_kind\n")
    errors = [f for f in findings_of(tmp_path) if f.severity == "error"]
    assert [(f.file, f.line) for f in errors] == [("medallion.yaml", 2)], \
        "the one real error, not also every use of the kind"


@pytest.mark.parametrize("text,seconds", [("26 hours", 93_600), ("90 minutes", 5_400), ("2 days", 172_800),
                                          ("1 week", 604_800), ("1.5 hours", 5_400), ("30 second", 30)])
def test_durations(text, seconds):
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["26", "hours", "0 hours", "-1 days", "26 hors", "1 fortnight"])
def test_bad_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)
