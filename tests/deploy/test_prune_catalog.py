"""`medallion prune --env <databricks env>`: the pipeline tables in Unity Catalog that no spec declares, as
DROP statements, listed with the real databricks-sdk against a local REST server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from framework.cli import cli
from tests.medallion_testing import copy_market_project

from .test_workspace_commands import server  # noqa: F401 - the workspace fixture, used by name
from .workspace_server import WorkspaceServer


def prune(root: Path, *args: str):
    return CliRunner().invoke(cli, ["prune", "--env", "prod", *args, "--project", str(root)])


def test_prune_prints_drop_statements_for_pipeline_tables_no_spec_declares(server: WorkspaceServer, tmp_path):
    root = copy_market_project(tmp_path / "project")
    server.page_size = 1  # every schema's listing comes in pages: all of them are read
    for name, kind in (("silver.bars", "STREAMING_TABLE"), ("silver.bars_quarantine", "STREAMING_TABLE"),
                       ("silver.old_bars", "STREAMING_TABLE"), ("gold.daily_bars", "MATERIALIZED_VIEW"),
                       ("gold.old_summary", "MATERIALIZED_VIEW"), ("gold.analyst_scratch", "MANAGED"),
                       ("ops.pipeline_event_log", "MANAGED")):
        server.unity.add_table(f"medallion_prod.{name}", kind)
    result = prune(root)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "DROP MATERIALIZED VIEW IF EXISTS `medallion_prod`.`gold`.`old_summary`;",
        "DROP TABLE IF EXISTS `medallion_prod`.`silver`.`old_bars`;",
    ]  # a table made by hand (MANAGED) and every spec's table, quarantine and event log are left alone
    assert set(server.unity.listed) == {("medallion_prod", s) for s in ("bronze", "silver", "gold", "ops")}
    assert len(server.unity.listed) > 4, "paged listings are followed"


def test_prune_apply_drops_nothing_off_a_cluster(server: WorkspaceServer, tmp_path):
    root = copy_market_project(tmp_path / "project")
    server.unity.add_table("medallion_prod.silver.old_bars", "STREAMING_TABLE")
    result = prune(root, "--apply")
    assert result.exit_code == 2 and "only on a Databricks cluster" in result.stderr
    assert not server.unity.listed, "nothing is even listed"


def test_prune_with_nothing_to_drop_says_so(server: WorkspaceServer, tmp_path):
    root = copy_market_project(tmp_path / "project")
    server.unity.add_table("medallion_prod.silver.bars", "STREAMING_TABLE")
    result = prune(root)
    assert result.exit_code == 0 and "DROP" not in result.stdout and "nothing to prune" in result.output

