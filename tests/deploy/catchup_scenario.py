"""A continuous prod pipeline over (fake) time, served by the loopback workspace for the catch-up wait.

`Timeline` holds what a real workspace would: the landing volume's files (Files API), bronze rows with
their `_source_file` and `_ingested_at`, and a recorded event-log sequence. It answers the wait's SQL
statements as a SQL warehouse would (JSON_ARRAY strings), showing only what has happened by the fake
clock's `now`: a bronze row once its micro-batch committed, an event once it was written. The clock
never sleeps; `sleep` advances it and runs the hooks (e.g. an update turning FAILED at 22:03).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from .workspace_server import StatementFailure, WorkspaceServer

T0 = datetime(2026, 11, 27, 22, 0, tzinfo=timezone.utc)
"""The job run starts (17:00 New York): the wait's `--since`."""
CATALOG = "medallion_prod"
LANDING = f"/Volumes/{CATALOG}/bronze/landing"
EVENT_LOG = f"{CATALOG}.ops.pipeline_event_log"
COMMIT_SECONDS = 10
"""A bronze row becomes visible this long after its batch's `_ingested_at` (the batch commits)."""


def at(hms: str) -> datetime:
    """`22:04:10` on the run's day."""
    h, m, s = (int(x) for x in hms.split(":"))
    return T0.replace(hour=h, minute=m, second=s)


def iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class FakeClock:
    def __init__(self, start: datetime):
        self._now = start
        self.slept: list[float] = []
        self.hooks: list[tuple[datetime, Callable[[], None]]] = []

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self._now += timedelta(seconds=seconds)
        for when, hook in [h for h in self.hooks if h[0] <= self._now]:
            hook()
            self.hooks.remove((when, hook))

    def at(self, when: datetime, hook: Callable[[], None]) -> None:
        self.hooks.append((when, hook))


@dataclass
class Timeline:
    clock: FakeClock
    bronze: list[tuple[str, str, datetime]] = field(default_factory=list)
    """(table, _source_file as Databricks writes it, _ingested_at)."""
    events: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    """(timestamp, flow, flow_progress details)."""
    created: dict[str, datetime] = field(default_factory=dict)
    """Tables that do not exist before the given time (the pipeline creates them)."""
    flow_spelling: Callable[[str], str] = lambda flow: ".".join(f"`{p}`" for p in f"{CATALOG}.{flow}".split("."))
    """How the log writes a flow's name (default: the backticked Unity Catalog name)."""

    def install(self, server: WorkspaceServer) -> None:
        server.statement_handler = self.answer

    # --- recording the sequence ---------------------------------------------------------------
    def land(self, server: WorkspaceServer, folder: str, name: str, modified: datetime) -> str:
        path = f"{LANDING}/{folder}/{name}"
        server.add_file(path, int(modified.timestamp() * 1000))
        return path

    def ingest(self, table: str, path: str, when: datetime) -> None:
        self.bronze.append((f"{CATALOG}.bronze.{table}", "dbfs:" + path, when))

    def progress(self, when: datetime, flow: str, rows: int | None = None, status: str = "RUNNING",
                 **metrics: float) -> None:
        """An append flow's or a materialized view's event: `num_output_rows` (documented for those kinds)."""
        details: dict[str, Any] = {"status": status}
        if rows is not None or metrics:
            details["metrics"] = {**({"num_output_rows": rows} if rows is not None else {}), **metrics}
        self.events.append((when, flow, details))

    def cdc(self, when: datetime, flow: str, upserted: int, deleted: int = 0,
            expectations: dict[str, tuple[int, int]] | None = None, view: str = "", **metrics: float) -> None:
        """An AUTO CDC flow's event as documented: `num_upserted_rows` and `num_deleted_rows`, never
        `num_output_rows`; the expectations of the view it reads (`view`) under `data_quality`."""
        details: dict[str, Any] = {"status": "RUNNING", "metrics": {"num_upserted_rows": upserted,
                                                                   "num_deleted_rows": deleted, **metrics}}
        if expectations:
            details["data_quality"] = {
                "dropped_records": sum(failed for _, failed in expectations.values()),
                "expectations": [{"name": name, "dataset": view, "passed_records": passed, "failed_records": failed}
                                 for name, (passed, failed) in expectations.items()]}
        self.events.append((when, flow, details))

    # --- answering like a warehouse -----------------------------------------------------------
    def answer(self, sql: str) -> list[list[str | None]]:
        now = self.clock.now()
        table = ".".join(re.findall(r"`([^`]+)`", re.search(r"FROM\s+(\S+)", sql).group(1)))
        if table in self.created and now < self.created[table]:
            raise StatementFailure(f"[TABLE_OR_VIEW_NOT_FOUND] The table or view `{table}` cannot be found.")
        if table == EVENT_LOG:
            since = re.search(r"timestamp >= TIMESTAMP'([^']+)'", sql)
            assert since, f"every read of the event log is bounded by time: {sql}"
            floor = datetime.fromisoformat(since.group(1))
            assert floor.tzinfo is not None, f"the bound spells its time zone out: {sql}"
            return [["u-continuous", iso(when), "flow_progress", self.flow_spelling(flow), self.flow_spelling(flow),
                     json.dumps({"flow_progress": details})]
                    for when, flow, details in sorted(self.events, key=lambda e: e[0]) if floor <= when <= now]
        assert "_source_file" in sql and " IN (" in sql, sql
        wanted = set(re.findall(r"'([^']*)'", sql[sql.index(" IN ("):]))
        newest: dict[str, datetime] = {}
        for name, source_file, ingested in self.bronze:
            if name == table and source_file in wanted and ingested + timedelta(seconds=COMMIT_SECONDS) <= now:
                newest[source_file] = max(ingested, newest.get(source_file, ingested))
        return [[source_file, iso(ingested)] for source_file, ingested in sorted(newest.items())]
