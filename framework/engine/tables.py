"""Delta tables of the local runtime: create them from DLT dataset definitions, keep their properties in
step with the specs, and run the maintenance DLT would (OPTIMIZE with Z-order or liquid clustering).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from framework.delta_log import files_written_since_optimize, is_delta_table
from framework.engine.dlt_api import Dataset
from framework.engine.spark import register_table
from framework.engine.storage import Storage
from framework.eventlog import EVENT_LOG_COMMENT, EVENT_LOG_DDL
from framework.files import write_atomically
from framework.naming import INTERNAL_PREFIX, TableRef, quote_name, sql_string

if TYPE_CHECKING:
    from pyspark.sql import SparkSession
    from pyspark.sql.types import StructType

ZORDER_PROPERTY = "pipelines.autoOptimize.zOrderCols"
APPEND_ONLY_PROPERTY = "delta.appendOnly"
AUTO_COMPACT_PROPERTY = "delta.autoOptimize.autoCompact"
"""Honoured by `optimize` (Delta's own synchronous auto compaction is off in the local session)."""
DEFINITION_STATE = "_table.json"
_AUTO_CLUSTERING_NOTIFIED: set[str] = set()
"""Tables already told that automatic liquid clustering is not applied locally (one notice each)."""


def create_table(spark: "SparkSession", name: str, path: Path, definition: str) -> None:
    """`CREATE TABLE name <definition>` (which holds the LOCATION `path`) for a table not on disk yet.

    Two leftovers are cleared first: a catalog name still pointing at another folder (a reset table,
    another storage root in the same session), and the files of a first commit that never happened
    (disk full, process killed). Without a commit no file in the folder belongs to a table (VACUUM
    would delete them too), and Delta refuses to create a table in a non-empty location.
    """
    spark.sql(f"DROP TABLE IF EXISTS {quote_name(name)}")
    if path.exists() and not is_delta_table(path):
        shutil.rmtree(path)
    spark.sql(f"CREATE TABLE {quote_name(name)} {definition}")


def ensure_event_log(spark: "SparkSession", ref: TableRef) -> None:
    """Create the local event log table if it does not exist (append-only), and register its name."""
    if not is_delta_table(ref.path):
        create_table(spark, ref.published, ref.path,
                     f"({EVENT_LOG_DDL}) USING delta LOCATION {sql_string(ref.path)} "
                     f"COMMENT {sql_string(EVENT_LOG_COMMENT)} TBLPROPERTIES ('delta.appendOnly' = 'true')")
    register_table(spark, ref.published, ref.path)


def struct_ddl(schema: "StructType") -> str:
    """DDL for a DataFrame schema (internal `_medallion_*` columns left out)."""
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in schema.fields
                     if not f.name.startswith(INTERNAL_PREFIX))


def _literal_map(properties: dict[str, str]) -> str:
    return ", ".join(f"{sql_string(k)} = {sql_string(v)}" for k, v in sorted(properties.items()))


def ensure_table(spark: "SparkSession", storage: Storage, dataset: Dataset, schema: "StructType | None") -> Path:
    """Create the dataset's Delta table if it does not exist; register it; apply changed properties."""
    path = storage.table_path(dataset.name)
    if not is_delta_table(path):
        columns = dataset.schema or (struct_ddl(schema) if schema is not None else None)
        if not columns:
            raise ValueError(f"cannot create `{dataset.name}`: no schema")
        create_table(spark, dataset.name, path, table_definition(dataset, path, columns))
        _save_definition(storage, dataset)
    register_table(spark, dataset.name, path)
    sync_definition(spark, storage, dataset)
    return path


def table_definition(dataset: Dataset, path: Path, columns: str) -> str:
    """What follows `CREATE [OR REPLACE] TABLE name`: columns, partitioning / clustering, location,
    comment, properties."""
    clauses = [f"({columns}) USING delta"]
    if dataset.partition_cols:
        clauses.append("PARTITIONED BY (" + ", ".join(f"`{c}`" for c in dataset.partition_cols) + ")")
    if dataset.cluster_by:
        clauses.append("CLUSTER BY (" + ", ".join(f"`{c}`" for c in dataset.cluster_by) + ")")
    elif dataset.cluster_by_auto:
        _notice_auto_clustering(dataset.name)
    clauses.append(f"LOCATION {sql_string(path)}")
    if dataset.comment:
        clauses.append(f"COMMENT {sql_string(dataset.comment)}")
    if dataset.table_properties:
        clauses.append(f"TBLPROPERTIES ({_literal_map(dataset.table_properties)})")
    return " ".join(clauses)


def _notice_auto_clustering(name: str) -> None:
    """`cluster_by_auto`: open-source Delta (delta-spark 4.4) has no `CLUSTER BY AUTO` (its parser wants
    a column list) and no workload-driven key selection, so the table is created unclustered — once
    said per table, never silently."""
    if name in _AUTO_CLUSTERING_NOTIFIED:
        return
    _AUTO_CLUSTERING_NOTIFIED.add(name)
    print(f"notice: `{name}` declares automatic liquid clustering (cluster_by: auto); open-source Delta "
          "has no CLUSTER BY AUTO, so the local table is created unclustered (Databricks picks its keys)",
          file=sys.stderr)


def replace_table(spark: "SparkSession", storage: Storage, dataset: Dataset) -> bool:
    """Full refresh of an existing table: `CREATE OR REPLACE TABLE` with the current definition — an
    empty table at a new version, its history kept (time travel to before the refresh still works), as
    Databricks truncates a streaming table and recomputes a materialized view. False if there is none.

    A table whose schema may evolve (no declared schema) keeps its current columns. `delta.appendOnly`
    would refuse the replace, so it is lifted first; the new definition sets it again.
    """
    path = storage.table_path(dataset.name)
    if not is_delta_table(path):
        return False
    location = f"delta.`{path}`"
    if str(_table_property(spark, location, APPEND_ONLY_PROPERTY)).lower() == "true":
        spark.sql(f"ALTER TABLE {location} SET TBLPROPERTIES ('{APPEND_ONLY_PROPERTY}' = 'false')")
    columns = dataset.schema or struct_ddl(spark.read.format("delta").load(str(path)).schema)
    register_table(spark, dataset.name, path)
    spark.sql(f"CREATE OR REPLACE TABLE {quote_name(dataset.name)} {table_definition(dataset, path, columns)}")
    _save_definition(storage, dataset)
    return True


def _table_property(spark: "SparkSession", location: str, key: str) -> str | None:
    rows = spark.sql(f"SHOW TBLPROPERTIES {location} ({sql_string(key)})").collect()
    value = rows[0]["value"] if rows else None
    return None if value is None or "does not have property" in str(value) else str(value)


def _definition_hash(dataset: Dataset) -> str:
    payload = json.dumps({"properties": dataset.table_properties, "comment": dataset.comment or ""}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()


def _state_file(storage: Storage, dataset: Dataset) -> Path:
    return storage.checkpoint(dataset.name) / DEFINITION_STATE


def _save_definition(storage: Storage, dataset: Dataset) -> None:
    write_atomically(_state_file(storage, dataset), json.dumps({"definition": _definition_hash(dataset)}))


def sync_definition(spark: "SparkSession", storage: Storage, dataset: Dataset) -> bool:
    """Apply table properties / comment edited in the spec since the table was made (as DLT does)."""
    state = _state_file(storage, dataset)
    saved = json.loads(state.read_text()).get("definition") if state.is_file() else None
    if saved == _definition_hash(dataset):
        return False
    if dataset.table_properties:
        spark.sql(f"ALTER TABLE {quote_name(dataset.name)} SET TBLPROPERTIES ({_literal_map(dataset.table_properties)})")
    if dataset.comment:
        spark.sql(f"COMMENT ON TABLE {quote_name(dataset.name)} IS {sql_string(dataset.comment)}")
    _save_definition(storage, dataset)
    return True


def optimize(spark: "SparkSession", dataset: Dataset, path: Path, min_new_files: int) -> str | None:
    """OPTIMIZE with the DLT Z-order property; plain OPTIMIZE for clustered tables and for tables that ask
    for auto compaction. Returns the SQL run.

    Only once `min_new_files` data files were written since the table's last OPTIMIZE: OPTIMIZE rewrites
    every file smaller than its target size — at this engine's sizes, the whole table — so doing it after
    every small write would make each day's update cost what the whole history costs. As Databricks'
    auto compaction does, it waits until enough small files make it worth it.
    """
    zorder = [c.strip() for c in dataset.table_properties.get(ZORDER_PROPERTY, "").split(",") if c.strip()]
    compact = str(dataset.table_properties.get(AUTO_COMPACT_PROPERTY, "")).lower() in ("true", "auto", "legacy")
    if not (zorder or dataset.cluster_by or compact):
        return None
    if files_written_since_optimize(path, max(min_new_files, 2)) < max(min_new_files, 2):
        return None  # too few new files (one file is already as compact and as ordered as it gets)
    if zorder and not dataset.cluster_by:
        sql = f"OPTIMIZE {quote_name(dataset.name)} ZORDER BY (" + ", ".join(f"`{c}`" for c in zorder) + ")"
    else:
        sql = f"OPTIMIZE {quote_name(dataset.name)}"  # liquid clustering, or plain compaction
    spark.sql(sql)
    return sql
