"""Tables whose spec is gone: `validate` and `run` warn, `prune` lists them and `--apply` drops them (issue 22).

Real Delta tables in a project copy's storage folder (written by the shared SparkSession); validate reads
them without a JVM of its own.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.engine.orphans import find_orphans
from framework.engine.storage import Storage, storage_lock
from tests.medallion_testing import LocalProject

pytestmark = pytest.mark.spark


def invoke(project: LocalProject, *args: str):
    return CliRunner().invoke(cli, [*args, "--project", str(project.root)], env={"COLUMNS": "250"})


@pytest.fixture
def orphaned(spark, local_project) -> LocalProject:
    """A project whose storage holds silver.old_bars (two versions), its quarantine table and checkpoint —
    the leftovers of a deleted spec — beside a spec's own table and checkpoint."""
    project = local_project()
    tables, checkpoints = project.storage / "tables", project.storage / "checkpoints"
    for name in ("silver/old_bars", "silver/bars"):
        spark.range(3).write.format("delta").save(str(tables / name))
    spark.range(2).write.format("delta").mode("append").save(str(tables / "silver/old_bars"))
    spark.range(1).write.format("delta").save(str(tables / "silver/old_bars_quarantine"))
    (checkpoints / "silver/old_bars/stream/commits").mkdir(parents=True)
    (checkpoints / "silver/bars").mkdir(parents=True)
    (checkpoints / "bronze/gone_raw").mkdir(parents=True)  # a flow that never committed its table
    return project


def test_validate_warns_about_each_orphan_with_its_folder_version_and_how_to_drop_it(orphaned):
    result = invoke(orphaned, "validate", "--env", "test")
    assert result.exit_code == 0, result.output  # a warning, not an error
    warnings = [line for line in result.output.splitlines() if ": warning: " in line]
    assert len(warnings) == 2, result.output
    old = next(w for w in warnings if "silver.old_bars" in w)
    assert old.startswith("environments/test.yaml:")  # located at the environment's storage_root
    assert "tables/silver/old_bars" in old and "tables/silver/old_bars_quarantine" in old
    assert "checkpoints/silver/old_bars" in old and re.search(r"version 1 of \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", old)
    assert any("bronze.gone_raw" in w and "no table version" in w for w in warnings)
    assert "medallion prune --env test --apply" in result.output
    assert "silver.bars " not in result.output
    as_json = json.loads(invoke(orphaned, "validate", "--env", "test", "--format", "json").output)
    assert {f["code"] for f in as_json["findings"]} == {"orphan-table"} and as_json["valid"]


def test_validate_looks_only_at_existing_local_storage(orphaned, tmp_path):
    orphaned.edit("environments/test.yaml", f"storage_root: {orphaned.storage}", f"storage_root: {tmp_path / 'none'}")
    result = invoke(orphaned, "validate", "--env", "test")
    assert result.exit_code == 0 and "warning" not in result.output, result.output
    assert not (tmp_path / "none").exists(), "validate creates nothing"


def test_prune_is_a_dry_run_until_apply(orphaned):
    env = orphaned.env()
    dry = invoke(orphaned, "prune", "--env", "test")
    assert dry.exit_code == 0, dry.output
    assert "would drop silver.old_bars" in dry.output and "would drop bronze.gone_raw" in dry.output
    assert "dry run: nothing dropped" in dry.output
    assert [o.published for o in find_orphans(orphaned.load(), env)] == ["bronze.gone_raw", "silver.old_bars"]

    applied = json.loads(invoke(orphaned, "prune", "--env", "test", "--apply", "--format", "json").output)
    assert applied["applied"] and len(applied["orphans"]) == 2 and len(applied["deleted"]) == 4
    storage = orphaned.storage
    for gone in ("tables/silver/old_bars", "tables/silver/old_bars_quarantine", "checkpoints/silver/old_bars",
                 "checkpoints/bronze"):
        assert not (storage / gone).exists(), gone
    for kept in ("tables/silver/bars", "checkpoints/silver/bars"):
        assert (storage / kept).is_dir(), kept
    assert find_orphans(orphaned.load(), env) == []
    assert "nothing to prune" in invoke(orphaned, "prune", "--env", "test").output


def test_prune_never_drops_under_a_running_pipeline(orphaned):
    env = orphaned.env()
    with storage_lock(Storage.of(env)):  # what `medallion run` holds while it writes
        result = invoke(orphaned, "prune", "--env", "test", "--apply")
    assert result.exit_code != 0 and "in use by another `medallion run`" in result.output, result.output
    assert (orphaned.storage / "tables/silver/old_bars").is_dir()


def test_run_warns_and_leaves_orphans_alone(spark, orphaned):
    orphaned.write_calendar()
    result = invoke(orphaned, "run", "--env", "test", "--tables", "nyse_sessions_raw")
    assert result.exit_code == 0, result.output
    assert re.search(r"warning: silver\.old_bars .* has no spec in tables/ any more", result.stderr), result.stderr
    assert "medallion prune --env test --apply" in result.stderr
    assert (orphaned.storage / "tables/silver/old_bars").is_dir()
    # what the run wrote (its table, checkpoint and the event log) is owned: only the leftovers are orphans
    assert (orphaned.storage / "tables/ops/event_log").is_dir()
    assert [o.published for o in find_orphans(orphaned.load(), orphaned.env())] == ["bronze.gone_raw",
                                                                                    "silver.old_bars"]
