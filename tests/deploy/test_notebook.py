"""The deployed notebook, executed as-is under the local runtime: what is deployed is what is tested.

`notebooks/medallion_pipeline.py` runs with the local engine's DLT stand-in installed as the module
`dlt` and a local SparkSession whose configuration carries the two keys the bundle sets.
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


def run_notebook(spark, monkeypatch: pytest.MonkeyPatch, env_name: str | None, root: Path = REPO):
    from framework.engine.dlt_api import LocalDLT

    dlt = LocalDLT(spark)
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


def test_notebook_under_the_local_environment_uses_local_names(spark, monkeypatch):
    dlt, _ = run_notebook(spark, monkeypatch, "local")
    assert "bronze.bars_raw" in dlt.graph.datasets and "silver.bars_quarantine" in dlt.graph.datasets


def test_notebook_without_pipeline_configuration_says_what_is_missing(spark, monkeypatch):
    with pytest.raises(ValueError, match="pipeline configuration `medallion.env` is not set"):
        run_notebook(spark, monkeypatch, None)
