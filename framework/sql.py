"""SQL text helpers shared by validation and the pipeline (sqlglot, Spark dialect, no JVM)."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

DIALECT = "spark"


def qualify_tables(text: str, names: dict[str, str]) -> str:
    """Rewrite table references that name specs (`orders`) into their published names (`silver.orders`).

    CTE names and references that already name a schema are left alone.
    """
    tree = sqlglot.parse_one(text, read=DIALECT)
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in names \
                and node.name not in cte_names:
            parts = names[node.name].split(".")
            return exp.table_(parts[-1], db=parts[-2] if len(parts) > 1 else None,
                              catalog=parts[-3] if len(parts) > 2 else None, alias=node.alias or None)
        return node

    return tree.transform(rewrite).sql(DIALECT)


def tables_read(text: str) -> list[str]:
    """The tables a statement reads, as `schema.name` / `catalog.schema.name` / a bare `name` (CTEs left
    out), each once, in order of appearance."""
    tree = sqlglot.parse_one(text, read=DIALECT)
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    found = []
    for table in tree.find_all(exp.Table):
        if not table.name or (not table.args.get("db") and table.name in cte_names):
            continue
        found.append(".".join(part for part in (table.catalog, table.db, table.name) if part))
    return list(dict.fromkeys(found))
