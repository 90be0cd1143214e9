"""Issue 24: a triggered update with nothing to do answers without a JVM.

"Nothing to do" is decided from listings, checkpoints and Delta logs (framework/engine/noop.py): no new
landing file, every stream caught up with its upstreams' Delta versions, every materialized view's
fingerprint current, and the project's definition the one the last complete update ran with. Each of
these is moved here and must turn the answer into "run".
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from framework.engine.noop import why_run
from framework.engine.storage import Storage
from tests.medallion_testing import REPO, bar_rows, make_local_project

DAY = date(2026, 11, 23)
BLOCK_PYSPARK = "raise ImportError('pyspark is unimportable in this test: no JVM may start')\n"


def _why(project) -> str | None:
    loaded = project.load()
    env = loaded.environment(project.env_name)
    return why_run(loaded, env, Storage.of(env))


def _run_without_pyspark(project, tmp_path: Path) -> subprocess.CompletedProcess:
    """`medallion run` in a process where `import pyspark` fails: only the no-op path can succeed."""
    blocker = tmp_path / "no_pyspark"
    (blocker / "pyspark").mkdir(parents=True, exist_ok=True)
    (blocker / "pyspark" / "__init__.py").write_text(BLOCK_PYSPARK)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(REPO)]), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "framework", "run", "--env", "test", "--project", str(project.root)],
                          capture_output=True, text=True, env=env, timeout=120, cwd=project.root)


@pytest.mark.spark
def test_nothing_to_do_is_decided_from_files_and_answered_without_a_jvm(spark, tmp_path):
    from framework.engine.materialize import Materializer

    project = make_local_project(tmp_path / "project")
    project.write_calendar()
    project.write_bars("a.jsonl", bar_rows("AAPL", DAY))
    assert _why(project) == "no complete update recorded since the last run"
    first = project.run(spark)
    assert first.ok
    assert _why(project) is None

    # the no-op run: no JVM (pyspark cannot even be imported), the same summary, the update in the event log
    done = _run_without_pyspark(project, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    output = " ".join(done.stdout.split())
    assert "gold.daily_indicators │ up_to_date" in output and "silver.bars │ completed" in output
    update = output.rsplit("update ", 1)[1].split()[0]
    events = (spark.read.format("delta").load(str(project.storage / "tables" / "ops" / "event_log"))
              .where(f"origin.update_id LIKE '{update}%'").orderBy("timestamp", "sequence").collect())
    shown = [(e.event_type, e.origin.flow_name, e.details) for e in events]
    assert shown[0][0] == "create_update" and shown[-1][2] == '{"update_progress": {"state": "COMPLETED"}}'
    assert ("flow_progress", "gold.daily_indicators", '{"flow_progress": {"status": "UP_TO_DATE"}}') in shown
    assert ("flow_progress", "silver.bars", '{"flow_progress": {"status": "COMPLETED"}}') in shown
    assert _why(project) is None  # the no-op leaves the state as it found it

    # a new landing file
    extra = project.write_bars("b.jsonl", bar_rows("MSFT", DAY))
    assert _why(project) == "bars_raw: 1 new landing file(s)"
    extra.unlink()
    assert _why(project) is None

    # a spec edit
    project.edit("tables/gold/symbol_summary.yaml", "One row per symbol", "One row for each symbol")
    assert _why(project) == "the project's definition changed since the last complete update"
    project.edit("tables/gold/symbol_summary.yaml", "One row for each symbol", "One row per symbol")
    assert _why(project) is None

    # a python transform edit: a run is needed, and it recomputes the view (its fingerprint has the code)
    project.edit("transforms/indicators.py", '"""Daily technical indicators', '"""Daily technical indicators (edited)')
    assert _why(project) == "the project's definition changed since the last complete update"
    loaded = project.load()
    env = loaded.environment("test")
    assert not Materializer(loaded, env, Storage.of(env)).is_current(loaded.tables["daily_indicators"])
    edited = project.run(spark, tables=["daily_indicators"])
    assert [(f.name, f.status) for f in edited.flows] == [("daily_indicators", "COMPLETED")]
    assert _why(project) == "no complete update recorded since the last run"  # only a subset ran
    assert project.run(spark).ok
    assert _why(project) is None

    # an upstream table changes: the materialized views reading it are stale...
    daily = str(project.storage / "tables" / "gold" / "daily_bars")
    spark.read.format("delta").load(daily).limit(1).write.format("delta").mode("append").save(daily)
    assert _why(project) == "daily_indicators: inputs (or its definition) changed since it was computed"
    # ...and a stream reading a table it has not caught up with has work to do
    raw = str(project.storage / "tables" / "bronze" / "bars_raw")
    spark.read.format("delta").load(raw).limit(1).write.format("delta").mode("append").save(raw)
    assert _why(project) == "bars: unprocessed data from bars_raw"
