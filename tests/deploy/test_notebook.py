"""The deployed notebook, executed as-is under the local runtime: what is deployed is what is tested.

`notebooks/medallion_pipeline.py` runs with the local engine's pipelines stand-in installed as the
module the notebook picks — Databricks' `pyspark.pipelines` (dp), or the legacy `dlt` — and a local
SparkSession whose configuration carries the two keys the bundle sets. The open-source
`pyspark.pipelines` of the local pyspark has no expectations, so there the notebook falls back to `dlt`.
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from framework.deploy.names import NOTEBOOK
from framework.project import load_project

from .conftest import REPO

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    from framework.engine.spark import build_session

    return build_session(load_project(REPO).environments["local"])


class LegacyDlt:
    """Only the legacy `dlt` module's names (those of the databricks-dlt stub), backed by the local engine."""

    NAMES = ("table", "view", "create_streaming_table", "apply_changes", "expect_all", "expect_all_or_drop",
             "expect_all_or_fail", "read", "read_stream")

    def __init__(self, local):
        self.local = local
        self.graph = local.graph

    def __getattr__(self, name: str):
        if name not in self.NAMES:
            raise AttributeError(f"module 'dlt' has no attribute {name!r}")
        return getattr(self.local, name)


def run_notebook(spark, monkeypatch: pytest.MonkeyPatch, env_name: str | None, root: Path = REPO,
                 databricks_dp: bool = False, legacy: bool = False):
    """Run the notebook; the stand-in is `dlt` (default), Databricks' `pyspark.pipelines` (`databricks_dp`),
    or a `dlt` with only the legacy names (`legacy`)."""
    import pyspark

    from framework.engine.dlt_api import LocalDLT

    local = LocalDLT(spark)
    dlt = LegacyDlt(local) if legacy else local
    if databricks_dp:
        monkeypatch.setitem(sys.modules, "pyspark.pipelines", dlt)
        monkeypatch.setattr(pyspark, "pipelines", dlt, raising=False)
        monkeypatch.setitem(sys.modules, "dlt", None)  # `import dlt` would fail: dp must be the one used
    else:
        monkeypatch.setitem(sys.modules, "dlt", dlt)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the notebook prepends the project root
    for key, value in (("medallion.env", env_name), ("medallion.project_root", str(root))):
        if value is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, value)
    try:
        namespace = runpy.run_path(str(REPO / NOTEBOOK), init_globals={"spark": spark}, run_name="__main__")
    finally:
        spark.conf.unset("medallion.env")
        spark.conf.unset("medallion.project_root")
    return dlt, namespace


def test_notebook_is_in_databricks_source_format():
    lines = (REPO / NOTEBOOK).read_text("utf-8").splitlines()
    assert lines[0] == "# Databricks notebook source"
    assert "# COMMAND ----------" in lines


@pytest.mark.parametrize("env_name", ["dev", "prod"])
def test_notebook_registers_every_spec_under_unity_catalog_names(spark, monkeypatch, env_name):
    dlt, namespace = run_notebook(spark, monkeypatch, env_name)
    project = load_project(REPO)
    env = project.environments[env_name]
    registered = namespace["registered"]
    assert set(registered) == set(dlt.graph.datasets)
    for spec in project.tables.values():
        assert f"{env.catalog}.{env.schema_for(spec.layer)}.{spec.name}" in dlt.graph.datasets, spec.name
    bars_raw = dlt.graph.datasets[f"medallion_{env_name}.bronze.bars_raw"]
    assert bars_raw.table_properties["pipelines.autoOptimize.zOrderCols"] == "symbol"
    assert bars_raw.table_properties["delta.autoOptimize.optimizeWrite"] == "true"
    assert bars_raw.comment and bars_raw.comment.startswith("Raw OHLCV bars")
    assert str(REPO) in sys.path


def test_open_source_pyspark_pipelines_has_no_expectations_so_the_notebook_uses_dlt(spark, monkeypatch):
    from pyspark import pipelines

    assert not hasattr(pipelines, "expect_all"), "the local pyspark's module is the open-source one"
    dlt, namespace = run_notebook(spark, monkeypatch, "dev")
    assert namespace["dp"] is dlt


def test_databricks_pyspark_pipelines_is_preferred(spark, monkeypatch):
    dp, namespace = run_notebook(spark, monkeypatch, "prod", databricks_dp=True)
    assert namespace["dp"] is dp
    project = load_project(REPO)
    assert len(dp.graph.datasets) == len(namespace["registered"]) >= len(project.tables)
    assert dp.graph.change_flow_into("medallion_prod.silver.bars") is not None, "create_auto_cdc_flow was called"


def test_a_legacy_dlt_module_registers_the_same_datasets(spark, monkeypatch):
    legacy, _ = run_notebook(spark, monkeypatch, "prod", legacy=True)
    modern, _ = run_notebook(spark, monkeypatch, "prod", databricks_dp=True)
    assert set(legacy.graph.datasets) == set(modern.graph.datasets)
    for name, dataset in modern.graph.datasets.items():
        other = legacy.graph.datasets[name]
        assert (other.kind, other.table_properties, other.expectations) == \
               (dataset.kind, dataset.table_properties, dataset.expectations), name
    assert legacy.graph.change_flows == modern.graph.change_flows


def test_notebook_under_the_local_environment_uses_local_names(spark, monkeypatch):
    dlt, _ = run_notebook(spark, monkeypatch, "local")
    assert "bronze.bars_raw" in dlt.graph.datasets and "silver.bars_quarantine" in dlt.graph.datasets


def test_notebook_without_pipeline_configuration_says_what_is_missing(spark, monkeypatch):
    with pytest.raises(ValueError, match="pipeline configuration `medallion.env` is not set"):
        run_notebook(spark, monkeypatch, None)
