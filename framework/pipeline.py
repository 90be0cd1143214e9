"""The generic DLT pipeline: one code path turns every table spec into DLT datasets.

This module is written against the declarative-pipelines Python API and nothing else. The Databricks
notebook calls `register_pipeline(dp, spark, project_root, env_name)` with the runtime's module:
Databricks' `pyspark.pipelines` (imported as `dp`) or, on older runtimes, the legacy `dlt` module; the
local runtime (`framework.engine`) calls it with an object that has the same API and records the
dataflow graph, then executes it on PySpark + Delta. The two Databricks modules name three things
differently (`ApiNames`): a batch dataset is `dp.materialized_view` / `dlt.table`, a view
`dp.temporary_view` / `dlt.view`, AUTO CDC `dp.create_auto_cdc_flow` / `dlt.apply_changes`; the names
are picked by what the module offers. There is no per-table code: for each spec, in dependency
order, `register_table` declares

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
* Z-order — the DLT table properties `pipelines.autoOptimize.managed` / `pipelines.autoOptimize.zOrderCols`;
* declared types — every column is cast to its declared type with `try_cast`; a value that does not
  cast (NULL out of a non-NULL value) is never written as a silent NULL: with `on_type_error: fail`
  (the default) `raise_error` inside the query stops the flow naming the spec, the column, the value
  and the type; with `on_type_error: quarantine` the query carries the reasons in an internal column,
  an internal drop expectation (`_column_types`) keeps those rows out of the table and the quarantine
  table receives them with the reasons in `_failed_rules`. The expectation needs the internal column,
  which must not reach the table, so such a table reads its rows from a private view
  `<name>__typed` that carries the expectations (a de-duplicated table's `__changes` view already does,
  and `apply_changes` leaves the column out with `except_column_list`).

Upstreams are read with `spark.readStream.table` / `spark.read.table` under their published names
(`<catalog>.<schema>.<name>` on Databricks, `<schema>.<name>` locally: `framework.naming.TableRef`);
landing files with Auto Loader on Databricks, and with whatever `read_files` the caller injects — the
local engine passes its Spark file streams (`framework.engine.autoloader`), so this module never
imports the engine.
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from framework.errors import PipelineDefinitionError
from framework.naming import (CHANGES_SUFFIX, FAILED_RULES_COLUMN, FILE_COLUMNS, INGESTED_AT_COLUMN,
                              INTERNAL_PREFIX, QUARANTINE_OF_PROPERTY, QUARANTINE_SUFFIX, QUARANTINED_AT_COLUMN,
                              RESCUED_COLUMN, SOURCE_FILE_COLUMN, TableRef)
from framework.spec.environment import Environment, substitute
from framework.spec.model import FilesSource, SqlSource, TablesSource, TableSpec
from framework.sql import qualify_tables

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

    from framework.spec.project import Project

TYPED_SUFFIX = "__typed"
"""The private view feeding a table whose uncastable values are quarantined (`<name>__typed`)."""
TYPE_ERRORS_COLUMN = f"{INTERNAL_PREFIX}type_errors"
"""ARRAY<STRING>: why a row's values could not be cast to their declared types (empty when they all could)."""
TYPE_CHECK_EXPECTATION = "_column_types"
"""The internal drop expectation on TYPE_ERRORS_COLUMN (spec expectation names cannot start with `_`)."""
TYPE_CHECK_RULE = f"size({TYPE_ERRORS_COLUMN}) = 0"
CAST_ERROR_TEXT = "cannot be cast to"
"""In the message of a failed cast (raise_error); framework.engine.retry recognises it as a CastError."""
SAMPLE_VALUE_CHARS = 100

FileReader = Callable[["SparkSession", TableSpec, Environment, str, str], "DataFrame"]
"""(spark, spec, env, landing path, published table name) -> a streaming DataFrame of landing files.
Databricks uses Auto Loader (`auto_loader`); the local engine passes its own reader."""


DATABRICKS_DP_API = ("table", "materialized_view", "temporary_view", "create_streaming_table",
                     "create_auto_cdc_flow", "expect_all", "expect_all_or_drop", "expect_all_or_fail")
"""What Databricks' `pyspark.pipelines` offers and this module calls. Open-source pyspark (4.1+) ships a
`pyspark.pipelines` too, without expectations: the notebook uses a module only if it has all of these."""


@dataclass(frozen=True)
class ApiNames:
    """The names this module calls on the pipelines module it is given: `dp` names when it has them
    (Databricks' `pyspark.pipelines`, the local engine), else the legacy `dlt` ones."""

    streaming_table: str = "table"
    materialized_view: str = "materialized_view"
    view: str = "temporary_view"
    auto_cdc: str = "create_auto_cdc_flow"

    @classmethod
    def of(cls, dlt: Any) -> "ApiNames":
        if all(hasattr(dlt, name) for name in DATABRICKS_DP_API):
            return cls()
        return LEGACY_DLT_NAMES

    def dataset(self, dlt: Any, spec: TableSpec) -> Callable[..., Any]:
        """The decorator factory for the spec's table: streaming table or materialized view."""
        return getattr(dlt, self.streaming_table if spec.is_streaming else self.materialized_view)


LEGACY_DLT_NAMES = ApiNames(streaming_table="table", materialized_view="table", view="view",
                            auto_cdc="apply_changes")
"""The `dlt` module (Databricks Runtime before pyspark.pipelines; the `databricks-dlt` stub package)."""


@dataclass(frozen=True)
class Registration:
    """What `register_table` declared for one spec."""

    spec: TableSpec
    table: str
    """Published name of the table (or the view name for `kind: view`)."""
    datasets: tuple[str, ...]
    """Every DLT dataset declared for the spec: helper view, the table, its quarantine table."""
    quarantine: str | None = None


@dataclass(frozen=True)
class SplitHint:
    """Attached to a quarantine table's query function as `medallion_split`.

    Real DLT ignores it and runs the quarantine flow on its own. The local runtime uses it to compute
    the quarantine rows from the same micro-batch as the main flow (`transform(prepared_rows)`), so
    each source row is read, counted and placed exactly once.
    """

    source_dataset: str
    transform: Callable[["DataFrame"], "DataFrame"]


@dataclass(frozen=True)
class IncrementalHint:
    """Attached to the query function of a materialized view with `refresh:` as `medallion_incremental`.

    Real DLT ignores it (Databricks refreshes materialized views incrementally by itself). The local
    runtime uses it to recompute only the groups whose source rows changed: `build(where, previous)`
    is the view's query over the upstream rows matching `where` (a SQL predicate), continuing from the
    view's own `previous` rows where the spec has `extends_by`.
    """

    upstream: str
    """Published name of the one upstream table."""
    incremental_by: tuple[str, ...]
    extends_by: str | None
    context_rows: int
    build: Callable[[str, "DataFrame | None"], "DataFrame"]


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
        getattr(dlt, api.view)(name=table, comment=spec.description)(expect(query.function(spec.name)))
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
            function.medallion_incremental = query.incremental_hint()  # type: ignore[attr-defined]
        api.dataset(dlt, spec)(name=table, comment=spec.description, **table_options(spec))(expect(function))
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


def declare_deduplicated(dlt: Any, spec: TableSpec, table: str, query: "QueryBuilder",
                         expect: Callable[[Callable], Callable]) -> str:
    """AUTO CDC (apply_changes, SCD type 1) from a private view carrying the expectations; returns the view."""
    if not spec.keys:
        raise PipelineDefinitionError(f"{spec.file}: `dedupe` needs `keys` (the columns that identify a row)")
    api = ApiNames.of(dlt)
    changes_view = f"{spec.name}{CHANGES_SUFFIX}"
    getattr(dlt, api.view)(name=changes_view, comment=f"Rows for {table} before de-duplication.")(
        expect(query.function(changes_view)))
    dlt.create_streaming_table(name=table, comment=spec.description, **table_options(spec))
    internal = {"except_column_list": [TYPE_ERRORS_COLUMN]} if spec.quarantines_type_errors else {}
    getattr(dlt, api.auto_cdc)(target=table, source=changes_view, keys=list(spec.keys),
                               sequence_by=spec.dedupe_sequence_by, stored_as_scd_type=1, **internal)
    return changes_view


def declare_typed(dlt: Any, spec: TableSpec, table: str, query: "QueryBuilder",
                  expect: Callable[[Callable], Callable]) -> str:
    """A table whose uncastable values are quarantined: a private view with the query, its type-error
    column and the expectations, and the table reading that view without the internal column."""
    api = ApiNames.of(dlt)
    typed_view = f"{spec.name}{TYPED_SUFFIX}"
    getattr(dlt, api.view)(name=typed_view, comment=f"Rows for {table} with the reasons values could not be cast.")(
        expect(query.function(typed_view)))

    def from_typed_view() -> "DataFrame":  # a pipeline's own views are read by name, as tables are
        reader = query.spark.readStream if spec.is_streaming else query.spark.read
        return reader.table(typed_view).drop(TYPE_ERRORS_COLUMN)

    from_typed_view.__name__ = spec.name
    from_typed_view.medallion_source = typed_view  # type: ignore[attr-defined]  # the local runtime reads the view
    api.dataset(dlt, spec)(name=table, comment=spec.description, **table_options(spec))(from_typed_view)
    return typed_view


def declare_quarantine(dlt: Any, spec: TableSpec, env: Environment, table: str, query: "QueryBuilder",
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
    quarantine_query.medallion_split = SplitHint(prepared, to_quarantine)  # type: ignore[attr-defined]
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


def table_options(spec: TableSpec) -> dict[str, Any]:
    """Keyword arguments shared by the dataset decorators and `create_streaming_table`."""
    options: dict[str, Any] = {"table_properties": table_properties(spec)}
    if spec.partition_by:
        options["partition_cols"] = list(spec.partition_by)
    if spec.cluster_by:
        options["cluster_by"] = list(spec.cluster_by)
    if ddl := schema_ddl(spec):
        options["schema"] = ddl
    return options


def table_properties(spec: TableSpec) -> dict[str, str]:
    properties = dict(spec.table_properties)
    if spec.zorder_by:
        properties.setdefault("pipelines.autoOptimize.managed", "true")
        properties["pipelines.autoOptimize.zOrderCols"] = ",".join(spec.zorder_by)
    return properties


def output_columns(spec: TableSpec) -> list[tuple[str, str, bool, str]]:
    """(name, type, nullable, comment) of the table: declared columns plus the framework's file columns."""
    columns = [(c.name, c.type, c.nullable, c.description) for c in spec.columns]
    if isinstance(spec.source, FilesSource):
        declared = {c.name for c in spec.columns}
        columns += [(name, type_, True, comment) for name, type_, comment in FILE_COLUMNS if name not in declared]
    return columns


def schema_ddl(spec: TableSpec) -> str | None:
    """The declared schema as DDL (types, NOT NULL, column comments), or None when the schema may evolve."""
    if isinstance(spec.source, FilesSource) and spec.source.schema_evolution == "add_new_columns":
        return None  # a fixed schema would reject the new columns
    return ", ".join(column_ddl(name, type_, nullable, comment) for name, type_, nullable, comment in output_columns(spec))


def quarantine_schema_ddl(spec: TableSpec) -> str:
    """Every table column (nullable: quarantined rows break constraints), the failed rules and the time."""
    columns = [column_ddl(name, type_, True, comment) for name, type_, _, comment in output_columns(spec)]
    columns.append(column_ddl(FAILED_RULES_COLUMN, "ARRAY<STRING>", False, "Names of the expectations the row failed."))
    columns.append(column_ddl(QUARANTINED_AT_COLUMN, "TIMESTAMP", False, "When the row was quarantined."))
    return ", ".join(columns)


def column_ddl(name: str, type_: str, nullable: bool, comment: str) -> str:
    text = f"`{name}` {type_}" + ("" if nullable else " NOT NULL")
    if comment:
        escaped = comment.replace("\\", "\\\\").replace("'", "\\'").replace("\n", " ")
        text += f" COMMENT '{escaped}'"
    return text


# ---------------------------------------------------------------------------------------------------
# row-level helpers shared by DLT and the local runtime
# ---------------------------------------------------------------------------------------------------

def passes(rule: str) -> "Column":
    """True when the row meets the rule; a NULL result counts as a failure (as in DLT)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.expr(rule), F.lit(False))


def failed_rules(rules: dict[str, str]) -> "Column":
    """ARRAY<STRING> of the names of the rules a row fails (empty when it passes them all)."""
    from pyspark.sql import functions as F

    if not rules:
        return F.array().cast("array<string>")
    return F.array_compact(F.array(*[F.when(~passes(rule), F.lit(name)) for name, rule in rules.items()]))


def quarantine_rows(df: "DataFrame", quarantine_rules: dict[str, str], all_rules: dict[str, str]) -> "DataFrame":
    """Rows failing any quarantine rule (or with values that could not be cast, when the query carries
    TYPE_ERRORS_COLUMN), with every rule they failed plus the cast errors, and the quarantine time."""
    from pyspark.sql import functions as F

    condition = F.lit(False)
    for rule in quarantine_rules.values():
        condition = condition | ~passes(rule)
    reasons = failed_rules(all_rules)
    if TYPE_ERRORS_COLUMN in df.columns:
        condition = condition | (F.size(TYPE_ERRORS_COLUMN) > 0)
        reasons = F.concat(reasons, F.col(TYPE_ERRORS_COLUMN))
    visible = [c for c in df.columns if not c.startswith(INTERNAL_PREFIX)]
    return (df.where(condition)
            .select(*visible, reasons.alias(FAILED_RULES_COLUMN),
                    F.current_timestamp().alias(QUARANTINED_AT_COLUMN)))


def latest_per_key(df: "DataFrame", keys: tuple[str, ...], sequence_by: str) -> "DataFrame":
    """SCD type 1 on a batch: one row per key, the one with the greatest `sequence_by`.

    Ties (two records of a key with the same sequence value in one batch) are broken by a hash of the
    row's data — not of when or from which path it was ingested — so the choice is deterministic:
    re-running the batch, or running the same files in another environment, picks the same row.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    content = [c for c in df.columns if not c.startswith(INTERNAL_PREFIX)
               and c not in (INGESTED_AT_COLUMN, SOURCE_FILE_COLUMN)]
    order = Window.partitionBy(*keys).orderBy(F.col(sequence_by).desc_nulls_last(),
                                              F.xxhash64(*[F.col(f"`{c}`") for c in content]).desc())
    return df.withColumn("_medallion_rank", F.row_number().over(order)).where("_medallion_rank = 1").drop("_medallion_rank")


# ---------------------------------------------------------------------------------------------------
# reading and transforming
# ---------------------------------------------------------------------------------------------------

class QueryBuilder:
    """Builds the DataFrame of one spec: read the source, apply the transform, conform to the columns."""

    def __init__(self, spark: "SparkSession", spec: TableSpec, env: Environment, names: dict[str, str],
                 read_files: FileReader):
        self.spark = spark
        self.spec = spec
        self.env = env
        self.names = names
        self.read_files = read_files

    def function(self, name: str) -> Callable[[], "DataFrame"]:
        """A fresh query function (DLT keeps attributes on it, so every dataset gets its own)."""
        def query() -> "DataFrame":
            return self.build()

        query.__name__ = query.__qualname__ = name
        return query

    def build(self, where: str | None = None, previous: "DataFrame | None" = None) -> "DataFrame":
        """The spec's rows: its source (only the rows matching `where`), transformed, conformed.

        `previous` (incremental refresh with `extends_by`): this table's latest rows of each group that
        continues, handed to a python transform as context.
        """
        source = self.read_source()
        df = self.transform(source.where(where) if where else source, previous)
        df = conform(df, self.spec)
        if self.spec.dedupe_sequence_by and not df.isStreaming:
            df = latest_per_key(df, self.spec.keys, self.spec.dedupe_sequence_by)
        return df

    def read_source(self) -> "DataFrame":
        source = self.spec.source
        if isinstance(source, FilesSource):
            path = substitute(source.path, self.env.variables())
            return self.read_files(self.spark, self.spec, self.env, path, self.names[self.spec.name])
        if isinstance(source, TablesSource):
            frames = [self.read_table(name, stream=source.mode == "stream") for name in source.tables]
            df = frames[0]
            for other in frames[1:]:
                df = df.unionByName(other)
            return df
        assert isinstance(source, SqlSource)
        return self.spark.sql(qualify_tables(substitute(source.sql, self.env.variables()), self.names))

    def read_table(self, name: str, *, stream: bool) -> "DataFrame":
        published = self.names.get(name, name)
        return self.spark.readStream.table(published) if stream else self.spark.read.table(published)

    def incremental_hint(self) -> IncrementalHint:
        refresh = self.spec.refresh
        assert refresh is not None and isinstance(self.spec.source, TablesSource)
        upstream = self.spec.source.tables[0]
        return IncrementalHint(self.names.get(upstream, upstream), refresh.incremental_by, refresh.extends_by,
                               refresh.context_rows, self.build)

    def transform(self, df: "DataFrame", previous: "DataFrame | None" = None) -> "DataFrame":
        transform = self.spec.transform
        if transform is None:
            return df
        if transform.sql:
            view = f"{INTERNAL_PREFIX}source_{self.spec.name}"
            df.createOrReplaceTempView(view)
            sql = substitute(transform.sql, self.env.variables())
            return self.spark.sql(qualify_tables(sql, {**self.names, "source": view}))
        function = python_transform(transform.python or "", self.spec)
        result = function(df) if previous is None else function(df, previous)
        from pyspark.sql import DataFrame

        if not isinstance(result, DataFrame):
            raise PipelineDefinitionError(f"{self.spec.file}: transform `{transform.python}` returned "
                                          f"{type(result).__name__}, not a DataFrame")
        return result


def python_transform(ref: str, spec: TableSpec) -> Callable[["DataFrame"], "DataFrame"]:
    module_name, _, function_name = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise PipelineDefinitionError(f"{spec.file}: cannot import `{module_name}` for transform `{ref}`: {exc}") from exc
    function = getattr(module, function_name, None)
    if not callable(function):
        raise PipelineDefinitionError(f"{spec.file}: `{module_name}` has no function `{function_name}`")
    return function


def auto_loader(spark: "SparkSession", spec: TableSpec, env: Environment, path: str, table: str) -> "DataFrame":
    """Databricks Auto Loader with the declared columns; unexpected data lands in `_rescued_data`."""
    from pyspark.sql import functions as F

    source = spec.source
    assert isinstance(source, FilesSource)
    declared = ", ".join(f"`{c.name}` {c.type}" for c in spec.columns)
    reader = (spark.readStream.format("cloudFiles")
              .option("cloudFiles.format", source.format)
              .option("rescuedDataColumn", RESCUED_COLUMN)
              .options(**{k: str(v) for k, v in source.options.items()}))
    if source.max_files_per_trigger:
        reader = reader.option("cloudFiles.maxFilesPerTrigger", str(source.max_files_per_trigger))
    if source.schema_evolution == "add_new_columns":
        reader = (reader.option("cloudFiles.schemaEvolutionMode", "addNewColumns")
                  .option("cloudFiles.schemaHints", declared))
    else:
        mode = "rescue" if source.schema_evolution == "rescue" else "failOnNewColumns"
        reader = reader.option("cloudFiles.schemaEvolutionMode", mode).schema(declared)
    return (reader.load(path)
            .withColumn(SOURCE_FILE_COLUMN, F.col("_metadata.file_path"))
            .withColumn(INGESTED_AT_COLUMN, F.current_timestamp()))


# ---------------------------------------------------------------------------------------------------
# conforming the query output to the declared columns
# ---------------------------------------------------------------------------------------------------

@lru_cache(maxsize=512)
def _parse_type(type_text: str) -> Any:
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(type_text)


def conform(df: "DataFrame", spec: TableSpec) -> "DataFrame":
    """The declared columns, in declared order and type; a missing or undeclared column is an error.

    Tables that read files with `schema_evolution: add_new_columns` keep the extra columns (they are
    the evolved ones). Internal `_medallion_*` columns are passed through for the runtime. A column
    whose type differs from the declared one is cast with `typed_column`: never a silent NULL.
    """
    from pyspark.sql import functions as F

    expected = output_columns(spec)
    present = set(df.columns)
    missing = [name for name, *_ in expected if name not in present]
    if missing:
        raise PipelineDefinitionError(
            f"{spec.file}: table `{spec.name}`: the query does not produce declared column(s) "
            f"{', '.join(missing)} (it produces: {', '.join(c for c in df.columns if not c.startswith(INTERNAL_PREFIX))})")
    declared = {name for name, *_ in expected}
    extra = [c for c in df.columns if c not in declared and not c.startswith(INTERNAL_PREFIX)]
    evolving = isinstance(spec.source, FilesSource) and spec.source.schema_evolution == "add_new_columns"
    if extra and not evolving:
        raise PipelineDefinitionError(
            f"{spec.file}: table `{spec.name}`: the query produces column(s) not declared in `columns`: "
            f"{', '.join(extra)}")
    actual = {f.name: f.dataType for f in df.schema.fields}
    columns = {c.name: c for c in spec.columns}
    selected, type_errors = [], []
    for name, type_, _, _ in expected:
        wanted = _parse_type(type_)
        if actual[name] == wanted:
            selected.append(F.col(f"`{name}`"))
            continue
        action = spec.type_error_action(columns[name]) if name in columns else "fail"
        value, error = typed_column(spec, name, type_, actual[name], action)
        selected.append(value.alias(name))
        if error is not None:
            type_errors.append(error)
    selected += [F.col(f"`{c}`") for c in extra]
    selected += [F.col(f"`{c}`") for c in df.columns if c.startswith(INTERNAL_PREFIX)]
    if spec.quarantines_type_errors:
        errors = F.array_compact(F.array(*type_errors)) if type_errors else F.array()
        selected.append(errors.cast("array<string>").alias(TYPE_ERRORS_COLUMN))
    try:
        return df.select(*selected)
    except Exception as exc:  # an impossible cast (e.g. an ARRAY into a DOUBLE) fails analysis
        if "DATATYPE_MISMATCH.CAST_WITH" in str(exc):
            raise PipelineDefinitionError(
                f"{spec.file}: table `{spec.name}`: {_first_sentence(exc)}; declare the type the query gives "
                f"({', '.join(f'{n} {actual[n].simpleString().upper()}' for n, *_ in expected if n in actual)}) "
                "or convert the value in the transform") from exc
        raise


def typed_column(spec: TableSpec, name: str, type_: str, actual: Any, action: str) -> tuple["Column", "Column | None"]:
    """The column cast to its declared type, and (for `quarantine`) the reason when a value did not cast.

    `try_cast` gives NULL for a value that cannot be cast, whatever `spark.sql.ansi.enabled` says; a
    NULL out of a non-NULL value is the failure. `fail`: `raise_error` inside the query (the same on
    Databricks) stops the flow with the spec file, the column, the value and the type. `quarantine`:
    the value becomes NULL and the returned reason sends the row to the quarantine table.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import NullType, StringType

    raw = F.col(f"`{name}`")
    cast = F.expr(f"try_cast(`{name}` AS {type_})")
    if isinstance(actual, NullType) or isinstance(_parse_type(type_), StringType):
        return cast, None  # every value casts to STRING; a NULL literal is NULL in any type
    bad = raw.isNotNull() & cast.isNull()
    shown = F.substring(raw.cast("string"), 1, SAMPLE_VALUE_CHARS)
    given = actual.simpleString().upper()
    if action == "quarantine":
        reason = F.concat(F.lit(f"{name}: '"), shown, F.lit(f"' ({given}) {CAST_ERROR_TEXT} {type_}"))
        return cast, F.when(bad, reason)
    message = F.concat(
        F.lit(f"{_column_location(spec, name)}: table `{spec.name}`: column `{name}` is {type_}, but the query gives '"), shown,
        F.lit(f"' ({given}), which {CAST_ERROR_TEXT} {type_}; fix the transform (column order, a CAST), or set "
              f"`on_type_error: quarantine` on the column or the table to quarantine such rows"))
    return F.when(bad, F.raise_error(message)).otherwise(cast), None


def _column_location(spec: TableSpec, name: str) -> str:
    """`file:line:column` of the column's declared type (just the file for framework columns)."""
    if spec.document is None or name not in spec.column_names:
        return spec.file
    line, column = spec.document.where(("columns", spec.column_names.index(name), "type"))
    return f"{spec.file}:{line}:{column}"


def _first_sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(" SQLSTATE")[0]
