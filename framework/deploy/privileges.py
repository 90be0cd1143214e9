"""The Unity Catalog privileges the run-as principal needs: exactly what the pipeline and the job touch.

Derived from the table specs, so a new table in a new kind of dataset adds the privilege it needs:

| securable | privilege | why |
|---|---|---|
| catalog | USE_CATALOG | everything below; the bundle does not manage the catalog, so this is a deploy prerequisite |
| each layer schema | USE_SCHEMA | the pipeline publishes there (ops is also its default schema); checks read there |
| each layer schema | SELECT | the catch-up reads bronze and the event log (ops), the checks read every layer |
| a layer with streaming tables | CREATE_TABLE | streaming tables, AUTO CDC targets and their quarantine siblings |
| a layer with materialized views | CREATE_MATERIALIZED_VIEW | materialized views and their quarantine siblings |
| the ops schema | CREATE_TABLE | the pipeline publishes its event log there |
| a layer whose tables' specs declare `grants:` | MANAGE | the table_grants task grants on tables it does not own |
| the landing volume | READ_VOLUME, WRITE_VOLUME | `collect` writes landing files; the bronze tables read them |

SELECT is granted even though the principal runs the pipeline: the pipeline's tables and its event log
belong to the pipeline's *owner* (whoever deployed it; Databricks: "By default, materialized views and
streaming tables created by pipelines configured with Unity Catalog can only be queried by the pipeline
owner" — Manage identities, permissions, and privileges for pipelines), and a person may deploy. The
schema-level grant covers the tables the pipeline creates later. Views (`kind: view`) are temporary views
inside the pipeline and need no privilege.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.naming import OPS_LAYER
from framework.spec.environment import Environment
from framework.spec.model import LAYERS

if TYPE_CHECKING:
    from framework.spec.project import Project

LAYER_SCHEMAS = (*LAYERS, OPS_LAYER)
CATALOG_PRIVILEGES = ("USE_CATALOG",)
VOLUME_PRIVILEGES = ("READ_VOLUME", "WRITE_VOLUME")
ORDER = ("USE_SCHEMA", "SELECT", "CREATE_TABLE", "CREATE_MATERIALIZED_VIEW", "MANAGE")


def schema_privileges(project: Project, env: Environment) -> dict[str, list[str]]:
    """Layer -> the privileges the run-as principal needs on that layer's schema, in a fixed order."""
    needed = {layer: {"USE_SCHEMA", "SELECT"} for layer in LAYER_SCHEMAS}
    for spec in project.tables.values():
        if spec.kind == "view":
            continue
        needed[spec.layer].add("CREATE_TABLE" if spec.is_streaming else "CREATE_MATERIALIZED_VIEW")
        if spec.grants:
            needed[spec.layer].add("MANAGE")
    needed[OPS_LAYER].add("CREATE_TABLE")  # the published event log (databricks.event_log_table)
    return {layer: [p for p in ORDER if p in privileges] for layer, privileges in needed.items()}


def sql_privilege(privilege: str) -> str:
    """`USE_CATALOG` -> `USE CATALOG`, as GRANT statements spell it."""
    return privilege.replace("_", " ")


def quote(identifier: str) -> str:
    return "`" + identifier.replace("`", "``") + "`"


def grant_statement(privileges: list[str] | tuple[str, ...], securable: str, name: str, principal: str) -> str:
    """`GRANT USE CATALOG ON CATALOG `c` TO `p``; `name` may be dotted (schema.volume)."""
    quoted = ".".join(quote(part) for part in name.split("."))
    return (f"GRANT {', '.join(sql_privilege(p) for p in privileges)} ON {securable.upper()} {quoted} "
            f"TO {quote(principal)}")
