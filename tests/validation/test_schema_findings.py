"""JSON Schema findings: unknown keys with a did-you-mean, wrong types, missing keys, enums, patterns,
environments; every one located at file, line, column and document path."""

from __future__ import annotations

from tests.validation.spec_project import EVENTS, at, SpecProject
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name


def test_the_valid_pipeline_has_no_findings(pipeline: SpecProject) -> None:
    project = pipeline.load()
    assert project.findings == []
    assert sorted(project.tables) == ["daily_spend", "events", "raw_events"]


def test_misspelled_top_level_key_suggests_the_right_one(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("expectations:", "expectatons:"))
    finding = pipeline.one()
    assert (finding.file, (finding.line, finding.column)) == ("tables/silver/events.yaml", at(text, "expectatons:"))
    assert finding.doc_path == "expectatons"
    assert finding.message == "unknown key `expectatons`"
    assert finding.hint == "did you mean `expectations`?"


def test_misspelled_nested_key_is_located_at_the_key(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("    action: drop", "    actoin: drop"))
    findings = pipeline.errors()
    unknown = next(f for f in findings if "unknown key" in f.message)
    assert (unknown.line, unknown.column) == at(text, "actoin")
    assert unknown.doc_path == "expectations[0].actoin"
    assert unknown.hint == "did you mean `action`?"
    missing = next(f for f in findings if "missing" in f.message)
    assert missing.message == "missing required key `action`"
    assert missing.doc_path == "expectations[0]"
    assert missing.line == at(text, "- name: amount_positive")[0]


def test_unknown_key_without_a_close_match_lists_the_allowed_keys(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS + "flavour: vanilla\n")
    finding = pipeline.one()
    assert finding.message == "unknown key `flavour`"
    assert finding.hint.startswith("allowed keys: name, layer, description")


def test_wrong_type_names_expected_and_actual(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("keys: [event_id]", "keys: event_id"))
    finding = pipeline.one()
    line, column = at(text, "keys: event_id")
    assert (finding.line, finding.column) == (line, column + len("keys: "))
    assert finding.doc_path == "keys"
    assert finding.message == "expected a list, got a string"


def test_wrong_scalar_type_in_a_column(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("nullable: false", "nullable: nope"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "nope")
    assert finding.doc_path == "columns[0].nullable"
    assert finding.message == "expected true or false, got a string"


def test_missing_required_key_explains_what_it_is(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("description: Clean click events.\n", ""))
    finding = pipeline.one()
    assert (finding.line, finding.column, finding.doc_path) == (1, 1, "")
    assert finding.message == "missing required key `description`"
    assert "table comment" in finding.hint


def test_enum_typo_suggests_the_value(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("action: drop", "action: dorp"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "dorp")
    assert finding.doc_path == "expectations[0].action"
    assert finding.message == '"dorp" is not one of warn, drop, fail, quarantine'
    assert finding.hint == "did you mean `drop`?"


def test_pattern_violation_shows_the_pattern(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("- name: amount_positive", "- name: Amount-Positive"))
    finding = pipeline.one()
    assert (finding.line, finding.column) == at(text, "Amount-Positive")
    assert finding.doc_path == "expectations[0].name"
    assert "does not match the expected form" in finding.message


def test_source_needs_exactly_one_kind(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace(
        "  tables: [raw_events]", "  tables: [raw_events]\n  sql: SELECT * FROM raw_events"))
    finding = pipeline.one()
    assert finding.line == at(text, "tables: [raw_events]")[0]
    assert finding.doc_path == "source"
    assert finding.message == "needs exactly one of `files`, `tables`, `sql`; it has `tables` and `sql`"


def test_top_level_list_is_not_a_spec(project: SpecProject) -> None:
    project.write("tables/silver/events.yaml", "- name: events\n- layer: silver\n")
    finding = project.one()
    assert (finding.file, finding.line, finding.column) == ("tables/silver/events.yaml", 1, 1)
    assert finding.message == "a table spec must be a YAML mapping of keys to values, not a list"


def test_all_errors_of_all_files_come_in_one_run_sorted_by_file_and_line(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("action: drop", "action: dorp").replace("layer: silver", "layr: silver"))
    pipeline.write("tables/bronze/zzz.yaml", "name: [unclosed\n")
    pipeline.write("tables/bronze/aaa.yaml", "")
    findings = pipeline.load().findings
    assert [f.file for f in findings] == sorted(f.file for f in findings)
    files = {f.file for f in findings}
    assert {"tables/bronze/aaa.yaml", "tables/bronze/zzz.yaml", "tables/silver/events.yaml"} <= files
    events = [f for f in findings if f.file == "tables/silver/events.yaml"]
    assert [f.line for f in events] == sorted(f.line for f in events)
    assert len(events) >= 3  # layr unknown, layer missing, dorp


# ---------------------------------------------------------------------------------------------- environments

def test_environment_schema_error_is_located(pipeline: SpecProject) -> None:
    text = "name: local\nruntime: local\ncontinous: true\n"
    pipeline.write("environments/local.yaml", text)
    finding = pipeline.one("environments/local.yaml")
    assert (finding.line, finding.column) == at(text, "continous")
    assert finding.message == "unknown key `continous`"
    assert finding.hint == "did you mean `continuous`?"


def test_environment_extends_unknown_environment(pipeline: SpecProject) -> None:
    pipeline.write("environments/local.yaml", "name: local\n")
    text = "name: prod\nextends: locale\ncatalog: prod\n"
    pipeline.write("environments/prod.yaml", text)
    finding = pipeline.one("environments/prod.yaml")
    assert (finding.line, finding.column) == at(text, "locale")
    assert finding.doc_path == "extends"
    assert finding.message == "extends unknown environment `locale`"
    assert finding.hint == "did you mean `local`?"


def test_environments_extending_each_other_name_the_cycle(pipeline: SpecProject) -> None:
    pipeline.write("environments/dev.yaml", "name: dev\nextends: prod\n")
    pipeline.write("environments/prod.yaml", "name: prod\nextends: dev\n")
    findings = [f for f in pipeline.errors() if "cycle" in f.message]
    messages = {f.message for f in findings}
    assert "environments extend each other in a cycle: dev -> prod -> dev" in messages
    assert all(f.doc_path == "extends" and f.line == 2 for f in findings)


def test_environment_name_must_match_its_file(pipeline: SpecProject) -> None:
    pipeline.write("environments/staging.yaml", "name: stage\n")
    finding = pipeline.one("environments/staging.yaml")
    assert finding.message == "environment name `stage` does not match its file name `staging.yaml`"
    assert finding.hint == "use name: staging"
