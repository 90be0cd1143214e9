"""Pipeline tables in a Databricks environment's Unity Catalog schemas that no spec declares any more.

The local runtime finds its orphans in its storage folder (framework/engine/orphans.py); on Databricks
the tables live in Unity Catalog, so `medallion prune --env <databricks env>` lists the environment's
layer schemas through the workspace API (`tables.list`, read-only) and prints a `DROP` statement per
table the pipeline created (table type STREAMING_TABLE or MATERIALIZED_VIEW) that no spec names: a
table someone made by hand in the same schema is never proposed. Nothing is dropped from a laptop:
`--apply` runs the statements on the SparkSession of a Databricks cluster, as `bundle grants --apply`
does in the job's `table_grants` task.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.deploy.privileges import quote
from framework.naming import OPS_LAYER, TableRef

if TYPE_CHECKING:
    from framework.spec.environment import Environment
    from framework.spec.project import Project

PIPELINE_TABLE_TYPES = {"STREAMING_TABLE": "TABLE", "MATERIALIZED_VIEW": "MATERIALIZED VIEW"}
"""Unity Catalog table types a pipeline publishes, and the DROP statement's object for each."""


@dataclass(frozen=True)
class CatalogOrphan:
    full_name: str
    table_type: str

    @property
    def statement(self) -> str:
        quoted = ".".join(quote(part) for part in self.full_name.split("."))
        return f"DROP {PIPELINE_TABLE_TYPES[self.table_type]} IF EXISTS {quoted}"


def owned_names(project: "Project", env: "Environment") -> set[str]:
    """Unity Catalog names of every spec's table, its quarantine sibling and the event log (lower case:
    Unity Catalog names are case-insensitive)."""
    names = set()
    for spec in project.tables.values():
        ref = TableRef.of(spec, env)
        names.add(ref.unity_catalog_name.lower())
        names.add(ref.quarantine().unity_catalog_name.lower())
    names.add(TableRef.event_log(env).unity_catalog_name.lower())
    return names


def schemas(project: "Project", env: "Environment") -> list[str]:
    """The environment's schemas for every layer its specs use, and ops."""
    return sorted({env.schema_for(layer) for layer in {*(s.layer for s in project.tables.values()), OPS_LAYER}})


def catalog_orphans(client: Any, project: "Project", env: "Environment") -> list[CatalogOrphan]:
    """Pipeline tables of the environment's schemas that no spec declares (`client`: a WorkspaceClient)."""
    owned = owned_names(project, env)
    found = []
    for schema in schemas(project, env):
        for table in client.tables.list(catalog_name=env.catalog, schema_name=schema, omit_columns=True):
            table_type = getattr(table.table_type, "value", table.table_type)
            full_name = table.full_name or f"{env.catalog}.{schema}.{table.name}"
            if table_type in PIPELINE_TABLE_TYPES and full_name.lower() not in owned:
                found.append(CatalogOrphan(full_name, str(table_type)))
    return sorted(found, key=lambda o: o.full_name)


def drop_on_cluster(statements: list[str]) -> None:
    """Run the DROP statements on the cluster's SparkSession (Unity Catalog), as `bundle grants --apply` does."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    for statement in statements:
        spark.sql(statement)
