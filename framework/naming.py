"""Names and places of tables: one handle per table, as delta-spark's `DeltaTable` is.

A `TableRef` answers every question about where a table is in one environment: the name the
pipeline publishes it under (`silver.orders` locally, `medallion_prod.silver.orders` on Databricks, the
bare name for a pipeline-private view), its Unity Catalog name, its folder and checkpoint on the local
runtime, its quarantine sibling, and the event log of the environment. Nothing else derives these, so
the engine, the checks, the CLI and the docs can never disagree about them.

Local storage layout (`storage_root` of the environment):

    <storage_root>/tables/<schema>/<name>/        Delta tables (bronze.orders_raw, silver.orders, ops.event_log, ...)
    <storage_root>/checkpoints/<schema>/<name>/   streaming checkpoints and small state files, one per flow

The framework's own column names live here too: they are part of a table's published shape.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from framework.spec.environment import Environment
    from framework.spec.model import TableSpec

RESCUED_COLUMN = "_rescued_data"
SOURCE_FILE_COLUMN = "_source_file"
INGESTED_AT_COLUMN = "_ingested_at"
FAILED_RULES_COLUMN = "_failed_rules"
QUARANTINED_AT_COLUMN = "_quarantined_at"
INTERNAL_PREFIX = "_medallion_"
"""Columns with this prefix are runtime bookkeeping; they never reach a table."""

FILE_COLUMNS: tuple[tuple[str, str, str], ...] = (
    (RESCUED_COLUMN, "STRING", "The fields that did not fit the declared schema, as JSON with their `_file_path` "
                     "(a line that does not parse: `_corrupt_record`); else NULL."),
    (SOURCE_FILE_COLUMN, "STRING", "Landing file the record was read from."),
    (INGESTED_AT_COLUMN, "TIMESTAMP", "When the pipeline ingested the record."),
)
"""Columns the framework adds to every table that reads landing files."""

QUARANTINE_SUFFIX = "_quarantine"
CHANGES_SUFFIX = "__changes"
"""The private view feeding a de-duplicated table (`<name>__changes`)."""
QUARANTINE_OF_PROPERTY = "medallion.quarantine_of"
"""Table property of a quarantine table naming the table it belongs to."""
OPS_LAYER = "ops"
LOCAL_EVENT_LOG = "event_log"
"""The local runtime's event log table in the ops schema (Databricks: `databricks.event_log_table`)."""

TABLES_FOLDER = "tables"
CHECKPOINTS_FOLDER = "checkpoints"


@dataclass(frozen=True)
class TableRef:
    """One table (or view) of one environment."""

    name: str
    schema: str
    catalog: str
    three_part: bool = False
    """True on Databricks: published names are catalog.schema.name (Unity Catalog)."""
    storage_root: Path | None = None
    """The local runtime's storage root (None on Databricks, where Unity Catalog manages storage)."""
    private: bool = False
    """A DLT view: private to the pipeline and published under its bare name."""

    # -- construction --------------------------------------------------------------------------------

    @classmethod
    def of(cls, spec: "TableSpec", env: "Environment") -> "TableRef":
        """The table a spec declares, in `env`."""
        return cls.in_schema(spec.name, env.schema_for(spec.layer), env, private=spec.kind == "view")

    @classmethod
    def in_schema(cls, name: str, schema: str, env: "Environment", *, private: bool = False) -> "TableRef":
        local = env.runtime == "local"
        return cls(name, schema, env.catalog, three_part=not local,
                   storage_root=env.storage_root.resolve() if local else None, private=private)

    @classmethod
    def event_log(cls, env: "Environment") -> "TableRef":
        """The environment's pipeline event log (the bundle's `event_log` setting on Databricks)."""
        name = LOCAL_EVENT_LOG if env.runtime == "local" else env.databricks.event_log_table
        return cls.in_schema(name, env.schema_for(OPS_LAYER), env)

    @classmethod
    def parse(cls, published: str, storage_root: Path) -> "TableRef":
        """A local table from its published `<schema>.<name>` (the engine's datasets are named so)."""
        parts = published.split(".")
        if len(parts) < 2:
            raise ValueError(f"expected <schema>.<table>, got `{published}`")
        return cls(parts[-1], parts[-2], "", storage_root=storage_root)

    # -- names ---------------------------------------------------------------------------------------

    @property
    def published(self) -> str:
        """The name the pipeline reads and writes the table under in its runtime."""
        if self.private:
            return self.name
        return f"{self.catalog}.{self.schema}.{self.name}" if self.three_part else f"{self.schema}.{self.name}"

    @property
    def unity_catalog_name(self) -> str:
        """catalog.schema.name, whatever the runtime (what the table is called once deployed)."""
        return f"{self.catalog}.{self.schema}.{self.name}"

    @property
    def quoted(self) -> str:
        """The published name with every part in backticks, safe in SQL whatever the identifiers."""
        return quote_name(self.published)

    def quarantine(self) -> "TableRef":
        """`<name>_quarantine` beside this table: rows that failed a quarantine expectation."""
        return replace(self, name=self.name + QUARANTINE_SUFFIX, private=False)

    # -- local storage -------------------------------------------------------------------------------

    @property
    def path(self) -> Path:
        """The table's Delta folder on the local runtime."""
        return self._root() / TABLES_FOLDER / self.schema / self.name

    @property
    def checkpoint(self) -> Path:
        """The folder of the flow writing this table: stream checkpoint and small state files."""
        return self._root() / CHECKPOINTS_FOLDER / self.schema / self.name

    def _root(self) -> Path:
        if self.storage_root is None:
            raise ValueError(f"{self.published} is managed by Unity Catalog; it has no local folder")
        return self.storage_root


def is_quarantine_name(name: str) -> bool:
    return name.endswith(QUARANTINE_SUFFIX)


def quarantined_table(name: str) -> str:
    """`orders` for `orders_quarantine` (published names too)."""
    return name[: -len(QUARANTINE_SUFFIX)] if is_quarantine_name(name) else name


def quote_name(qualified: str) -> str:
    """`a.b.c` -> `` `a`.`b`.`c` `` (backticks inside a part are doubled)."""
    return ".".join(f"`{part.replace('`', '``')}`" for part in qualified.split("."))


def sql_string(value: str | Path) -> str:
    """A Spark SQL string literal."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"
