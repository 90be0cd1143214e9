"""Expectation results per run, read from the local engine's event log without Spark.

The local engine appends DLT-shaped events to the Delta table `ops.event_log` (see
framework/engine/event_log.py for the shape; `details` is a VARIANT there, a JSON string in a Databricks
event log table). A `flow_progress` event carries, in its JSON `details`,
`flow_progress.data_quality.expectations = [{name, dataset, passed_records, failed_records}]`. We list
the table's live parquet files from its Delta log, read the four columns we need with pyarrow, and add
up passed/failed records per table, run (`origin.update_id`) and expectation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from framework.delta_log import DeltaLogError, read_snapshot

COLUMNS = ("timestamp", "event_type", "origin", "details")


@dataclass(frozen=True)
class ExpectationResult:
    """Records that passed and failed one expectation in one flow_progress event."""

    run_id: str
    timestamp: str
    """ISO 8601 UTC, so runs sort and print the same everywhere."""
    dataset: str
    name: str
    passed: int
    failed: int


@dataclass(frozen=True)
class RunQuality:
    """One pipeline run (DLT update) of one table: passed/failed records per expectation."""

    run_id: str
    started: str
    counts: tuple[tuple[str, int, int], ...]
    """(expectation, passed, failed), sorted by expectation."""

    def pass_rate(self, name: str) -> float | None:
        for expectation, passed, failed in self.counts:
            if expectation == name and passed + failed:
                return passed / (passed + failed)
        return None

    @property
    def records(self) -> int:
        """Records checked in this run (the largest count over expectations: each sees every row)."""
        return max((p + f for _, p, f in self.counts), default=0)


@dataclass(frozen=True)
class QualityHistory:
    """The recent runs of one table, oldest first, and the expectations seen in them."""

    table: str
    runs: tuple[RunQuality, ...]
    expectations: tuple[str, ...]

    @property
    def latest(self) -> RunQuality:
        return self.runs[-1]


def read_expectation_results(table_path: Path) -> list[ExpectationResult]:
    """Every expectation result in the event log at `table_path` (a Delta table folder)."""
    snapshot = read_snapshot(table_path, history=1)
    tables = []
    for path in snapshot.file_paths():
        try:
            schema = pq.read_schema(path)
            columns = [c for c in COLUMNS if c in schema.names]
            table = pq.read_table(path, columns=columns)
        except (OSError, pa.ArrowException) as exc:
            raise DeltaLogError(f"cannot read event log file {path}: {exc}") from None
        if "event_type" in table.column_names and "details" in table.column_names:
            tables.append(table.filter(pc.equal(table["event_type"], "flow_progress")))
    results: list[ExpectationResult] = []
    for table in tables:
        for row in table.to_pylist():
            results.extend(_results_of(row))
    return results


def _as_dict(value: Any) -> dict[str, Any]:
    """`details` is a VARIANT (the local engine), a JSON string (a Databricks log table) or a struct."""
    if isinstance(value, dict) and set(value) == {"value", "metadata"} and isinstance(value["value"], bytes):
        return _as_dict(_decode_variant(value["value"], value["metadata"]))
    if isinstance(value, dict):
        return value
    if isinstance(value, (str, bytes)):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _decode_variant(value: bytes, metadata: bytes) -> Any:
    """Parquet stores a VARIANT as two binaries; PySpark's pure-Python decoder reads them (no JVM)."""
    from pyspark.sql.variant_utils import VariantUtils

    try:
        return VariantUtils.to_python(value, metadata)
    except Exception:  # a damaged value: skip the event rather than fail the whole site
        return {}


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return str(value or "")


def _results_of(row: dict[str, Any]) -> list[ExpectationResult]:
    details = _as_dict(row.get("details"))
    expectations = ((details.get("flow_progress") or {}).get("data_quality") or {}).get("expectations") or []
    origin = _as_dict(row.get("origin"))
    timestamp = _iso(row.get("timestamp"))
    run_id = str(origin.get("update_id") or timestamp)
    out = []
    for item in expectations:
        if not isinstance(item, dict) or "name" not in item:
            continue
        dataset = str(item.get("dataset") or origin.get("dataset_name") or origin.get("flow_name") or "")
        out.append(ExpectationResult(run_id, timestamp, table_name(dataset), str(item["name"]),
                                     int(item.get("passed_records") or 0), int(item.get("failed_records") or 0)))
    return out


def table_name(dataset: str) -> str:
    """`main.silver.bars`, `silver.bars` or `` `bars` `` -> `bars`."""
    return dataset.replace("`", "").split(".")[-1]


def quality_by_table(results: Iterable[ExpectationResult], runs: int = 12) -> dict[str, QualityHistory]:
    """The newest `runs` runs with checked records, per table."""
    totals: dict[tuple[str, str], dict[str, list[int]]] = {}
    started: dict[tuple[str, str], str] = {}
    for r in results:
        key = (r.dataset, r.run_id)
        counts = totals.setdefault(key, {}).setdefault(r.name, [0, 0])
        counts[0] += r.passed
        counts[1] += r.failed
        started[key] = min(started.get(key, r.timestamp), r.timestamp)
    histories: dict[str, list[RunQuality]] = {}
    for (dataset, run_id), by_name in totals.items():
        if not any(p + f for p, f in by_name.values()):
            continue
        counts = tuple((name, p, f) for name, (p, f) in sorted(by_name.items()))
        histories.setdefault(dataset, []).append(RunQuality(run_id, started[(dataset, run_id)], counts))
    out = {}
    for dataset, history in sorted(histories.items()):
        recent = tuple(sorted(history, key=lambda q: (q.started, q.run_id))[-runs:])
        names = tuple(sorted({name for run in recent for name, _, _ in run.counts}))
        out[dataset] = QualityHistory(dataset, recent, names)
    return out
