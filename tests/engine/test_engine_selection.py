"""`medallion run --tables` selects like dbt's `--select` and says what a selection leaves behind.

Issue 12, case 3: `run --tables daily_bars` after a new landing file printed `up_to_date` and nothing
else. Now a plain name runs only that table, `+name` adds its upstreams, `name+` its downstreams, and a
left-out upstream with unprocessed input — new landing files, data its reader has not consumed, a
stale materialized view — is named with the `--tables` that would include it, in the text summary
and in `--format json`.
"""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from tests.medallion_testing import bar_rows, make_local_project, market_root
from framework.cli import cli

DAY, NEXT_DAY = date(2026, 11, 23), date(2026, 11, 24)


def _planned():
    from framework.engine.dlt_api import LocalDLT
    from framework.engine.plan import plan
    from framework.pipeline import register_tables
    from framework.project import load_project

    project = load_project(market_root(), env="local")
    dlt = LocalDLT()
    return plan(dlt, register_tables(dlt, None, project, project.environment("local")))


def test_plain_plus_and_trailing_plus_select_like_dbt():
    from framework.engine.plan import select

    planned = _planned()
    assert select(planned, ["daily_bars"], "--tables") == {"daily_bars"}
    assert select(planned, ["+daily_bars"], "--tables") == {"daily_bars", "bars", "bars_raw"}
    assert select(planned, ["bars+"], "--tables") == {"bars", "daily_bars", "daily_indicators", "symbol_summary"}
    assert select(planned, ["+bars+"], "--tables") == {"bars_raw", "bars", "daily_bars", "daily_indicators",
                                                      "symbol_summary"}
    assert select(planned, ["+silver.bars", "trading_sessions"], "--tables") == {"bars_raw", "bars",
                                                                               "trading_sessions"}


def test_an_unknown_name_with_operators_gets_a_hint():
    from framework.engine.plan import select
    from framework.errors import RunError

    with pytest.raises(RunError, match=r"unknown table `daily_barz`; did you mean `daily_bars`"):
        select(_planned(), ["+daily_barz+"], "--tables")


def invoke(project, *args: str):
    return CliRunner().invoke(cli, [*args, "--env", "test", "--project", str(project.root)],
                              catch_exceptions=False, env={"COLUMNS": "200"})


@pytest.mark.spark
def test_a_selection_names_left_out_upstreams_with_unprocessed_input(spark, tmp_path):
    from framework.engine.pending import left_out_inputs

    project = make_local_project(tmp_path / "project")
    project.write_calendar()
    project.write_bars("a.jsonl", bar_rows("AAPL", DAY))
    assert project.run(spark).ok
    project.write_bars("b.jsonl", bar_rows("AAPL", NEXT_DAY))

    # a new landing file upstream: named in the text summary and in JSON, and the table stays as it was
    text = invoke(project, "run", "--tables", "daily_bars")
    assert text.exit_code == 0, text.output
    note = ("note: bars_raw has 1 new landing file(s) not in this run; run with --tables +daily_bars to include "
            "its upstreams")
    assert note in " ".join(text.output.split())
    as_json = invoke(project, "run", "--tables", "daily_bars", "--format", "json")
    report = json.loads(as_json.stdout)
    assert [f["status"] for f in report["flows"]] == ["UP_TO_DATE"]
    assert report["pending_upstreams"] == [{
        "table": "bars_raw", "kind": "landing_files", "count": 1, "detail": "1 new landing file(s)",
        "selected": ["daily_bars"], "include": "--tables +daily_bars", "message": note.removeprefix("note: ")}]

    # bronze took the file; silver has not read it yet
    assert project.run(spark, tables=["bars_raw"]).ok
    env, loaded = project.env(), project.load()
    [pending] = left_out_inputs(loaded, env, {"daily_bars"})
    assert (pending.table, pending.kind, pending.count) == ("bars", "upstream_data", 1)
    assert pending.detail == "unprocessed data from bars_raw (1 version(s))"

    # silver read it; the materialized view between silver and daily_indicators has not been recomputed
    assert project.run(spark, tables=["bars"]).ok
    assert [(p.table, p.kind) for p in left_out_inputs(loaded, env, {"daily_indicators"})] == [
        ("daily_bars", "inputs_changed")]

    # `+name` runs the upstreams too; nothing is left behind
    result = project.run(spark, tables=["+daily_indicators"])
    assert result.ok and result.pending == []
    assert {f.name: f.status for f in result.flows} == {"bars_raw": "COMPLETED", "bars": "COMPLETED",
                                                        "daily_bars": "COMPLETED", "daily_indicators": "COMPLETED"}
    dates = {r.trade_date for r in project.table(spark, "gold.daily_bars").collect()}
    assert dates == {DAY, NEXT_DAY}
