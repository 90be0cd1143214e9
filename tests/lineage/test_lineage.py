"""Column lineage through joins, aggregates, window functions, `*`, CTEs, quarantine tables and Python
transforms (framework.lineage.columns and `medallion lineage`)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from framework.cli import cli
from framework.lineage import ColumnLineage, ColumnRef
from framework.project import load_project
from tests.lineage.lineage_project import edit, line_of, lineage_project  # noqa: F401 (fixture)


def sources(project_root: Path, column: str) -> dict[str, str]:
    graph = ColumnLineage(load_project(project_root))
    return {str(e.source): e.via for e in graph.sources_of(ColumnRef.parse(column))}


def test_a_join_takes_each_column_from_its_own_side(lineage_project: Path) -> None:
    assert sources(lineage_project, "customer_totals.region") == {"customers.region": "c.region"}
    assert set(sources(lineage_project, "customer_totals.customer_id")) == {"orders_clean.customer_id"}


def test_an_aggregate_in_a_cte_is_traced_to_its_input(lineage_project: Path) -> None:
    assert sources(lineage_project, "customer_totals.total") == {
        "orders_clean.amount": "SUM(amount) AS total"}  # the pass-through s.total is left out
    # count(*) reads no column: it has no source column
    assert sources(lineage_project, "customer_totals.orders") == {}


def test_a_window_function_comes_from_its_partition_and_order_columns(lineage_project: Path) -> None:
    found = sources(lineage_project, "customer_totals.region_rank")
    assert set(found) == {"customers.region", "orders_clean.amount"}
    assert found["customers.region"].startswith("RANK() OVER (PARTITION BY c.region ORDER BY s.total DESC)")
    assert found["orders_clean.amount"].endswith("<- SUM(amount) AS total")


def test_a_star_expands_to_the_declared_columns_of_the_source(lineage_project: Path) -> None:
    graph = ColumnLineage(load_project(lineage_project))
    edges = graph.table("wide").edges
    assert {(str(e.source), str(e.target)) for e in edges} == {
        (f"orders_clean.{c}", f"wide.{c}") for c in ("order_id", "customer_id", "amount", "ordered_at", "is_open")}


def test_downstream_crosses_tables_to_any_depth(lineage_project: Path) -> None:
    graph = ColumnLineage(load_project(lineage_project))
    reached = {(level, str(e.target)) for level, e in graph.downstream(ColumnRef("orders", "amount"))}
    assert (1, "orders_clean.amount") in reached
    assert (1, "orders_clean_quarantine.amount") in reached  # the quarantine sibling carries the column
    assert (2, "customer_totals.total") in reached
    assert (2, "orders_clean_quarantine._failed_rules") in reached  # the rule that tests it
    assert (3, "scores.score") in reached  # through the Python transform's declared mapping
    assert {str(e.target) for _, e in graph.downstream(ColumnRef("orders", "amount"), depth=1)} == {
        "orders_clean.amount", "orders_clean_quarantine.amount"}


def test_a_python_transform_maps_columns_only_when_it_declares_them(lineage_project: Path) -> None:
    assert sources(lineage_project, "scores.score") == {"customer_totals.total": "python scoring:score",
                                                        "customer_totals.orders": "python scoring:score"}
    edit(lineage_project, "gold/scores.yaml", "  lineage:\n    customer_id: [customer_id]\n"
         "    score: [total, customer_totals.orders]\n", "")
    graph = ColumnLineage(load_project(lineage_project))
    assert graph.table("scores").edges == ()
    assert "Python transform `scoring:score`" in graph.table("scores").opaque


def test_references_locate_every_column_a_reader_uses(lineage_project: Path) -> None:
    graph = ColumnLineage(load_project(lineage_project))
    uses = {(str(r.column), r.line) for r in graph.table("customer_totals").references}
    file = "silver/customer_totals.yaml"
    assert ("customers.region", line_of(lineage_project, file, "c.region,")) in uses
    assert ("customers.customer_id", line_of(lineage_project, file, "ON c.customer_id")) in uses  # a join key
    assert ("orders_clean.customer_id", line_of(lineage_project, file, "GROUP BY customer_id")) in uses


def test_lineage_command_json_lists_table_column_and_via(lineage_project: Path) -> None:
    result = CliRunner().invoke(cli, ["lineage", "scores.score", "--upstream", "--format", "json",
                                      "--project", str(lineage_project)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["table"], data["column"], data["downstream"]) == ("scores", "score", [])
    first = {(e["table"], e["column"], e["via"]) for e in data["upstream"] if e["depth"] == 1}
    assert first == {("customer_totals", "total", "python scoring:score"),
                     ("customer_totals", "orders", "python scoring:score")}
    assert {"table": "orders", "column": "amount", "via": "amount", "depth": 3,
            "of": "orders_clean.amount"} in data["upstream"]
    assert "landing files `${landing_path}/orders`" in data["notes"]["orders"]


def test_lineage_command_text_and_unknown_columns(lineage_project: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["lineage", "customers.region", "--project", str(lineage_project)])
    assert result.exit_code == 0, result.output
    assert "customer_totals.region" in result.stdout and "customer_totals.region_rank" in result.stdout
    missing = runner.invoke(cli, ["lineage", "customers.nope", "--project", str(lineage_project)])
    assert missing.exit_code == 2 and "`customers` has no column `nope`" in missing.stderr
    bad = runner.invoke(cli, ["lineage", "customers", "--project", str(lineage_project)])
    assert bad.exit_code == 2 and "is not TABLE.COLUMN" in bad.stderr


def test_validate_locates_a_wrong_python_lineage_mapping(lineage_project: Path) -> None:
    edit(lineage_project, "gold/scores.yaml", "score: [total, customer_totals.orders]",
         "scor: [totl, customers.region]")
    findings = {(f.line, f.message) for f in load_project(lineage_project).errors}
    line = line_of(lineage_project, "gold/scores.yaml", "scor:")
    assert (line, "`scor` is not a declared column") in findings
    assert (line, "no table this one reads declares column `totl`") in findings
    assert (line, "`customers` is not a table this one reads") in findings
