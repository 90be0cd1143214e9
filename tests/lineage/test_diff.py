"""`medallion diff --against REF`: what changed since a git revision, and its consequence (safe,
full_refresh, breaking located at the reader's line), in a temporary git repository."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.lineage import compare, type_change
from framework.lineage.gitref import project_at
from framework.lineage.selection import expand_state
from framework.project import load_project
from tests.lineage.lineage_project import edit, git, line_of, lineage_project  # noqa: F401 (fixture)


def diff(root: Path, *args: str) -> tuple[int, dict]:
    result = CliRunner().invoke(cli, ["diff", "--format", "json", "--project", str(root), *args],
                                catch_exceptions=False)
    return result.exit_code, json.loads(result.stdout)


def table(report: dict, name: str) -> dict:
    return next(t for t in report["tables"] if t["table"] == name)


@pytest.mark.parametrize("old, new, expected", [
    ("INT", "BIGINT", "widened"), ("FLOAT", "DOUBLE", "widened"), ("DECIMAL(10,2)", "DECIMAL(12,2)", "widened"),
    ("DECIMAL(10,1)", "DECIMAL(12,3)", "widened"), ("DECIMAL(10,1)", "DECIMAL(11,3)", "changed"),
    ("INT", "DECIMAL(10,0)", "widened"), ("BIGINT", "DECIMAL(18,0)", "changed"), ("DATE", "TIMESTAMP_NTZ", "widened"),
    ("BIGINT", "INT", "narrowed"), ("DOUBLE", "FLOAT", "narrowed"), ("DECIMAL(12,2)", "DECIMAL(10,2)", "narrowed"),
    ("STRING", "INT", "changed"), ("INT", "STRING", "changed"), ("INTEGER", "int", None), ("LONG", "BIGINT", None),
])
def test_type_changes_follow_the_documented_widening_table(old: str, new: str, expected: str | None) -> None:
    assert type_change(old, new) == expected


def test_no_change_is_safe_and_exits_zero(lineage_project: Path) -> None:
    code, report = diff(lineage_project, "--against", "main")
    assert (code, report["consequence"], report["tables"]) == (0, "safe", [])


def test_the_default_ref_is_head_without_origin(lineage_project: Path) -> None:
    edit(lineage_project, "gold/wide.yaml", "Every order column", "All order columns")
    code, report = diff(lineage_project)
    assert code == 0 and report["against"] == "HEAD"
    assert report["tables"] == []  # a description is not a change with consequences


def test_key_change_of_an_auto_cdc_target_needs_a_full_refresh(lineage_project: Path) -> None:
    path = edit(lineage_project, "silver/orders_clean.yaml", "keys: [order_id]", "keys: [order_id, customer_id]")
    code, report = diff(lineage_project, "--against", "main")
    assert code == 0 and report["consequence"] == "full_refresh"
    orders = table(report, "orders_clean")
    change = next(c for c in orders["changes"] if c["kind"] == "keys")
    assert change["consequence"] == "full_refresh" and "KEY_SCHEMA_DRIFT" in change["reason"]
    assert change["line"] == line_of(lineage_project, "silver/orders_clean.yaml", "keys:")
    assert change["file"] == "tables/silver/orders_clean.yaml" and path.exists()
    # Databricks: the readers of a fully refreshed streaming table must be refreshed with it
    assert orders["full_refresh_with"] == ["customer_totals", "scores", "wide"]


def test_dedupe_sequence_change_needs_a_full_refresh(lineage_project: Path) -> None:
    edit(lineage_project, "silver/orders_clean.yaml", "sequence_by: ordered_at", "sequence_by: order_id")
    code, report = diff(lineage_project, "--against", "main")
    assert table(report, "orders_clean")["consequence"] == "full_refresh"


def test_a_removed_column_a_reader_uses_is_breaking_at_the_readers_line(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/customers.yaml", "  - {name: region, type: STRING}\n", "")
    code, report = diff(lineage_project, "--against", "main")
    assert code == 1 and report["consequence"] == "breaking"
    customers = table(report, "customers")
    assert customers["consequence"] == "breaking"
    lines = {(b["reader"], b["file"], b["line"]) for b in customers["breaks"]}
    file = "silver/customer_totals.yaml"
    assert ("customer_totals", f"tables/{file}", line_of(lineage_project, file, "c.region,")) in lines
    assert ("customer_totals", f"tables/{file}", line_of(lineage_project, file, "PARTITION BY c.region")) in lines
    assert customers["breaks"][0]["message"] == "`customer_totals` reads `customers.region`, which was removed"
    assert "customer_totals.region_rank" in customers["downstream_columns"]
    assert customers["downstream_tables"] == ["customer_totals", "scores"]
    allowed = CliRunner().invoke(cli, ["diff", "--against", "main", "--allow-breaking", "--project",
                                       str(lineage_project)], catch_exceptions=False)
    assert allowed.exit_code == 0 and "breaking" in allowed.stdout


def test_a_removed_column_nobody_reads_is_not_breaking(lineage_project: Path) -> None:
    edit(lineage_project, "gold/wide.yaml", "  - {name: is_open, type: BOOLEAN}\n", "")
    edit(lineage_project, "gold/wide.yaml", "SELECT * FROM source", "SELECT * EXCEPT (is_open) FROM source")
    code, report = diff(lineage_project, "--against", "main")
    wide = table(report, "wide")
    assert code == 0 and wide["consequence"] == "safe" and wide["breaks"] == []  # a materialized view, unread
    kinds = {c["kind"] for c in wide["changes"]}
    assert kinds == {"column_removed", "transform"}


def test_an_added_column_is_safe(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/orders.yaml", "  - {name: status, type: STRING}\n",
         "  - {name: status, type: STRING}\n  - {name: channel, type: STRING}\n")
    code, report = diff(lineage_project, "--against", "main")
    orders = table(report, "orders")
    assert code == 0 and orders["consequence"] == "safe"
    assert [(c["kind"], c["column"]) for c in orders["changes"]] == [("column_added", "channel")]
    assert orders["changes"][0]["line"] == line_of(lineage_project, "bronze/orders.yaml", "channel")


def test_a_widened_type_is_safe(lineage_project: Path) -> None:
    edit(lineage_project, "silver/customer_totals.yaml", "{name: region_rank, type: INT}",
         "{name: region_rank, type: BIGINT}")
    code, report = diff(lineage_project, "--against", "main")
    totals = table(report, "customer_totals")
    assert code == 0 and totals["consequence"] == "safe"
    assert totals["changes"][0]["kind"] == "column_widened" and "Type widening" in totals["changes"][0]["reason"]


def test_a_widened_type_of_a_streaming_table_needs_type_widening_enabled(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/orders.yaml", "{name: customer_id, type: INT}", "{name: customer_id, type: BIGINT}")
    _, report = diff(lineage_project, "--against", "main")
    assert table(report, "orders")["consequence"] == "full_refresh"
    edit(lineage_project, "bronze/orders.yaml", "columns:", "table_properties:\n  delta.enableTypeWidening: true\ncolumns:")
    _, report = diff(lineage_project, "--against", "main")
    kinds = {c["kind"]: c["consequence"] for c in table(report, "orders")["changes"]}
    assert kinds == {"column_widened": "safe", "properties": "safe"}


def test_a_narrowed_type_a_reader_uses_is_breaking(lineage_project: Path) -> None:
    edit(lineage_project, "silver/orders_clean.yaml", '{name: amount, type: "DECIMAL(10,2)"}',
         '{name: amount, type: "DECIMAL(8,2)"}')
    code, report = diff(lineage_project, "--against", "main")
    assert code == 1
    orders = table(report, "orders_clean")
    assert orders["consequence"] == "breaking"
    assert {c["kind"]: c["consequence"] for c in orders["changes"]} == {"column_narrowed": "full_refresh"}
    readers = {(b["reader"], b["line"]) for b in orders["breaks"]}
    assert ("customer_totals", line_of(lineage_project, "silver/customer_totals.yaml", "sum(amount)")) in readers
    assert ("wide", line_of(lineage_project, "gold/wide.yaml", "SELECT *")) in readers
    assert "was narrowed DECIMAL(10,2) -> DECIMAL(8,2)" in orders["breaks"][0]["message"]


def test_github_format_annotates_the_readers_line(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/customers.yaml", "  - {name: region, type: STRING}\n", "")
    result = CliRunner().invoke(cli, ["diff", "--against", "main", "--format", "github", "--project",
                                      str(lineage_project)], catch_exceptions=False)
    assert result.exit_code == 1
    line = line_of(lineage_project, "silver/customer_totals.yaml", "c.region,")
    assert (f"::error file=tables/silver/customer_totals.yaml,line={line},col=14,title=customer_totals%3A "
            "breaking::`customer_totals` reads `customers.region`, which was removed") in result.stdout.splitlines()
    assert result.stdout.splitlines()[-1].startswith("::error::")


def test_the_old_specs_are_read_from_git_without_touching_the_working_tree(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/orders.yaml", "Raw orders.", "Raw orders, edited.")
    (lineage_project / "tables" / "gold" / "wide.yaml").unlink()
    old = project_at(lineage_project, "main")
    assert sorted(old.tables) == ["customer_totals", "customers", "orders", "orders_clean", "scores", "wide"]
    assert old.tables["orders"].description == "Raw orders."
    assert old.tables["wide"].file == "tables/gold/wide.yaml@main"
    assert not (lineage_project / "tables" / "gold" / "wide.yaml").exists()
    assert git(lineage_project, "status", "--porcelain").split() == ["M", "tables/bronze/orders.yaml",
                                                                    "D", "tables/gold/wide.yaml"]
    impact = compare(old, load_project(lineage_project))
    assert [(t.table, t.status) for t in impact.tables] == [("wide", "removed")]  # a description has no impact


def test_state_modified_selects_the_changed_tables_and_their_readers(lineage_project: Path) -> None:
    edit(lineage_project, "silver/customer_totals.yaml", "{name: region_rank, type: INT}",
         "{name: region_rank, type: BIGINT}")
    project = load_project(lineage_project)
    names, ref = expand_state(["state:modified+", "orders"], project)
    assert (names, ref) == (["customer_totals+", "orders"], "HEAD")
    assert project.graph().select(names[0]) == {"customer_totals", "scores"}
    assert expand_state(["+state:modified"], project, "main")[0] == ["+customer_totals"]


def test_run_with_state_modified_and_nothing_modified_says_so(lineage_project: Path) -> None:
    (lineage_project / "environments").mkdir()
    (lineage_project / "environments" / "local.yaml").write_text(
        "name: local\ndescription: local\nruntime: local\nstorage_root: .medallion/local\n"
        "landing_path: .medallion/local/landing\n")
    result = CliRunner().invoke(cli, ["run", "--tables", "state:modified+", "--state", "main", "--project",
                                      str(lineage_project)])
    assert result.exit_code == 2, result.output
    assert "no table spec differs from main: `state:modified` selects nothing" in result.stderr


def test_changing_what_a_streaming_table_reads_needs_a_full_refresh(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/orders.yaml", "${landing_path}/orders", "${landing_path}/orders_v2")
    _, report = diff(lineage_project, "--against", "main")
    change = table(report, "orders")["changes"][0]
    assert (change["kind"], change["consequence"]) == ("source", "full_refresh")
    assert "Full refresh for streaming tables" in change["reason"]
    edit(lineage_project, "bronze/orders.yaml", "${landing_path}/orders_v2", "${landing_path}/orders")
    edit(lineage_project, "bronze/orders.yaml", "format: json}", "format: json, options: {multiLine: true}}")
    _, report = diff(lineage_project, "--against", "main")
    assert [(c["kind"], c["consequence"]) for c in table(report, "orders")["changes"]] == [("source", "safe")]


def test_partitioning_a_streaming_table_needs_a_full_refresh(lineage_project: Path) -> None:
    edit(lineage_project, "bronze/orders.yaml", "columns:", "partition_by: [status]\ncolumns:")
    _, report = diff(lineage_project, "--against", "main")
    assert [(c["kind"], c["consequence"]) for c in table(report, "orders")["changes"]] == [("layout", "full_refresh")]
