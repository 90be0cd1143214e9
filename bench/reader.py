"""Benchmark: the local Auto Loader stand-in reading JSON lines, against Spark's plain JSON reader.

    .venv/bin/python bench/reader.py                      # 100 symbols x 8 sessions of minute bars (312,000 lines)
    .venv/bin/python bench/reader.py --sessions 27        # ~1M lines, as bench/pipeline.py lands
    .venv/bin/python bench/reader.py --write              # record in bench/results/reader.md

The local engine reads each JSON line twice (as a map of its fields and with the declared types) so that
every field is placed by name or rescued on its own (framework/engine/autoloader.py). This measures what
that costs per row: `medallion run --tables bars_raw` (the bronze flow alone: read, rescue, Delta append,
event log) on freshly landed files, beside a hand-written bronze — `spark.read.schema(...).json(...)`
appended to a Delta table, which places fields by name but rescues nothing. Same session settings, the
JVM start excluded, two rounds alternating which goes first. The ratio is the price of the rescue.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from pipeline import generate, make_project, sessions, write_environment

REPO = Path(__file__).resolve().parents[1]
WORK = REPO / "bench" / ".work" / "reader"
sys.path.insert(0, str(REPO))


def load() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def fresh_storage(work: Path) -> None:
    shutil.rmtree(work / "storage", ignore_errors=True)
    shutil.rmtree(work / "handwritten", ignore_errors=True)


def medallion_bronze(spark, root: Path) -> float:
    from framework.engine.runner import run_pipeline
    from framework.project import load_project

    project = load_project(root, env="bench")
    started = time.perf_counter()
    result = run_pipeline(project, project.environment("bench"), tables=["bars_raw"], spark=spark,
                          handle_signals=False)
    seconds = time.perf_counter() - started
    assert result.ok, [(f.table, f.error) for f in result.failed]
    return seconds


def handwritten_bronze(spark, root: Path, work: Path) -> float:
    from framework.project import load_project

    spec = load_project(root, env="bench").tables["bars_raw"]
    schema = ", ".join(f"`{c.name}` {c.type}" for c in spec.columns)
    started = time.perf_counter()
    (spark.read.schema(schema).json(str(work / "landing" / "bars"))
     .write.format("delta").mode("append").save(str(work / "handwritten" / "bars_raw")))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--write", action="store_true", help="record in bench/results/reader.md")
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    lines = generate(WORK / "landing", args.symbols, sessions(args.sessions))
    root = make_project(WORK)
    write_environment(root, WORK)
    from framework.engine.spark import build_session
    from framework.project import load_project

    spark = build_session(load_project(root, env="bench").environment("bench"))
    spark.sparkContext.setLogLevel("ERROR")
    rounds: list[dict[str, float]] = []
    loads = [load()]
    for round_no in range(args.rounds):
        timings: dict[str, float] = {}
        order = ("medallion", "handwritten") if round_no % 2 == 0 else ("handwritten", "medallion")
        fresh_storage(WORK)
        for contender in order:
            timings[contender] = (medallion_bronze(spark, root) if contender == "medallion"
                                  else handwritten_bronze(spark, root, WORK))
            print(f"round {round_no + 1} {contender}: {timings[contender]:.1f} s", flush=True)
        rounds.append(timings)
        loads.append(load())
    best = {name: min(r[name] for r in rounds) for name in rounds[0]}
    report = [
        f"# The JSON-lines reader (bench/reader.py), {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "",
        f"`bench/reader.py --symbols {args.symbols} --sessions {args.sessions}` at "
        f"{subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], capture_output=True, text=True, cwd=REPO).stdout.strip()}: "
        f"{lines:,} lines of minute bars; 2 CPUs. Load (`uptime`) before and after each round:", "",
        *[f"* {entry}" for entry in loads], "",
        "| contender | " + " | ".join(f"round {i + 1}" for i in range(len(rounds))) + " | best | rows/s (best) |",
        "|---|" + "---:|" * (len(rounds) + 2),
        *[f"| {name} | " + " | ".join(f"{r[name]:.1f} s" for r in rounds) + f" | {best[name]:.1f} s | "
          f"{lines / best[name]:,.0f} |" for name in best],
        "", f"Medallion / hand-written (best): {best['medallion'] / best['handwritten']:.2f}x", ""]
    print("\n".join(report))
    if args.write:
        (REPO / "bench" / "results" / "reader.md").write_text("\n".join(report))


if __name__ == "__main__":
    main()
