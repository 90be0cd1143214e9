"""Reconciling a streamed table with its upstream BY KEY, from the tables themselves.

One SQL statement per table, the same on the local runtime and on a Databricks cluster (Unity Catalog
three-part names), reading no event log — so it holds wherever the tables are, whatever the runtime
logs. It re-applies the spec's own definition to the upstream's rows:

1. the upstream table is the CTE `source`, and the spec's SQL transform runs on it unchanged (spec
   names qualified as the pipeline qualifies them);
2. every declared column is `try_cast` to its declared type, as the pipeline conforms the query;
3. each row gets its fate: **quarantined** (fails a quarantine rule, or has a value that does not fit its
   type under `on_type_error: quarantine`), else **dropped** (fails a drop rule), else **kept**; a rule
   whose result is NULL fails, as in the pipeline;
4. the kept rows are grouped by key and joined (NULL-safe) with the table's keys.

It holds when the table's keys are exactly the kept rows' distinct keys (none missing, none extra),
the quarantine table holds as many rows as failed a quarantine rule, and the table holds one row per
key when it de-duplicates, every kept row when it does not. Kept rows beyond their distinct keys are the rows a later
(or equal) row of their key superseded: the updates and discarded duplicates of a de-duplicated table.

Limits, said where they show: a Python transform cannot be re-applied in SQL (the table is reported as
not reconciled, a warning); a rule reading the clock (`current_timestamp()`) is evaluated at check
time, not at ingestion.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from framework.naming import TableRef, quote_name
from framework.spec.environment import Environment, substitute
from framework.spec.model import TableSpec
from framework.sql import qualify_tables

FATE = "_medallion_fate"
NO_KEY = "_medallion_all_rows"
"""The one group of a table without keys: it is reconciled by row counts only."""


@dataclass(frozen=True)
class KeyReconciliation:
    """The numbers of one table's reconciliation (a row of `reconciliation_sql`)."""

    upstream_rows: int
    expected_quarantined: int
    """Upstream rows failing a quarantine rule (or a type under `on_type_error: quarantine`)."""
    dropped: int
    """Upstream rows failing a drop rule only: stored nowhere."""
    passing_rows: int
    passing_keys: int
    table_rows: int
    table_keys: int
    missing_keys: int
    """Keys of kept rows the table does not have."""
    extra_keys: int
    """Keys of the table no kept row has."""
    quarantined: int
    """Rows in the quarantine table (0 without one)."""

    @classmethod
    def of(cls, row: Any) -> "KeyReconciliation":
        return cls(*(int(row[i] or 0) for i in range(10)))

    @property
    def superseded(self) -> int:
        """Kept rows beyond their distinct keys: replaced by a later row of their key, or discarded as duplicates."""
        return self.passing_rows - self.passing_keys


def published_names(specs: Any, env: Environment) -> dict[str, str]:
    return {spec.name: TableRef.of(spec, env).published for spec in specs}


def reconciliation_sql(spec: TableSpec, upstream: TableRef, table: TableRef, quarantine: TableRef | None,
                       env: Environment, names: dict[str, str]) -> str | None:
    """The statement reconciling `spec`'s table with its upstream (see the module doc); None when its
    transform is Python (it cannot be re-applied in SQL)."""
    transform = spec.transform
    if transform is not None and not transform.sql:
        return None
    variables = env.variables()
    query = (qualify_tables(substitute(transform.sql, variables), {k: v for k, v in names.items() if k != "source"})
             if transform is not None else "SELECT * FROM source")
    columns = ", ".join(f"try_cast(q.{quote_name(c.name)} AS {c.type}) AS {quote_name(c.name)}" for c in spec.columns)
    type_errors = [f"(q.{quote_name(c.name)} IS NOT NULL AND try_cast(q.{quote_name(c.name)} AS {c.type}) IS NULL)"
                   for c in spec.columns if spec.type_error_action(c) == "quarantine"]
    quarantine_rules = [substitute(e.rule, variables) for e in spec.expectations_with("quarantine")]
    drop_rules = [substitute(e.rule, variables) for e in spec.expectations_with("drop")]
    quarantined = " OR ".join([f"NOT coalesce(({rule}), false)" for rule in quarantine_rules]
                              + (["_medallion_type_error"] if type_errors else [])) or "false"
    dropped = " OR ".join(f"NOT coalesce(({rule}), false)" for rule in drop_rules) or "false"
    keys = [quote_name(k) for k in spec.keys] or [quote_name(NO_KEY)]
    key_values = ", ".join(quote_name(k) for k in spec.keys) if spec.keys else f"1 AS {quote_name(NO_KEY)}"
    key_list = ", ".join(keys)
    on = " AND ".join(f"b.{k} <=> t.{k}" for k in keys)
    quarantine_rows = f"(SELECT count(*) FROM {quarantine.quoted})" if quarantine else "0"
    type_error_column = f", {' OR '.join(type_errors)} AS _medallion_type_error" if type_errors else ""
    return (
        f"WITH source AS (SELECT * FROM {upstream.quoted}),\n"
        f"_medallion_rows AS (SELECT {columns}{type_error_column} FROM ({query}) AS q),\n"
        f"_medallion_fates AS (SELECT {key_values}, CASE WHEN {quarantined} THEN 'quarantined' "
        f"WHEN {dropped} THEN 'dropped' ELSE 'kept' END AS {FATE} FROM _medallion_rows),\n"
        f"_medallion_by_key AS (SELECT {key_list}, count(*) AS n, count_if({FATE} = 'quarantined') AS quarantined, "
        f"count_if({FATE} = 'dropped') AS dropped, count_if({FATE} = 'kept') AS kept "
        f"FROM _medallion_fates GROUP BY {key_list}),\n"
        f"_medallion_table_keys AS (SELECT {key_values}, count(*) AS n FROM {table.quoted} GROUP BY {key_list})\n"
        "SELECT coalesce(sum(b.n), 0) AS upstream_rows, coalesce(sum(b.quarantined), 0) AS expected_quarantined, "
        "coalesce(sum(b.dropped), 0) AS dropped, coalesce(sum(b.kept), 0) AS passing_rows, "
        "count_if(b.kept > 0) AS passing_keys, coalesce(sum(t.n), 0) AS table_rows, "
        "count_if(t.n IS NOT NULL) AS table_keys, count_if(b.kept > 0 AND t.n IS NULL) AS missing_keys, "
        "count_if(t.n IS NOT NULL AND coalesce(b.kept, 0) = 0) AS extra_keys, "
        f"{quarantine_rows} AS quarantined\n"
        f"FROM _medallion_by_key b FULL OUTER JOIN _medallion_table_keys t ON {on}")


def expected_rows(spec: TableSpec, r: KeyReconciliation) -> int:
    """Rows the table should hold: one per passing key when it de-duplicates, else every passing row."""
    return r.passing_keys if spec.dedupe_sequence_by else r.passing_rows


def discrepancies(spec: TableSpec, r: KeyReconciliation) -> int:
    """Keys missing or extra, quarantined rows missing or extra, rows beyond (or short of) the expected: 0 holds."""
    return (r.missing_keys + r.extra_keys + abs(r.quarantined - r.expected_quarantined)
            + abs(r.table_rows - expected_rows(spec, r)))


def holds(spec: TableSpec, r: KeyReconciliation) -> bool:
    """Keys equal both ways, quarantine complete, and the table holds one row per key (de-duplicated) or
    every kept row (not de-duplicated)."""
    return discrepancies(spec, r) == 0
