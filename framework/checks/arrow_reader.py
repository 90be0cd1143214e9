"""`ArrowReader`: the checks' typed questions (framework/checks/reader.py) answered from the local runtime's
Delta folders with `deltalake` + pyarrow — no JVM.

The local runtime's tables are plain Delta folders (`TableRef.path`), a few thousand to a few hundred
thousand rows in the developer's loop: reading the few columns a question needs and aggregating them
with pyarrow takes milliseconds, where starting Spark takes 15-20 s. Time travel (`count` at a version)
and the table's history come from `deltalake`; the event log from its parquet files
(`framework.eventlog.read_with_arrow`).

A table whose protocol needs a reader feature `deltalake` cannot apply (deletion vectors: its count would
include deleted rows, its scan refuses) is not read here: its questions go to the fallback reader (the
local engine's Spark, started on first use), so a JVM-free answer is never a wrong one.

Spark's semantics are kept (framework/checks/reader.py): pyarrow's hash aggregation already groups NULL
keys as one group and its min/max/count/distinct skip NULLs; a filter's NULL comparison drops the row;
a TIMESTAMP with a time zone (Delta's TIMESTAMP: UTC instants) comes back as an aware UTC datetime.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from framework.checks.reader import Aggregate, Aggregation, Condition, Equals, In, NotNull, Row, TableReader
from framework.delta_log import is_delta_table
from framework.eventlog import EventHistory, UpdateStart, latest_update_with_arrow, read_with_arrow
from framework.naming import TableRef
from framework.utc import as_utc

if TYPE_CHECKING:
    import pyarrow as pa
    from deltalake import DeltaTable

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
GROUP = "_medallion_group"
"""The constant key an aggregation without `group_by` is grouped by (pyarrow groups, it does not reduce)."""
READER_FEATURES = frozenset({"timestampNtz"})
"""Delta reader features whose tables `deltalake` reads exactly (any other one: the fallback reader)."""
ARROW_FUNCTION = {"min": "min", "max": "max", "count": "count", "count_distinct": "count_distinct",
                  "collect_set": "distinct"}


class ArrowReader:
    """Answers from the Delta folders of the local runtime (see the module doc); `fallback` gives the reader
    for a table `deltalake` cannot read exactly (None: such a table raises)."""

    def __init__(self, fallback: Callable[[], TableReader] | None = None) -> None:
        self.fallback = fallback
        self._versions: dict[tuple[Path, int], "DeltaTable"] = {}
        """Loaded past versions (immutable). The latest snapshot is loaded at every question: a context may
        be asked again after the tables changed, and Spark would read the new version."""

    def exists(self, ref: TableRef) -> bool:
        return is_delta_table(ref.path)

    def readable(self, ref: TableRef) -> bool:
        """Whether `deltalake` reads the table exactly (its protocol needs no reader feature it lacks)."""
        return _reads_exactly(self._delta(ref))

    def _local(self, ref: TableRef, version: int | None = None) -> "DeltaTable | None":
        """The table (at `version`) when `deltalake` reads it exactly, loaded once for the question; None
        when the fallback reader must answer (without one, it raises)."""
        table = self._delta(ref, version)
        if _reads_exactly(table):
            return table
        if self.fallback is None:
            raise ValueError(f"{ref.published} needs a Delta reader feature deltalake lacks "
                             f"({', '.join(table.protocol().reader_features or ()) or 'column mapping'})")
        return None

    def _other(self) -> TableReader:
        """The fallback reader (`_local` has raised when there is none)."""
        assert self.fallback is not None
        return self.fallback()

    def count(self, ref: TableRef, version: int | None = None) -> int:
        if (table := self._local(ref, version)) is None:
            return self._other().count(ref, version)
        return int(table.count())

    def last_version_before(self, ref: TableRef, moment: datetime) -> int | None:
        bound = _epoch_micros(moment)  # commit times are milliseconds; `moment` may carry microseconds
        versions = [int(c["version"]) for c in self._delta(ref).history() if int(c["timestamp"]) * 1000 < bound]
        return max(versions) if versions else None

    def duplicate_groups(self, ref: TableRef, columns: Sequence[str]) -> int:
        import pyarrow.compute as pc

        if (delta := self._local(ref)) is None:
            return self._other().duplicate_groups(ref, columns)
        table = delta.to_pyarrow_table(columns=list(columns))
        if table.num_rows == 0:
            return 0
        counts = table.group_by(list(columns), use_threads=False).aggregate([([], "count_all")])
        return int(pc.sum(pc.greater(counts["count_all"], 1)).as_py() or 0)

    def aggregate(self, ref: TableRef, query: Aggregation) -> list[Row]:
        import pyarrow as pa

        if (delta := self._local(ref)) is None:
            return self._other().aggregate(ref, query)
        table = delta.to_pyarrow_table(columns=query.columns)
        for condition in query.where:
            table = table.filter(_mask(table, condition))
        keys = list(query.group_by)
        if not keys:
            table = table.append_column(GROUP, pa.array([0] * table.num_rows, pa.int8()))
        specs, names = _arrow_aggregates(query.aggregates)
        grouped = table.group_by(keys or [GROUP], use_threads=False).aggregate(specs)
        rows = [{**{k: _value(row[k]) for k in keys},
                 **{a.name: _output(a, row[names[a]]) for a in query.aggregates}} for row in grouped.to_pylist()]
        if not keys and not rows:  # Spark: a global aggregate has one row, even over no row
            rows = [{a.name: _output(a, 0 if a.function in ("count", "count_distinct") else None)
                     for a in query.aggregates}]
        return rows

    def latest_update(self, log: TableRef) -> UpdateStart | None:
        if self._local(log) is None:
            return self._other().latest_update(log)
        return latest_update_with_arrow(log.path)

    def events(self, log: TableRef, since: datetime | None, update_id: str | None) -> EventHistory:
        if self._local(log) is None:
            return self._other().events(log, since, update_id)
        return read_with_arrow(log.path, since=since, update_id=update_id)

    def _delta(self, ref: TableRef, version: int | None = None) -> "DeltaTable":
        from deltalake import DeltaTable

        if version is None:
            return DeltaTable(str(ref.path))
        key = (ref.path, version)
        if key not in self._versions:
            self._versions[key] = DeltaTable(str(ref.path), version=version)
        return self._versions[key]


def _reads_exactly(table: "DeltaTable") -> bool:
    """Whether the table's protocol needs no reader feature `deltalake` lacks (see the module doc)."""
    protocol = table.protocol()
    return protocol.min_reader_version < 2 or (
        protocol.min_reader_version == 3 and set(protocol.reader_features or ()) <= READER_FEATURES)


def _arrow_aggregates(aggregates: Sequence[Aggregate]) -> tuple[list[tuple[Any, str]], dict[Aggregate, str]]:
    """pyarrow's aggregation list (each distinct one once) and the output column of each `Aggregate`."""
    specs: list[tuple[Any, str]] = []
    names: dict[Aggregate, str] = {}
    for aggregate in aggregates:
        if aggregate.function == "count" and aggregate.column is None:
            spec, name = ([], "count_all"), "count_all"
        else:
            function = ARROW_FUNCTION[aggregate.function]
            spec, name = (aggregate.column, function), f"{aggregate.column}_{function}"
        if spec not in specs:
            specs.append(spec)
        names[aggregate] = name
    return specs, names


def _mask(table: "pa.Table", condition: Condition) -> "pa.ChunkedArray | pa.Array":
    """The rows `condition` holds for (NULL comparisons are not true: those rows are dropped)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(condition, NotNull):
        return pc.is_valid(table[condition.column])
    if isinstance(condition, Equals):
        if condition.value is None:
            return pa.array([False] * table.num_rows)
        column = table[condition.column]
        return pc.equal(column, pa.scalar(condition.value, type=column.type))
    if isinstance(condition, In):
        wanted = {tuple(v) for v in condition.values if all(x is not None for x in v)}
        mask = pa.array([True] * table.num_rows)
        for i, name in enumerate(condition.columns):  # narrow by each column, then the exact tuples
            column = table[name]
            values = pa.array(sorted({v[i] for v in wanted}, key=repr), type=column.type)
            mask = pc.and_(mask, pc.is_in(column, value_set=values, skip_nulls=True))
        candidates = table.filter(mask).select(list(condition.columns)).to_pylist()
        exact = iter(tuple(_value(r[c]) for c in condition.columns) in wanted for r in candidates)
        return pa.array([bool(m) and next(exact) for m in mask.to_pylist()])
    raise TypeError(f"not a condition: {condition!r}")


def _output(aggregate: Aggregate, value: Any) -> Any:
    if aggregate.function == "collect_set":
        return frozenset(_value(v) for v in (value or ()) if v is not None)
    return _value(value)


def _value(value: Any) -> Any:
    """An aware datetime as UTC (pyarrow gives the column's zone); everything else as pyarrow gives it."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    return value


def _epoch_micros(moment: datetime) -> int:
    return (as_utc(moment) - EPOCH) // timedelta(microseconds=1)
