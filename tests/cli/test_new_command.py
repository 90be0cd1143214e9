"""`medallion new table`: scaffolds a spec that validates, refuses to clobber, explains bad requests."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from tests.cli.cli_project import market_project  # noqa: F401 (fixture)
from framework.cli import cli
from framework.cli.scaffold import NAME, yaml_scalar
from framework.project import load_project
from framework.validation.schema import load_schema

REPO = Path(__file__).resolve().parents[2]


def new(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["new", "table", *args, "--project", str(root)], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def validate(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["validate", "--project", str(root)], catch_exceptions=False)
    return result.exit_code, result.stdout


def _schema_line(path: Path) -> Path:
    first = path.read_text().splitlines()[0]
    match = re.fullmatch(r"# yaml-language-server: \$schema=(.+)", first)
    assert match, first
    return (path.parent / match.group(1)).resolve()


@pytest.mark.parametrize("layer, upstream", [("bronze", None), ("silver", "bars_raw"), ("gold", "bars"),
                                             ("silver", None), ("gold", None)])
def test_scaffolded_spec_validates(market_project: Path, layer: str, upstream: str | None) -> None:
    args = ["trades_new", "--layer", layer] + (["--from", upstream] if upstream else [])
    code, out, err = new(market_project, *args)
    assert code == 0, out + err
    path = market_project / "tables" / layer / "trades_new.yaml"
    assert f"created tables/{layer}/trades_new.yaml" in out
    code, out = validate(market_project)
    assert code == 0, out
    assert "error" not in out
    spec = load_project(market_project).tables["trades_new"]
    assert spec.layer == layer
    if upstream:
        assert spec.upstreams == (upstream,)
        upstream_columns = load_project(market_project).tables[upstream].column_names
        assert spec.column_names[:len(upstream_columns)] == upstream_columns
    assert _schema_line(path) == (REPO / "framework/spec/schemas/table.schema.json").resolve()


def test_chain_of_scaffolds_in_an_empty_project(tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    assert new(tmp_path, "orders_raw", "--layer", "bronze")[0] == 0
    assert new(tmp_path, "orders", "--layer", "silver", "--from", "orders_raw")[0] == 0
    assert new(tmp_path, "order_kpis", "--layer", "gold", "--from", "orders")[0] == 0
    code, out = validate(tmp_path)
    assert code == 0, out
    assert "3 table(s)" in out
    assert load_project(tmp_path).graph().order() == ["orders_raw", "orders", "order_kpis"]


def test_refuses_to_overwrite_without_force(market_project: Path) -> None:
    path = market_project / "tables" / "silver" / "bars.yaml"
    before = path.read_text()
    code, _, err = new(market_project, "bars", "--layer", "silver", "--from", "bars_raw")
    assert code == 1
    assert "tables/silver/bars.yaml already exists; pass --force to overwrite it" in err
    assert path.read_text() == before
    code, out, err = new(market_project, "bars", "--layer", "silver", "--from", "bars_raw", "--force")
    assert code == 0, out + err
    assert path.read_text() != before


@pytest.mark.parametrize("name", ["Bars", "2bars", "bars-raw", "bars raw", "", "a" * 64, "bärs"])
def test_invalid_names_are_usage_errors(market_project: Path, name: str) -> None:
    code, _, err = new(market_project, name, "--layer", "bronze")
    assert code == 2
    assert f"invalid table name `{name}`" in err
    assert "lower case letters, digits and underscores" in err


def test_name_rule_matches_the_schema() -> None:
    assert NAME.pattern == load_schema("table")["properties"]["name"]["pattern"]


def test_unknown_upstream_suggests_a_name(market_project: Path) -> None:
    code, _, err = new(market_project, "x", "--layer", "silver", "--from", "bars_rwa")
    assert code == 2
    assert "unknown upstream table `bars_rwa`" in err and "did you mean `bars_raw`?" in err


def test_upstream_must_respect_layer_rules(market_project: Path) -> None:
    code, _, err = new(market_project, "x", "--layer", "gold", "--from", "bars_raw")
    assert code == 2
    assert "gold tables may read only silver, gold; `bars_raw` is bronze" in err
    assert not (market_project / "tables" / "gold" / "x.yaml").exists()


def test_bronze_takes_no_upstream_and_names_stay_unique(market_project: Path) -> None:
    assert new(market_project, "x", "--layer", "bronze", "--from", "bars")[0] == 2
    code, _, err = new(market_project, "bars", "--layer", "gold", "--from", "bars")
    assert code == 2
    assert "table `bars` already exists in tables/silver/bars.yaml" in err


def test_silver_without_upstream_in_an_empty_project_explains(tmp_path: Path) -> None:
    (tmp_path / "tables").mkdir()
    code, _, err = new(tmp_path, "orders", "--layer", "silver")
    assert code == 2
    assert "create a bronze table first, or pass --from NAME" in err


def test_layer_is_required_and_checked(market_project: Path) -> None:
    assert new(market_project, "x")[0] == 2
    assert new(market_project, "x", "--layer", "platinum")[0] == 2


@pytest.mark.parametrize("value", ["plain words", "a: b", "x, y", "true", "null", "007", "${landing_path}/x",
                                   "DECIMAL(18,2)", "it's", 'say "hi"', "#hash", "- dash", "ünïcode", " lead"])
def test_yaml_scalars_round_trip_in_flow_and_block_context(value: str) -> None:
    rendered = yaml_scalar(value)
    assert yaml.safe_load(f"k: {rendered}") == {"k": value}
    assert yaml.safe_load(f"- {{name: x, description: {rendered}}}") == [{"name": "x", "description": value}]


# ------------------------------------------------------------------------ issue 12, case 4: keys need dedupe

def test_streaming_silver_scaffold_with_keys_deduplicates(market_project: Path) -> None:
    """`new table x --layer silver --from bars_raw` declared keys without `dedupe`: duplicates from the
    landing files passed through and `medallion check` failed on them. It now keeps the latest
    ingestion per key, and `validate` has nothing to say about it."""
    code, out, err = new(market_project, "x", "--layer", "silver", "--from", "bars_raw")
    assert code == 0, out + err
    text = (market_project / "tables" / "silver" / "x.yaml").read_text()
    spec = load_project(market_project).tables["x"]
    assert spec.keys == ("symbol", "ts", "timeframe")
    assert spec.dedupe_sequence_by == "_ingested_at"
    assert spec.column_names[-1] == "_ingested_at"  # bronze's ingestion time, carried into silver
    assert [c.type for c in spec.columns if c.name == "_ingested_at"] == ["TIMESTAMP"]
    assert "      _ingested_at\n    FROM source" in text
    result = CliRunner().invoke(cli, ["validate", "--project", str(market_project),
                                      str(market_project / "tables" / "silver" / "x.yaml")], catch_exceptions=False)
    assert result.exit_code == 0, result.stdout
    assert "x.yaml" not in result.stdout  # neither error nor warning about the new spec


def test_silver_from_silver_reuses_its_ingestion_time(market_project: Path) -> None:
    code, out, err = new(market_project, "bars_copy", "--layer", "silver", "--from", "bars")
    assert code == 0, out + err
    spec = load_project(market_project).tables["bars_copy"]
    assert spec.dedupe_sequence_by == "_ingested_at"
    assert spec.column_names == load_project(market_project).tables["bars"].column_names  # nothing added


def test_silver_without_an_ingestion_time_upstream_stamps_its_own(tmp_path: Path) -> None:
    """An upstream with neither `_ingested_at` nor a timestamp column: the processing time orders the rows."""
    (tmp_path / "tables" / "silver").mkdir(parents=True)
    assert new(tmp_path, "orders_raw", "--layer", "bronze")[0] == 0
    (tmp_path / "tables" / "silver" / "orders.yaml").write_text(
        "name: orders\nlayer: silver\ndescription: Orders.\nsource:\n  tables: [orders_raw]\n  mode: batch\n"
        "columns:\n  - {name: id, type: STRING}\n  - {name: payload, type: STRING}\nkeys: [id]\n"
        "transform:\n  sql: SELECT id, payload FROM source\n")
    code, out, err = new(tmp_path, "orders_clean", "--layer", "silver", "--from", "orders")
    assert code == 0, out + err
    text = (tmp_path / "tables" / "silver" / "orders_clean.yaml").read_text()
    assert "current_timestamp() AS _ingested_at\n    FROM source" in text
    assert load_project(tmp_path).tables["orders_clean"].dedupe_sequence_by == "_ingested_at"
    code, out = validate(tmp_path)
    assert code == 0 and "warning" not in out, out


def test_gold_scaffold_is_batch_and_needs_no_dedupe(market_project: Path) -> None:
    assert new(market_project, "bars_daily", "--layer", "gold", "--from", "bars")[0] == 0
    spec = load_project(market_project).tables["bars_daily"]
    assert (spec.kind, spec.dedupe_sequence_by) == ("materialized_view", None)
