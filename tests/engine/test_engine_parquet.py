"""Parquet landing files lose no field: undeclared ones are rescued, added, or refused, as the spec says.

Databricks documents (pages "Auto Loader options", PARQUET `rescuedDataColumn`, and "Configure schema
inference and evolution in Auto Loader"): Auto Loader reads Parquet with schema evolution (DBR 11.3+),
rescues what does not fit the schema into `_rescued_data` (a JSON object plus `_file_path`), adds new
columns under `addNewColumns`, and stops on them under `none`/`failOnNewColumns`. Spark's own Parquet
reader, given the declared schema, silently leaves every other field out: that is what these tests pin.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

COLUMNS = """columns:
  - {name: order_id, type: BIGINT, description: Order key.}
  - {name: amount, type: DOUBLE, description: Amount.}
"""


def spec(name: str, mode: str) -> str:
    return (f"name: {name}\nlayer: bronze\ndescription: Test Parquet reader.\nowner: tests\n"
            f"source:\n  files:\n    path: ${{landing_path}}/{name}\n    format: parquet\n"
            f"    schema_evolution: {mode}\n{COLUMNS}")


def write_orders(folder: Path, name: str = "orders.parquet", **extra: list) -> Path:
    """Orders with the declared fields and `extra` undeclared ones, written by pyarrow."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    table = pa.table({"order_id": pa.array([1, 2], pa.int64()), "amount": pa.array([2.5, 1.0], pa.float64()),
                      **extra})
    path = folder / name
    pq.write_table(table, path)
    return path


EXTRA = {"tier": ["gold", None], "score": [7, None]}


@pytest.mark.spark
def test_undeclared_parquet_fields_are_rescued_added_or_refused(spark, tmp_path):
    from tests.medallion_testing import make_local_project

    project = make_local_project(tmp_path / "project")
    bronze = project.root / "tables" / "bronze"
    for name, mode in (("orders_raw", "rescue"), ("orders_added_raw", "add_new_columns"),
                       ("orders_strict_raw", "none")):
        (bronze / f"{name}.yaml").write_text(spec(name, mode))
        write_orders(project.landing / name, **EXTRA)

    result = project.run(spark, tables=["orders_raw", "orders_added_raw", "orders_strict_raw"])

    status = {f.name: f.status for f in result.flows}
    assert status == {"orders_raw": "COMPLETED", "orders_added_raw": "COMPLETED", "orders_strict_raw": "FAILED"}
    error = result.flow("orders_strict_raw").error
    assert "`score`" in error and "`tier`" in error and "orders.parquet" in error and "declare" in error

    rescued = {r["order_id"]: r.asDict() for r in project.table(spark, "bronze.orders_raw").collect()}
    first = rescued[1]
    assert (first["amount"], json.loads(first["_rescued_data"])) == (
        2.5, {"tier": "gold", "score": 7, "_file_path": first["_source_file"]})
    assert rescued[2]["_rescued_data"] is None  # nothing undeclared in this row: nothing rescued
    assert "tier" not in first and "score" not in first

    added = project.table(spark, "bronze.orders_added_raw")
    assert dict(added.dtypes)["tier"] == "string" and dict(added.dtypes)["score"] == "bigint"  # Parquet's types
    got = {r["order_id"]: r.asDict() for r in added.collect()}
    assert (got[1]["tier"], got[1]["score"], got[1]["_rescued_data"]) == ("gold", 7, None)


def test_a_parquet_file_with_fields_the_running_stream_does_not_read_restarts_it(tmp_path):
    """A file landed after the stream started: its footer shows a field the stream's schema lacks, so the
    batch is replayed (the restart reads the footer) instead of Spark dropping the field."""
    from framework.engine.autoloader import FileSourceState, unsettled_files
    from tests.engine.test_engine_settle import write_checkpoint

    landing = tmp_path / "landing"
    known = write_orders(landing, "known.parquet")
    late = write_orders(landing, "late.parquet", tier=["gold", "silver"])
    for path in (known, late):  # quiet for a minute: not pending for being written
        moment = time.time() - 60
        os.utime(path, (moment, moment))
    stream = tmp_path / "stream"
    write_checkpoint(stream, {0: [known, late]})
    state = FileSourceState(table="bronze.t", spec_file="t.yaml", path=str(landing), mode="rescue",
                            declared=[("order_id", "BIGINT"), ("amount", "DOUBLE")],
                            schema_file=tmp_path / "_schema.json", file_format="parquet",
                            stream_fields={"order_id", "amount"})
    assert [Path(p).name for p in unsettled_files(state, stream, 0)] == ["late.parquet"]
    state.stream_fields |= {"tier"}
    assert unsettled_files(state, stream, 0) == []
