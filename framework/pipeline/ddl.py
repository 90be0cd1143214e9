"""A table's declared shape as the DLT API takes it: output columns, schema DDL, table options."""

from __future__ import annotations

from typing import Any

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
