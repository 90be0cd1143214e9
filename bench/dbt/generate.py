"""Write the dbt project equivalent to the benchmark's Medallion specs, for `dbt parse` to chew on.

One Medallion spec becomes one dbt model:
- `models/<layer>/<name>.sql`: the same SQL. A transform reads the view `source`, so it becomes a
  CTE named `source` over `{{ ref('upstream') }}` (or `{{ source('landing', name) }}` for bronze);
  a SQL source has its table names replaced by `{{ ref() }}`. A `config()` block carries the
  materialization (incremental for streaming tables, table for materialized views), tags and owner.
- `models/<layer>/<name>.yml`: description, columns with `data_type` and descriptions, and one data
  test per expectation, nothing more: `not_null` for `x IS NOT NULL`, `accepted_values` for
  `x IN (...)`, and a project-local generic test `expression_is_true` (tests/generic/) for every other
  rule. Keys become the incremental models' `unique_key`.

Only the generator lives in the repository; dbt itself is installed into bench/.work/dbt-venv.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

DBT_VENV = Path(__file__).resolve().parents[1] / ".work" / "dbt-venv"

PROJECT_YML = """\
name: bench
version: "1.0.0"
config-version: 2
profile: bench
model-paths: ["models"]
test-paths: ["tests"]
macro-paths: ["macros"]
target-path: "target"
clean-targets: ["target"]
models:
  bench:
    +persist_docs: {relation: true, columns: true}
"""

PROFILES_YML = """\
bench:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: bench.duckdb
      threads: 2
"""

GENERIC_TEST = """\
{% test expression_is_true(model, expression) %}
select * from {{ model }} where not ({{ expression }})
{% endtest %}
"""

_NOT_NULL = re.compile(r"^(\w+) IS NOT NULL$")
_IN_LIST = re.compile(r"^(\w+) IN \((.*)\)$")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _config(table: Any) -> str:
    """Materialization as in Medallion (streaming tables are incremental); `keys` become `unique_key`."""
    tags = ", ".join(repr(t) for t in table.tags)
    keys = ", ".join(repr(k) for k in table.keys)
    materialized = "materialized='table'" if table.layer == "gold" else \
        f"materialized='incremental', unique_key=[{keys}]"
    return (f"{{{{ config({materialized}, tags=[{tags}], "
            f"meta={{'owner': '{table.owner}', 'layer': '{table.layer}'}}) }}}}\n")


def model_sql(table: Any) -> str:
    if table.file_format:
        select = ",\n  ".join(f"cast({c} as {t.lower()}) as {c}" for c, t in table.columns)
        return _config(table) + f"select\n  {select}\nfrom {{{{ source('landing', '{table.name}') }}}}\n"
    if table.source_sql:
        sql = table.source_sql
        for name in table.upstreams:
            sql = re.sub(rf"\b(FROM|JOIN)\s+{name}\b", rf"\1 {{{{ ref('{name}') }}}}", sql)
        return _config(table) + sql
    upstream = " union all ".join(f"select * from {{{{ ref('{u}') }}}}" for u in table.upstreams)
    body = table.transform.strip()
    if body.upper().startswith("WITH "):
        body = body[5:]
        return _config(table) + f"with source as (\n  {upstream}\n),\n{body}\n"
    return _config(table) + f"with source as (\n  {upstream}\n)\n{body}\n"


def _tests(table: Any) -> tuple[dict[str, list[str]], list[str]]:
    """Column-level and model-level data tests (YAML lines) for the table's expectations."""
    column_tests: dict[str, list[str]] = {}
    model_tests: list[str] = []
    for name, rule, action in table.expectations:
        severity = "error" if action == "fail" else "warn"
        if match := _NOT_NULL.match(rule):
            column_tests.setdefault(match.group(1), []).append(
                f"          - not_null:\n              name: {table.name}__{name}\n"
                f"              config: {{severity: {severity}}}")
        elif match := _IN_LIST.match(rule):
            values = ", ".join(v.strip().strip("'") for v in match.group(2).split(","))
            column_tests.setdefault(match.group(1), []).append(
                f"          - accepted_values:\n              name: {table.name}__{name}\n"
                f"              arguments:\n                values: [{values}]\n"
                f"              config: {{severity: {severity}}}")
        else:
            model_tests.append(f"      - expression_is_true:\n          name: {table.name}__{name}\n"
                               f"          arguments:\n            expression: {_quote(rule)}\n"
                               f"          config: {{severity: {severity}}}")
    return column_tests, model_tests


def model_yml(table: Any) -> str:
    column_tests, model_tests = _tests(table)
    lines = ["version: 2", "models:", f"  - name: {table.name}", f"    description: {_quote(table.description)}",
             "    config:", f"      tags: [{', '.join(table.tags)}]", f"      meta: {{owner: {table.owner}}}"]
    if model_tests:
        lines += ["    data_tests:", *model_tests]
    lines += ["    columns:"]
    for column, kind in table.columns:
        lines += [f"      - name: {column}", f"        data_type: {_quote(kind.lower())}",
                  f"        description: The {column.replace('_', ' ')}."]
        tests = column_tests.get(column, [])
        if tests:
            lines += ["        data_tests:", *tests]
    return "\n".join(lines) + "\n"


def sources_yml(tables: list[Any]) -> str:
    lines = ["version: 2", "sources:", "  - name: landing", "    schema: landing", "    tables:"]
    for table in tables:
        if table.file_format:
            lines += [f"      - name: {table.name}", f"        description: {_quote(table.description)}",
                      f"        meta: {{format: {table.file_format}}}"]
    return "\n".join(lines) + "\n"


def write_dbt_project(tables: list[Any], root: Path) -> Path:
    if root.exists():
        shutil.rmtree(root)
    for folder in ("models/bronze", "models/silver", "models/gold", "tests/generic", "macros"):
        (root / folder).mkdir(parents=True)
    (root / "dbt_project.yml").write_text(PROJECT_YML)
    (root / "profiles.yml").write_text(PROFILES_YML)
    (root / "tests" / "generic" / "expression_is_true.sql").write_text(GENERIC_TEST)
    (root / "models" / "sources.yml").write_text(sources_yml(tables))
    for table in tables:
        folder = root / "models" / table.layer
        (folder / f"{table.name}.sql").write_text(model_sql(table))
        (folder / f"{table.name}.yml").write_text(model_yml(table))
    return root

