"""Table-level grants declared in table specs (`grants:`), as Unity Catalog GRANT statements.

Asset bundles can grant on catalogs, schemas and volumes, but have no table resource, so schema
grants from environments/ are rendered into the bundle while table grants run as the job's
`table_grants` task: `medallion bundle grants --env <env> --apply --principal name=${var.name}`,
where the bundle substitutes each principal variable at deploy time. Statements are computed from
the specs at run time, so they cannot drift from tables/.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.deploy.context import table_grants, variable_name
from framework.deploy.privileges import quote
from framework.errors import GrantError
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from framework.spec.project import Project


def grant_statements(project: Project, env: Environment, principals: dict[str, str] | None = None) -> list[str]:
    """GRANT statements for every spec grant; `${var.x}` principals are replaced from `principals` when given."""
    statements = []
    for grant in table_grants(project, env):
        principal = grant["principal"]
        name = variable_name(principal)
        if principals is not None and name:
            if name not in principals:
                raise GrantError(f"no value for principal variable `{name}`: pass --principal {name}=<principal>")
            principal = principals[name]
        privileges = ", ".join(p.replace("_", " ") for p in grant["privileges"])
        table = ".".join(quote(part) for part in grant["table"].split("."))
        statements.append(f"GRANT {privileges} ON TABLE {table} TO {quote(principal)}")
    return statements


def apply_grants(statements: list[str]) -> None:
    """Run the statements on the cluster's SparkSession (a Unity Catalog cluster of the job)."""
    from pyspark.sql import SparkSession

    spark = SparkSession.builder.getOrCreate()
    for statement in statements:
        spark.sql(statement)
