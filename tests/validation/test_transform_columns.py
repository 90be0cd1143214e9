"""Transforms and SQL sources resolved offline against their upstreams' declared columns (issue 12, cases 1
and 2): what used to pass `medallion validate` and fail 15-30 s into `medallion run` (or silently write
NULL) is now an error at the line and column inside the `sql:` block of the YAML file.

The "Seen" cases are played on a copy of the shipped market-bars specs; the finer rules on the small
raw_events -> events -> daily_spend project of spec_project.py.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from framework.findings import Finding
from framework.project import load_project
from tests.medallion_testing import copy_market_project
from tests.validation.spec_project import DAILY_SPEND, EVENTS, RAW_EVENTS, SpecProject, at
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

BARS = "tables/silver/bars.yaml"
DAILY_BARS = "tables/gold/daily_bars.yaml"
SUMMARY = "tables/gold/symbol_summary.yaml"


@pytest.fixture
def market(tmp_path: Path) -> Path:
    """The market project's specs (named: tests.medallion_testing.MARKET_SPECS) and environments, copied:
    the shipped specs, free to break."""
    return copy_market_project(tmp_path)


def _break(root: Path, relative: str, old: str, new: str) -> str:
    path = root / relative
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))
    return path.read_text()


def _errors(root: Path) -> list[Finding]:
    return load_project(root).errors


def _only(root: Path) -> Finding:
    errors = _errors(root)
    assert len(errors) == 1, "\n".join(f.render() for f in errors)
    return errors[0]


# ------------------------------------------------------------------------------- the cases seen in issue 12

def test_shipped_specs_resolve_cleanly(market: Path) -> None:
    project = load_project(market)
    assert [f.render() for f in project.findings] == []


def test_unknown_function_is_located_with_a_suggestion(market: Path) -> None:
    text = _break(market, BARS, "upper(trim(symbol)) AS symbol", "upperr(trim(symbol)) AS symbol")
    finding = _only(market)
    assert (finding.file, finding.line, finding.column) == (BARS, *at(text, "upperr"))
    assert finding.doc_path == "transform.sql"
    assert finding.message == "unknown function `upperr`"
    assert finding.hint == "did you mean `upper`?"


def test_misspelled_column_is_located_with_a_suggestion(market: Path) -> None:
    text = _break(market, BARS, "      try_to_timestamp(ts) AS ts,", "      tss AS ts,")
    finding = _only(market)
    assert (finding.file, finding.line, finding.column) == (BARS, *at(text, "tss AS ts"))
    assert finding.message == "unknown column `tss`: not a column of `source`"
    assert finding.hint.startswith("did you mean `ts`?")
    assert "`bars_raw` evolves its schema" in finding.hint  # declared columns are the contract, even then


def test_trailing_comma_is_a_syntax_error_at_the_comma(market: Path) -> None:
    text = _break(market, DAILY_BARS, "max(ts) AS last_bar_ts\n", "max(ts) AS last_bar_ts,\n")
    finding = _only(market)
    line, column = at(text, "max(ts) AS last_bar_ts,")
    assert (finding.file, finding.line, finding.column) == (DAILY_BARS, line, column + len("max(ts) AS last_bar_ts"))
    assert finding.message == "SQL does not parse: trailing comma before FROM; remove it (SQL line 12, column 25)"


@pytest.mark.parametrize("sql", ["SELECT symbol, FROM source", "SELECT concat(symbol,) AS s FROM source",
                                 "SELECT symbol FROM source GROUP BY symbol,", "SELECT symbol FROM source ORDER BY symbol,"])
def test_trailing_commas_anywhere_are_rejected(pipeline: SpecProject, sql: str) -> None:
    pipeline.table("gold", "daily_spend", DAILY_SPEND.replace(
        "    SELECT user_id, to_date(ts) AS day, sum(amount) AS spend\n    FROM source\n    GROUP BY user_id, to_date(ts)",
        f"    {sql}"))
    assert "trailing comma" in pipeline.one().message


def test_window_function_after_a_comma_is_no_trailing_comma(pipeline: SpecProject) -> None:
    pipeline.table("gold", "daily_spend", DAILY_SPEND.replace(
        "sum(amount) AS spend", "sum(amount) AS spend, window(ts, '1 day').start AS w").replace(
        "  - {name: spend, type: DOUBLE}", "  - {name: spend, type: DOUBLE}\n  - {name: w, type: TIMESTAMP}"))
    assert pipeline.errors() == []


def test_declared_column_never_produced_points_at_the_select(market: Path) -> None:
    text = _break(market, BARS, "      trade_count,\n", "")
    finding = _only(market)
    assert (finding.file, finding.line, finding.column) == (BARS, *at(text, "SELECT"))
    assert finding.message == "declared column `trade_count` is never produced: no output of the SELECT has that name"
    assert finding.hint == "add `<expression> AS trade_count` to the SELECT, or remove `trade_count` from columns"


def test_string_selected_into_a_numeric_column_is_an_error(market: Path) -> None:
    """Case 1, the offline half: `symbol AS volume` validated, ran `completed` and wrote NULL in every row."""
    old = "CASE WHEN isnan(volume) OR abs(volume) >= 9.2e18 THEN NULL ELSE CAST(volume AS BIGINT) END AS volume"
    text = _break(market, BARS, old, "symbol AS volume")
    finding = _only(market)
    assert (finding.file, finding.line, finding.column) == (BARS, *at(text, "volume,\n      trade_count"))
    assert finding.message == ("`volume` is declared BIGINT, but the SELECT puts `symbol` (a STRING column) in it: "
                               "the run would stop at the first value that is not a number (it converts to no BIGINT)")
    assert finding.hint == ("convert it on purpose with `try_cast(symbol AS BIGINT) AS volume` (NULL where a value is "
                            "not a number) and say what that NULL does: `nullable: false` fails the flow, an expectation "
                            "`volume IS NOT NULL` with `action: quarantine` quarantines the row; or select the column you "
                            "meant, or declare `volume` as STRING")
    assert "CAST(" not in finding.hint  # a CAST fails the flow under ANSI, and writes NULL without it


@pytest.mark.parametrize("expression, column, family", [
    ("try_to_timestamp(session_open)", "session_open", None),      # the shipped conversion: fine
    ("session_open", "session_open", "timestamp"),                 # a STRING upstream column into TIMESTAMP
    ("upper(provider)", "trade_count", "number"),                  # a string function into BIGINT
    ("coalesce(provider, batch_id)", "trade_count", "number"),     # branches that are all strings
    ("CASE WHEN vwap > 0 THEN provider END", "vwap", "number"),
])
def test_string_expressions_into_typed_columns(market: Path, expression: str, column: str, family: str | None) -> None:
    old = {"session_open": "try_to_timestamp(session_open) AS session_open", "trade_count": "      trade_count,",
           "vwap": "      vwap,"}[column]
    new = f"{expression} AS {column}" if column == "session_open" else f"      {expression} AS {column},"
    _break(market, BARS, old, new)
    errors = _errors(market)
    if family is None:
        assert errors == []
    else:
        assert len(errors) == 1 and f"at the first value that is not a {family} " in errors[0].message, errors


def test_source_sql_joins_resolve_by_alias(market: Path) -> None:
    text = _break(market, SUMMARY, "max_by(d.close, d.trade_date) AS latest_close",
                  "max_by(d.closing, d.trade_date) AS latest_close")
    finding = _only(market)
    assert (finding.file, finding.line, finding.column) == (SUMMARY, *at(text, "d.closing"))
    assert finding.doc_path == "source.sql"
    assert finding.message == "`d` has no column `closing`"
    assert finding.hint == "did you mean `close`?"


def test_source_sql_reports_a_column_its_final_select_does_not_have(market: Path) -> None:
    text = _break(market, SUMMARY, "  st.first_date,\n", "  st.frist_date AS first_date,\n")
    finding = _only(market)
    assert (finding.line, finding.column) == at(text, "st.frist_date")
    assert finding.message == "`st` has no column `frist_date`"
    assert finding.hint == "did you mean `first_date`?"


# ---------------------------------------------------------------------------------- resolution rules

def _events_sql(project: SpecProject, sql: str, columns: str | None = None) -> str:
    """Write events.yaml with `sql` as its transform (and other columns, if given); returns the text."""
    body = textwrap.indent(textwrap.dedent(sql).strip(), "    ")
    text = EVENTS.replace("    SELECT event_id, user_id, amount, ts\n    FROM source", body)
    if columns is not None:
        declared = "\n".join(f"  - {{name: {c.split()[0]}, type: {c.split()[1]}}}" for c in columns.split(","))
        start, end = text.index("columns:\n") + len("columns:\n"), text.index("keys:")
        text = text[:start] + declared + "\n" + text[end:]
    return project.table("silver", "events", text)


VALID = [
    # aliases, CTEs, subqueries, correlated references
    "SELECT s.event_id, s.user_id, s.amount, s.ts FROM source s",
    "WITH a AS (SELECT event_id, user_id, amount, ts FROM source) SELECT * FROM a",
    "WITH a(e, u) AS (SELECT event_id, user_id FROM source) SELECT e AS event_id, u AS user_id, 0.0 AS amount, "
    "current_timestamp() AS ts FROM a",
    "SELECT q.* FROM (SELECT event_id, user_id, amount, ts FROM source) q",
    "SELECT event_id, user_id, amount, ts FROM source x WHERE amount > (SELECT avg(amount) FROM source y "
    "WHERE y.user_id = x.user_id)",
    "SELECT event_id, user_id, amount, ts FROM source WHERE EXISTS (SELECT 1 FROM source s2 "
    "WHERE s2.user_id = source.user_id)",
    # `*`, with and without EXCEPT; the framework's file columns come along from a bronze upstream
    "SELECT * EXCEPT (_rescued_data, _source_file, _ingested_at) FROM source",
    # names are case-insensitive; backquotes; lateral column aliases; ORDER BY / GROUP BY aliases
    "SELECT EVENT_ID AS event_id, `user_id`, Amount AS amount, ts FROM source",
    "SELECT event_id, trim(user_id) AS user_id, amount, ts FROM source WHERE user_id <> '' ORDER BY user_id",
    "SELECT event_id, max(user_id) AS user_id, sum(amount) AS amount, max(ts) AS ts FROM source "
    "GROUP BY event_id HAVING amount > 0",
    "SELECT event_id, user_id, amount, ts FROM source GROUP BY ALL ORDER BY ALL",
    # lambdas, windows, named windows, QUALIFY, CAST keeping the column's name
    "SELECT event_id, user_id, aggregate(array(amount), 0.0D, (acc, x) -> acc + x) AS amount, ts FROM source",
    "SELECT event_id, user_id, amount, ts FROM source WINDOW w AS (PARTITION BY user_id ORDER BY ts) "
    "QUALIFY row_number() OVER w = 1",
    "SELECT event_id, user_id, CAST(amount AS DOUBLE), ts FROM source",
    # joins: qualified references, USING
    "SELECT a.event_id, a.user_id, b.amount, a.ts FROM source a JOIN source b ON a.event_id = b.event_id",
    "SELECT event_id, a.user_id, a.amount, a.ts FROM source a JOIN source b USING (event_id)",
    # unions, lateral views, VALUES, parser-level functions, `${variables}`
    "SELECT event_id, user_id, amount, ts FROM source UNION ALL SELECT event_id, user_id, amount, ts FROM source",
    "SELECT event_id, u AS user_id, amount, ts FROM source LATERAL VIEW explode(array(user_id)) t AS u",
    "SELECT event_id, col AS user_id, amount, ts FROM source LATERAL VIEW explode(array(user_id)) t",
    "SELECT event_id, user_id, amount, timestampadd(HOUR, 1, ts) AS ts FROM source",
    "SELECT event_id, user_id, amount, ts FROM source WHERE user_id <> '${user}'",
    # strings that do convert
    "SELECT event_id, user_id, '12.5' AS amount, to_timestamp(user_id) AS ts FROM source",
]


@pytest.mark.parametrize("sql", VALID)
def test_valid_transforms_resolve(pipeline: SpecProject, sql: str) -> None:
    pipeline.write("environments/local.yaml", "name: local\nvariables: {events_folder: e, user: u}\n")
    _events_sql(pipeline, sql)
    assert [f.render() for f in pipeline.errors()] == []


@pytest.mark.parametrize("sql, needle, message, hint", [
    ("SELECT event_id, user_id, amount, tss AS ts FROM source", "tss", "unknown column `tss`: not a column of `source`",
     "did you mean `ts`?"),
    ("SELECT s.event_id, s.user_id, s.amount, s.tss AS ts FROM source s", "s.tss", "`s` has no column `tss`",
     "did you mean `ts`?"),
    ("SELECT x.event_id, user_id, amount, ts FROM source s", "x.event_id",
     "unknown column `x.event_id`: `x` is neither a table alias nor a column of `s`", ""),
    ("SELECT source.event_id, user_id, amount, ts FROM source s", "source.event_id",
     "unknown column `source.event_id`: `source` is neither a table alias nor a column of `s`", ""),
    ("SELECT event_id, a.user_id, a.amount, a.ts FROM source a JOIN source b ON a.event_id = b.event_id",
     "event_id, a.", "column `event_id` is ambiguous: `a` and `b` both have it", "qualify it, e.g. `a.event_id`"),
    ("WITH a AS (SELECT event_id, user_id, ts FROM source) SELECT event_id, user_id, amount, ts FROM a",
     "amount, ts FROM a", "unknown column `amount`: not a column of `a`", "columns here: event_id, ts, user_id"),
    ("SELECT event_id, user_id, amount, ts FROM (SELECT event_id, user_id, ts FROM source) q", "amount, ts FROM (",
     "unknown column `amount`: not a column of `q`", ""),
    ("SELECT event_id, user_id, filter(array(amount), x -> y > 0)[0] AS amount, ts FROM source", "y > 0",
     "unknown column `y`: not a column of `source`", ""),
    ("SELECT event_id, strftime(user_id) AS user_id, amount, ts FROM source", "strftime",
     "unknown function `strftime`",
     "Spark 4.0 / 4.2 has no such built-in function (the lists: spark_functions_4.0.txt, spark_functions_4.2.txt)"),
])
def test_unresolved_references(pipeline: SpecProject, sql: str, needle: str, message: str, hint: str) -> None:
    text = _events_sql(pipeline, sql)
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, needle)
    assert finding.message == message
    assert finding.hint.startswith(hint)


def test_select_aliases_are_visible_to_later_items_but_not_to_where(pipeline: SpecProject) -> None:
    """Spark's lateral column aliases: `u` may be used after `AS u`, not before it and not in WHERE."""
    columns = "event_id STRING, user_id STRING, amount DOUBLE, ts TIMESTAMP, u STRING"
    _events_sql(pipeline, "SELECT event_id, trim(user_id) AS u, upper(u) AS user_id, amount, ts FROM source", columns)
    assert pipeline.errors() == []
    text = _events_sql(pipeline, "SELECT event_id, upper(u) AS user_id, trim(user_id) AS u, amount, ts FROM source "
                                 "WHERE u <> ''", columns)
    found = [(f.line, f.column, f.message) for f in pipeline.errors()]
    assert found == [(*at(text, "u) AS user_id"), "unknown column `u`: not a column of `source`"),
                     (*at(text, "u <>"), "unknown column `u`: not a column of `source`")]


# ------------------------------------------------------------------------------------ output vs declared

@pytest.mark.parametrize("sql, needle, message", [
    ("SELECT event_id, user_id, amount, ts, user_id AS extra FROM source", "extra",
     "the SELECT outputs `extra`, which is not a declared column"),
    ("SELECT event_id, user_id, amount, ts, upper(user_id) FROM source", "upper(user_id) FROM",
     "the expression `upper(user_id)` has no name, so Spark makes one up and it matches no declared column"),
    ("SELECT event_id, user_id, amount, ts, ts FROM source", "ts FROM", "the SELECT outputs `ts` twice"),
    ("SELECT event_id, User_Id, amount, ts FROM source", "User_Id",
     "the SELECT outputs `User_Id`, but the declared column is `user_id` (names must match exactly, case included)"),
    ("SELECT * FROM source", "SELECT",
     "`*` brings column(s) `_rescued_data`, `_source_file`, `_ingested_at` that are not declared"),
    ("SELECT event_id, user_id, 'n/a' AS amount, ts FROM source", "amount, ts",
     "`amount` is DOUBLE, but the SELECT puts the text 'n/a' in it: it does not convert, so every row would get NULL"),
])
def test_output_against_declared_columns(pipeline: SpecProject, sql: str, needle: str, message: str) -> None:
    text = _events_sql(pipeline, sql)
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, needle)
    assert finding.message == message


def test_unnamed_expression_is_the_hint_for_the_missing_column(pipeline: SpecProject) -> None:
    _events_sql(pipeline, "SELECT event_id, upper(user_id), amount, ts FROM source")
    messages = {f.message: f.hint for f in pipeline.errors()}
    hint = messages["declared column `user_id` is never produced: no output of the SELECT has that name"]
    assert hint == "name the expression that computes it, e.g. `upper(user_id) AS user_id`"


def test_tables_whose_schema_evolves_may_produce_extra_columns(project: SpecProject) -> None:
    """As `conform` allows it: with `schema_evolution: add_new_columns` the new columns are kept."""
    raw = RAW_EVENTS.replace("    format: json\n", "    format: json\n    schema_evolution: add_new_columns\n")
    sql = "  sql: SELECT *, upper(user_id) AS user_upper FROM source\n"
    project.table("bronze", "raw_events", raw + "transform:\n" + sql)
    assert project.errors() == []
    project.table("bronze", "raw_events", RAW_EVENTS + "transform:\n" + sql)
    assert project.one().message == "the SELECT outputs `user_upper`, which is not a declared column"


def test_a_file_source_transform_must_keep_the_file_columns(project: SpecProject) -> None:
    project.table("bronze", "raw_events", RAW_EVENTS + "transform:\n  sql: SELECT event_id, user_id, amount, ts FROM source\n")
    finding = project.one()
    assert finding.message == ("the SELECT drops the columns the framework adds to tables read from files: "
                               "_rescued_data, _source_file, _ingested_at")


def test_without_a_transform_the_upstream_columns_are_the_output(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("transform:\n  sql: |\n    SELECT event_id, user_id, amount, ts\n"
                                                             "    FROM source\n", "").replace(
        "  - {name: ts, type: TIMESTAMP}", "  - {name: ts, type: TIMESTAMP}\n  - {name: country, type: STRING}"))
    messages = [f.message for f in pipeline.errors()]
    assert "declared column `country` is not a column of `raw_events`, and there is no transform to compute it" in messages
    assert "`raw_events` has column(s) `_rescued_data`, `_source_file`, `_ingested_at` that are not declared here" \
        in messages
    assert all(f.line == at(text, "[raw_events]")[0] for f in pipeline.errors())


def test_several_upstreams_need_the_same_columns(pipeline: SpecProject) -> None:
    other = RAW_EVENTS.replace("raw_events", "raw_clicks").replace("  - {name: amount, type: DOUBLE}\n", "")
    pipeline.table("bronze", "raw_clicks", other)
    text = pipeline.table("silver", "events", EVENTS.replace("tables: [raw_events]", "tables: [raw_events, raw_clicks]"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "raw_clicks]")
    assert finding.message == ("the upstreams are combined by name (unionByName), but `raw_clicks` and `raw_events` "
                               "have different columns: only `raw_events` has amount")


def test_unknown_upstreams_are_not_resolved_twice(pipeline: SpecProject) -> None:
    """A transform over an upstream that does not exist gets one error (the upstream), not one per column."""
    pipeline.table("silver", "events", EVENTS.replace("tables: [raw_events]", "tables: [raw_event]"))
    assert [f.message for f in pipeline.errors()] == ["upstream table `raw_event` does not exist"]
