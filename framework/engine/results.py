"""What an update reports: the state of each flow and of the update, and the listener that watches it.

The statuses follow DLT's event log (flow_progress status, update_progress state) so the local
summary, the event log and a Databricks update read alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

from framework.engine.metrics import FlowMetrics

if TYPE_CHECKING:
    from framework.errors import ExpectationViolation
    from framework.spec.model import TableSpec


class FlowStatus(StrEnum):
    QUEUED = "QUEUED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    UP_TO_DATE = "UP_TO_DATE"
    """A materialized view whose inputs and definition did not change: nothing recomputed."""
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    """Not run: an upstream failed, or the update was stopping."""
    STOPPED = "STOPPED"


class UpdateStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


@dataclass
class FlowResult:
    table: str
    """Published name, e.g. silver.orders."""
    spec: "TableSpec"
    status: FlowStatus = FlowStatus.QUEUED
    metrics: FlowMetrics = field(default_factory=FlowMetrics)
    error: str | None = None
    seconds: float = 0.0
    attempts: int = 0
    violation: "ExpectationViolation | None" = None

    def __post_init__(self) -> None:
        # a de-duplicated streaming table is written by an AUTO CDC flow (framework.pipeline.register_table):
        # its summary tells updates from discarded duplicates even when no batch ran
        self.metrics.auto_cdc = bool(self.spec.dedupe_sequence_by and self.spec.is_streaming)

    @property
    def name(self) -> str:
        return self.spec.name

    def to_dict(self) -> dict[str, object]:
        return {"table": self.table, "name": self.name, "status": str(self.status), "seconds": round(self.seconds, 3),
                "attempts": self.attempts, "error": self.error, "metrics": self.metrics.as_dict()}


@dataclass(frozen=True)
class PendingInput:
    """An upstream left out of the run that has input it has not processed."""

    table: str
    """Spec name of the left-out upstream."""
    kind: str
    """`landing_files`, `upstream_data` or `inputs_changed`."""
    detail: str
    """What is pending, for people: `2 new landing file(s)`."""
    selected: tuple[str, ...]
    """The selected tables that read it (directly or not)."""
    count: int | None = None
    """New files, or table versions not consumed (None for a materialized view)."""

    @property
    def include(self) -> str:
        """The `--tables` value that runs the selected tables with their upstreams."""
        return ",".join(f"+{name}" for name in self.selected)

    @property
    def message(self) -> str:
        return (f"{self.table} has {self.detail} not in this run; run with --tables {self.include} "
                "to include its upstreams")

    def to_dict(self) -> dict[str, object]:
        return {"table": self.table, "kind": self.kind, "count": self.count, "detail": self.detail,
                "selected": list(self.selected), "include": f"--tables {self.include}", "message": self.message}


@dataclass
class RunResult:
    update_id: str
    env: str
    continuous: bool
    status: UpdateStatus = UpdateStatus.RUNNING
    flows: list[FlowResult] = field(default_factory=list)
    optimized: list[str] = field(default_factory=list)
    seconds: float = 0.0
    error: str | None = None
    """What failed outside any flow (writing the event log at the end), for people."""
    pending: list[PendingInput] = field(default_factory=list)
    """Upstreams a `--tables` selection left out that have unprocessed input (framework/engine/pending.py)."""

    @property
    def ok(self) -> bool:
        return self.status == UpdateStatus.COMPLETED or (self.status == UpdateStatus.CANCELED and not self.failed)

    @property
    def failed(self) -> list[FlowResult]:
        return [f for f in self.flows if f.status == FlowStatus.FAILED]

    def to_dict(self) -> dict[str, object]:
        """The update for tools (`medallion run --format json`)."""
        return {"update_id": self.update_id, "env": self.env, "status": str(self.status), "ok": self.ok,
                "continuous": self.continuous, "seconds": round(self.seconds, 3), "error": self.error,
                "optimized": list(self.optimized), "flows": [f.to_dict() for f in self.flows],
                "pending_upstreams": [p.to_dict() for p in self.pending]}

    def flow(self, name: str) -> FlowResult:
        """By spec name (`orders`) or published name (`silver.orders`)."""
        for result in self.flows:
            if name in (result.name, result.table):
                return result
        raise KeyError(name)


class RunListener:
    """Receives progress while a run executes (the CLI draws it). Every method may be called from the
    Spark callback thread of a streaming query."""

    def run_started(self, result: RunResult, flows: list[FlowResult]) -> None: ...
    def flow_started(self, result: FlowResult) -> None: ...
    def flow_progress(self, result: FlowResult, batch: FlowMetrics) -> None:
        """After each committed micro-batch; `result.metrics` are the totals so far."""
    def flow_finished(self, result: FlowResult) -> None: ...
    def message(self, text: str) -> None: ...
