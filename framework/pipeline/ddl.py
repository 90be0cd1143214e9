"""A table's declared shape as the DLT API takes it: output columns, schema DDL, table options."""

from __future__ import annotations

import inspect
import sys
from typing import Any, Callable

from framework.naming import FAILED_RULES_COLUMN, FILE_COLUMNS, QUARANTINED_AT_COLUMN
from framework.spec.model import FilesSource, TableSpec


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


AUTO_CLUSTERING_ARGUMENT = "cluster_by_auto"
"""The keyword (`bool`) Databricks documents on `table`, `materialized_view` and `create_streaming_table`
for automatic liquid clustering (Lakeflow pipelines Python reference, pages `table`,
`materialized_view`, `create_streaming_table`). The databricks-dlt 0.3.0 stub and open-source
`pyspark.pipelines` 4.2 do not declare it."""


def table_options(spec: TableSpec, function: Callable[..., Any] | None = None) -> dict[str, Any]:
    """Keyword arguments shared by the dataset decorators and `create_streaming_table`.

    `function` is the pipelines-module function the options are for: `cluster_by: auto` is passed as
    `cluster_by_auto=True` only when it declares that parameter, since a module without it (the
    databricks-dlt 0.3.0 stub's signatures, older runtimes) would reject the call. Databricks documents
    no table property with the same effect, so without it the table is declared unclustered and a
    notice on stderr says so.
    """
    options: dict[str, Any] = {"table_properties": table_properties(spec)}
    if spec.partition_by:
        options["partition_cols"] = list(spec.partition_by)
    if spec.cluster_by:
        options["cluster_by"] = list(spec.cluster_by)
    if spec.cluster_by_auto:
        if function is not None and accepts_keyword(function, AUTO_CLUSTERING_ARGUMENT):
            options[AUTO_CLUSTERING_ARGUMENT] = True
        else:  # table_options is called once per spec and registration: one notice per table
            print(f"notice: {spec.file}: `cluster_by: auto` is not applied: the pipelines module's "
                  f"`{getattr(function, '__name__', 'dataset function')}` has no `{AUTO_CLUSTERING_ARGUMENT}` "
                  "parameter, so the table is declared without clustering", file=sys.stderr)
    if ddl := schema_ddl(spec):
        options["schema"] = ddl
    return options


def table_properties(spec: TableSpec) -> dict[str, str]:
    properties = dict(spec.table_properties)
    if spec.zorder_by:
        properties.setdefault("pipelines.autoOptimize.managed", "true")
        properties["pipelines.autoOptimize.zOrderCols"] = ",".join(spec.zorder_by)
    return properties


def accepts_keyword(function: Callable[..., Any], keyword: str) -> bool:
    """Whether `function` declares the parameter `keyword` (a bare `**kwargs` does not count: it would
    accept the argument without promising to honour it)."""
    try:
        parameters = inspect.signature(function).parameters
    except (TypeError, ValueError):  # a builtin without a signature: assume the published shape
        return False
    parameter = parameters.get(keyword)
    return parameter is not None and parameter.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                                        inspect.Parameter.KEYWORD_ONLY)
