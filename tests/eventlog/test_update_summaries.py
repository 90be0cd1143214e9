"""One line per pipeline update (`medallion runs`): the event log's create_update, update_progress and
flow_progress events, parsed by the one parser every reader shares ("Pipeline event log schema":
`details.update_progress.state`)."""

from __future__ import annotations

import json

from framework.eventlog import events_sql, parse_events, update_summaries


def event(update: str, at: str, kind: str, details: dict, flow: str | None = None) -> tuple:
    return (update, at, kind, flow, flow, json.dumps(details))


def flow(update: str, at: str, name: str, status: str, **metrics: int) -> tuple:
    progress: dict = {"status": status}
    if metrics:
        progress["metrics"] = metrics
    return event(update, at, "flow_progress", {"flow_progress": progress}, name)


ROWS = [
    event("u1", "2026-12-01T10:00:00Z", "create_update", {"create_update": {"cause": "USER_ACTION"}}),
    event("u1", "2026-12-01T10:00:01Z", "update_progress", {"update_progress": {"state": "RUNNING"}}),
    flow("u1", "2026-12-01T10:00:05Z", "bronze.orders_raw", "RUNNING", num_output_rows=10),
    flow("u1", "2026-12-01T10:00:06Z", "silver.orders", "RUNNING", num_upserted_rows=7, num_deleted_rows=0),
    flow("u1", "2026-12-01T10:00:06Z", "silver.orders_quarantine", "RUNNING", num_output_rows=3),
    flow("u1", "2026-12-01T10:00:07Z", "gold.totals", "FAILED"),
    event("u1", "2026-12-01T10:00:09Z", "update_progress", {"update_progress": {"state": "FAILED"}}),
    event("u2", "2026-12-01T11:00:00Z", "create_update", {"create_update": {"full_refresh": True}}),
    event("u2", "2026-12-01T11:00:01Z", "update_progress", {"update_progress": {"state": "RUNNING"}}),
]


def test_each_update_says_how_it_ended_and_what_it_processed():
    first, second = update_summaries(parse_events(ROWS))
    assert (first.update_id, first.state, first.ended) == ("u1", "FAILED", "2026-12-01T10:00:09.000000Z")
    assert first.started == "2026-12-01T10:00:00.000000Z"
    assert first.tables == ("orders", "orders_raw", "totals")  # the quarantine flow folded into its table
    assert first.failed == ("totals",)
    assert first.rows_written == 10 + 7  # appended rows + upserted keys; quarantined rows are not written
    assert not first.full_refresh
    # still running (or crashed before its last event): no end
    assert (second.state, second.ended, second.full_refresh, second.tables) == ("RUNNING", None, True, ())


def test_an_update_without_update_progress_has_no_state():
    (only,) = update_summaries(parse_events(ROWS[:1]))
    assert (only.state, only.ended) == (None, None)


def test_the_sql_readers_select_update_progress_events_too():
    assert "'update_progress'" in events_sql("`c`.`ops`.`log`")
