"""The generic DLT registration, declared on the local `dlt` stand-in (no Spark needed to declare)."""

from __future__ import annotations

import pytest

from tests.medallion_testing import market_root
from framework.engine.dlt_api import LocalDLT
from framework.pipeline import QUARANTINE_OF_PROPERTY, register_tables
from framework.project import load_project


@pytest.fixture(scope="module")
def declared():
    project = load_project(market_root(), env="local")
    dlt = LocalDLT()
    registrations = register_tables(dlt, None, project, project.environment("local"))
    return project, dlt, {r.spec.name: r for r in registrations}


def test_every_spec_is_declared_once_in_dependency_order(declared):
    project, dlt, registrations = declared
    assert list(registrations) == project.graph().order()
    assert set(dlt.graph.datasets) == {
        "bronze.bars_raw", "bronze.nyse_sessions_raw", "bars__changes", "silver.bars", "silver.bars_quarantine",
        "trading_sessions__changes", "silver.trading_sessions", "silver.trading_sessions_quarantine",
        "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary"}


def test_expectations_map_to_dlt_actions_with_quarantine_dropped_from_the_table(declared):
    _, dlt, _ = declared
    changes = dlt.graph.datasets["bars__changes"]
    actions = {e.name: e.action for e in changes.expectations}
    assert actions["well_formed"] == "drop" and actions["in_session"] == "drop"  # quarantine rules drop too
    assert {e.action for e in dlt.graph.datasets["gold.daily_bars"].expectations} == {"fail"}
    assert {e.action for e in dlt.graph.datasets["bronze.bars_raw"].expectations} == {"warn"}


def test_dedupe_is_apply_changes_into_a_streaming_table(declared):
    _, dlt, _ = declared
    flow = dlt.graph.change_flow_into("silver.bars")
    assert (flow.source, flow.keys, flow.sequence_by) == ("bars__changes", ("symbol", "ts", "timeframe"), "_ingested_at")
    target = dlt.graph.datasets["silver.bars"]
    assert target.kind == "streaming_table" and target.query is None
    assert "`symbol` STRING NOT NULL COMMENT 'Upper-case ticker.'" in target.schema
    assert target.table_properties["pipelines.autoOptimize.zOrderCols"] == "symbol,trade_date"
    assert target.table_properties["delta.enableChangeDataFeed"] == "true"


def test_quarantine_is_a_second_table_fed_from_the_same_rows(declared):
    _, dlt, registrations = declared
    quarantine = dlt.graph.datasets["silver.bars_quarantine"]
    assert registrations["bars"].quarantine == "silver.bars_quarantine"
    assert quarantine.table_properties[QUARANTINE_OF_PROPERTY] == "silver.bars"
    assert quarantine.hints.split.source_dataset == "bars__changes"
    assert "`_failed_rules` ARRAY<STRING> NOT NULL" in quarantine.schema
    assert "`symbol` STRING COMMENT" in quarantine.schema  # nullable: quarantined rows break constraints


def test_local_hints_are_typed_and_leave_the_query_functions_plain(declared):
    """What the engine adds over the DLT API is on `Dataset.hints`; DLT receives ordinary functions."""
    _, dlt, _ = declared
    daily = dlt.graph.datasets["gold.daily_indicators"]
    assert daily.hints.incremental is not None and daily.hints.incremental.upstream == "gold.daily_bars"
    assert dlt.graph.datasets["silver.bars"].hints.split is None
    for dataset in dlt.graph.datasets.values():
        if dataset.query is not None:
            assert not [k for k in vars(dataset.query) if "medallion" in k], dataset.name


def test_files_source_tables_get_framework_columns_or_evolve(declared):
    _, dlt, _ = declared
    assert dlt.graph.datasets["bronze.bars_raw"].schema is None  # add_new_columns: no fixed schema
    calendar = dlt.graph.datasets["bronze.nyse_sessions_raw"].schema
    assert "`_rescued_data` STRING" in calendar and "`_ingested_at` TIMESTAMP" in calendar


def test_databricks_environments_publish_unity_catalog_names(declared):
    project, _, _ = declared
    dlt = LocalDLT()
    register_tables(dlt, None, project, project.environment("prod"))
    assert "medallion_prod.silver.bars" in dlt.graph.datasets
    assert dlt.graph.change_flow_into("medallion_prod.silver.bars").source == "bars__changes"


def test_the_local_api_refuses_what_it_cannot_do_like_databricks():
    dlt = LocalDLT()
    dlt.create_streaming_table("t")
    with pytest.raises(NotImplementedError, match="SCD type 1"):
        dlt.apply_changes(target="t", source="v", keys=["k"], sequence_by="s", stored_as_scd_type=2)
    with pytest.raises(ValueError, match="create_streaming_table"):
        dlt.apply_changes(target="missing", source="v", keys=["k"], sequence_by="s")

    @dlt.table(name="a")
    @dlt.expect("positive", "x > 0")
    @dlt.expect_or_drop("present", "x IS NOT NULL")
    def a():
        return None

    assert [(e.name, e.action) for e in dlt.graph.datasets["a"].expectations] == [("present", "drop"),
                                                                                ("positive", "warn")]
    with pytest.raises(ValueError, match="declared twice"):
        dlt.table(name="a")(lambda: None)


def test_a_second_run_on_the_same_storage_is_refused(tmp_path):
    from framework.engine.storage import Storage, storage_lock
    from framework.errors import RunError

    storage = Storage(tmp_path / "storage")
    with storage_lock(storage):
        with pytest.raises(RunError, match=r"is in use by another `medallion run` \(pid \d+\)"):
            with storage_lock(storage):
                pass
    with storage_lock(storage):  # released
        pass


def test_table_selection_accepts_spec_and_published_names_and_hints_typos(declared):
    from framework.engine.plan import plan, select
    from framework.errors import RunError

    project, _, _ = declared
    dlt = LocalDLT()
    planned = plan(dlt, register_tables(dlt, None, project, project.environment("local")))
    assert select(planned, ["bars", "gold.daily_bars"], "--tables") == {"bars", "daily_bars"}
    with pytest.raises(RunError, match="unknown table `bars_rw`; did you mean `bars_raw`"):
        select(planned, ["bars_rw"], "--tables")
    kinds = {p.spec.name: p.flow.kind for p in planned}
    assert kinds == {"bars_raw": "append", "nyse_sessions_raw": "append", "bars": "merge",
                     "trading_sessions": "merge", "daily_bars": "materialize", "daily_indicators": "materialize",
                     "symbol_summary": "materialize"}
    bars = next(p for p in planned if p.spec.name == "bars")
    assert [d.name for d, _ in bars.flow.splits] == ["silver.bars_quarantine"]


def test_rebuilding_a_table_rebuilds_the_streaming_tables_that_read_it(declared, tmp_path):
    import threading

    from framework.engine.results import RunListener
    from framework.engine.storage import Storage
    from framework.engine.update import Update

    project, _, _ = declared
    messages: list[str] = []

    class Listener(RunListener):
        def message(self, text: str) -> None:
            messages.append(text)

    assert project.graph().stream_readers({"bars_raw"}) == {"bars_raw", "bars"}  # gold reads silver as a batch
    assert project.graph().stream_readers({"daily_bars"}) == {"daily_bars"}
    update = Update(project, project.environment("local"), Storage(tmp_path), None, Listener(), threading.Event())
    planned, _, refresh = update.select_flows(["daily_bars"], ["bars_raw"])
    assert sorted(p.name for p in planned) == ["bars", "bars_raw", "daily_bars"] and refresh == {"bars_raw", "bars"}
    assert messages == ["also rebuilding bars: it streams from bars_raw"]
