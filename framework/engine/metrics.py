"""Row counts of a flow, accumulated over its micro-batches.

Every row a flow reads ends in exactly one place, so for streaming tables
`read = written + dropped + quarantined + deduplicated` — the reconciliation the quality checks use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field


@dataclass
class FlowMetrics:
    input_rows: int = 0
    """Rows the flow read (for a materialized view: rows its query produced)."""
    output_rows: int = 0
    """Rows that passed the expectations and went to the target (before de-duplication)."""
    written_rows: int = 0
    """Net new rows in the target: appended rows, rows inserted by the merge, or the view's size."""
    dropped_rows: int = 0
    """Removed by `drop` expectations (not counting quarantined rows)."""
    quarantined_rows: int = 0
    deduplicated_rows: int = 0
    """Rows that did not become a new row because a row with the same keys and a later sequence won."""
    upserted_rows: int = 0
    expectations: dict[str, list[int]] = field(default_factory=dict)
    """rule name -> [passed, failed]"""
    batches: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, other: "FlowMetrics") -> None:
        with self._lock:
            for name in ("input_rows", "output_rows", "written_rows", "dropped_rows", "quarantined_rows",
                         "deduplicated_rows", "upserted_rows", "batches"):
                setattr(self, name, getattr(self, name) + getattr(other, name))
            for rule, (passed, failed) in other.expectations.items():
                counts = self.expectations.setdefault(rule, [0, 0])
                counts[0] += passed
                counts[1] += failed

    def as_dict(self) -> dict:
        return {"read": self.input_rows, "written": self.written_rows, "dropped": self.dropped_rows,
                "quarantined": self.quarantined_rows, "deduplicated": self.deduplicated_rows,
                "batches": self.batches,
                "expectations": {k: {"passed": v[0], "failed": v[1]} for k, v in self.expectations.items()}}
