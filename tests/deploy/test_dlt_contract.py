"""The generic registration against the pipelines API Databricks publishes (no workspace, no JVM).

Every call `framework.pipeline.register_pipeline` makes while registering the real project for dev and
prod is recorded and bound to the signatures of the official `databricks-dlt` stub (legacy `dlt`
names) and, for the `pyspark.pipelines` names, to open-source pyspark's signatures as well
(tests/deploy/pipelines_contract.py). A wrong keyword, a missing argument, a value of the wrong type or
a function the module does not have fails; the last tests show each one being reported.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest

from framework.pipeline import api, ddl, declare
from framework.pipeline import DATABRICKS_DP_API, register_pipeline

from .conftest import REPO
from .pipelines_contract import Recorder, dp_api, legacy_api, load_stub

ENVIRONMENTS = ("dev", "prod")


def register(recorder: Recorder, env_name: str) -> list[str]:
    """Run the real registration on the recorder; a failure (e.g. an unknown function) is a violation."""
    try:
        register_pipeline(recorder, None, REPO, env_name)
    except AttributeError as exc:
        return [f"registration stopped: {exc}"]
    return []


def legacy_recorder() -> Recorder:
    return Recorder(legacy_api(), "the `dlt` module (databricks-dlt stub)")


def dp_recorder() -> Recorder:
    return Recorder(dp_api(DATABRICKS_DP_API), "Databricks' `pyspark.pipelines`")


def test_the_stub_is_databricks_dlt_and_does_not_shadow_dlt():
    import sys

    stub = load_stub()
    assert stub.__name__ == "databricks_dlt_stub" and "dlt" not in sys.modules
    assert {"table", "view", "create_streaming_table", "apply_changes", "expect_all"} <= set(stub.__all__)
    assert list(inspect.signature(stub.apply_changes).parameters)[:4] == ["target", "source", "keys", "sequence_by"]


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_registration_fits_the_legacy_dlt_stub(env_name: str):
    recorder = legacy_recorder()
    problems = register(recorder, env_name) + recorder.violations()
    assert problems == [], "\n".join(problems)
    used = {call.function for call in recorder.calls}
    assert {"table", "view", "create_streaming_table", "apply_changes", "expect_all_or_drop"} <= used
    declared = [c for c in recorder.calls if c.function in ("table", "view") and not c.applied]
    applied = [c for c in recorder.calls if c.function in ("table", "view") and c.applied]
    assert len(applied) == len(declared) > 0, "every dataset decorator is applied to a query function"


@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_registration_fits_databricks_pyspark_pipelines(env_name: str):
    recorder = dp_recorder()
    problems = register(recorder, env_name) + recorder.violations()
    assert problems == [], "\n".join(problems)
    used = {call.function for call in recorder.calls}
    assert {"table", "materialized_view", "temporary_view", "create_streaming_table", "create_auto_cdc_flow"} <= used
    assert not used & {"view", "apply_changes"}, "legacy names are not called on a module that has the dp ones"
    tables = {c.kwargs["name"] for c in recorder.calls if c.function == "table" and not c.applied}
    views = {c.kwargs["name"] for c in recorder.calls if c.function == "materialized_view" and not c.applied}
    assert f"medallion_{env_name}.bronze.bars_raw" in tables, "a streaming table is a `table`"
    assert f"medallion_{env_name}.gold.daily_bars" in views, "a batch dataset is a `materialized_view`"


def test_every_call_is_checked_against_both_published_signatures():
    api = dp_api(DATABRICKS_DP_API)
    assert [p.source for p in api["create_auto_cdc_flow"]] == [
        "pyspark.pipelines.create_auto_cdc_flow (open source)", "databricks-dlt 0.3.0 dlt.apply_changes"]
    assert [p.source for p in api["expect_all"]] == ["databricks-dlt 0.3.0 dlt.expect_all"]


# The contract check fails when a registration call changes -------------------------------------------

def test_a_keyword_the_stub_lacks_is_reported(monkeypatch: pytest.MonkeyPatch):
    original = declare.table_options
    monkeypatch.setattr(declare, "table_options",
                        lambda spec, *rest: {**original(spec, *rest), "zorder_cols": list(spec.zorder_by)})
    recorder = legacy_recorder()
    problems = register(recorder, "prod") + recorder.violations()
    wrong = [p for p in problems if "unexpected keyword argument 'zorder_cols'" in p]
    assert wrong and all("databricks-dlt 0.3.0" in p for p in wrong), "\n".join(problems)
    assert any(p.startswith("table(name='medallion_prod.bronze.bars_raw'") for p in wrong)


def test_a_missing_argument_is_reported(monkeypatch: pytest.MonkeyPatch):
    def without_sequence_by(dlt: Any, spec: Any, table: str, query: Any, expect: Any) -> str:
        dlt.create_streaming_table(name=table, comment=spec.description, **ddl.table_options(spec))
        dlt.apply_changes(target=table, source=f"{spec.name}_changes", keys=list(spec.keys))
        return f"{spec.name}_changes"

    monkeypatch.setattr(declare, "declare_deduplicated", without_sequence_by)
    recorder = legacy_recorder()
    problems = recorder.violations() if not register(recorder, "dev") else ["registration stopped"]
    assert any("apply_changes(" in p and "missing a required argument: 'sequence_by'" in p for p in problems), problems


def test_a_function_the_module_lacks_is_reported(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(api, "LEGACY_DLT_NAMES",
                        api.ApiNames(streaming_table="table", materialized_view="table", view="view",
                                          auto_cdc="apply_changes_into"))
    problems = register(legacy_recorder(), "prod")
    assert problems == ["registration stopped: the `dlt` module (databricks-dlt stub) has no function "
                        "`apply_changes_into`"]


def test_a_value_of_the_wrong_type_is_reported(monkeypatch: pytest.MonkeyPatch):
    original = ddl.table_properties
    monkeypatch.setattr(ddl, "table_properties", lambda spec: {**original(spec), "delta.appendOnly": True})
    recorder = dp_recorder()
    problems = register(recorder, "dev") + recorder.violations()
    assert any("expects `table_properties` to be Optional[Dict[str, str]], got dict" in p for p in problems), problems


def test_a_query_function_with_parameters_is_reported():
    recorder = legacy_recorder()
    recorder.table(name="t")(lambda spark: None)
    assert recorder.violations() == ["@table(<lambda>): the query function must take no arguments "
                                     "(missing a required argument: 'spark')"]


# Automatic liquid clustering (`cluster_by: auto`) -------------------------------------------------------

AUTO_CLUSTERED = {"bronze/bars_raw.yaml": "zorder_by: [symbol]",               # streaming table: `table`
                  "silver/bars.yaml": "zorder_by: [symbol, trade_date]",       # create_streaming_table
                  "gold/daily_bars.yaml": "zorder_by: [symbol, trade_date]"}   # materialized view
"""Three specs switched from Z-order to `cluster_by: auto`, one per registration path."""


def _auto_clustered(project_copy: Any) -> Any:
    from .conftest import edit

    for relative, zorder in AUTO_CLUSTERED.items():
        edit(project_copy / "tables" / relative, zorder, "cluster_by: auto")
    return project_copy


def _documented_table(query_function: Any = None, *, name: str | None = None, comment: str | None = None,
                      spark_conf: dict[str, str] | None = None, table_properties: dict[str, str] | None = None,
                      path: str | None = None, partition_cols: list[str] | None = None,
                      cluster_by_auto: bool = False, cluster_by: list[str] | None = None, schema: Any = None,
                      row_filter: str | None = None, private: bool = False) -> Any:
    """`@dp.table` / `@dp.materialized_view` as the Lakeflow pipelines Python reference documents them
    (pages `table`, `materialized_view`: `cluster_by_auto: bool`)."""


def _documented_create_streaming_table(name: str, *, comment: str | None = None,
                                       spark_conf: dict[str, str] | None = None,
                                       table_properties: dict[str, str] | None = None, path: str | None = None,
                                       partition_cols: list[str] | None = None, cluster_by_auto: bool = False,
                                       cluster_by: list[str] | None = None, schema: Any = None,
                                       expect_all: dict[str, str] | None = None,
                                       expect_all_or_drop: dict[str, str] | None = None,
                                       expect_all_or_fail: dict[str, str] | None = None,
                                       row_filter: str | None = None) -> None:
    """`dp.create_streaming_table` as the reference documents it (page `create_streaming_table`)."""


def _auto_calls(recorder: Recorder) -> dict[str, dict[str, Any]]:
    tables = {"medallion_prod.bronze.bars_raw", "medallion_prod.silver.bars", "medallion_prod.gold.daily_bars"}
    return {c.kwargs["name"]: c.kwargs for c in recorder.calls if not c.applied and c.kwargs.get("name") in tables}


@pytest.mark.parametrize("make_recorder", [legacy_recorder, dp_recorder], ids=["dlt", "dp"])
def test_cluster_by_auto_is_left_out_where_the_published_signature_lacks_it(
        project_copy: Any, make_recorder: Any, capsys: pytest.CaptureFixture[str]):
    recorder = make_recorder()
    register_pipeline(recorder, None, _auto_clustered(project_copy), "prod")
    assert recorder.violations() == []
    calls = _auto_calls(recorder)
    assert len(calls) == 3 and not [n for n, kw in calls.items() if {"cluster_by", "cluster_by_auto"} & set(kw)]
    notices = [line for line in capsys.readouterr().err.splitlines() if "`cluster_by: auto` is not applied" in line]
    assert len(notices) == 3 and all("no `cluster_by_auto` parameter" in n for n in notices), notices


def test_cluster_by_auto_is_passed_where_the_module_declares_it(project_copy: Any):
    api_ = dp_api(DATABRICKS_DP_API)
    from .pipelines_contract import Published

    documented = "Lakeflow pipelines Python reference (documented)"
    for name in ("table", "materialized_view"):
        api_[name] = [Published(f"{documented} dp.{name}", _documented_table)]
    api_["create_streaming_table"] = [Published(f"{documented} dp.create_streaming_table",
                                                _documented_create_streaming_table)]
    recorder = Recorder(api_, "Databricks' `pyspark.pipelines` as documented")
    register_pipeline(recorder, None, _auto_clustered(project_copy), "prod")
    assert recorder.violations() == []
    calls = _auto_calls(recorder)
    assert {n: kw.get("cluster_by_auto") for n, kw in calls.items()} == dict.fromkeys(calls, True)
    assert len(calls) == 3 and not [n for n, kw in calls.items() if "cluster_by" in kw]
