"""Benchmark: a daily-bar backfill through `medallion collect` then `medallion run`, on a throwaway project.

    .venv/bin/python bench/backfill.py                          # 50 symbols x 2 years of 1Day bars
    .venv/bin/python bench/backfill.py --write                  # record the run in bench/results/backfill.json
    .venv/bin/python bench/backfill.py --rev 305b69a --label before --write   # the code of another commit
    .venv/bin/python bench/backfill.py --count-only --symbols 500 --years 20  # landing files only, no pipeline

What it measures, for the landing layout of the code it runs against:

* the landing files the backfill writes (bars and calendar) and how long `medallion collect` takes;
* the pipeline update `medallion run` runs on them: its wall time and, per flow, the time and rows the
  run's own summary table reports — bronze (`bronze.bars_raw`, the file stream over the bars folder)
  is the figure the landing layout drives.

`--rev REV` runs the `framework/` package of another commit (extracted with `git archive` under
bench/.work/), to measure the layout before a change on the same machine and load as after it.

Both commands run as subprocesses, exactly as a user would type them, against a copy of tables/ and
environments/ under bench/.work/backfill/ with an environment `bench` (extends `local`) whose landing
folder and storage are there; nothing of the repository's own .medallion/ is touched. The machine's
load (`uptime`) is recorded before and after each command.

`--count-only` prints how many landing files a backfill of the given size writes under the layout of
the code it runs against (collect only, no pipeline), for the scaling note (e.g. 500 symbols x 20 years).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work" / "backfill"
RESULTS = REPO / "bench" / "results"
RAW = RESULTS / "backfill.json"
END = date(2025, 11, 28)
"""Last day of the backfill: fixed so every run lands the same sessions."""
FLOWS = ("bronze.bars_raw", "bronze.nyse_sessions_raw", "silver.bars", "silver.trading_sessions",
         "gold.daily_bars", "gold.daily_indicators", "gold.symbol_summary")


def symbols(count: int) -> list[str]:
    return [f"S{i:03d}" for i in range(count)]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def git_commit(rev: str | None = None) -> str:
    if rev is not None:
        return rev
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "framework"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def make_project(work: Path, n_symbols: int) -> Path:
    """tables/ and environments/ copied under `work`, plus an environment `bench` pointing into `work`."""
    if work.exists():
        shutil.rmtree(work)
    root = work / "project"
    root.mkdir(parents=True)
    for folder in ("tables", "environments", "market"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "medallion.yaml", root / "medallion.yaml")  # the project's check kinds
    (root / "environments" / "bench.yaml").write_text(
        "name: bench\nextends: local\n"
        f"landing_path: {work / 'landing'}\nstorage_root: {work / 'storage'}\n"
        "collect:\n  provider: synthetic\n  timeframe: 1Day\n  seed: 7\n  defect_rate: 0\n"
        f"  symbols: [{', '.join(symbols(n_symbols))}]\n")
    return root


def source(rev: str | None) -> Path:
    """Where `python -m framework` runs from: this checkout, or `framework/` of commit `rev` extracted."""
    if rev is None:
        return REPO
    folder = WORK / f"src-{rev}"
    if not (folder / "framework").is_dir():
        folder.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", rev, "framework"], cwd=REPO, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive.stdout, check=True)
    return folder


def medallion(src: Path, root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float, str, str]:
    """Run `medallion ARGS` (as `python -m framework` from `src`): the process, wall seconds, load before/after."""
    before = load()
    started = time.perf_counter()
    env = {**os.environ, "COLUMNS": "220", "MEDALLION_JAR_CACHE": str(REPO / ".cache" / "jars")}
    done = subprocess.run([sys.executable, "-m", "framework", *args, "--project", str(root), "--env", "bench"],
                          cwd=src, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"medallion {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done, seconds, before, load()


def landing_files(landing: Path) -> dict[str, int]:
    """Visible files (what a file stream lists: names not starting with `.` or `_`) per landing folder."""
    return {folder: sum(1 for p in (landing / folder).iterdir() if not p.name.startswith((".", "_")))
            for folder in ("bars", "calendar") if (landing / folder).is_dir()}


def collect(src: Path, root: Path, n_symbols: int, years: int, start: date | None = None) -> dict:
    """`medallion collect` of the last `years` up to END (or from `start`)."""
    start = start or END.replace(year=END.year - years) + timedelta(days=1)
    done, seconds, before, after = medallion(src, root, "collect", "--start", start.isoformat(),
                                             "--end", END.isoformat(), "--format", "json", "--quiet")
    report = json.loads(done.stdout)
    files = landing_files(root.parent / "landing")
    return {"start": start.isoformat(), "end": END.isoformat(), "symbols": n_symbols, "years": years,
            "sessions": len(report["sessions"]), "lines": report["lines"], "files": files,
            "total_files": sum(files.values()), "seconds": round(seconds, 1), "load_before": before,
            "load_after": after}


def parse_summary(text: str) -> dict[str, dict]:
    """Per flow: status, rows read / written and seconds, from `medallion run`'s summary table."""
    flows: dict[str, dict] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in re.split(r"[│┃|]", line) if c.strip()]
        if len(cells) >= 5 and cells[0] in FLOWS and cells[-1].endswith("s"):
            flows[cells[0]] = {"status": cells[1], "read": int(cells[2].replace(",", "")),
                               "written": int(cells[3].replace(",", "")), "seconds": float(cells[-1][:-1])}
    return flows


def run(src: Path, root: Path) -> dict:
    """Bronze alone first (its flow then has the Spark session to itself, and its CPU time is its own), in
    a fresh process running `run_pipeline(tables=["bars_raw"])` — what `medallion run --tables bars_raw`
    runs — timed from the update's start to its end (JVM start-up excluded); then `medallion run` for
    the rest of the pipeline on top."""
    before = load()
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--phase-bronze", str(root),
                           "--src", str(src)], cwd=src, capture_output=True, text=True,
                          env={**os.environ, "MEDALLION_JAR_CACHE": str(REPO / ".cache" / "jars")})
    if done.returncode != 0:
        raise SystemExit(f"bronze phase failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    bronze = {**json.loads(done.stdout.strip().splitlines()[-1]), "load_before": before, "load_after": load()}
    rest, seconds, _, after = medallion(src, root, "run")
    return {"bronze": bronze, "rest": {"command_seconds": round(seconds, 1), "update_seconds": _update_seconds(rest.stdout),
                                       "flows": parse_summary(rest.stdout), "load_after": after}}


def phase_bronze(root: Path, src: Path) -> dict:
    """In this process: one update of bronze.bars_raw, with wall and CPU (this process + its JVM) seconds,
    then a second one with nothing new (the fixed cost of an update, whatever the layout)."""
    sys.path.insert(0, str(src))
    from framework.engine.runner import run_pipeline
    from framework.engine.spark import build_session
    from framework.project import load_project

    project = load_project(root, env="bench")
    env = project.environment("bench")
    spark = build_session(env)
    jvm = spark._jvm.java.lang.ProcessHandle.current().pid()
    cpu, started = process_cpu(jvm) + process_cpu(os.getpid()), time.perf_counter()
    result = run_pipeline(project, env, spark=spark, tables=["bars_raw"], handle_signals=False)
    seconds, cpu = time.perf_counter() - started, process_cpu(jvm) + process_cpu(os.getpid()) - cpu
    assert result.ok, [(f.table, f.error) for f in result.failed]
    flow = result.flow("bars_raw")
    rows = flow.metrics.written_rows
    # the floor: the same update again with nothing new to read (stream start, listing, event log)
    idle_cpu, started = process_cpu(jvm) + process_cpu(os.getpid()), time.perf_counter()
    again = run_pipeline(project, env, spark=spark, tables=["bars_raw"], handle_signals=False)
    idle_seconds, idle_cpu = time.perf_counter() - started, process_cpu(jvm) + process_cpu(os.getpid()) - idle_cpu
    assert again.ok and again.flow("bars_raw").metrics.written_rows == 0
    return {"written": rows, "flow_seconds": round(flow.seconds, 1), "update_seconds": round(seconds, 1),
            "cpu_seconds": round(cpu, 1), "rows_per_second": round(rows / flow.seconds) if flow.seconds else None,
            "idle_update_seconds": round(idle_seconds, 1), "idle_cpu_seconds": round(idle_cpu, 1)}


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a running process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _update_seconds(output: str) -> float | None:
    match = re.search(r"update \w+ \w+ in ([\d.]+)s", output)
    return float(match.group(1)) if match else None


def measure(label: str, n_symbols: int, years: int, rev: str | None, start: date | None) -> dict:
    work, src = WORK / label, source(rev)
    root = make_project(work, n_symbols)
    landed = collect(src, root, n_symbols, years, start)
    print(f"collect: {landed['lines']:,} lines in {landed['total_files']:,} files {landed['files']} "
          f"({landed['seconds']} s)")
    pipeline = run(src, root)
    bronze = pipeline["bronze"]
    print(f"bronze: {bronze['written']:,} rows in {bronze['flow_seconds']} s ({bronze['rows_per_second']:,} rows/s), "
          f"{bronze['cpu_seconds']} s CPU (an update with nothing new: {bronze['idle_update_seconds']} s, "
          f"{bronze['idle_cpu_seconds']} s CPU); the rest of the pipeline: {pipeline['rest']['update_seconds']} s")
    shutil.rmtree(work)
    return {"label": label, "commit": git_commit(rev), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "collect": landed, "run": pipeline}


def count_only(n_symbols: int, years: int, rev: str | None) -> dict:
    work = WORK / "count"
    root = make_project(work, n_symbols)
    landed = collect(source(rev), root, n_symbols, years)
    shutil.rmtree(work)
    print(f"{n_symbols} symbols x {years} years: {landed['lines']:,} lines in {landed['total_files']:,} files "
          f"{landed['files']} ({landed['seconds']} s)")
    return {"label": "count", "commit": git_commit(rev), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "collect": landed}


def record(entry: dict) -> None:
    runs = json.loads(RAW.read_text()) if RAW.exists() else []
    RAW.write_text(json.dumps(runs + [entry], indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--start", type=date.fromisoformat, help="first day instead of --years (e.g. the floor: "
                        "--symbols 1 --start 2025-11-28 is one file of one bar)")
    parser.add_argument("--label", default="run", help="name of this measurement in the results (e.g. before)")
    parser.add_argument("--count-only", action="store_true", help="collect only: count the landing files")
    parser.add_argument("--rev", help="measure the framework/ of this commit instead of the checkout")
    parser.add_argument("--write", action="store_true", help=f"append the result to {RAW.relative_to(REPO)}")
    parser.add_argument("--phase-bronze", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--src", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.phase_bronze:
        print(json.dumps(phase_bronze(args.phase_bronze, args.src)))
        return
    entry = (count_only(args.symbols, args.years, args.rev) if args.count_only
             else measure(args.label, args.symbols, args.years, args.rev, args.start))
    if args.write:
        record(entry)


if __name__ == "__main__":
    main()
