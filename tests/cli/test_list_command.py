"""`medallion list`: the tables in dependency order (it shares the loader with validate)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from tests.cli.cli_project import market_project  # noqa: F401 (fixture)
from framework.cli import cli


def test_list_json_is_in_dependency_order(market_project: Path) -> None:
    result = CliRunner().invoke(cli, ["list", "--json", "--project", str(market_project)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    order = [row["name"] for row in rows]
    position = {name: i for i, name in enumerate(order)}
    for row in rows:
        for upstream in row["upstreams"]:
            assert position[upstream] < position[row["name"]], (upstream, row["name"])
    assert order[:2] == ["bars_raw", "nyse_sessions_raw"]
    by_name = {row["name"]: row for row in rows}
    assert by_name["bars"] == {"name": "bars", "layer": "silver", "kind": "streaming_table",
                               "upstreams": ["bars_raw"], "file": "tables/silver/bars.yaml"}
    assert by_name["daily_bars"]["kind"] == "materialized_view"


def test_list_refuses_an_invalid_project_with_located_errors(market_project: Path) -> None:
    spec = market_project / "tables" / "silver" / "bars.yaml"
    spec.write_text(spec.read_text().replace("tables: [bars_raw]", "tables: [bars_raw, daily_bars]"))
    result = CliRunner().invoke(cli, ["list", "--project", str(market_project)], catch_exceptions=False)
    assert result.exit_code == 1
    assert "tables depend on each other in a cycle: " in result.stderr
    assert "silver table reads gold table `daily_bars`" in result.stderr
