"""What a check asks of a table, typed: `TableReader`, the questions, and the semantics every answer keeps.

A check never hands SQL text to whatever engine is at hand: it asks a `TableReader` a typed question —
does the table exist, how many rows (now or at a version), which version came last before a time, how
many key groups are duplicated, or an `Aggregation` (min / max / count / count-distinct / collect-set per
group, under simple equality, not-null and membership filters). Two readers answer them:

* `ArrowReader` (framework/checks/arrow_reader.py): the local runtime, from the Delta tables' files with
  `deltalake` + pyarrow — no JVM;
* `SparkReader` (framework/checks/spark_reader.py): a Databricks cluster's session (Unity Catalog names),
  or any SparkSession.

Both answer with Spark's semantics, so a check reads the same on either:

* values come back as Python values: a DATE as `datetime.date`, a TIMESTAMP as an aware UTC `datetime`
  (never the process's local time), a set as a `frozenset`;
* `min`, `max`, `count_distinct` and `collect_set` ignore NULLs; `min`/`max` of no value is None;
* grouping treats NULL keys as one group (a NULL key is a value of the key);
* an aggregation without `group_by` returns exactly one row, even over an empty table (counts 0,
  extremes None); with `group_by`, one row per group present (none for an empty table);
* a filter comparing with NULL is not true: `Equals` never matches a NULL, `In` never a tuple holding one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, Protocol, Sequence, Union

from framework.eventlog import EventHistory, UpdateStart
from framework.naming import TableRef

Function = Literal["min", "max", "count", "count_distinct", "collect_set"]
FUNCTIONS: tuple[str, ...] = ("min", "max", "count", "count_distinct", "collect_set")
Value = Union[str, int, float, bool, date, datetime, None]


@dataclass(frozen=True)
class Aggregate:
    """One output of an `Aggregation`: `function(column) AS name`; `count` of no column counts rows."""

    name: str
    function: Function
    column: str | None = None

    def __post_init__(self) -> None:
        if self.function not in FUNCTIONS:
            raise ValueError(f"unknown aggregate function `{self.function}` (known: {', '.join(FUNCTIONS)})")
        if self.column is None and self.function != "count":
            raise ValueError(f"`{self.function}` needs a column")


@dataclass(frozen=True)
class Equals:
    """`column = value` (a NULL never matches)."""

    column: str
    value: Value


@dataclass(frozen=True)
class NotNull:
    column: str


@dataclass(frozen=True)
class In:
    """`(columns...) IN (values...)`: the row's values of `columns` are one of the tuples of `values`."""

    columns: tuple[str, ...]
    values: tuple[tuple[Value, ...], ...]


Condition = Union[Equals, NotNull, In]


@dataclass(frozen=True)
class Aggregation:
    """`SELECT group_by..., aggregates... FROM table WHERE conditions (AND) GROUP BY group_by`."""

    aggregates: tuple[Aggregate, ...]
    group_by: tuple[str, ...] = ()
    where: tuple[Condition, ...] = ()

    @property
    def columns(self) -> list[str]:
        """Every column the aggregation reads, once, in a stable order."""
        named = [*self.group_by, *(a.column for a in self.aggregates if a.column)]
        for condition in self.where:
            named += list(condition.columns) if isinstance(condition, In) else [condition.column]
        return list(dict.fromkeys(named))


Row = dict[str, Any]
"""An aggregation's row: the group's key columns and the aggregates, by name."""


class TableReader(Protocol):
    """The typed questions the checks ask of tables and of the event log (see the module doc)."""

    def exists(self, ref: TableRef) -> bool:
        """Whether the table exists and this identity can see it."""

    def count(self, ref: TableRef, version: int | None = None) -> int:
        """Rows of the table, or of its Delta `version` (time travel)."""

    def last_version_before(self, ref: TableRef, moment: datetime) -> int | None:
        """The newest Delta version committed strictly before `moment`, None when there is none."""

    def duplicate_groups(self, ref: TableRef, columns: Sequence[str]) -> int:
        """How many distinct values of `columns` are on more than one row (NULL keys: one group)."""

    def aggregate(self, ref: TableRef, query: Aggregation) -> list[Row]:
        """The rows of `query` over the table, in no particular order."""

    def latest_update(self, log: TableRef) -> UpdateStart | None:
        """The event log's newest update (id and start), None when it has none."""

    def events(self, log: TableRef, since: datetime | None, update_id: str | None) -> EventHistory:
        """The event log's events from `since` on and/or of `update_id` (filters of the read)."""
