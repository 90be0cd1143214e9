"""Benchmark: the developer's inner loop — edit, validate, run, look — command by command (issue 24).

    .venv/bin/python bench/loop.py                 # 3 rounds, print the table
    .venv/bin/python bench/loop.py --rounds 5 --write   # the table in bench/results/loop-table.md

On a throwaway copy of the project (bench/.work/loop/: tables/, environments/, transforms/, market/, medallion.yaml and a `loop`
environment extending `local` whose landing and storage folders are inside it), after collecting the
shipped sample (synthetic 1Min bars, 10 sessions, 12 symbols, ~45k rows) and running the pipeline once:

| step | command |
|---|---|
| validate | `medallion validate` |
| no-op run | `medallion run` with nothing new (answers without a JVM: framework/engine/noop.py) |
| edited gold table | an edit to `tables/gold/symbol_summary.yaml`, then `medallion run --tables symbol_summary` |
| query | `medallion sql "SELECT count(*) FROM silver.bars"` |
| check | `medallion check` after a run whose quality checks ran (the job's quality_checks task): no JVM |
| check, reconciliation recomputed | `medallion check` with the reconciliation memo deleted: one Spark start |
| Spark floor | a bare SparkSession with Delta (`framework.engine.spark.build_session`) reading one table |

Each step runs as a subprocess, exactly as typed, `--rounds` times, alternating with the others (so a burst
of load elsewhere hits every step alike); the table has the median and the minimum, and the machine's
load (`uptime`) before and after. The machine may be shared: the load is part of the result.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work" / "loop"
RESULTS = REPO / "bench" / "results"
EDITED = "tables/gold/symbol_summary.yaml"

FLOOR = """
import sys
from pathlib import Path
from framework.project import load_project
from framework.engine.spark import build_session
project = load_project(Path(sys.argv[1]), env="loop")
env = project.environment("loop")
spark = build_session(env)
print(spark.read.format("delta").load(str(env.storage_root / "tables" / "silver" / "bars")).count())
spark.stop()
"""


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip().split("load average:")[-1].strip()


def medallion(*args: str) -> list[str]:
    return [sys.executable, "-m", "framework", *args, "--project", str(WORK)]


def timed(argv: list[str], *, env_name: bool = True) -> tuple[float, str]:
    """Wall seconds of one command (it must succeed) and its output's last line."""
    argv = [*argv, "--env", "loop"] if env_name else argv
    started = time.perf_counter()
    done = subprocess.run(argv, cwd=WORK, capture_output=True, text=True, env={**os.environ, "COLUMNS": "200"})
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return seconds, lines[-1] if lines else ""


def prepare() -> None:
    """A fresh copy of the project with the sample collected and run once."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir(parents=True)
    for folder in ("tables", "environments", "transforms", "market"):
        shutil.copytree(REPO / folder, WORK / folder)
    shutil.copy(REPO / "medallion.yaml", WORK / "medallion.yaml")  # the collect task and the market's check kinds
    (WORK / "environments" / "loop.yaml").write_text(
        "name: loop\nextends: local\n"
        f"landing_path: {WORK / 'landing'}\nstorage_root: {WORK / 'storage'}\n")
    timed(medallion("task", "collect"))
    timed(medallion("run"))
    timed(medallion("check"))  # as the job's quality_checks task does after the update: computes the memo


def forget_reconciliations() -> None:
    """The cold case: no reconciliation memoized (framework/checks/memo.py), so check starts Spark."""
    from framework.checks.memo import MEMO_FILE
    from framework.engine.storage import Storage

    (Storage(WORK / "storage").state_file(MEMO_FILE)).unlink(missing_ok=True)


def edit_gold(round_number: int) -> None:
    """A change a developer makes to a gold table: its description (a new definition, the same data)."""
    original = (REPO / EDITED).read_text()
    assert "One row per symbol" in original
    (WORK / EDITED).write_text(original.replace("One row per symbol", f"One row per symbol (edit {round_number})", 1))


STEPS = {
    "validate": lambda r: timed(medallion("validate"), env_name=False),
    "no-op run": lambda r: timed(medallion("run")),
    "edited gold table": lambda r: (edit_gold(r), timed(medallion("run", "--tables", "symbol_summary")))[1],
    "query": lambda r: timed(medallion("sql", "SELECT count(*) AS n FROM silver.bars")),
    "check": lambda r: timed(medallion("check")),
    "check, reconciliation recomputed": lambda r: (forget_reconciliations(), timed(medallion("check")))[1],
    "Spark floor": lambda r: timed([sys.executable, "-c", FLOOR, str(WORK)], env_name=False),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="record the table in bench/results/loop-table.md (loop.md reads it)")
    parser.add_argument("--reuse", action="store_true", help="keep bench/.work/loop as it is (already run)")
    args = parser.parse_args()
    started_load = load()
    if not (args.reuse and (WORK / "storage").is_dir()):
        prepare()
    times: dict[str, list[float]] = {name: [] for name in STEPS}
    loads: list[str] = [load()]
    tails: dict[str, str] = {}
    for round_number in range(1, args.rounds + 1):
        for name, step in STEPS.items():
            if name == "no-op run" and round_number > 1:
                timed(medallion("run"))  # the edited gold table ran alone: bring everything up to date first
            seconds, tail = step(round_number)
            times[name].append(seconds)
            tails[name] = tail
            print(f"round {round_number} {name}: {seconds:.2f}s  ({tail[:100]})", flush=True)
        loads.append(load())
        report(args, times, tails, started_load, loads, round_number)  # a stopped benchmark keeps its rounds


def report(args: argparse.Namespace, times: dict[str, list[float]], tails: dict[str, str], started_load: str,
           loads: list[str], rounds: int) -> None:
    """Print the table (and write bench/results/loop-table.md with --write) for the rounds done so far."""
    rows = [(name, statistics.median(values), min(values), tails[name]) for name, values in times.items()]
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [f"# The developer loop (bench/loop.py), {stamp}", "",
              f"{rounds} of {args.rounds} round(s) of each step, alternating; commit "
              f"{subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=REPO).stdout.strip()}"
              f", {os.cpu_count()} CPUs, Python {platform.python_version()}.", "",
              f"Load average (1, 5, 15 min) before preparing: {started_load}; before each round and after the last: "
              + " | ".join(loads) + ".", "",
              "| step | median | min | last output line |", "|---|---:|---:|---|"]
    lines += [f"| {name} | {median:.2f} s | {low:.2f} s | `{tail[:90]}` |" for name, median, low, tail in rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.mkdir(parents=True, exist_ok=True)
        (RESULTS / "loop-table.md").write_text(text)


if __name__ == "__main__":
    main()
