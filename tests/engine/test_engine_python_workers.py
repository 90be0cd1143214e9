"""Python workers of the local engine run the project's interpreter, so pandas UDFs work in transforms.

PySpark starts its workers with `PYSPARK_PYTHON`, else the first `python3` on PATH — the system one,
without the virtualenv's pandas and pyarrow, so any `applyInPandas` or pandas UDF failed with
`ModuleNotFoundError: No module named 'pandas'`. The engine now pins the workers to the interpreter
that runs it (`spark.pyspark.python` and `PYSPARK_PYTHON`), and the shared test session is built the
same way. The pipeline test runs a user's `transform.python` with a scalar pandas UDF and a grouped
`applyInPandas` on real Spark and checks, from inside the workers, which interpreter ran them.
"""

from __future__ import annotations

import os
import sys
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from framework.engine.spark import python_executable, static_conf
from framework.spec.environment import DEFAULTS, Environment, deep_merge
from tests.medallion_testing import bar_rows

DAYS = (date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24))
SYMBOLS = ("AAPL", "MSFT")

PROBE_MODULE = '''\
"""A user's transform that runs Python on the workers: a grouped applyInPandas and a scalar pandas UDF."""


def per_symbol(df):
    import pandas as pd
    from pyspark.sql import functions as F

    def summarize(bars: pd.DataFrame) -> pd.DataFrame:
        import sys

        return pd.DataFrame({"symbol": [bars["symbol"].iloc[0]], "sessions": [len(bars)],
                             "mean_close": [bars["close"].mean()], "group_python": [sys.executable],
                             "pandas_version": [pd.__version__]})

    @F.pandas_udf("string")
    def udf_python(symbol: pd.Series) -> pd.Series:
        import sys

        return pd.Series([sys.executable] * len(symbol))

    schema = "symbol STRING, sessions BIGINT, mean_close DOUBLE, group_python STRING, pandas_version STRING"
    return df.groupBy("symbol").applyInPandas(summarize, schema).withColumn("udf_python", udf_python("symbol"))
'''

PROBE_SPEC = """\
name: worker_probe
layer: gold
description: Per-symbol session count and mean close, computed on the Python workers.
owner: tests
source:
  tables: [daily_bars]
  mode: batch
columns:
  - {name: symbol, type: STRING, nullable: false, description: Ticker.}
  - {name: sessions, type: BIGINT, description: Daily bars of the symbol.}
  - {name: mean_close, type: DOUBLE, description: Mean daily close.}
  - {name: group_python, type: STRING, description: Interpreter that ran applyInPandas.}
  - {name: pandas_version, type: STRING, description: pandas of that interpreter.}
  - {name: udf_python, type: STRING, description: Interpreter that ran the scalar pandas UDF.}
keys: [symbol]
transform:
  python: worker_probe:per_symbol
"""


def _environment(root: Path) -> Environment:
    settings = deep_merge(DEFAULTS, {"name": "workers", "storage_root": str(root / "storage"),
                                     "landing_path": str(root / "landing")})
    return Environment("workers", settings, root)


def test_workers_run_this_interpreter_unless_pyspark_python_says_otherwise(tmp_path, monkeypatch):
    monkeypatch.delenv("PYSPARK_PYTHON", raising=False)
    conf = static_conf(_environment(tmp_path))
    assert conf["spark.pyspark.python"] == conf["spark.pyspark.driver.python"] == sys.executable
    chosen = "/opt/python/bin/python3.11"
    monkeypatch.setenv("PYSPARK_PYTHON", chosen)
    assert python_executable() == static_conf(_environment(tmp_path))["spark.pyspark.python"] == chosen


@pytest.mark.spark
def test_the_shared_session_starts_workers_on_the_engine_interpreter(spark):
    assert spark.sparkContext.pythonExec == os.environ["PYSPARK_PYTHON"] == spark.conf.get("spark.pyspark.python")


@pytest.mark.spark
def test_pandas_udfs_in_a_python_transform_run_through_the_pipeline(spark, local_project):
    project = local_project()
    (project.root / "worker_probe.py").write_text(PROBE_MODULE)
    (project.root / "tables" / "gold" / "worker_probe.yaml").write_text(PROBE_SPEC)
    sys.modules.pop("worker_probe", None)  # each project has its own module of that name
    for day in DAYS:
        project.write_bars(f"synthetic_{day}_b000.jsonl", [row for symbol in SYMBOLS for row in bar_rows(symbol, day)])

    result = project.run(spark, tables=["bars_raw", "bars", "daily_bars", "daily_indicators", "worker_probe"])

    assert result.ok, [(f.table, f.error) for f in result.failed]
    daily = project.table(spark, "gold.daily_bars")
    expected = {r["symbol"]: r for r in daily.groupBy("symbol").agg({"close": "avg", "*": "count"})
                .withColumnsRenamed({"avg(close)": "mean_close", "count(1)": "sessions"}).collect()}
    probe = {r["symbol"]: r for r in project.table(spark, "gold.worker_probe").collect()}
    assert probe.keys() == expected.keys() == set(SYMBOLS)
    for symbol, row in probe.items():
        assert row["sessions"] == expected[symbol]["sessions"] == len(DAYS)
        assert row["mean_close"] == pytest.approx(expected[symbol]["mean_close"], rel=1e-12)
        assert row["group_python"] == row["udf_python"] == spark.sparkContext.pythonExec
        assert row["pandas_version"] == pd.__version__
    # the shipped indicators, also applyInPandas, ran in the same update
    assert project.table(spark, "gold.daily_indicators").count() == len(SYMBOLS) * len(DAYS)
