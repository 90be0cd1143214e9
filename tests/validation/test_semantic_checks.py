"""Checks beyond the schema, each fed a broken spec: names, references, cycles, layers, columns,
variables, Python references. Every finding is asserted with its location and hint."""

from __future__ import annotations

import pytest

from tests.validation.spec_project import DAILY_SPEND, EVENTS, RAW_EVENTS, at, SpecProject
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

SILVER = "tables/silver/events.yaml"
GOLD = "tables/gold/daily_spend.yaml"


# ---------------------------------------------------------------------------------------------- names

def test_duplicate_table_names_across_layers(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "raw_events", DAILY_SPEND.replace("name: daily_spend", "name: raw_events"))
    finding = pipeline.one("tables/gold/raw_events.yaml")
    assert (finding.line, finding.column) == at(text, "raw_events")
    assert finding.doc_path == "name"
    assert finding.message == "table name `raw_events` is already used by tables/bronze/raw_events.yaml"
    assert finding.hint == "table names are unique across all layers"


def test_name_must_match_the_file_name(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("name: events", "name: clean_events"))
    finding = next(f for f in pipeline.errors() if "file name" in f.message)
    assert (finding.file, finding.line, finding.column) == (SILVER, *at(text, "clean_events"))
    assert finding.message == "table name `clean_events` does not match its file name `events.yaml`"
    assert finding.hint == "rename the file to clean_events.yaml or set name: events"


def test_layer_must_match_the_folder(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS)
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("layer: gold", "layer: silver"))
    finding = next(f for f in pipeline.errors() if "folder" in f.message)
    assert (finding.file, finding.line, finding.column) == (GOLD, *at(text, "silver"))
    assert finding.doc_path == "layer"
    assert finding.message == "layer `silver` does not match its folder tables/gold/"
    assert finding.hint == "move the file to tables/silver/ or set layer: gold"


# ---------------------------------------------------------------------------------------------- references

def test_unknown_upstream_table_suggests_the_close_name(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [event]"))
    finding = pipeline.one()
    assert (finding.file, finding.line, finding.column) == (GOLD, *at(text, "event]"))
    assert finding.doc_path == "source.tables[0]"
    assert finding.message == "upstream table `event` does not exist"
    assert finding.hint == "did you mean `events`?"


def test_missing_upstream_without_a_close_name_lists_known_tables(pipeline: SpecProject) -> None:
    pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [zebra]"))
    finding = pipeline.one()
    assert finding.message == "upstream table `zebra` does not exist"
    assert finding.hint == "known tables: daily_spend, events, raw_events"


def test_unknown_table_in_a_sql_source(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND.replace(
        "  tables: [events]\n  mode: batch\n",
        "  sql: |\n    SELECT user_id, ts, amount FROM evnets\n").replace("FROM source\n", "FROM source\n"))
    finding = pipeline.one()
    assert (finding.file, finding.line, finding.column) == (GOLD, *at(text, "SELECT user_id, ts"))
    assert finding.doc_path == "source.sql"
    assert finding.message == "SQL source reads unknown table `evnets`"
    assert finding.hint == "did you mean `events`?"


def test_an_invalid_upstream_does_not_cascade_into_missing_table_errors(pipeline: SpecProject) -> None:
    """A typo in events.yaml is one error, not also 'upstream `events` does not exist' in its readers."""
    pipeline.table("silver", "events", EVENTS.replace("expectations:", "expectatons:"))
    errors = pipeline.errors()
    assert [f.message for f in errors] == ["unknown key `expectatons`"]


def test_cycle_is_named(project: SpecProject) -> None:
    project.table("bronze", "raw_events", RAW_EVENTS)
    a = EVENTS.replace("name: events", "name: a").replace("tables: [raw_events]", "tables: [b]")
    b = EVENTS.replace("name: events", "name: b").replace("tables: [raw_events]", "tables: [a]")
    text_a = project.table("silver", "a", a)
    project.table("silver", "b", b)
    finding = project.one()
    assert finding.code == "cycle"
    assert finding.message == "tables depend on each other in a cycle: a -> b -> a"
    assert (finding.file, finding.line, finding.doc_path) == ("tables/silver/a.yaml", at(text_a, "source:")[0], "source")
    assert finding.hint == "break the cycle by removing one of these sources"


def test_self_reference(project: SpecProject) -> None:
    project.table("bronze", "raw_events", RAW_EVENTS)
    text = project.table("silver", "events", EVENTS.replace("tables: [raw_events]", "tables: [events]"))
    messages = {(f.message, f.line) for f in project.errors()}
    assert ("a table cannot read itself", at(text, "events]")[0]) in messages
    assert ("tables depend on each other in a cycle: events -> events", at(text, "source:")[0]) in messages


# ---------------------------------------------------------------------------------------------- layers

def test_gold_may_not_read_bronze(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [raw_events]"))
    finding = pipeline.one()
    assert (finding.file, finding.line, finding.column) == (GOLD, *at(text, "raw_events"))
    assert finding.doc_path == "source.tables[0]"
    assert finding.message == "gold table reads bronze table `raw_events`; gold may read only from silver, gold"
    assert finding.hint == "change the source, or the environment's `layer_rules`"


def test_silver_may_not_read_files(pipeline: SpecProject) -> None:
    source = "  files:\n    path: ${landing_path}/events\n    format: json\n"
    text = pipeline.table("silver", "events", EVENTS.replace("  tables: [raw_events]\n", source)
                          .replace("SELECT event_id, user_id, amount, ts", "SELECT *"))  # keeps the file columns
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "path:")
    assert finding.doc_path == "source.files"
    assert finding.message == "silver tables may not read landing files"
    assert finding.hint == "silver reads from: bronze, silver"


def test_layer_rules_are_configurable_per_environment(pipeline: SpecProject) -> None:
    pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [raw_events]"))
    assert len(pipeline.errors()) == 1
    pipeline.write("environments/local.yaml", "name: local\nvariables: {events_folder: e}\n"
                   "layer_rules:\n  gold: [bronze, silver, gold]\n")
    assert pipeline.errors() == []


def test_environments_with_different_layer_rules_are_named(pipeline: SpecProject) -> None:
    pipeline.table("gold", "daily_spend", DAILY_SPEND.replace("tables: [events]", "tables: [raw_events]"))
    pipeline.write("environments/dev.yaml", "name: dev\nvariables: {events_folder: e}\n"
                   "layer_rules:\n  gold: [bronze, silver, gold]\n")
    finding = pipeline.one()
    assert finding.message.endswith("gold may read only from silver, gold in environment `local`")
    assert pipeline.errors(env="dev") == []


# ---------------------------------------------------------------------------------------------- columns

@pytest.mark.parametrize("field, line_text, bad", [
    ("keys", "keys: [event_id]", "keys: [evnet_id]"),
    ("zorder_by", "zorder_by: [user_id]", "zorder_by: [evnet_id]"),
    ("partition_by", "zorder_by: [user_id]", "partition_by: [evnet_id]"),
    ("cluster_by", "zorder_by: [user_id]", "cluster_by: [evnet_id]"),
])
def test_layout_and_key_columns_must_be_declared(pipeline: SpecProject, field: str, line_text: str, bad: str) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace(line_text, bad))
    finding = pipeline.one()
    assert (finding.file, finding.line, finding.column) == (SILVER, *at(text, "evnet_id"))
    assert finding.doc_path == f"{field}[0]"
    assert finding.message == f"`{field}` names column `evnet_id`, which is not declared"
    assert finding.hint == "did you mean `event_id`?"


def test_dedupe_sequence_column_must_be_declared(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("dedupe: {sequence_by: ts}", "dedupe:\n  sequence_by: tss"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "tss")
    assert finding.doc_path == "dedupe.sequence_by"
    assert finding.message == "`sequence_by` names column `tss`, which is not declared"
    assert finding.hint == "did you mean `ts`?"


def test_expectation_columns_must_be_declared(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("rule: amount > 0", "rule: amont > 0"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "amont")
    assert finding.doc_path == "expectations[0].rule"
    assert finding.message == "rule uses column `amont`, which is not declared"
    assert finding.hint == "did you mean `amount`?"


def test_metadata_columns_exist_only_for_tables_read_from_files(pipeline: SpecProject) -> None:
    bronze = RAW_EVENTS.replace("rule: event_id IS NOT NULL", "rule: _rescued_data IS NULL")
    pipeline.table("bronze", "raw_events", bronze)
    assert pipeline.errors() == []
    pipeline.table("silver", "events", EVENTS.replace("rule: amount > 0", "rule: _rescued_data IS NULL"))
    assert pipeline.one().message == "rule uses column `_rescued_data`, which is not declared"


def test_zorder_and_cluster_by_are_exclusive(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS + "cluster_by: [user_id]\n")
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "cluster_by")
    assert finding.doc_path == "cluster_by"
    assert finding.message == "`zorder_by` and `cluster_by` cannot both be set"
    assert finding.hint == "liquid clustering replaces Z-ordering; keep one of them"


def test_cluster_by_auto_validates_and_names_no_columns(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("zorder_by: [user_id]", "cluster_by: auto"))
    assert pipeline.errors() == []
    spec = pipeline.load().tables["events"]
    assert (spec.cluster_by, spec.cluster_by_auto) == ((), True)


def test_zorder_and_cluster_by_auto_are_exclusive(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS + "cluster_by: auto\n")
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "cluster_by")
    assert finding.message == "`zorder_by` and `cluster_by` cannot both be set"


@pytest.mark.parametrize("value, message, hint", [
    ("automatic", '"automatic" is not a list or `auto`', "did you mean `auto`?"),
    ("3", "expected a list or `auto`, got an integer", "Liquid clustering: a list of columns, or `auto`."),
    ("[user_id, user_id]", '["user_id","user_id"] has non-unique elements', "Liquid clustering columns."),
])
def test_cluster_by_is_a_column_list_or_auto(pipeline: SpecProject, value: str, message: str, hint: str) -> None:
    """A value fitting neither form names what is wrong with it (not "valid under none of the schemas")."""
    text = pipeline.table("silver", "events", EVENTS.replace("zorder_by: [user_id]", f"cluster_by: {value}"))
    finding = pipeline.one()
    assert (finding.doc_path, finding.message) == ("cluster_by", message)
    assert finding.hint.startswith(hint) and (finding.line, finding.column) == at(text, value)


def test_duplicate_column_and_bad_type(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace(
        "  - {name: ts, type: TIMESTAMP}", "  - {name: ts, type: TIMESTAMPZ}\n  - {name: amount, type: DOUBLE}"))
    messages = {(f.doc_path, f.message.split(":")[0], f.line) for f in pipeline.errors()}
    assert ("columns[4].name", "column `amount` is declared twice", at(text, "{name: amount", 2)[0]) in messages
    assert ("columns[3].type", "`TIMESTAMPZ` is not a Spark SQL type", at(text, "TIMESTAMPZ")[0]) in messages


def test_struct_fields_in_rules_resolve_to_their_column(pipeline: SpecProject) -> None:
    text = EVENTS.replace("  - {name: ts, type: TIMESTAMP}",
                          "  - {name: ts, type: TIMESTAMP}\n  - {name: device, type: 'STRUCT<os: STRING>'}")
    pipeline.table("silver", "events", text.replace("rule: amount > 0", "rule: device.os IN ('ios', 'android')")
                   .replace("amount, ts\n", "amount, ts, named_struct('os', 'ios') AS device\n"))
    assert pipeline.errors() == []


# ---------------------------------------------------------------------------------------------- variables

def test_unknown_variable_is_an_error_per_environment(pipeline: SpecProject) -> None:
    text = pipeline.table("bronze", "raw_events", RAW_EVENTS.replace("${events_folder}", "${event_folder}"))
    finding = pipeline.one()
    assert (finding.file, finding.line, finding.column) == ("tables/bronze/raw_events.yaml", *at(text, "${landing_path}"))
    assert finding.doc_path == "source.files.path"
    assert finding.message == "unknown variable `${event_folder}` in environment `local`"
    assert finding.hint == "did you mean `events_folder`?"


def test_variable_missing_in_one_environment_only(pipeline: SpecProject) -> None:
    pipeline.write("environments/prod.yaml", "name: prod\nruntime: databricks\n")
    finding = pipeline.one()
    assert finding.message == "unknown variable `${events_folder}` in environment `prod`"
    assert finding.hint == "define it under `variables:` in environments/prod.yaml"
    assert pipeline.errors(env="local") == []


def test_variables_in_sql_are_checked(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("FROM source", "FROM source WHERE user_id <> '${blocked}'"))
    assert pipeline.one().message == "unknown variable `${blocked}` in environment `local`"


# ---------------------------------------------------------------------------------------------- python

def _python_transform(pipeline: SpecProject, reference: str) -> str:
    return pipeline.table("silver", "events", EVENTS.replace(
        "  sql: |\n    SELECT event_id, user_id, amount, ts\n    FROM source\n", f"  python: {reference}\n"))


def test_python_transform_resolving_to_a_function_is_valid(pipeline: SpecProject) -> None:
    pipeline.write("transforms/clean.py", "def clean_events(df):\n    return df\n")
    _python_transform(pipeline, "transforms.clean:clean_events")
    assert pipeline.errors() == []


def test_python_transform_missing_function(pipeline: SpecProject) -> None:
    pipeline.write("transforms/clean.py", "def clean_events(df):\n    return df\n")
    text = _python_transform(pipeline, "transforms.clean:clean_event")
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "transforms.clean")
    assert finding.doc_path == "transform.python"
    assert finding.message == "module `transforms.clean` (clean.py) has no top-level `clean_event`"
    assert finding.hint == "write it as `package.module:function`, importable from the project root"


def test_python_transform_missing_module(pipeline: SpecProject) -> None:
    _python_transform(pipeline, "transforms.nowhere:clean")
    assert pipeline.one().message == "module `transforms.nowhere` was not found in the project or on the Python path"


def test_python_transform_module_that_does_not_parse(pipeline: SpecProject) -> None:
    pipeline.write("transforms/broken.py", "def clean(df:\n")
    _python_transform(pipeline, "transforms.broken:clean")
    assert "does not parse" in pipeline.one().message


def test_python_module_is_read_not_imported(pipeline: SpecProject, tmp_path) -> None:
    marker = tmp_path / "imported"
    pipeline.write("transforms/loud.py", f"open({str(marker)!r}, 'w').close()\ndef clean(df):\n    return df\n")
    _python_transform(pipeline, "transforms.loud:clean")
    assert pipeline.errors() == []
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------- kinds and sources

def test_streaming_table_needs_an_incremental_source(pipeline: SpecProject) -> None:
    text = pipeline.table("gold", "daily_spend", DAILY_SPEND + "kind: streaming_table\n")
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "streaming_table")
    assert finding.message == "a streaming_table needs an incremental source (files or tables read as stream)"


def test_files_source_must_be_a_streaming_table(pipeline: SpecProject) -> None:
    pipeline.table("bronze", "raw_events", RAW_EVENTS + "kind: materialized_view\n")
    assert pipeline.one().message == "tables read from landing files must be streaming tables"
