"""Benchmark: Medallion's local runtime vs a hand-written PySpark + Delta pipeline doing the same work.

    .venv/bin/python bench/pipeline.py                      # 100 symbols x 27 sessions = 1,035,000 bars
    .venv/bin/python bench/pipeline.py --symbols 10 --sessions 5 --no-continuous   # a quick look

Data: deterministic minute bars (a seeded random walk) over real NYSE sessions (exchange_calendars,
13:00 early closes included), in the collection job's JSON-lines shape, ten symbols per landing file,
plus the session calendar. Both pipelines read the same landing folder.

Each contender runs in its own fresh process with the same Spark settings (`build_session` of the
same environment), and is timed from its first read to its last commit (JVM start-up excluded):

* medallion   — `run_pipeline` on the real specs of tables/ (bronze -> silver -> gold, expectations,
                quarantine, de-duplication, event log, OPTIMIZE ZORDER);
* handwritten — what the seed system's notebooks did, written directly in PySpark: the same SQL
                (read from the specs) and Python transforms, the same rules, quarantine table,
                de-duplicating MERGE, the same table properties and Z-order, without the framework
                (no event log, no per-rule counts, no schema-evolution checks).

Then Medallion's continuous mode is started on the loaded tables and one more file is landed: the
time until its rows are visible in bronze and in gold is the continuous-mode latency.

Results: bench/results/pipeline.md and pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

WORK = REPO / "bench" / ".work" / "pipeline"
RESULTS = REPO / "bench" / "results"
SYMBOLS_PER_FILE = 10


# ---------------------------------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------------------------------

def sessions(count: int, last: str = "2026-11-27") -> list[tuple[str, datetime, datetime]]:
    """The last `count` NYSE sessions up to `last`: (date, open UTC, close UTC)."""
    import exchange_calendars as xcals
    import pandas as pd

    calendar = xcals.get_calendar("XNYS", start="2025-01-01", end="2026-12-31")
    days = calendar.sessions_in_range(pd.Timestamp("2025-01-02"), pd.Timestamp(last))[-count:]
    return [(d.date().isoformat(), calendar.session_open(d).to_pydatetime(), calendar.session_close(d).to_pydatetime())
            for d in days]


def stamp(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name("." + path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def generate(landing: Path, n_symbols: int, days: list[tuple[str, datetime, datetime]], seed: int = 7) -> int:
    """Minute bars for every symbol and session; returns the number of bars written."""
    rng = random.Random(seed)
    symbols = [f"SYM{i:04d}" for i in range(n_symbols)]
    price = {s: 20 + rng.random() * 300 for s in symbols}
    total = 0
    for day, opens, closes in days:
        minutes = int((closes - opens).total_seconds() // 60)
        stamps = [stamp(datetime.fromtimestamp(opens.timestamp() + 60 * m, timezone.utc)) for m in range(minutes)]
        so, sc = stamp(opens), stamp(closes)
        for start in range(0, n_symbols, SYMBOLS_PER_FILE):
            batch = f"b{start // SYMBOLS_PER_FILE:03d}"
            lines = []
            for symbol in symbols[start:start + SYMBOLS_PER_FILE]:
                p = price[symbol]
                for ts in stamps:
                    close = p * (1 + rng.gauss(0, 0.0008))
                    high, low = max(p, close) * (1 + rng.random() * 0.0004), min(p, close) * (1 - rng.random() * 0.0004)
                    volume = rng.randint(100, 20_000)
                    lines.append(f'{{"symbol":"{symbol}","ts":"{ts}","timeframe":"1Min","open":{p:.4f},'
                                 f'"high":{high:.4f},"low":{low:.4f},"close":{close:.4f},"volume":{volume},'
                                 f'"trade_count":{volume // 40},"vwap":{(p + close + high + low) / 4:.4f},'
                                 f'"session_open":"{so}","session_close":"{sc}","provider":"synthetic",'
                                 f'"batch_id":"{batch}"}}')
                    p = close
                price[symbol] = p
            write_atomic(landing / "bars" / f"synthetic_{day}_{batch}.jsonl", "\n".join(lines) + "\n")
            total += len(lines)
    calendar = [json.dumps({"session_date": d, "open_utc": stamp(o), "close_utc": stamp(c),
                            "early_close": (c - o).total_seconds() < 6.5 * 3600}) for d, o, c in days]
    write_atomic(landing / "calendar" / "xnys_sessions.jsonl", "\n".join(calendar) + "\n")
    return total


def make_project(work: Path) -> Path:
    """A copy of tables/ and environments/ with a `bench` environment whose storage is under `work`."""
    root = work / "project"
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    for folder in ("tables", "environments", "transforms", "market"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "medallion.yaml", root / "medallion.yaml")  # the project's check kinds
    write_environment(root, work)
    return root


def write_environment(root: Path, work: Path, trigger: str | None = None) -> None:
    text = f"name: bench\nextends: local\nlanding_path: {work / 'landing'}\nstorage_root: {work / 'storage'}\n"
    (root / "environments" / "bench.yaml").write_text(text + (f"trigger_interval: {trigger}\n" if trigger else ""))


# ---------------------------------------------------------------------------------------------------
# contenders (each runs in its own process: `bench/pipeline.py --phase NAME`)
# ---------------------------------------------------------------------------------------------------

def cpu_seconds(spark) -> float:
    """CPU time (user + system) used so far by this Python process and its Spark JVM.

    On a machine other jobs share, wall time swings with their load; CPU time spent by the two
    processes doing the work is the steadier measure of how much work each contender does.
    """
    ticks = os.sysconf("SC_CLK_TCK")

    def of(pid: int) -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / ticks

    return of(spark._jvm.java.lang.ProcessHandle.current().pid()) + of(os.getpid())


def phase_medallion(root: Path) -> dict:
    from framework.engine.runner import run_pipeline
    from framework.engine.spark import build_session
    from framework.project import load_project

    project = load_project(root, env="bench")
    env = project.environment("bench")
    from framework.engine.runner import RunListener

    spark = build_session(env)
    flow_cpu: dict[str, float] = {}

    class CpuPerFlow(RunListener):
        def flow_started(self, result) -> None:  # type: ignore[no-untyped-def]
            flow_cpu[result.table] = cpu_seconds(spark)

        def flow_finished(self, result) -> None:  # type: ignore[no-untyped-def]
            if result.table in flow_cpu:
                flow_cpu[result.table] = cpu_seconds(spark) - flow_cpu[result.table]

    cpu, started = cpu_seconds(spark), time.perf_counter()
    result = run_pipeline(project, env, spark=spark, handle_signals=False, listener=CpuPerFlow())
    seconds, cpu = time.perf_counter() - started, cpu_seconds(spark) - cpu
    assert result.ok, [(f.table, f.error) for f in result.failed]
    flows = {f.table: {"seconds": round(f.seconds, 2), "cpu_seconds": round(flow_cpu.get(f.table, 0.0), 1),
                       **f.metrics.as_dict()} for f in result.flows}
    for flow in flows.values():
        flow.pop("expectations", None)
    return {"seconds": seconds, "cpu_seconds": cpu, "flows": flows, "optimized": result.optimized,
            "gold_rows": spark.read.table("gold.daily_bars").count()}


HANDWRITTEN_QUARANTINE = {
    # silver.bars: the rules of tables/silver/bars.yaml (quarantine ones; in_session is the drop rule)
    "well_formed": "_rescued_data IS NULL",
    "keys_present": "symbol IS NOT NULL AND ts IS NOT NULL AND timeframe IS NOT NULL",
    "prices_positive": "open > 0 AND high > 0 AND low > 0 AND close > 0 AND greatest(open, high, low, close) < 1e9",
    "volume_non_negative": "volume >= 0",
    "high_covers_open_close": "high >= greatest(open, close)",
    "low_covers_open_close": "low <= least(open, close)",
    "high_not_below_low": "high >= low",
    "not_in_future": "ts <= current_timestamp()",
}
HANDWRITTEN_DROP = "session_open IS NOT NULL AND (timeframe = '1Day' OR (ts >= session_open AND ts < session_close))"


def phase_handwritten(root: Path) -> dict:
    """The seed system's way: PySpark + Delta by hand, same SQL, rules, tables and maintenance."""
    import yaml
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from framework.engine.spark import build_session
    from framework.project import load_project

    project = load_project(root, env="bench")
    env = project.environment("bench")
    spark = build_session(env)
    store = env.storage_root / "handwritten"
    landing = env.landing_path
    spec = {name: yaml.safe_load((root / "tables" / layer / f"{name}.yaml").read_text())
            for layer, name in (("silver", "bars"), ("silver", "trading_sessions"), ("gold", "daily_bars"),
                                ("gold", "daily_indicators"), ("gold", "symbol_summary"))}
    cpu, started = cpu_seconds(spark), time.perf_counter()
    stages: dict[str, float] = {}
    mark = [cpu]

    def stage(name: str) -> None:
        now = cpu_seconds(spark)
        stages[name] = round(now - mark[0], 1)
        mark[0] = now

    for schema in ("hw_bronze", "hw_silver", "hw_gold"):
        spark.sql(f"CREATE SCHEMA IF NOT EXISTS {schema}")

    def create(name: str, ddl: str, props: str) -> None:
        spark.sql(f"CREATE TABLE IF NOT EXISTS {name} ({ddl}) USING delta LOCATION '{store / name}' "
                  f"TBLPROPERTIES ({props})")

    # bronze: JSON files -> Delta, with the corrupt-record column and ingestion metadata
    bars_schema = ("symbol STRING, ts STRING, timeframe STRING, open DOUBLE, high DOUBLE, low DOUBLE, close DOUBLE, "
                   "volume DOUBLE, trade_count BIGINT, vwap DOUBLE, session_open STRING, session_close STRING, "
                   "provider STRING, batch_id STRING")
    calendar_schema = "session_date STRING, open_utc STRING, close_utc STRING, early_close BOOLEAN"
    meta = "_rescued_data STRING, _source_file STRING, _ingested_at TIMESTAMP"
    create("hw_bronze.bars_raw", f"{bars_schema}, {meta}", "'delta.autoOptimize.optimizeWrite'='true', "
           "'delta.autoOptimize.autoCompact'='true', 'delta.appendOnly'='true'")
    create("hw_bronze.nyse_sessions_raw", f"{calendar_schema}, {meta}", "'delta.autoOptimize.optimizeWrite'='true'")
    for table, schema, folder, max_files in (("bars_raw", bars_schema, "bars", 200),
                                             ("nyse_sessions_raw", calendar_schema, "calendar", None)):
        reader = spark.readStream.schema(f"{schema}, _rescued_data STRING") \
            .option("columnNameOfCorruptRecord", "_rescued_data")
        if max_files:
            reader = reader.option("maxFilesPerTrigger", max_files)
        (reader.json(str(landing / folder))
         .withColumn("_source_file", F.col("_metadata.file_path")).withColumn("_ingested_at", F.current_timestamp())
         .writeStream.format("delta").option("checkpointLocation", str(store / "_checkpoints" / table))
         .trigger(availableNow=True).toTable(f"hw_bronze.{table}").awaitTermination())

    stage("bronze")

    # silver: transform, quarantine failing rows with their rule names, drop out-of-session, de-duplicate
    def silver(name: str, source: str, keys: list[str], quarantine: dict[str, str], drop: str | None) -> None:
        ddl = ", ".join(f"`{c['name']}` {c['type']}" for c in spec[name]["columns"])
        create(f"hw_silver.{name}", ddl, "'delta.autoOptimize.optimizeWrite'='true', "
               "'delta.autoOptimize.autoCompact'='true', 'delta.enableChangeDataFeed'='true'")
        create(f"hw_silver.{name}_quarantine", f"{ddl}, _failed_rules ARRAY<STRING>, _quarantined_at TIMESTAMP",
               "'delta.autoOptimize.optimizeWrite'='true'")
        failed = F.array_compact(F.array(*[F.when(~F.coalesce(F.expr(r), F.lit(False)), F.lit(n))
                                          for n, r in quarantine.items()]))

        def write(batch, batch_id):
            batch = batch.withColumn("_failed_rules", failed).persist()
            (batch.where(F.size("_failed_rules") > 0).withColumn("_quarantined_at", F.current_timestamp())
             .write.format("delta").mode("append").saveAsTable(f"hw_silver.{name}_quarantine"))
            valid = batch.where(F.size("_failed_rules") == 0).drop("_failed_rules")
            if drop:
                valid = valid.where(F.coalesce(F.expr(drop), F.lit(False)))
            window = Window.partitionBy(*keys).orderBy(F.col("_ingested_at").desc())
            latest = valid.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")
            session = latest.sparkSession
            if session.read.table(f"hw_silver.{name}").isEmpty():  # first load: nothing to merge with
                latest.write.format("delta").mode("append").saveAsTable(f"hw_silver.{name}")
            else:
                latest.createOrReplaceTempView(f"hw_changes_{name}")
                on = " AND ".join(f"t.{k} = s.{k}" for k in keys)
                session.sql(f"MERGE INTO hw_silver.{name} t USING hw_changes_{name} s ON {on} "
                            "WHEN MATCHED AND s._ingested_at > t._ingested_at THEN UPDATE SET * "
                            "WHEN NOT MATCHED THEN INSERT *")
            batch.unpersist()

        spark.readStream.table(source).createOrReplaceTempView("source")
        (spark.sql(spec[name]["transform"]["sql"]).writeStream.foreachBatch(write)
         .option("checkpointLocation", str(store / "_checkpoints" / name)).trigger(availableNow=True).start()
         .awaitTermination())

    silver("bars", "hw_bronze.bars_raw", ["symbol", "ts", "timeframe"], HANDWRITTEN_QUARANTINE, HANDWRITTEN_DROP)
    silver("trading_sessions", "hw_bronze.nyse_sessions_raw", ["session_date"],
           {"valid_session": "session_date IS NOT NULL AND open_utc < close_utc"}, None)

    stage("silver")

    # gold: recomputed from silver with the specs' SQL, overwritten
    spark.read.table("hw_silver.bars").createOrReplaceTempView("source")
    daily = spark.sql(spec["daily_bars"]["transform"]["sql"])
    daily.write.format("delta").mode("overwrite").option("path", str(store / "daily_bars")).saveAsTable("hw_gold.daily_bars")
    from transforms.indicators import daily_indicators  # the spec's transform.python

    indicators = daily_indicators(spark.read.table("hw_gold.daily_bars"))
    indicators.write.format("delta").mode("overwrite").option("path", str(store / "daily_indicators")) \
        .saveAsTable("hw_gold.daily_indicators")
    summary_sql = spec["symbol_summary"]["source"]["sql"].replace("FROM daily_bars", "FROM hw_gold.daily_bars") \
        .replace("JOIN trading_sessions", "JOIN hw_silver.trading_sessions")
    spark.sql(summary_sql).write.format("delta").mode("overwrite").option("path", str(store / "symbol_summary")) \
        .saveAsTable("hw_gold.symbol_summary")
    stage("gold")
    for table, columns in (("hw_bronze.bars_raw", "symbol"), ("hw_silver.bars", "symbol, trade_date"),
                           ("hw_gold.daily_bars", "symbol, trade_date"), ("hw_gold.daily_indicators", "symbol, trade_date"),
                           ("hw_gold.symbol_summary", "symbol")):
        spark.sql(f"OPTIMIZE {table} ZORDER BY ({columns})")
    stage("optimize")
    seconds, cpu = time.perf_counter() - started, cpu_seconds(spark) - cpu
    return {"seconds": seconds, "cpu_seconds": cpu, "stage_cpu_seconds": stages, "bronze_rows": spark.read.table("hw_bronze.bars_raw").count(),
            "silver_rows": spark.read.table("hw_silver.bars").count(),
            "gold_rows": spark.read.table("hw_gold.daily_bars").count()}


LATENCY_SYMBOL = "ZZZLATENCY"
"""Sorts after every generated symbol: a data file holds it exactly when its `symbol` statistics reach it."""
LATENCY_TABLES = ("bronze.bars_raw", "silver.bars", "gold.daily_bars", "gold.daily_indicators")


def holds_symbol(table: Path, symbol: str, after_version: int) -> bool:
    """Whether a commit after `after_version` added a data file whose `symbol` range reaches `symbol`.

    Read from the Delta log in plain Python (file statistics): polling with Spark would take executor time
    from the pipeline being measured.
    """
    log = table / "_delta_log"
    for commit in sorted(log.glob("*.json")):
        if int(commit.name.split(".")[0]) <= after_version:
            continue
        for line in commit.read_text().splitlines():
            add = json.loads(line).get("add") if line.strip() else None
            if add and add.get("stats"):
                stats = json.loads(add["stats"])
                if (stats.get("maxValues") or {}).get("symbol", "") >= symbol >= (stats.get("minValues") or {}).get(
                        "symbol", "~"):
                    return True
    return False


def latest_version(table: Path) -> int:
    versions = [int(p.name.split(".")[0]) for p in (table / "_delta_log").glob("*.json")]
    return max(versions, default=-1)


def latency_split(event_log: Path, landed_at: float) -> dict[str, dict]:
    """Per flow, its first processed batch that finished after the file landed: when it started and how long
    it took, in seconds from the landing (from the event log's flow_progress events)."""
    import pyarrow.parquet as pq

    from framework.delta_log import read_snapshot
    from framework.eventlog import LOCAL_DETAILS

    out: dict[str, dict] = {}
    rows = []
    for path in read_snapshot(event_log, history=1).file_paths():
        table = pq.read_table(path, columns=["timestamp", "event_type", "origin", "details"])
        rows += [r for r in table.to_pylist() if r["event_type"] == "flow_progress"]
    for row in sorted(rows, key=lambda r: r["timestamp"]):
        local = json.loads(row["details"]).get(LOCAL_DETAILS, {})  # what Databricks does not log
        ended = row["timestamp"].replace(tzinfo=timezone.utc).timestamp()
        flow = row["origin"]["flow_name"]
        if "duration_seconds" not in local or ended < landed_at or flow in out:
            continue
        rows_in = local.get("input_rows", 0)
        if rows_in == 0 and local.get("batch_id") is not None:
            continue
        duration = float(local["duration_seconds"])
        out[flow] = {"started": round(ended - duration - landed_at, 2), "seconds": round(duration, 2),
                     "finished": round(ended - landed_at, 2), "rows": rows_in}
    return out


def phase_continuous(root: Path, work: Path, trigger: str) -> dict:
    """Continuous Medallion on the loaded tables: land one file, time until each table shows it, and where
    the time goes (each flow's batch: when it started and how long it ran, from the event log)."""
    from framework.engine.runner import run_pipeline
    from framework.engine.spark import build_session
    from framework.project import load_project

    write_environment(root, work, trigger)
    project = load_project(root, env="bench")
    env = project.environment("bench")
    spark = build_session(env)
    stop = threading.Event()
    outcome: dict = {}
    runner = threading.Thread(target=lambda: outcome.setdefault("result", run_pipeline(
        project, env, spark=spark, continuous=True, stop_event=stop, handle_signals=False)), daemon=True)
    runner.start()
    time.sleep(5)
    checkpoints = env.storage_root / "checkpoints"
    deadline = time.monotonic() + 300
    while not (checkpoints / "silver/bars/stream/commits").is_dir() and time.monotonic() < deadline:
        time.sleep(0.5)
    time.sleep(3 * float(trigger.split()[0]))  # streams are up and idle
    tables = {name: env.storage_root / "tables" / name.replace(".", "/") for name in LATENCY_TABLES}
    versions = {name: latest_version(path) for name, path in tables.items()}
    day, opens, closes = sessions(int(os.environ.get("BENCH_SESSIONS", "27")) + 1)[0]  # just before the data
    lines = [json.dumps({"symbol": LATENCY_SYMBOL, "ts": stamp(datetime.fromtimestamp(opens.timestamp() + 60 * m,
                                                                                        timezone.utc)),
                         "timeframe": "1Min", "open": 10.0, "high": 10.5, "low": 9.5, "close": 10.2, "volume": 100,
                         "trade_count": 3, "vwap": 10.1, "session_open": stamp(opens), "session_close": stamp(closes),
                         "provider": "synthetic", "batch_id": "latency"}) for m in range(390)]
    landed, landed_at = time.perf_counter(), time.time()
    write_atomic(env.landing_path / "bars" / f"synthetic_{day}_latency.jsonl", "\n".join(lines) + "\n")
    timings: dict[str, float] = {}
    while len(timings) < len(tables) and time.perf_counter() - landed < 300:
        for name, path in tables.items():
            if name not in timings and holds_symbol(path, LATENCY_SYMBOL, versions[name]):
                timings[name] = round(time.perf_counter() - landed, 2)
        time.sleep(0.1)
    time.sleep(2)
    stop.set()
    runner.join(300)
    split = latency_split(env.storage_root / "tables" / "ops" / "event_log", landed_at)
    return {"trigger_interval": trigger, "seconds_until_visible": timings, "split": split}


# ---------------------------------------------------------------------------------------------------
# orchestration
# ---------------------------------------------------------------------------------------------------

def run_phase(name: str, root: Path, work: Path, extra: list[str]) -> dict:
    output = work / f"{name}.json"
    command = [sys.executable, __file__, "--phase", name, "--root", str(root), "--work", str(work),
               "--out", str(output), *extra]
    started = time.perf_counter()
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if completed.returncode:
        raise SystemExit(f"phase {name} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}")
    result = json.loads(output.read_text())
    result["process_seconds"] = round(time.perf_counter() - started, 1)
    return result


def fresh_storage(work: Path, contender: str) -> None:
    """Clear what a contender wrote before (each keeps its own folders under the bench storage)."""
    storage = work / "storage"
    for folder in (("handwritten",) if contender == "handwritten" else ("tables", "checkpoints")):
        if (storage / folder).exists():
            shutil.rmtree(storage / folder)


def _every_run(med: dict, hand: dict) -> list[str]:
    """Every run of both contenders and the overhead between their medians: the spread is part of the result."""
    def runs(c: dict) -> list[dict]:
        return c.get("all_runs") or [{"seconds": c["seconds"], "cpu_seconds": c["cpu_seconds"]}]

    def median(values: list[float]) -> float:
        ordered = sorted(values)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    m_wall, h_wall = median([r["seconds"] for r in runs(med)]), median([r["seconds"] for r in runs(hand)])
    m_cpu, h_cpu = median([r["cpu_seconds"] for r in runs(med)]), median([r["cpu_seconds"] for r in runs(hand)])
    shown = "; ".join(f"{name}: " + ", ".join(f"{r['seconds']:.1f} s ({r['cpu_seconds']:.1f} CPU s)" for r in runs(c))
                      for name, c in (("hand-written", hand), ("Medallion", med)))
    return [f"Every run — {shown}. Between medians: **{m_cpu / h_cpu - 1:+.1%} CPU, {m_wall / h_wall - 1:+.1%} wall**."]


def report(data: dict) -> str:
    rows = data["rows"]
    med, hand = data["medallion"], data["handwritten"]
    wall = med["seconds"] / hand["seconds"] - 1
    cpu = med["cpu_seconds"] / hand["cpu_seconds"] - 1
    repeats = data["repeat"]
    lines = [
        "# Pipeline benchmark: Medallion local runtime vs hand-written PySpark + Delta", "",
        f"{data['symbols']} symbols × {data['sessions']} NYSE sessions of minute bars = **{rows:,} bars** "
        f"({data['files']} landing files, {data['landing_mb']:.0f} MB of JSON lines), bronze → silver → gold on "
        f"{data['machine']}. Each contender runs in a fresh process with the same Spark settings and is timed from "
        "its first read to its last commit (JVM start-up excluded)"
        + (f"; best of {repeats} runs, alternating which goes first" if repeats > 1 else "") + ".", "",
        "| pipeline | wall seconds | rows/s | CPU seconds (driver JVM + Python) |", "|---|---:|---:|---:|",
        f"| hand-written PySpark + Delta | {hand['seconds']:.1f} | {rows / hand['seconds']:,.0f} | {hand['cpu_seconds']:.1f} |",
        f"| Medallion (`medallion run`) | {med['seconds']:.1f} | {rows / med['seconds']:,.0f} | {med['cpu_seconds']:.1f} |",
        "",
        f"**Medallion overhead: {cpu:+.1%} in CPU time, {wall:+.1%} in wall time** (target: under +10% at 1M+ "
        f"rows). The machine was shared with other jobs (load average {data['load_before']:.1f} before, "
        f"{data['load_after']:.1f} after), which moves wall time by tens of percent between runs; CPU time of the "
        "processes doing the work is the steadier comparison.", "",
        *_every_run(med, hand), "",
        "Where the time goes differs in two ways, both Medallion behaviour rather than tuning: independent flows "
        f"run at the same time (`max_parallel_flows`, {med.get('max_parallel_flows', 2)} here) where the script "
        "runs its steps one after another, and OPTIMIZE skips tables that are a single file "
        f"(Medallion optimized {', '.join(med.get('optimized', [])) or 'nothing'}; the script optimizes all five "
        f"tables, {hand.get('stage_cpu_seconds', {}).get('optimize', 0):.1f} CPU s).", "",
        "Per table (Medallion; flows overlap, so their seconds add up to more than the run):", "", "| table | seconds | read | written | dropped | quarantined | de-duplicated |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for table, flow in med["flows"].items():
        lines.append(f"| {table} | {flow['seconds']:.1f} | {flow['read']:,} | {flow['written']:,} | {flow['dropped']:,} "
                     f"| {flow['quarantined']:,} | {flow['deduplicated']:,} |")
    if "continuous" in data:
        cont = data["continuous"]
        seen = cont["seconds_until_visible"]
        lines += ["", f"Continuous mode (trigger interval {cont['trigger_interval']}, tables already holding the "
                      f"{rows:,} bars): one new landing file (390 bars) was visible in "
                      + ", ".join(f"{t} after {s:.1f}s" for t, s in seen.items())
                      + " (seen in each table's Delta log, read without Spark).", "",
                  "Where the time went, from the event log: each flow's first batch (or refresh) after the file "
                  "landed — when it started and finished, in seconds after the landing.", "",
                  "| flow | started | ran | finished | rows read |", "|---|---:|---:|---:|---:|"]
        for flow, part in sorted(cont.get("split", {}).items(), key=lambda kv: kv[1]["started"]):
            lines.append(f"| {flow} | {part['started']:.1f} | {part['seconds']:.1f} | {part['finished']:.1f} "
                         f"| {part['rows']:,} |")
    lines += ["", "What the hand-written script does: the same spec SQL, the same quarantine rules (with the failed "
              "rule names) and out-of-session drop, the same de-duplicating MERGE on (symbol, ts, timeframe) "
              "(a plain append while the table is empty), the same table properties and OPTIMIZE ZORDER. What "
              "Medallion does on top: per-rule pass/fail counts, the DLT-shaped event log, per-record "
              "schema-evolution checks on JSON, idempotent (exactly-once) writes and materialized-view refresh "
              "only when inputs changed.",
              "", f"Reproduce: `.venv/bin/python bench/pipeline.py --symbols {data['symbols']} --sessions "
              f"{data['sessions']} --repeat {repeats}` (raw numbers: bench/results/pipeline.json)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=27)
    parser.add_argument("--trigger", default="2 seconds", help="continuous-mode trigger interval")
    parser.add_argument("--no-continuous", action="store_true")
    parser.add_argument("--repeat", type=int, default=2, help="runs per contender, alternating order (best is reported)")
    parser.add_argument("--work", type=Path, default=WORK)
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--phase", choices=["medallion", "handwritten", "continuous"], help=argparse.SUPPRESS)
    parser.add_argument("--root", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ["BENCH_SESSIONS"] = str(args.sessions)

    if args.phase:
        phases = {"medallion": lambda: phase_medallion(args.root), "handwritten": lambda: phase_handwritten(args.root),
                  "continuous": lambda: phase_continuous(args.root, args.work, args.trigger)}
        args.out.write_text(json.dumps(phases[args.phase](), indent=2, default=str))
        return

    work = args.work.resolve()
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    days = sessions(args.sessions)
    t = time.perf_counter()
    rows = generate(work / "landing", args.symbols, days)
    print(f"generated {rows:,} bars in {time.perf_counter() - t:.1f}s", flush=True)
    root = make_project(work)
    data = {"symbols": args.symbols, "sessions": args.sessions, "rows": rows,
            "files": len(list((work / "landing" / "bars").glob("*.jsonl"))),
            "landing_mb": sum(p.stat().st_size for p in (work / "landing").rglob("*.jsonl")) / 1e6,
            "machine": f"{os.cpu_count()} cores, local[2]"}
    data["repeat"], data["load_before"] = args.repeat, os.getloadavg()[0]
    runs: dict[str, list[dict]] = {"handwritten": [], "medallion": []}
    for i in range(args.repeat):
        for name in (("handwritten", "medallion") if i % 2 == 0 else ("medallion", "handwritten")):
            fresh_storage(work, name)
            runs[name].append(run_phase(name, root, work, []))
            print(f"{name:12s} {runs[name][-1]['seconds']:6.1f}s wall {runs[name][-1]['cpu_seconds']:6.1f}s CPU",
                  flush=True)
    for name, results in runs.items():
        data[name] = min(results, key=lambda r: r["cpu_seconds"])
        data[name]["seconds"] = min(r["seconds"] for r in results)
        data[name]["all_runs"] = [{"seconds": round(r["seconds"], 1), "cpu_seconds": round(r["cpu_seconds"], 1)}
                                  for r in results]
    if not args.no_continuous:
        data["continuous"] = run_phase("continuous", root, work, ["--trigger", args.trigger])
        print(f"continuous:   {data['continuous']['seconds_until_visible']}", flush=True)
    data["load_after"] = os.getloadavg()[0]
    args.results.mkdir(parents=True, exist_ok=True)
    (args.results / "pipeline.json").write_text(json.dumps(data, indent=2, default=str))
    (args.results / "pipeline.md").write_text(report(data))
    print(report(data))


if __name__ == "__main__":
    main()
