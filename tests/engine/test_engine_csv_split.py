"""The CSV line splitter of the local Auto Loader stand-in, without Spark: each file's header names its fields.

Spark's CSV defaults (quote `"`, escape `\\`, empty field = NULL) and Databricks' rule that a row with
another number of fields than the file's first row is incomplete ("Read CSV files") are what it follows.
"""

from __future__ import annotations

from pathlib import Path

from framework.engine.autoloader import CsvDialect, csv_file_header, csv_record


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path.as_uri()


def test_fields_are_named_by_the_file_s_own_header(tmp_path: Path) -> None:
    uri = write(tmp_path, "b.csv", "name,customer_id,country\nNINA,C014,FR\n")
    got = csv_record(CsvDialect(), True, ("customer_id", "name", "country"), uri, "NINA,C014,FR")
    assert dict(zip(got["names"], got["fields"])) == {"name": "NINA", "customer_id": "C014", "country": "FR"}
    assert got["complete"]


def test_quotes_escapes_nulls_and_incomplete_rows(tmp_path: Path) -> None:
    uri = write(tmp_path, "c.csv", "\ufeffid,note,n\n")
    dialect = CsvDialect.of({"nullValue": "NA"})
    got = csv_record(dialect, True, (), uri, '1,"a, \\"b\\"",NA')
    assert got["fields"] == ["1", 'a, "b"', None] and got["complete"]
    assert csv_record(dialect, True, (), uri, "2,,")["fields"] == ["2", None, None]
    short = csv_record(dialect, True, (), uri, "3,x")
    assert not short["complete"] and short["names"] == ["id", "note"]
    assert not csv_record(dialect, True, (), uri, "4,x,y,z")["complete"]


def test_without_header_fields_are_positional_and_extras_get_spark_s_names(tmp_path: Path) -> None:
    uri = write(tmp_path, "d.csv", "C001,ANA,PT,extra\n")
    got = csv_record(CsvDialect(), False, ("customer_id", "name", "country"), uri, "C001,ANA,PT,extra")
    assert got["names"] == ["customer_id", "name", "country", "_c3"] and got["complete"]


def test_header_names_follow_spark_empty_and_repeated(tmp_path: Path) -> None:
    uri = write(tmp_path, "e.csv", "a,,A\n")
    assert csv_file_header(CsvDialect(), Path(uri.removeprefix("file://"))) == ["a0", "_c1", "A2"]
    assert CsvDialect.of({"sep": "\\t", "escape": '"'}).reader_kwargs() == \
        {"delimiter": "\t", "quotechar": '"', "doublequote": True, "escapechar": None}
