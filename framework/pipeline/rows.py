"""Row-level helpers shared by the DLT declarations and the local engine: rule checks, quarantine rows,
the latest row per key. Pure column expressions: nothing here reads or writes a table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework.naming import (FAILED_RULES_COLUMN, INGESTED_AT_COLUMN, INTERNAL_PREFIX, QUARANTINED_AT_COLUMN,
                              SOURCE_FILE_COLUMN)
from framework.pipeline.conform import TYPE_ERRORS_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame


def passes(rule: str) -> "Column":
    """True when the row meets the rule; a NULL result counts as a failure (as in DLT)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.expr(rule), F.lit(False))


def failed_rules(rules: dict[str, str]) -> "Column":
    """ARRAY<STRING> of the names of the rules a row fails (empty when it passes them all)."""
    from pyspark.sql import functions as F

    if not rules:
        return F.array().cast("array<string>")
    return F.array_compact(F.array(*[F.when(~passes(rule), F.lit(name)) for name, rule in rules.items()]))


def quarantine_rows(df: "DataFrame", quarantine_rules: dict[str, str], all_rules: dict[str, str]) -> "DataFrame":
    """Rows failing any quarantine rule (or with values that could not be cast, when the query carries
    TYPE_ERRORS_COLUMN), with every rule they failed plus the cast errors, and the quarantine time."""
    from pyspark.sql import functions as F

    condition = F.lit(False)
    for rule in quarantine_rules.values():
        condition = condition | ~passes(rule)
    reasons = failed_rules(all_rules)
    if TYPE_ERRORS_COLUMN in df.columns:
        condition = condition | (F.size(TYPE_ERRORS_COLUMN) > 0)
        reasons = F.concat(reasons, F.col(TYPE_ERRORS_COLUMN))
    visible = [c for c in df.columns if not c.startswith(INTERNAL_PREFIX)]
    return (df.where(condition)
            .select(*visible, reasons.alias(FAILED_RULES_COLUMN),
                    F.current_timestamp().alias(QUARANTINED_AT_COLUMN)))


def latest_per_key(df: "DataFrame", keys: tuple[str, ...], sequence_by: str) -> "DataFrame":
    """SCD type 1 on a batch: one row per key, the one with the greatest `sequence_by`.

    Ties (two records of a key with the same sequence value in one batch) are broken by a hash of the
    row's data — not of when or from which path it was ingested — so the choice is deterministic:
    re-running the batch, or running the same files in another environment, picks the same row.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    content = [c for c in df.columns if not c.startswith(INTERNAL_PREFIX)
               and c not in (INGESTED_AT_COLUMN, SOURCE_FILE_COLUMN)]
    order = Window.partitionBy(*keys).orderBy(F.col(sequence_by).desc_nulls_last(),
                                              F.xxhash64(*[F.col(f"`{c}`") for c in content]).desc())
    return df.withColumn("_medallion_rank", F.row_number().over(order)).where("_medallion_rank = 1").drop("_medallion_rank")
