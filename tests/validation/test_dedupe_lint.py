"""`validate` warns on streaming silver/gold tables that declare keys without `dedupe` (issue 12, case 4):
such a table appends every row its source delivers, so a key that arrives twice is stored twice and the
quality checks fail on it. A warning, not an error: the spec still runs."""

from __future__ import annotations

from tests.validation.spec_project import DAILY_SPEND, EVENTS, RAW_EVENTS, SpecProject, at
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

NO_DEDUPE = EVENTS.replace("dedupe: {sequence_by: ts}\n", "")


def _warnings(project: SpecProject) -> list:
    return [f for f in project.load().findings if f.severity == "warning"]


def test_streaming_silver_with_keys_and_no_dedupe_is_warned(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", NO_DEDUPE)
    project = pipeline.load()
    assert project.ok  # a warning does not make the project invalid
    [warning] = _warnings(pipeline)
    assert (warning.file, warning.line, warning.column) == ("tables/silver/events.yaml", *at(text, "keys:"))
    assert (warning.severity, warning.code, warning.doc_path) == ("warning", "lint", "keys")
    assert warning.message == ("keys event_id without `dedupe`: this streaming table appends every row `raw_events` "
                               "delivers, so a key that arrives twice is stored twice (and `medallion check` fails "
                               "on duplicate keys)")
    assert warning.hint == ("add `dedupe: {sequence_by: _ingested_at}` to keep the latest row per key (and declare "
                            "`_ingested_at` TIMESTAMP and select it: the upstream has it)")


def test_the_hint_names_a_declared_ingestion_time(pipeline: SpecProject) -> None:
    spec = NO_DEDUPE.replace("  - {name: ts, type: TIMESTAMP}", "  - {name: ts, type: TIMESTAMP}\n"
                             "  - {name: _ingested_at, type: TIMESTAMP}").replace("amount, ts\n", "amount, ts, _ingested_at\n")
    pipeline.table("silver", "events", spec)
    [warning] = _warnings(pipeline)
    assert warning.hint == "add `dedupe: {sequence_by: _ingested_at}` to keep the latest row per key"


def test_without_an_ingestion_time_upstream_a_timestamp_column_is_suggested(pipeline: SpecProject) -> None:
    pipeline.table("silver", "clean_events", EVENTS.replace("name: events", "name: clean_events")
                   .replace("tables: [raw_events]", "tables: [events]").replace("dedupe: {sequence_by: ts}\n", ""))
    [warning] = _warnings(pipeline)
    assert warning.hint == "add `dedupe: {sequence_by: ts}` to keep the latest row per key"


def test_no_warning_where_duplicates_cannot_arrive(project: SpecProject) -> None:
    project.table("bronze", "raw_events", RAW_EVENTS)  # bronze keeps raw duplicates on purpose
    project.table("silver", "events", EVENTS)  # de-duplicated
    project.table("gold", "daily_spend", DAILY_SPEND)  # batch: a materialized view, recomputed
    project.table("silver", "events_nokeys", NO_DEDUPE.replace("name: events", "name: events_nokeys")
                  .replace("keys: [event_id]\n", ""))
    assert project.load().findings == []
