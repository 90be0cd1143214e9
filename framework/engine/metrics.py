"""Row counts of a flow, accumulated over its micro-batches.

Every row a flow reads ends in exactly one place, so for streaming tables

    read = written + updated + dropped + quarantined + duplicates discarded

— `updated` and `duplicates discarded` being 0 except for a de-duplicated (AUTO CDC) table, whose rows
that passed the expectations either became a new key (`written`), replaced the row of their key
(`updated`), or changed nothing because a row of their key with a greater or equal sequence value won
(`deduplicated_rows`, the discarded duplicates). Databricks logs only the upserts (inserted + updated)
of such a flow; the split and the discarded duplicates are the local runtime's own numbers (see
`framework.eventlog.schema.LOCAL_FIELDS`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

COUNTERS = ("input_rows", "output_rows", "written_rows", "updated_rows", "deleted_rows", "dropped_rows",
            "quarantined_rows", "deduplicated_rows", "upserted_rows", "batches")


@dataclass
class FlowMetrics:
    input_rows: int = 0
    """Rows the flow read (for a materialized view: rows its query produced)."""
    output_rows: int = 0
    """Rows that passed the expectations and went to the target (for AUTO CDC: into the merge)."""
    written_rows: int = 0
    """Net new rows in the target: appended rows, keys the merge inserted, or the view's rows."""
    updated_rows: int = 0
    """AUTO CDC: keys whose row was replaced by one with a greater sequence value."""
    deleted_rows: int = 0
    """AUTO CDC: keys deleted (always 0: SCD type 1 without `apply_as_deletes`)."""
    dropped_rows: int = 0
    """Removed by `drop` expectations (not counting quarantined rows)."""
    quarantined_rows: int = 0
    deduplicated_rows: int = 0
    """AUTO CDC: discarded duplicates — rows that changed nothing because a row with the same keys and a
    greater (or equal) sequence value won, in the batch or already in the table:
    `output_rows - written_rows - updated_rows`."""
    upserted_rows: int = 0
    """AUTO CDC: keys inserted or updated (`written_rows + updated_rows`), Databricks' `num_upserted_rows`."""
    expectations: dict[str, list[int]] = field(default_factory=dict)
    """rule name -> [passed, failed]"""
    batches: int = 0
    auto_cdc: bool = False
    """Written by an AUTO CDC (de-duplicating) flow: `updated_rows` and `deduplicated_rows` apply."""
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, other: "FlowMetrics") -> None:
        with self._lock:
            for name in COUNTERS:
                setattr(self, name, getattr(self, name) + getattr(other, name))
            self.auto_cdc = self.auto_cdc or other.auto_cdc
            for rule, (passed, failed) in other.expectations.items():
                counts = self.expectations.setdefault(rule, [0, 0])
                counts[0] += passed
                counts[1] += failed

    def as_dict(self) -> dict:
        """For `medallion run --format json`: `updated` and `duplicates_discarded` are null for flows
        that are not AUTO CDC (nothing is updated or discarded there)."""
        return {"read": self.input_rows, "written": self.written_rows,
                "updated": self.updated_rows if self.auto_cdc else None, "dropped": self.dropped_rows,
                "quarantined": self.quarantined_rows,
                "duplicates_discarded": self.deduplicated_rows if self.auto_cdc else None,
                "batches": self.batches,
                "expectations": {k: {"passed": v[0], "failed": v[1]} for k, v in self.expectations.items()}}
