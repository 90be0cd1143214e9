"""`SparkReader`: the checks' typed questions (framework/checks/reader.py) answered by a SparkSession.

On Databricks this is the cluster's own session and every name is a Unity Catalog three-part name
(`TableRef.quoted`); it works on any SparkSession (the local engine's too, which the tests use to hold
both readers to the same answers). Each question is one statement, built from quoted names and typed
literals only.

A TIMESTAMP leaves Spark as epoch microseconds (`unix_micros`) and becomes an aware UTC `datetime` here:
PySpark would turn it into a naive datetime in the *process's* local time zone. Which columns are
TIMESTAMPs is read from the table's schema (`spark.table(name).schema`: an analysis, no job).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, Sequence

from framework.checks.reader import Aggregate, Aggregation, Condition, Equals, In, NotNull, Row, Value
from framework.eventlog import EventHistory, UpdateStart, latest_update, read_with_spark
from framework.naming import TableRef, quote_name, sql_string
from framework.utc import as_utc

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class SparkReader:
    """Answers through `spark` (see the module doc)."""

    def __init__(self, spark: "SparkSession") -> None:
        self.spark = spark
        self._timestamps: dict[str, frozenset[str]] = {}

    def exists(self, ref: TableRef) -> bool:
        try:
            return bool(self.spark.catalog.tableExists(ref.quoted))
        except Exception:  # an unknown catalog or schema, or no USE privilege on it: not there for us
            return False

    def count(self, ref: TableRef, version: int | None = None) -> int:
        at = f" VERSION AS OF {int(version)}" if version is not None else ""
        return int(self._scalar(f"SELECT count(*) FROM {ref.quoted}{at}"))

    def last_version_before(self, ref: TableRef, moment: datetime) -> int | None:
        history = self.spark.sql(f"DESCRIBE HISTORY {ref.quoted}")
        row = history.where(f"timestamp < {_timestamp(moment)}").selectExpr("max(version) AS version").collect()[0]
        return None if row["version"] is None else int(row["version"])

    def duplicate_groups(self, ref: TableRef, columns: Sequence[str]) -> int:
        quoted = ", ".join(quote_name(c) for c in columns)
        return int(self._scalar(f"SELECT count(*) FROM (SELECT {quoted} FROM {ref.quoted} "
                                f"GROUP BY {quoted} HAVING count(*) > 1)"))

    def aggregate(self, ref: TableRef, query: Aggregation) -> list[Row]:
        timestamps = self._timestamp_columns(ref)
        keys = [_select(quote_name(c), c, c in timestamps, False) for c in query.group_by]
        outputs = [_output(a, a.column in timestamps) for a in query.aggregates]
        where = " AND ".join(_condition(c) for c in query.where)
        group = ", ".join(quote_name(c) for c in query.group_by)
        sql = (f"SELECT {', '.join([*keys, *outputs])} FROM {ref.quoted}"
               + (f" WHERE {where}" if where else "") + (f" GROUP BY {group}" if group else ""))
        rows = self.spark.sql(sql).collect()
        converted = {**{c: c in timestamps for c in query.group_by},
                     **{a.name: a.column in timestamps and a.function in ("min", "max", "collect_set")
                        for a in query.aggregates}}
        sets = {a.name for a in query.aggregates if a.function == "collect_set"}
        return [{name: _value(row[name], converted[name], name in sets) for name in converted} for row in rows]

    def latest_update(self, log: TableRef) -> UpdateStart | None:
        return latest_update(lambda sql: [tuple(r) for r in self.spark.sql(sql).collect()], log.quoted)

    def events(self, log: TableRef, since: datetime | None, update_id: str | None) -> EventHistory:
        return read_with_spark(self.spark, log.quoted, since=since, update_id=update_id)

    def _scalar(self, sql: str) -> Any:
        return self.spark.sql(sql).collect()[0][0]

    def _timestamp_columns(self, ref: TableRef) -> frozenset[str]:
        """The table's TIMESTAMP columns (asked once per table)."""
        if ref.published not in self._timestamps:
            from pyspark.sql.types import TimestampType

            schema = self.spark.table(ref.quoted).schema
            self._timestamps[ref.published] = frozenset(f.name for f in schema.fields
                                                        if isinstance(f.dataType, TimestampType))
        return self._timestamps[ref.published]


def _output(aggregate: Aggregate, timestamp: bool) -> str:
    column = quote_name(aggregate.column) if aggregate.column else "*"
    function = aggregate.function
    if function == "count_distinct":
        return f"count(DISTINCT {column}) AS {quote_name(aggregate.name)}"
    expression = f"{function}({column})"
    return _select(expression, aggregate.name, timestamp and function != "count", function == "collect_set")


def _select(expression: str, name: str, timestamp: bool, is_set: bool) -> str:
    if timestamp:
        expression = f"transform({expression}, t -> unix_micros(t))" if is_set else f"unix_micros({expression})"
    return f"{expression} AS {quote_name(name)}"


def _condition(condition: Condition) -> str:
    if isinstance(condition, Equals):
        return f"{quote_name(condition.column)} = {_literal(condition.value)}"
    if isinstance(condition, NotNull):
        return f"{quote_name(condition.column)} IS NOT NULL"
    if isinstance(condition, In):
        # a tuple holding a NULL never matches (and Spark refuses a struct of VOID among typed ones)
        matchable = [values for values in condition.values if all(v is not None for v in values)]
        if not matchable:
            return "false"
        if len(condition.columns) == 1:
            return f"{quote_name(condition.columns[0])} IN ({', '.join(_literal(v[0]) for v in matchable)})"
        columns = ", ".join(quote_name(c) for c in condition.columns)
        tuples = ", ".join("(" + ", ".join(_literal(v) for v in values) + ")" for values in matchable)
        return f"({columns}) IN ({tuples})"
    raise TypeError(f"not a condition: {condition!r}")


def _literal(value: Value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _timestamp(value)
    if isinstance(value, date):
        return f"DATE{sql_string(value.isoformat())}"
    if isinstance(value, (int, float)):
        return repr(value)
    return sql_string(str(value))


def _timestamp(moment: datetime) -> str:
    """UTC spelt out to the microsecond, whatever the session's time zone."""
    return f"TIMESTAMP'{as_utc(moment).strftime('%Y-%m-%d %H:%M:%S.%f')}+00:00'"


def _value(value: Any, timestamp: bool, is_set: bool) -> Any:
    if is_set:
        return frozenset(_value(v, timestamp, False) for v in (value or ()) if v is not None)
    if timestamp and value is not None:
        return EPOCH + timedelta(microseconds=int(value))
    return value

