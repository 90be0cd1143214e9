"""Reading YAML: syntax errors and dangerous constructs become located findings; positions of keys and
values (including inside SQL blocks) are exact."""

from __future__ import annotations

from tests.validation.spec_project import EVENTS, at, SpecProject
from tests.validation.spec_project import pipeline, project  # noqa: F401 - fixtures, used by name

from framework.spec.documents import parse_document

SILVER = "tables/silver/events.yaml"


def test_syntax_error_is_located(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("keys: [event_id]", "keys: [event_id"))
    finding = pipeline.one(SILVER)
    assert finding.file == SILVER
    assert finding.code == "yaml"
    assert finding.message.startswith("YAML syntax error:")
    assert finding.line >= at(text, "keys:")[0]


def test_bad_indentation_is_located(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS.replace("  tables: [raw_events]", "  tables: [raw_events]\n mode: stream"))
    finding = pipeline.one(SILVER)
    assert finding.line == at(text, " mode: stream")[0]
    assert finding.message.startswith("YAML syntax error:")


def test_tab_indentation_gets_a_hint(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS.replace("  tables: [raw_events]", "\ttables: [raw_events]"))
    finding = pipeline.one(SILVER)
    assert finding.line == 5
    assert finding.hint == "YAML indentation must use spaces, not tabs"


def test_duplicate_keys_are_rejected_with_both_lines(pipeline: SpecProject) -> None:
    text = pipeline.table("silver", "events", EVENTS + "keys: [user_id]\n")
    finding = pipeline.one(SILVER)
    assert (finding.line, finding.column) == at(text, "keys: [user_id]")
    assert finding.message == f"duplicate key `keys` (first defined at line {at(text, 'keys: [event_id]')[0]})"
    assert finding.code == "duplicate-key"


def test_merge_keys_are_rejected(pipeline: SpecProject) -> None:
    text = "base: &base {format: json}\nsource:\n  <<: *base\n"
    pipeline.write("tables/silver/events.yaml", text)
    finding = pipeline.one(SILVER)
    assert (finding.line, finding.column) == at(text, "<<")
    assert finding.message == "YAML merge keys (<<) are not supported in specs"


def test_python_tags_are_not_constructed(pipeline: SpecProject, tmp_path) -> None:
    marker = tmp_path / "pwned"
    text = EVENTS.replace("description: Clean click events.", f"description: !!python/object/apply:os.system [touch {marker}]")
    pipeline.table("silver", "events", text)
    finding = pipeline.one(SILVER)
    assert (finding.line, finding.column) == at(text, "!!python")
    assert finding.message == "YAML tag `!!python/object/apply:os.system` is not supported in specs"
    assert finding.hint == "specs use plain YAML values; custom `!tags` are not supported"
    pipeline.table("silver", "events", EVENTS.replace("Clean click events.", "!!python/name:os.system ''"))
    assert "could not determine a constructor for the tag '!!python/name:os.system'" in pipeline.one(SILVER).message
    pipeline.table("silver", "events", EVENTS.replace("Clean click events.", "!secret x"))
    assert pipeline.one(SILVER).message == "invalid value: could not determine a constructor for the tag '!secret'"
    assert not marker.exists()


def test_second_document_in_a_file(pipeline: SpecProject) -> None:
    pipeline.table("silver", "events", EVENTS + "---\nname: other\n")
    finding = pipeline.one(SILVER)
    assert "a spec file holds one YAML document" in finding.hint


def test_positions_of_keys_values_and_sql_blocks() -> None:
    doc = parse_document(EVENTS.encode(), "events.yaml")
    assert doc.where(("source", "tables", 0)) == at(EVENTS, "raw_events")
    assert doc.where(("columns", 2, "type")) == at(EVENTS, "DOUBLE")
    assert doc.where(("keys",), key=True) == at(EVENTS, "keys:")
    assert doc.where(("expectations", 0, "nope")) == at(EVENTS, "amount_positive")[:1] + (5,)
    sql_line, sql_column = at(EVENTS, "SELECT event_id")
    assert doc.within(("transform", "sql"), 2, 6) == (sql_line + 1, sql_column + 5)
    assert doc.finding(("transform", "sql"), "x").line == sql_line


def test_dates_and_numbers_keep_yaml_meaning() -> None:
    doc = parse_document(b"a: 2024-01-02\nb: 0x10\nc: 1_000\nd: 1.5\ne: on\nf: ~\ng: '7'\n", "x.yaml")
    assert doc.data == {"a": "2024-01-02", "b": 16, "c": 1000, "d": 1.5, "e": True, "f": None, "g": "7"}
