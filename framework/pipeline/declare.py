"""Declaring one spec as DLT datasets: the one code path from a table spec to the pipelines API.

For each spec, in dependency order, `register_table` declares

* the dataset itself — a streaming table (`table`), a materialized view (`materialized_view`) or a
  view, with the spec's comment, table properties, partitioning / clustering, declared schema
  (column comments);
* its expectations — `expect_all` (warn), `expect_all_or_drop` (drop, and quarantine, whose
  rows must leave the table too), `expect_all_or_fail` (fail);
* de-duplication (`dedupe.sequence_by`) — a private view with the expectations, a
  `create_streaming_table` target and AUTO CDC (SCD type 1: the row with the greatest sequence value
  per key wins);
* quarantine — DLT has none built in; the documented pattern is a second table fed by the same query
  with the rules inverted: `<table>_quarantine` holds the failing rows, the names of the rules they
  failed (`_failed_rules`) and when (`_quarantined_at`);
* declared types (`framework.pipeline.conform`) — a table whose uncastable values are quarantined
  reads its rows from a private view `<name>__typed` that carries the internal type-error column and
  the expectations (a de-duplicated table's `__changes` view already does, and AUTO CDC leaves the
  column out with `except_column_list`).

What the local engine needs beyond these declarations is attached with `framework.pipeline.hints.attach`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from framework.errors import PipelineDefinitionError
from framework.naming import CHANGES_SUFFIX, QUARANTINE_OF_PROPERTY, QUARANTINE_SUFFIX, TableRef
from framework.pipeline.api import ApiNames
from framework.pipeline.hints import SplitHint, attach
from framework.pipeline.conform import TYPE_CHECK_EXPECTATION, TYPE_CHECK_RULE, TYPE_ERRORS_COLUMN
from framework.pipeline.ddl import quarantine_schema_ddl, table_options
from framework.pipeline.query import FileReader, QueryBuilder, auto_loader
from framework.pipeline.rows import quarantine_rows
from framework.spec.environment import Environment, substitute
from framework.spec.model import TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from framework.spec.project import Project

TYPED_SUFFIX = "__typed"
"""The private view feeding a table whose uncastable values are quarantined (`<name>__typed`)."""


@dataclass(frozen=True)
class Registration:
    """What `register_table` declared for one spec."""

    spec: TableSpec
    table: str
    """Published name of the table (or the view name for `kind: view`)."""
    datasets: tuple[str, ...]
    """Every DLT dataset declared for the spec: helper view, the table, its quarantine table."""
    quarantine: str | None = None


# ---------------------------------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------------------------------

def register_pipeline(dlt: Any, spark: "SparkSession", project_root: str | Path, env_name: str,
                      read_files: FileReader | None = None) -> list[str]:
    """Load and validate the project, then declare every table of it. Returns the dataset names.

    This is the whole body of the Databricks pipeline notebook:
    `register_pipeline(dp, spark, "/Workspace/.../medallion", spark.conf.get("medallion.env"))`.
    """
    from framework.project import load_project

    project = load_project(Path(project_root), env=env_name)
    if project.errors:
        details = "\n".join(f.render() for f in project.errors)
        raise PipelineDefinitionError(f"{len(project.errors)} error(s) in specs:\n{details}")
    env = project.environment(env_name)
    return [name for reg in register_tables(dlt, spark, project, env, read_files) for name in reg.datasets]


def register_tables(dlt: Any, spark: "SparkSession", project: "Project", env: Environment,
                    read_files: FileReader | None = None) -> list[Registration]:
    """Declare every spec of a loaded, valid project in dependency order.

    `read_files` reads landing files (default: Auto Loader, as on Databricks).
    """
    root = str(project.root)
    if root not in sys.path:  # `transform.python: module:function` resolves against the project
        sys.path.insert(0, root)
    names = published_names(project.tables.values(), env)
    reader = read_files or auto_loader
    return [register_table(dlt, spark, project.tables[name], env, names, reader) for name in project.graph().order()]


def published_names(specs: Any, env: Environment) -> dict[str, str]:
    """Spec name -> the name the pipeline publishes it under in this environment."""
    return {spec.name: TableRef.of(spec, env).published for spec in specs}


# ---------------------------------------------------------------------------------------------------
# one spec -> DLT datasets
# ---------------------------------------------------------------------------------------------------

def register_table(dlt: Any, spark: "SparkSession", spec: TableSpec, env: Environment,
                   names: dict[str, str], read_files: FileReader) -> Registration:
    """Declare the DLT datasets of one spec (see the module docstring for the shape)."""
    query = QueryBuilder(spark, spec, env, names, read_files)
    table = names[spec.name]
    api = ApiNames.of(dlt)
    expect = expectations_decorator(dlt, spec, env)
    if spec.kind == "view":
        api.view_decorator(dlt)(name=table, comment=spec.description)(expect(query.function(spec.name)))
        datasets, prepared = [table], table
    elif spec.dedupe_sequence_by and spec.is_streaming:
        changes_view = declare_deduplicated(dlt, spec, table, query, expect)
        datasets, prepared = [changes_view, table], changes_view
    elif spec.quarantines_type_errors:
        typed_view = declare_typed(dlt, spec, table, query, expect)
        datasets, prepared = [typed_view, table], typed_view
    else:
        function = query.function(spec.name)
        if spec.refresh and spec.kind == "materialized_view":
            attach(function, incremental=query.incremental_hint())
        dataset = api.dataset(dlt, spec)
        dataset(name=table, comment=spec.description, **table_options(spec, dataset))(expect(function))
        datasets, prepared = [table], table
    quarantine = declare_quarantine(dlt, spec, env, table, query, prepared) if spec.kind != "view" else None
    if quarantine:
        datasets.append(quarantine)
    return Registration(spec, table, tuple(datasets), quarantine)


def expectations_decorator(dlt: Any, spec: TableSpec, env: Environment) -> Callable[[Callable], Callable]:
    """Applies the spec's expectations to a query function with DLT's expect_all* decorators (plus the
    internal `_column_types` drop rule when uncastable values are quarantined)."""
    warn, drop, fail = expectation_groups(spec, env)
    if spec.quarantines_type_errors:
        drop = {**drop, TYPE_CHECK_EXPECTATION: TYPE_CHECK_RULE}

    def decorate(function: Callable) -> Callable:
        for decorator, rules in ((dlt.expect_all, warn), (dlt.expect_all_or_drop, drop),
                                 (dlt.expect_all_or_fail, fail)):
            if rules:
                function = decorator(rules)(function)
        return function

    return decorate


def declare_deduplicated(dlt: Any, spec: TableSpec, table: str, query: QueryBuilder,
                         expect: Callable[[Callable], Callable]) -> str:
    """AUTO CDC (apply_changes, SCD type 1) from a private view carrying the expectations; returns the view."""
    if not spec.keys:
        raise PipelineDefinitionError(f"{spec.file}: `dedupe` needs `keys` (the columns that identify a row)")
    api = ApiNames.of(dlt)
    changes_view = f"{spec.name}{CHANGES_SUFFIX}"
    api.view_decorator(dlt)(name=changes_view, comment=f"Rows for {table} before de-duplication.")(
        expect(query.function(changes_view)))
    dlt.create_streaming_table(name=table, comment=spec.description,
                               **table_options(spec, dlt.create_streaming_table))
    internal = {"except_column_list": [TYPE_ERRORS_COLUMN]} if spec.quarantines_type_errors else {}
    api.auto_cdc_function(dlt)(target=table, source=changes_view, keys=list(spec.keys),
                               sequence_by=spec.dedupe_sequence_by, stored_as_scd_type=1, **internal)
    return changes_view


def declare_typed(dlt: Any, spec: TableSpec, table: str, query: QueryBuilder,
                  expect: Callable[[Callable], Callable]) -> str:
    """A table whose uncastable values are quarantined: a private view with the query, its type-error
    column and the expectations, and the table reading that view without the internal column."""
    api = ApiNames.of(dlt)
    typed_view = f"{spec.name}{TYPED_SUFFIX}"
    api.view_decorator(dlt)(name=typed_view, comment=f"Rows for {table} with the reasons values could not be cast.")(
        expect(query.function(typed_view)))

    def from_typed_view() -> "DataFrame":  # a pipeline's own views are read by name, as tables are
        reader = query.spark.readStream if spec.is_streaming else query.spark.read
        return reader.table(typed_view).drop(TYPE_ERRORS_COLUMN)

    from_typed_view.__name__ = spec.name
    attach(from_typed_view, source_view=typed_view)  # the local runtime runs the view's query instead
    dataset = api.dataset(dlt, spec)
    dataset(name=table, comment=spec.description, **table_options(spec, dataset))(from_typed_view)
    return typed_view


def declare_quarantine(dlt: Any, spec: TableSpec, env: Environment, table: str, query: QueryBuilder,
                       prepared: str) -> str | None:
    """`<table>_quarantine`: the same rows as `prepared`, those failing a quarantine rule, with the rules."""
    quarantine_rules = {e.name: rule_text(e.rule, env) for e in spec.expectations_with("quarantine")}
    if not quarantine_rules and not spec.quarantines_type_errors:
        return None
    name = table + QUARANTINE_SUFFIX
    all_rules = {e.name: rule_text(e.rule, env) for e in spec.expectations}

    def to_quarantine(df: "DataFrame") -> "DataFrame":
        return quarantine_rows(df, quarantine_rules, all_rules)

    def quarantine_query() -> "DataFrame":
        return to_quarantine(query.build())

    quarantine_query.__name__ = name.replace(".", "_")
    attach(quarantine_query, split=SplitHint(prepared, to_quarantine))
    ApiNames.of(dlt).dataset(dlt, spec)(
        name=name, comment=f"Rows of {table} that failed a quarantine expectation, with the names of the rules they "
                           "failed.",
        table_properties={QUARANTINE_OF_PROPERTY: table}, schema=quarantine_schema_ddl(spec))(quarantine_query)
    return name


def expectation_groups(spec: TableSpec, env: Environment) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(warn, drop, fail) rule dicts for the DLT decorators; quarantine rules drop from the main table."""
    warn = {e.name: rule_text(e.rule, env) for e in spec.expectations_with("warn")}
    drop = {e.name: rule_text(e.rule, env) for e in spec.expectations if e.action in ("drop", "quarantine")}
    fail = {e.name: rule_text(e.rule, env) for e in spec.expectations_with("fail")}
    return warn, drop, fail


def rule_text(rule: str, env: Environment) -> str:
    return substitute(rule, env.variables())
