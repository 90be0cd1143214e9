"""Building one spec's DataFrame: read the source, apply the transform, conform to the declared columns.

Upstreams are read with `spark.readStream.table` / `spark.read.table` under their published names
(`<catalog>.<schema>.<name>` on Databricks, `<schema>.<name>` locally: `framework.naming.TableRef`);
landing files with Auto Loader on Databricks (`auto_loader`), and with whatever `FileReader` the caller
injects — the local engine passes its Spark file streams (`framework.engine.autoloader`), so this
package never imports the engine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from framework.errors import PipelineDefinitionError, UnresolvedReference
from framework.naming import INGESTED_AT_COLUMN, INTERNAL_PREFIX, RESCUED_COLUMN, SOURCE_FILE_COLUMN
from framework.pipeline.casts import GuardedSql, guard_casts
from framework.pipeline.conform import conform
from framework.pipeline.hints import IncrementalHint
from framework.pipeline.rows import latest_per_key
from framework.references import import_reference
from framework.spec.documents import DocPath
from framework.spec.environment import Environment, substitute
from framework.spec.model import FilesSource, SqlSource, TablesSource, TableSpec
from framework.sql import qualify_tables

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

CORRUPT_RECORD_COLUMN = "_corrupt_record"
"""Where Databricks' JSON and CSV readers put a line that does not parse (`columnNameOfCorruptRecord`)."""

FileReader = Callable[["SparkSession", TableSpec, Environment, str, str], "DataFrame"]
"""(spark, spec, env, landing path, published table name) -> a streaming DataFrame of landing files.
Databricks uses Auto Loader (`auto_loader`); the local engine passes its own reader."""


class QueryBuilder:
    """Builds the DataFrame of one spec: read the source, apply the transform, conform to the columns."""

    def __init__(self, spark: "SparkSession", spec: TableSpec, env: Environment, names: dict[str, str],
                 read_files: FileReader):
        self.spark = spark
        self.spec = spec
        self.env = env
        self.names = names
        self.read_files = read_files
        self._guarded: dict[DocPath, GuardedSql] = {}

    def sql_text(self, path: DocPath, text: str) -> str:
        """The spec's SQL at `path` as Spark runs it: explicit casts guarded (`framework.pipeline.casts`),
        `${variables}` substituted, table names published."""
        if path not in self._guarded:
            document = self.spec.document
            locate = (lambda line, column: document.within(path, line, column)) if document is not None else None
            self._guarded[path] = guard_casts(text, self.spec, locate)
        return substitute(self._guarded[path].sql, self.env.variables())

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
        return self.spark.sql(qualify_tables(self.sql_text(("source", "sql"), source.sql), self.names))

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
            sql = self.sql_text(("transform", "sql"), transform.sql)
            return self.spark.sql(qualify_tables(sql, {**self.names, "source": view}))
        function = python_transform(transform.python or "", self.spec)
        result = function(df) if previous is None else function(df, previous)
        from pyspark.sql import DataFrame

        if not isinstance(result, DataFrame):
            raise PipelineDefinitionError(f"{self.spec.file}: transform `{transform.python}` returned "
                                          f"{type(result).__name__}, not a DataFrame")
        return result


def python_transform(ref: str, spec: TableSpec) -> Callable[..., "DataFrame"]:
    """The function a `transform.python: module:function` names (the project root is on sys.path)."""
    try:
        return import_reference(ref)
    except UnresolvedReference as exc:
        raise PipelineDefinitionError(f"{spec.file}: transform {exc}") from None


def auto_loader(spark: "SparkSession", spec: TableSpec, env: Environment, path: str, table: str) -> "DataFrame":
    """Databricks Auto Loader with the declared columns; unexpected data lands in `_rescued_data`.

    `schema_evolution: add_new_columns` lets Auto Loader infer and evolve the schema, with the declared
    columns as `cloudFiles.schemaHints` (it refuses a fixed schema in that mode). Inference needs files:
    on an empty landing folder the stream fails to start (`CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE`, "Configure
    schema inference and evolution in Auto Loader"). So when the folder holds no file yet — a first
    deploy before the first collection — the update reads with the declared schema in `rescue` mode
    (nothing is lost: unknown fields go to `_rescued_data`); the next update that starts with files
    there infers and evolves as declared.
    """
    from pyspark.sql import functions as F

    source = spec.source
    assert isinstance(source, FilesSource)
    keeps_corrupt = source.format in ("json", "csv")
    declared = ", ".join([f"`{c.name}` {c.type}" for c in spec.columns]
                         + ([f"`{CORRUPT_RECORD_COLUMN}` STRING"] if keeps_corrupt else []))
    reader = (spark.readStream.format("cloudFiles")
              .option("cloudFiles.format", source.format)
              .option("rescuedDataColumn", RESCUED_COLUMN)
              .options(**{k: str(v) for k, v in source.options.items()}))
    if keeps_corrupt:  # a line that does not parse at all is kept, not turned into a row of NULLs
        reader = reader.option("columnNameOfCorruptRecord", CORRUPT_RECORD_COLUMN)
    if source.max_files_per_trigger:
        reader = reader.option("cloudFiles.maxFilesPerTrigger", str(source.max_files_per_trigger))
    if source.schema_evolution == "add_new_columns" and not landing_is_empty(path):
        reader = (reader.option("cloudFiles.schemaEvolutionMode", "addNewColumns")
                  .option("cloudFiles.schemaHints", declared))
    else:
        mode = "failOnNewColumns" if source.schema_evolution == "none" else "rescue"
        reader = reader.option("cloudFiles.schemaEvolutionMode", mode).schema(declared)
    df = reader.load(path)
    if keeps_corrupt:  # as the local reader does: {"_corrupt_record": <line>, "_file_path": ...} in _rescued_data
        corrupt = F.to_json(F.struct(F.col(CORRUPT_RECORD_COLUMN).alias(CORRUPT_RECORD_COLUMN),
                                     F.col("_metadata.file_path").alias("_file_path")))
        df = df.withColumn(RESCUED_COLUMN, F.coalesce(F.col(RESCUED_COLUMN), F.when(
            F.col(CORRUPT_RECORD_COLUMN).isNotNull(), corrupt))).drop(CORRUPT_RECORD_COLUMN)
    return (df.withColumn(SOURCE_FILE_COLUMN, F.col("_metadata.file_path"))
            .withColumn(INGESTED_AT_COLUMN, F.current_timestamp()))


def iter_landing_files(path: str | Path) -> Iterator[Path]:
    """Files Spark would read: not hidden (`.`/`_` prefixes are in-flight or metadata files)."""
    root = Path(path)
    if not root.is_dir():
        return
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        yield from (Path(dirpath) / f for f in filenames if not f.startswith((".", "_")))


def landing_files(path: str | Path) -> list[Path]:
    """Every file of a landing folder Spark would read, sorted."""
    return sorted(iter_landing_files(path))


def landing_is_empty(path: str) -> bool:
    """True when the landing folder (a Unity Catalog volume path, which Databricks mounts as files)
    exists here and holds no data file. A folder that cannot be listed from here is not called empty."""
    root = Path(path)
    if not root.is_dir():
        return root.parent.is_dir()  # the volume is there, the folder not yet: nothing landed
    return next(iter_landing_files(root), None) is None
