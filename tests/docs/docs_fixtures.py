"""Helpers shared by the docs tests (imported by conftest.py and the test modules)."""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from framework.project import Project, load_project
from tests.medallion_testing import copy_market_project

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "tests" / "artifacts"
"""Screenshots of the browser tests (git-ignored)."""
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def copy_project(target: Path) -> Path:
    """The market project's real specs (named: tests.medallion_testing.MARKET_SPECS) and environments, in a
    folder a test may change."""
    return copy_market_project(target)


def write_bench_project(root: Path, tables: int = 1000) -> Path:
    """The benchmark's generated project (bench/validate.py: 25% bronze, 45% silver, 30% gold, six owning
    teams, SQL transforms and joins across layers) with `tables` specs, written to `root`."""
    spec = importlib.util.spec_from_file_location("bench_validate", REPO / "bench" / "validate.py")
    bench = sys.modules.get(spec.name) or importlib.util.module_from_spec(spec)
    if spec.name not in sys.modules:
        sys.modules[spec.name] = bench  # its dataclasses look their module up while being defined
        spec.loader.exec_module(bench)
    return bench.write_project(bench.build_tables(tables), root)


def load_valid(root: Path) -> Project:
    project = load_project(root)
    assert project.ok, [f.render() for f in project.errors]
    return project


# --- a real local run ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LocalRun:
    """A project copy whose `local` storage holds Delta tables written by Spark, plus what Spark says of them."""

    root: Path
    tables: dict[str, Path]
    """`schema.name` -> table folder."""
    row_counts: dict[str, int]
    versions: dict[str, int]
    operations: dict[str, list[str]]
    """Operations per version, oldest first, from DESCRIBE HISTORY."""


RUNS = (
    # (update_id, label, {expectation: (passed, failed)} for silver.bars)
    ("update-0001", "first", {"well_formed": (4680, 0), "prices_positive": (4678, 2), "in_session": (4670, 10)}),
    ("update-0002", "second", {"well_formed": (4675, 5), "prices_positive": (4680, 0), "in_session": (4680, 0)}),
    ("update-0003", "third", {"well_formed": (4680, 0), "prices_positive": (4500, 180), "in_session": (4675, 5)}),
)
"""Three pipeline runs whose pass rates the event log records (and the pages must show)."""


def write_event_log(spark, env) -> None:
    """Three runs through the engine's own event-log writer (DLT shape, `details` a JSON string): per run a
    create_update, RUNNING flow_progress events per micro-batch with expectation counts, and a final
    COMPLETED event per flow without counts (which must not be counted twice)."""
    from framework.engine.metrics import FlowMetrics
    from framework.engine.tables import ensure_event_log
    from framework.eventlog import EventLogWriter, flow_progress_details
    from framework.naming import TableRef

    for number, (update_id, _, expectations) in enumerate(RUNS):
        if number:
            time.sleep(1.1)  # pages show when a run started to the second: runs a second apart sort apart
        log = EventLogWriter(spark, env, update_id=update_id)
        ensure_event_log(spark, TableRef.event_log(env))
        log.emit("create_update", "Update started", {"create_update": {"cause": "USER_ACTION"}})
        for batch in range(2):  # each micro-batch sees half the rows; pages must add them up per run
            metrics = FlowMetrics(expectations={name: [p // 2 + (p % 2) * batch, f // 2 + (f % 2) * batch]
                                                for name, (p, f) in expectations.items()})
            log.emit("flow_progress", "bars: batch", flow_progress_details("RUNNING", "silver.bars", metrics),
                     flow="bars", batch_id=batch)
        daily = FlowMetrics(expectations={"ohlc_consistent": [120, 0]})
        log.emit("flow_progress", "daily_bars", flow_progress_details("RUNNING", "gold.daily_bars", daily),
                 flow="daily_bars")
        for flow in ("bars_raw", "bars", "daily_bars"):
            log.emit("flow_progress", f"{flow} completed", flow_progress_details("COMPLETED", flow), flow=flow)
        log.flush()


def build_local_run(spark, root: Path) -> LocalRun:
    """Real Delta tables in the `local` environment's storage of the project copy at `root`, written by Spark:

    - bronze.bars_raw: created with a checkpoint every 3 commits, 4 appends and a DELETE (checkpoint + JSON)
    - silver.bars: one overwrite (JSON log only)
    - silver.trading_sessions: deletion vectors enabled, then a DELETE (rows hidden by a vector)
    - ops.event_log: three runs written by the engine's event-log writer (framework/eventlog/writer.py)
    """
    env = load_valid(root).environment("local")
    base = env.storage_root / "tables"
    tables = {name: base / name.replace(".", "/") for name in
              ("bronze.bars_raw", "silver.bars", "silver.trading_sessions", "ops.event_log")}

    bars_raw = tables["bronze.bars_raw"]
    spark.sql(f"CREATE TABLE delta.`{bars_raw}` (symbol STRING, ts STRING, close DOUBLE) USING delta "
              "TBLPROPERTIES ('delta.checkpointInterval' = '3')")
    for day in range(4):
        spark.createDataFrame([(s, f"2026-11-2{day}T14:30:00Z", 100.0 + i) for i, s in
                               enumerate(["AAPL", "MSFT", "NVDA", "JPM", "XOM"])],
                              "symbol STRING, ts STRING, close DOUBLE").write.format("delta").mode("append").save(
            str(bars_raw))
    spark.sql(f"DELETE FROM delta.`{bars_raw}` WHERE symbol = 'XOM'")

    bars = spark.range(0, 1234).selectExpr("'AAPL' AS symbol", "id AS n")
    bars.write.format("delta").save(str(tables["silver.bars"]))

    sessions = tables["silver.trading_sessions"]
    spark.sql(f"CREATE TABLE delta.`{sessions}` (session_date DATE, early_close BOOLEAN) USING delta "
              "TBLPROPERTIES ('delta.enableDeletionVectors' = 'true')")
    spark.sql(f"INSERT INTO delta.`{sessions}` SELECT date_add(DATE'2026-01-02', CAST(id AS INT)), id % 50 = 0 "
              "FROM range(0, 250)")
    spark.sql(f"DELETE FROM delta.`{sessions}` WHERE early_close")

    write_event_log(spark, env)

    row_counts, versions, operations = {}, {}, {}
    for name, path in tables.items():
        row_counts[name] = spark.read.format("delta").load(str(path)).count()
        history = spark.sql(f"DESCRIBE HISTORY delta.`{path}`").select("version", "operation").collect()
        versions[name] = max(r.version for r in history)
        operations[name] = [r.operation for r in sorted(history, key=lambda r: r.version)]
    return LocalRun(root, tables, row_counts, versions, operations)


# --- the browser ----------------------------------------------------------------------------------------

class Problems:
    """Everything that would show up red in DevTools: console errors, page errors, failed or 4xx/5xx loads."""

    def __init__(self, page) -> None:
        self.items: list[str] = []
        page.on("console",
                lambda m: m.type in ("error", "warning") and self.items.append(f"console {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.items.append(f"page error: {e}"))
        page.on("requestfailed", lambda r: self.items.append(f"request failed: {r.url} {r.failure}"))
        page.on("response", lambda r: r.status >= 400 and self.items.append(f"HTTP {r.status}: {r.url}"))


def drawn_nodes(page) -> set[str]:
    """The ids of the nodes the page's lineage graph draws now (tables, `landing-<n>`, groups, checks)."""
    page.wait_for_selector("#lineage-graph[data-state=ready]")
    return set(page.eval_on_selector_all("#lineage-graph g.node", "nodes => nodes.map(n => n.dataset.id)")) - {
        "checks", "event-log"}
