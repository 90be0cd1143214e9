"""The explicit-cast guard's text rewrite (no Spark): which casts it finds and what it puts in their place."""

from __future__ import annotations

from framework.pipeline.casts import find_casts, guard_casts, main_select_list
from framework.pipeline.casts import _tokens as tokens  # noqa: PLC2701 - the module's own tokenizer, for the test
from framework.spec.model import build_table


def spec(on_type_error: str = "fail", column_action: str | None = None):
    column = {"name": "amount", "type": "DECIMAL(4,2)"}
    if column_action:
        column["on_type_error"] = column_action
    return build_table({"name": "orders", "layer": "silver", "description": "", "source": {"tables": ["orders_raw"]},
                        "columns": [{"name": "id", "type": "STRING"}, column], "on_type_error": on_type_error})


def test_finds_cast_and_double_colon_forms_nested_and_not_try_cast():
    sql = ("SELECT CAST(CAST(a AS STRING) AS INT) AS x, try_cast(b AS INT) AS y, round(c::decimal(4,2), 1) AS z, "
           "'CAST(d AS INT)' AS w, f(e)::bigint AS v FROM source")
    found = [s.text for s in find_casts(sql)]
    assert found == ["CAST(CAST(a AS STRING) AS INT)", "CAST(a AS STRING)", "c::decimal(4,2)", "f(e)::bigint"]


def test_main_select_list_skips_ctes_and_stops_at_from():
    sql = "WITH t AS (SELECT CAST(a AS INT) AS a FROM s) SELECT a, CAST(b AS INT) AS b FROM t WHERE a > 0"
    start, end, items = main_select_list(tokens(sql))
    assert sql[start:end] == "a, CAST(b AS INT) AS b"
    assert [sql[s:e] for s, e in items] == ["a", "CAST(b AS INT) AS b"]
    assert main_select_list(tokens("SELECT a FROM x UNION ALL SELECT b FROM y")) is None


def test_fail_mode_raises_with_the_location_the_column_and_the_value():
    sql = "SELECT id,\n  CAST(amount AS DECIMAL(4,2)) AS amount\nFROM source"
    guarded = guard_casts(sql, spec(), lambda line, column: (10 + line, 4 + column))
    assert guarded.reason_columns == ()
    assert guarded.sql.count("raise_error(") == 1 and "ELSE try_cast((amount) AS DECIMAL(4,2)) END AS amount" in guarded.sql
    assert ":12:7: table `orders`: column `amount` is given \\'" in guarded.sql  # line 2 + 10, column 3 + 4
    assert "which cannot be cast to DECIMAL(4,2)" in guarded.sql and guarded.sql.endswith("\nFROM source")


def test_quarantine_mode_nulls_the_value_and_adds_a_reason_column_to_the_main_select():
    sql = "SELECT id, CAST(amount AS DECIMAL(4,2)) AS amount FROM source WHERE CAST(id AS INT) > 0"
    guarded = guard_casts(sql, spec(column_action="quarantine"))
    assert guarded.reason_columns == ("_medallion_cast_error_0",)
    select_list, where = guarded.sql.split(" FROM source ")
    assert "try_cast((amount) AS DECIMAL(4,2)) AS amount, CASE WHEN" in select_list
    assert select_list.endswith("AS `_medallion_cast_error_0`")
    assert "raise_error" in where  # a CAST outside the SELECT list has no row to quarantine: it fails


def test_sql_without_casts_is_left_untouched():
    sql = "SELECT id, try_cast(amount AS DECIMAL(4,2)) AS amount FROM source -- no CAST( here"
    assert guard_casts(sql, spec()).sql == sql
