"""Landing files are read as Auto Loader reads them: fields placed by name, only what cannot be placed rescued.

Databricks documents (pages "Auto Loader options", "Configure schema inference and evolution in Auto
Loader", "Read CSV files"): with `header: true` a CSV file's header is aligned with the schema by name
(`enforceSchema` is ignored when Auto Loader rescues data), `header` defaults to false (then columns are
positional), names are matched case-sensitively (`readerCaseSensitive` true), and `_rescued_data` is a
JSON object of the fields that could not be placed (unknown, other case, wrong type) plus `_file_path`.

One throw-away project with three extra bronze specs is run once, through the real local engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.spark

CUSTOMER_COLUMNS = """columns:
  - {name: customer_id, type: STRING, description: Customer key.}
  - {name: name, type: STRING, description: Customer name.}
  - {name: country, type: STRING, description: Country code.}
  - {name: signup_date, type: DATE, description: Day of sign-up.}
"""


def spec(name: str, folder: str, fmt: str, options: str = "", columns: str = CUSTOMER_COLUMNS) -> str:
    return (f"name: {name}\nlayer: bronze\ndescription: Test reader.\nowner: tests\n"
            f"source:\n  files:\n    path: ${{landing_path}}/{folder}\n    format: {fmt}\n"
            f"    schema_evolution: rescue\n{options}{columns}")


EVENT_COLUMNS = """columns:
  - {name: event_id, type: BIGINT, description: Event key.}
  - {name: amount, type: DOUBLE, description: Amount.}
  - {name: note, type: STRING, description: Free text.}
"""


@pytest.fixture(scope="module")
def loaded(spark, tmp_path_factory):
    from tests.medallion_testing import land, make_local_project

    project = make_local_project(tmp_path_factory.mktemp("readers") / "project")
    bronze = project.root / "tables" / "bronze"
    (bronze / "customers_raw.yaml").write_text(spec("customers_raw", "customers", "csv", "    options: {header: true}\n"))
    (bronze / "customers_nohdr_raw.yaml").write_text(spec("customers_nohdr_raw", "customers_nohdr", "csv"))
    (bronze / "events_raw.yaml").write_text(spec("events_raw", "events", "json", columns=EVENT_COLUMNS))
    (bronze / "quoted_raw.yaml").write_text(spec("quoted_raw", "quoted", "json", "    options: {allowSingleQuotes: true}\n",
                                                 columns=EVENT_COLUMNS))
    customers = project.landing / "customers"
    customers.mkdir(parents=True)
    (customers / "a.csv").write_text("customer_id,name,country,signup_date\nC001,ANA,PT,2026-01-05\n")
    (customers / "b.csv").write_text("name,customer_id,country,signup_date\nNINA,C014,FR,2026-02-10\n")
    (customers / "c.csv").write_text("customer_id,Name,country,signup_date,tier\nC020,ZOE,DE,not-a-date,gold\n"
                                     "C021,\"Lee, Jr\",US,2026-03-01,silver\nC022,TOO,SHORT\n")
    nohdr = project.landing / "customers_nohdr"
    nohdr.mkdir(parents=True)
    (nohdr / "a.csv").write_text("customer_id,name,country,signup_date\nC001,ANA,PT,2026-01-05\n")
    land(project.landing / "events", "e.jsonl", [
        {"event_id": 1, "amount": 2.5, "note": "ok"},
        {"event_id": 2, "amount": 1.0, "Amount": 3, "extra": {"k": [1, 2]}},
        {"event_id": "x", "amount": 4.0, "note": 7},
        '{"event_id": 4, "amount": ',
        {"event_id": 5, "amount": None, "gone": None},  # JSON nulls: nothing to rescue
    ])
    quoted = project.landing / "quoted"
    quoted.mkdir(parents=True)
    (quoted / "q.jsonl").write_text("{'event_id': 1, 'amount': 2.5, 'note': 'ok'}\n"
                                    "{'event_id': 2, 'amount': 'lots', 'tier': 'gold'}\n")
    result = project.run(spark, tables=["customers_raw", "customers_nohdr_raw", "events_raw", "quoted_raw"])
    assert result.ok, [(f.table, f.error) for f in result.failed]
    return project


def rows(spark, project, table: str, key: str) -> dict[str, dict]:
    return {r[key]: r.asDict() for r in project.table(spark, f"bronze.{table}").collect()}


def rescued(row: dict) -> dict:
    return json.loads(row["_rescued_data"]) if row["_rescued_data"] else {}


def test_csv_columns_are_matched_by_header_name(spark, loaded):
    got = rows(spark, loaded, "customers_raw", "customer_id")
    assert got["C014"]["name"] == "NINA" and got["C014"]["country"] == "FR"  # not customer_id=NINA, name=C014
    assert str(got["C014"]["signup_date"]) == "2026-02-10" and got["C014"]["_rescued_data"] is None
    assert got["C001"]["name"] == "ANA" and got["C001"]["_rescued_data"] is None
    assert got["C021"]["name"] is None  # `Name` is not `name`: rescued, never shifted
    assert rescued(got["C021"]) == {"Name": "Lee, Jr", "tier": "silver", "_file_path": got["C021"]["_source_file"]}


def test_csv_rescues_only_the_fields_it_cannot_place(spark, loaded):
    got = rows(spark, loaded, "customers_raw", "customer_id")
    zoe = got["C020"]
    assert (zoe["name"], zoe["country"], zoe["signup_date"]) == (None, "DE", None)
    assert rescued(zoe) == {"Name": "ZOE", "signup_date": "not-a-date", "tier": "gold",
                            "_file_path": zoe["_source_file"]}
    assert Path(rescued(zoe)["_file_path"].removeprefix("file:")).name == "c.csv"
    short = got["C022"]  # fewer fields than the header: incomplete, kept whole
    assert rescued(short) == {"_corrupt_record": "C022,TOO,SHORT", "_file_path": short["_source_file"]}
    assert len(got) == 5


def test_csv_without_header_is_positional_as_auto_loader_default(spark, loaded):
    got = rows(spark, loaded, "customers_nohdr_raw", "customer_id")
    assert got["C001"]["name"] == "ANA" and got["C001"]["_rescued_data"] is None
    header_row = got["customer_id"]  # header defaults to false: the header line is a data row
    assert header_row["signup_date"] is None and rescued(header_row)["signup_date"] == "signup_date"


def test_json_rescues_unknown_case_mismatched_and_mistyped_fields_only(spark, loaded):
    got = {r["note"] if r["event_id"] is None else r["event_id"]: r.asDict()
           for r in loaded.table(spark, "bronze.events_raw").collect()}
    assert got[1]["_rescued_data"] is None
    assert (got[2]["amount"], rescued(got[2])) == (1.0, {"Amount": 3, "extra": {"k": [1, 2]},
                                                         "_file_path": got[2]["_source_file"]})
    mistyped = got["7"]  # event_id "x" is no BIGINT: rescued; the number 7 is a fine STRING
    assert (mistyped["amount"], rescued(mistyped)) == (4.0, {"event_id": "x", "_file_path": mistyped["_source_file"]})
    assert got[5]["amount"] is None and got[5]["_rescued_data"] is None
    broken = next(r for k, r in got.items() if k not in (1, 2, 5, "7"))
    assert rescued(broken) == {"_corrupt_record": '{"event_id": 4, "amount": ', "_file_path": broken["_source_file"]}


def test_json_syntax_options_apply_to_placing_and_rescuing_alike(spark, loaded):
    got = rows(spark, loaded, "quoted_raw", "event_id")
    assert (got[1]["amount"], got[1]["note"], got[1]["_rescued_data"]) == (2.5, "ok", None)
    assert got[2]["amount"] is None
    assert rescued(got[2]) == {"amount": "lots", "tier": "gold", "_file_path": got[2]["_source_file"]}
