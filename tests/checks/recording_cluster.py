"""A stand-in for a Databricks cluster's SparkSession that records every question the checks ask.

It answers `spark.sql(text).collect()`, `spark.catalog.tableExists(name)` and `spark.table(name).schema`
from canned per-table data keyed by the three-part Unity Catalog name, the way a cluster would, and keeps
every SQL text and every existence question, in order, so tests can assert the exact names and statements
used for an environment. Rows are real `pyspark.sql.Row`s and schemas real `StructType`s (no JVM needed),
read by index and by name as on Spark; a TIMESTAMP leaves the cluster as epoch microseconds (the reader
asks for `unix_micros`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from pyspark.sql import Row
from pyspark.sql.types import DateType, StringType, StructField, StructType, TimestampType

FROM = re.compile(r"\bFROM\s+((?:`(?:[^`]|``)+`\.?)+)")
"""The first `FROM <quoted name>` of a statement (the checks quote every name they query)."""


def unquote(quoted: str) -> str:
    return ".".join(part.replace("``", "`") for part in re.findall(r"`((?:[^`]|``)+)`", quoted))


@dataclass
class CannedTable:
    rows: int = 0
    duplicates: int = 0
    max_trade_date: date | None = None
    spans: list[dict[str, Any]] = field(default_factory=list)
    """Rows of the completeness span query (symbol, first, last, present)."""
    minutes: list[dict[str, Any]] = field(default_factory=list)
    """Rows of the 1-minute completeness query (symbol, trade_date, minutes)."""
    dates: dict[str, list[date]] = field(default_factory=dict)
    """The trading dates of each symbol, for the query listing a gappy symbol's missing sessions."""
    minute_sets: dict[tuple[str, date], list[int]] = field(default_factory=dict)
    """The bar times (epoch microseconds) of a (symbol, trade_date), for the query naming missing minutes."""
    reconcile: dict[str, int] = field(default_factory=dict)
    """The answer of the key reconciliation of the table reading this one (framework/checks/reconcile.py)."""


@dataclass
class RecordingCluster:
    tables: dict[str, CannedTable]
    """Unity Catalog name -> its data; a name not here does not exist."""
    events: list[tuple[Any, ...]] = field(default_factory=list)
    """Event log rows (update_id, timestamp, event_type, flow_name, dataset_name, details)."""
    event_log: str = ""
    sql_texts: list[str] = field(default_factory=list)
    exists_asked: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        cluster = self

        class Catalog:
            def tableExists(self, name: str) -> bool:  # noqa: N802 (Spark's name)
                cluster.exists_asked.append(name)
                return unquote(name) in cluster.tables or unquote(name) == cluster.event_log

        self.catalog = Catalog()
        self.conf_sets: list[tuple[str, str]] = []
        self.tables_asked: list[str] = []

    def table(self, name: str) -> "_Schema":
        """`spark.table(name)` as far as the reader uses it: the schema (the market tables' typed columns)."""
        self.tables_asked.append(name)
        if unquote(name) not in self.tables:
            raise RuntimeError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{unquote(name)}` cannot be found.")
        return _Schema(StructType([StructField("symbol", StringType()), StructField("trade_date", DateType()),
                                   StructField("ts", TimestampType()), StructField("timeframe", StringType())]))

    def _events(self, text: str) -> list[Row]:
        return _answer_events(self, text)

    def sql(self, text: str) -> "_Result":
        self.sql_texts.append(text)
        match = FROM.search(text)
        assert match, f"no quoted FROM name in {text!r}"
        name = unquote(match.group(1))
        if name == self.event_log:
            return _Result(self._events(text))
        table = self.tables.get(name)
        if table is None:
            raise RuntimeError(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{name}` cannot be found.")
        if "HAVING count(*) > 1" in text:
            return _Result([Row(count=table.duplicates)])
        if "max(`trade_date`) AS `latest`" in text and "GROUP BY" not in text:
            return _Result([Row(latest=table.max_trade_date)])
        if "collect_set(`trade_date`) AS `dates`" in text:
            return _Result([Row(symbol=s, dates=d) for s, d in table.dates.items() if f"'{s}'" in text])
        if "transform(collect_set(`ts`), t -> unix_micros(t)) AS `bars`" in text:
            return _Result([Row(symbol=s, trade_date=d, bars=m) for (s, d), m in table.minute_sets.items()
                            if f"('{s}', DATE'{d.isoformat()}')" in text])
        if "count(DISTINCT `trade_date`) AS `present`" in text:
            return _Result([Row(**span) for span in table.spans])
        if "count(DISTINCT `ts`) AS `minutes`" in text:
            return _Result([Row(**minute) for minute in table.minutes])
        if re.fullmatch(r"SELECT count\(\*\) FROM \S+", text.strip()):
            return _Result([Row(count=table.rows)])
        if "AS passing_keys" in text:  # the key reconciliation, whose first FROM is the upstream table
            return _Result([Row(**table.reconcile)])
        raise AssertionError(f"the stand-in does not know this statement: {text!r}")


def _events_where(text: str) -> tuple[str | None, str | None]:
    since = re.search(r"timestamp >= TIMESTAMP'([^']+)'", text)
    update = re.search(r"origin\.update_id = '([^']+)'", text)
    return (since.group(1) if since else None), (update.group(1) if update else None)


def _moment(text: str) -> datetime:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace(" ", "T", 1))
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _answer_events(cluster: "RecordingCluster", text: str) -> list[Row]:
    """The event log's answer, filtered as the statement asks (time floor, update), as Spark would."""
    if "LIMIT 1" in text and "'create_update'" in text:
        starts = sorted((t, u) for u, t, e, *_ in cluster.events if e == "create_update")
        return [Row(update_id=starts[-1][1], timestamp=starts[-1][0])] if starts else []
    since, update = _events_where(text)
    return [Row(update_id=u, timestamp=t, event_type=e, flow_name=f, dataset_name=d, details=x)
            for u, t, e, f, d, x in cluster.events
            if (since is None or _moment(t) >= _moment(since)) and (update is None or u == update)]


@dataclass
class _Schema:
    schema: StructType


@dataclass
class _Result:
    rows: list[Row]

    def collect(self) -> list[Row]:
        return self.rows


def flow_event(update_id: str, when: str, flow: str, details: dict[str, Any]) -> tuple[Any, ...]:
    """A flow_progress row as a Databricks event log holds it: the flow named with backticks, details JSON."""
    quoted = ".".join(f"`{part}`" for part in flow.split("."))
    return (update_id, when, "flow_progress", quoted, quoted, json.dumps({"flow_progress": details}))


def create_update(update_id: str, when: str) -> tuple[Any, ...]:
    return (update_id, when, "create_update", None, None, json.dumps({"create_update": {"cause": "JOB_TASK"}}))
