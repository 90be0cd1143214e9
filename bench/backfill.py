"""Benchmark: a daily-bar backfill through `medallion collect` then `medallion run`, on a throwaway project.

    .venv/bin/python bench/backfill.py                          # 50 symbols x 2 years of 1Day bars
    .venv/bin/python bench/backfill.py --label before --write   # record a run (bench/results/backfill.json)
    .venv/bin/python bench/backfill.py --report                 # rewrite bench/results/backfill.md

What it measures, for the landing layout of the code it runs against:

* the landing files the backfill writes (bars and calendar) and how long `medallion collect` takes;
* the pipeline update `medallion run` runs on them: its wall time and, per flow, the time and rows the
  run's own summary table reports — bronze (`bronze.bars_raw`, the file stream over the bars folder)
  is the figure the landing layout drives.

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
         "gold.daily_bars", "gold.daily_returns", "gold.daily_indicators", "gold.symbol_summary")


def symbols(count: int) -> list[str]:
    return [f"S{i:03d}" for i in range(count)]


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def git_commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain", "framework"], cwd=REPO, capture_output=True, text=True)
    return done.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def make_project(work: Path, n_symbols: int) -> Path:
    """tables/ and environments/ copied under `work`, plus an environment `bench` pointing into `work`."""
    if work.exists():
        shutil.rmtree(work)
    root = work / "project"
    root.mkdir(parents=True)
    for folder in ("tables", "environments"):
        shutil.copytree(REPO / folder, root / folder)
    (root / "environments" / "bench.yaml").write_text(
        "name: bench\nextends: local\n"
        f"landing_path: {work / 'landing'}\nstorage_root: {work / 'storage'}\n"
        "collect:\n  provider: synthetic\n  timeframe: 1Day\n  seed: 7\n  defect_rate: 0\n"
        f"  symbols: [{', '.join(symbols(n_symbols))}]\n")
    return root


def medallion(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, float, str, str]:
    """Run `medallion ARGS` (as `python -m framework`); returns the process, seconds and load before/after."""
    before = load()
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "framework", *args, "--project", str(root), "--env", "bench"],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "COLUMNS": "220"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"medallion {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done, seconds, before, load()


def landing_files(landing: Path) -> dict[str, int]:
    """Visible files (what a file stream lists: names not starting with `.` or `_`) per landing folder."""
    return {folder: sum(1 for p in (landing / folder).iterdir() if not p.name.startswith((".", "_")))
            for folder in ("bars", "calendar") if (landing / folder).is_dir()}


def collect(root: Path, n_symbols: int, years: int) -> dict:
    start = END.replace(year=END.year - years) + timedelta(days=1)
    done, seconds, before, after = medallion(root, "collect", "--start", start.isoformat(), "--end", END.isoformat(),
                                             "--format", "json", "--quiet")
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


def run(root: Path) -> dict:
    done, seconds, before, after = medallion(root, "run")
    flows = parse_summary(done.stdout)
    missing = [f for f in ("bronze.bars_raw", "silver.bars") if f not in flows]
    if missing:
        raise SystemExit(f"could not read {missing} from the run summary:\n{done.stdout}")
    bronze = flows["bronze.bars_raw"]
    match = re.search(r"in ([\d.]+)s", done.stdout.splitlines()[-1])
    return {"seconds": round(seconds, 1), "update_seconds": float(match.group(1)) if match else None,
            "flows": flows, "bronze_rows": bronze["written"], "bronze_seconds": bronze["seconds"],
            "bronze_rows_per_second": round(bronze["written"] / bronze["seconds"]) if bronze["seconds"] else None,
            "load_before": before, "load_after": after}


def measure(label: str, n_symbols: int, years: int) -> dict:
    work = WORK / label
    root = make_project(work, n_symbols)
    landed = collect(root, n_symbols, years)
    print(f"collect: {landed['lines']:,} lines in {landed['total_files']:,} files {landed['files']} "
          f"({landed['seconds']} s)")
    pipeline = run(root)
    print(f"run: {pipeline['seconds']} s; bronze {pipeline['bronze_rows']:,} rows in {pipeline['bronze_seconds']} s "
          f"({pipeline['bronze_rows_per_second']:,} rows/s)")
    shutil.rmtree(work)
    return {"label": label, "commit": git_commit(), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "collect": landed, "run": pipeline}


def count_only(n_symbols: int, years: int) -> dict:
    work = WORK / "count"
    root = make_project(work, n_symbols)
    landed = collect(root, n_symbols, years)
    shutil.rmtree(work)
    print(f"{n_symbols} symbols x {years} years: {landed['lines']:,} lines in {landed['total_files']:,} files "
          f"{landed['files']} ({landed['seconds']} s)")
    return {"label": "count", "commit": git_commit(), "at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "collect": landed}


def record(entry: dict) -> None:
    runs = json.loads(RAW.read_text()) if RAW.exists() else []
    RAW.write_text(json.dumps(runs + [entry], indent=2) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--symbols", type=int, default=50)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--label", default="run", help="name of this measurement in the results (e.g. before)")
    parser.add_argument("--count-only", action="store_true", help="collect only: count the landing files")
    parser.add_argument("--write", action="store_true", help=f"append the result to {RAW.relative_to(REPO)}")
    args = parser.parse_args()
    entry = count_only(args.symbols, args.years) if args.count_only else measure(args.label, args.symbols, args.years)
    if args.write:
        record(entry)


if __name__ == "__main__":
    main()
