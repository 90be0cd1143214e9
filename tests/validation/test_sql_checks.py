"""Expectation rules and transforms are parsed with sqlglot (Spark dialect): rules must be one boolean
expression without subqueries or statements; transforms and SQL sources must be a single SELECT.
Syntax errors point at the line and column inside the YAML file."""

from __future__ import annotations

import json

import pytest

from framework.validation.sql import MAX_RULE_CHARS, check_boolean_expression, check_select
from tests.validation.spec_project import DAILY_SPEND, EVENTS, at, SpecProject
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

SILVER = "tables/silver/events.yaml"


def _rule(pipeline: SpecProject, rule: str) -> tuple[str, object]:
    text = pipeline.table("silver", "events", EVENTS.replace("rule: amount > 0", f"rule: {rule}"))
    return text, pipeline.one()


@pytest.mark.parametrize("rule, message", [
    ("amount > (SELECT max(amount) FROM events)", "subqueries are not allowed in expectation rules (DLT rejects them)"),
    ("EXISTS (SELECT 1 FROM events)", "subqueries are not allowed in expectation rules (DLT rejects them)"),
    ("amount IN (SELECT amount FROM events)", "subqueries are not allowed in expectation rules (DLT rejects them)"),
    ("'DROP TABLE events'", "rule must be a boolean expression; `'DROP TABLE events'` is a value, not a condition"),
    ("DROP TABLE events", "rule must be a boolean expression, not a statement (DROP statements are not allowed here)"),
    ("DELETE FROM events", "rule must be a boolean expression, not a statement (DELETE statements are not allowed here)"),
    ("INSERT INTO events VALUES (1)", "rule must be a boolean expression, not a statement (INSERT statements are not allowed here)"),
    ("UPDATE events SET amount = 0", "rule must be a boolean expression, not a statement (UPDATE statements are not allowed here)"),
    ("SELECT amount > 0", "rule must be a boolean expression, not a statement (SELECT)"),
    ("amount > 0; amount < 10", "rule must be a single expression, found 2 statements"),
    ("amount + 1", "rule must be a boolean expression; `amount + 1` is a value, not a condition"),
    ("42", "rule must be a boolean expression; `42` is a value, not a condition"),
    ("'-- only a comment'", "rule must be a boolean expression; `'-- only a comment'` is a value, not a condition"),
])
def test_rules_that_are_not_boolean_expressions(pipeline: SpecProject, rule: str, message: str) -> None:
    text, finding = _rule(pipeline, json.dumps(rule))
    assert finding.file == SILVER
    assert finding.doc_path == "expectations[0].rule"
    assert finding.line == at(text, "rule:")[0]
    assert finding.message == message


def test_rule_syntax_error_points_inside_the_rule(pipeline: SpecProject) -> None:
    text, finding = _rule(pipeline, "amount >")
    line, column = at(text, "amount >")
    assert (finding.line, finding.column) == (line, column + len("amount >") - 1)
    assert finding.message.startswith("rule is not valid SQL: Required keyword: 'expression' missing for GT")


def test_rule_tokenizer_error(pipeline: SpecProject) -> None:
    _, finding = _rule(pipeline, "user_id = 'unterminated")
    assert finding.message.startswith("rule is not valid SQL: Error tokenizing")


def test_valid_rules_with_functions_lambdas_and_case(pipeline: SpecProject) -> None:
    for rule in ("amount BETWEEN 0 AND 1e9", "coalesce(amount, 0) >= 0 AND user_id RLIKE '^[a-z0-9]+$'",
                 "CASE WHEN user_id IS NULL THEN amount IS NULL ELSE TRUE END",
                 "size(filter(array(amount), x -> x < 0)) = 0", "ts <= current_timestamp()"):
        pipeline.table("silver", "events", EVENTS.replace("rule: amount > 0", f'rule: "{rule}"'))
        assert pipeline.errors() == [], rule


# ---------------------------------------------------------------------------------------------- transforms

def _transform(pipeline: SpecProject, sql: str) -> tuple[str, object]:
    body = "\n".join("    " + line for line in sql.splitlines())
    text = pipeline.table("silver", "events", EVENTS.replace(
        "    SELECT event_id, user_id, amount, ts\n    FROM source", body))
    return text, pipeline.one()


@pytest.mark.parametrize("sql, message", [
    ("INSERT INTO events SELECT * FROM source", "SQL must be a SELECT: INSERT statements are not allowed here"),
    ("DELETE FROM source", "SQL must be a SELECT: DELETE statements are not allowed here"),
    ("CREATE TABLE x AS SELECT * FROM source", "SQL must be a SELECT: CREATE statements are not allowed here"),
    ("DROP TABLE source", "SQL must be a SELECT: DROP statements are not allowed here"),
    ("SELECT * FROM source;\nSELECT * FROM source", "SQL must be a single SELECT statement, found 2 statements"),
    ("-- nothing here", "SQL has no statement (only whitespace or comments)"),
    ("SELECT * FROM events_archive", "transform reads `events_archive`; a transform reads only `source`"),
])
def test_transforms_must_be_a_single_select_over_source(pipeline: SpecProject, sql: str, message: str) -> None:
    text, finding = _transform(pipeline, sql)
    assert finding.file == SILVER
    assert finding.doc_path == "transform.sql"
    assert (finding.line, finding.column) == at(text, sql.splitlines()[0])
    assert finding.message == message


def test_transform_syntax_error_points_at_the_line_inside_the_sql(pipeline: SpecProject) -> None:
    text, finding = _transform(pipeline, "SELECT event_id,\n  user_id\nFROM source\nWHERE")
    line, column = at(text, "WHERE")
    assert (finding.line, finding.column) == (line, column + len("WHERE") - 1)
    assert finding.message.startswith("SQL does not parse: Required keyword: 'this' missing for Where (SQL line 4")


def test_sql_source_syntax_error(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND.replace(
        "  tables: [events]\n  mode: batch\n", "  sql: |\n    SELECT user_id, ts, amount\n    FROM events e f g\n"))
    finding = pipeline.one()
    assert finding.doc_path == "source.sql"
    assert finding.line == at(text, "FROM events e f g")[0]
    assert finding.message.startswith("SQL does not parse: Invalid expression / Unexpected token")


def test_valid_transform_with_ctes_windows_and_lambdas(pipeline: SpecProject) -> None:
    sql = """WITH ranked AS (
  SELECT *, row_number() OVER (PARTITION BY event_id ORDER BY ts DESC) AS rn
  FROM source
)
SELECT event_id, user_id, aggregate(array(amount), 0D, (acc, x) -> acc + x) AS amount, ts
FROM ranked
WHERE rn = 1"""
    body = "\n".join("    " + line for line in sql.splitlines())
    pipeline.table("silver", "events", EVENTS.replace("    SELECT event_id, user_id, amount, ts\n    FROM source", body))
    assert pipeline.errors() == []


# ---------------------------------------------------------------------------------------------- limits

def test_overlong_rule_is_refused_quickly() -> None:
    result = check_boolean_expression("amount > 0 AND " * (MAX_RULE_CHARS // 10) + "TRUE")
    assert result.error is not None and "characters long; the limit is" in result.error


def test_absurdly_nested_sql_is_a_finding_not_a_crash() -> None:
    depth = 3_000
    assert check_boolean_expression("(" * depth + "a > 0" + ")" * depth).error == "rule is nested too deeply to parse"
    assert check_select("SELECT " + "(" * depth + "1" + ")" * depth + " FROM source").error == \
        "SQL is nested too deeply to parse"


def test_tables_of_a_select_exclude_ctes_and_keep_text_order() -> None:
    result = check_select("WITH a AS (SELECT * FROM t1) SELECT * FROM a JOIN t2 USING (k) JOIN t3 USING (k)")
    assert result.error is None
    assert set(result.tables) == {"t1", "t2", "t3"}
    assert result.tables.index("t2") < result.tables.index("t3")


def test_memoized_type_names_change_nothing_and_are_undone() -> None:
    import sqlglot
    from sqlglot.dialects.dialect import Dialect

    from framework.validation.sql import parse_statements

    original = sqlglot.parse_one
    text = ("SELECT CAST(a AS VARCHAR(10)) AS a, CAST(b AS CHAR(3)) AS b, CAST(c AS DECIMAL(18, 2)) AS c, "
            "TIMESTAMP '2024-01-01 00:00:00' AS t, CAST(d AS ARRAY<STRING>) AS d FROM source")
    dialect = Dialect.get_or_raise("spark")
    expected = dialect.parser().parse(dialect.tokenizer().tokenize(text), text)[0]
    for _ in range(2):  # the second parse is served from the memo
        assert parse_statements(text)[0] == expected
    assert sqlglot.parse_one is original
    first, second = parse_statements(text)[0], parse_statements(text)[0]
    assert first is not second and first.find(sqlglot.exp.DataType) is not second.find(sqlglot.exp.DataType)
