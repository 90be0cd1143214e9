"""The Databricks reader a file spec is declared with (Auto Loader's options), recorded without Spark.

A first deploy starts the pipeline before the first collection has landed anything. Auto Loader cannot
infer a schema from an empty folder (`CF_EMPTY_DIR_FOR_SCHEMA_INFERENCE`), so `add_new_columns` would
fail the first update: an empty landing folder is read with the declared schema instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from framework.pipeline.query import auto_loader
from framework.project import load_project
from tests.medallion_testing import REPO


class Recorder:
    """Stands in for `spark.readStream` (and the DataFrame `load` returns): records the calls."""

    def __init__(self) -> None:
        self.recorded: dict[str, str] = {}
        self.schema_ddl: str | None = None

    @property
    def readStream(self) -> "Recorder":  # noqa: N802 - Spark's name
        return self

    def format(self, _: str) -> "Recorder":
        return self

    def option(self, key: str, value: Any) -> "Recorder":
        self.recorded[key] = str(value)
        return self

    def options(self, **values: Any) -> "Recorder":
        self.recorded.update({k: str(v) for k, v in values.items()})
        return self

    def schema(self, ddl: str) -> "Recorder":
        self.schema_ddl = ddl
        return self

    def load(self, _: str) -> "Recorder":
        return self

    def withColumn(self, *_: Any) -> "Recorder":  # noqa: N802 - Spark's name
        return self

    def drop(self, *_: Any) -> "Recorder":
        return self



pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def bars_raw():
    project = load_project(REPO, env="prod")
    return project.tables["bars_raw"], project.environment("prod")


def read(spec, env, path: Path) -> Recorder:
    recorder = Recorder()
    auto_loader(recorder, spec, env, str(path), "medallion_prod.bronze.bars_raw")  # type: ignore[arg-type]
    return recorder


def test_an_empty_landing_folder_is_read_with_the_declared_schema(spark, bars_raw, tmp_path):  # spark: F.col needs an active context
    spec, env = bars_raw
    (tmp_path / "bars").mkdir()
    (tmp_path / "bars" / ".in-flight.tmp").write_text("{}")  # hidden files are not data
    recorder = read(spec, env, tmp_path / "bars")
    assert recorder.recorded["cloudFiles.schemaEvolutionMode"] == "rescue"
    assert recorder.schema_ddl is not None and "`symbol` STRING" in recorder.schema_ddl
    assert "cloudFiles.schemaHints" not in recorder.recorded


def test_a_folder_not_created_yet_in_an_existing_volume_is_empty(spark, bars_raw, tmp_path):  # spark: F.col needs an active context
    spec, env = bars_raw
    recorder = read(spec, env, tmp_path / "bars")
    assert recorder.recorded["cloudFiles.schemaEvolutionMode"] == "rescue"


def test_landed_files_let_auto_loader_infer_and_evolve_with_the_declared_columns_as_hints(spark, bars_raw, tmp_path):  # spark: F.col needs an active context
    spec, env = bars_raw
    (tmp_path / "bars" / "2026").mkdir(parents=True)
    (tmp_path / "bars" / "2026" / "day.jsonl").write_text('{"symbol": "AAPL"}\n')
    recorder = read(spec, env, tmp_path / "bars")
    assert recorder.recorded["cloudFiles.schemaEvolutionMode"] == "addNewColumns"
    assert "`symbol` STRING" in recorder.recorded["cloudFiles.schemaHints"] and recorder.schema_ddl is None


def test_a_line_that_does_not_parse_is_kept_as_the_local_reader_keeps_it(spark, bars_raw, tmp_path):
    spec, env = bars_raw
    recorder = read(spec, env, tmp_path / "bars")
    assert recorder.recorded["columnNameOfCorruptRecord"] == "_corrupt_record"
    assert "`_corrupt_record` STRING" in recorder.schema_ddl
