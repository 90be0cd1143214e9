"""Benchmark: `medallion diff` on 1,000 specs with 10 of them changed (target: under 3 s).

    python bench/diff.py [--tables 1000] [--repeat 5] [--write]

It generates the validate benchmark's project (bench/validate.py, same seed) into bench/.work/diff/,
commits it in a fresh git repository, then edits 10 specs in the working tree: 4 gain a column, 2
widen a column's type, 2 change their keys, 2 bronze tables lose a column their readers use. It times
`medallion diff --against HEAD --format json --allow-breaking` as a fresh process, `--repeat` times after
one untimed warm-up, checks the report (10 changed tables, the removed columns breaking at the readers'
lines), and records wall and CPU time with the load average (the machine is shared).
The numbers go to stdout and, with --write, into bench/results/diff.md.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from validate import MEDALLION, REPO, build_tables, load_average, machine, time_runs, write_project

WORK = REPO / "bench" / ".work" / "diff"
RESULTS = REPO / "bench" / "results" / "diff.md"
TARGET_SECONDS = 3.0
GIT = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid", "-c", "commit.gpgsign=false"]


def _column_line(text: str, index: int) -> re.Match[str]:
    return list(re.finditer(r"^  - \{name: (\w+), type: \"([^\"]+)\".*$", text, re.M))[index]


def edit_specs(root: Path) -> dict[str, list[str]]:
    """Ten edits, chosen deterministically (sorted file names); returns the tables per kind of edit."""
    files = sorted((root / "tables").rglob("*.yaml"))
    by_layer = {layer: [f for f in files if f.parent.name == layer] for layer in ("bronze", "silver", "gold")}
    edits: dict[str, list[str]] = {"column_added": [], "column_widened": [], "keys": [], "column_removed": []}
    for path in by_layer["gold"][:4]:
        text = path.read_text()
        path.write_text(text.replace("columns:\n", "columns:\n  - {name: bench_added, type: \"STRING\"}\n", 1))
        edits["column_added"].append(path.stem)
    widened = 0
    for path in by_layer["gold"][4:] + by_layer["silver"][2:]:
        text = path.read_text()
        match = re.search(r"type: \"INT\"", text)
        if match and widened < 2:
            path.write_text(text[:match.start()] + 'type: "BIGINT"' + text[match.end():])
            edits["column_widened"].append(path.stem)
            widened += 1
    for path in by_layer["silver"][:2]:
        text = path.read_text()
        first = _column_line(text, 2).group(1)
        path.write_text(re.sub(r"^keys: \[(.*)\]$", lambda m: f"keys: [{m.group(1)}, {first}]", text, count=1,
                               flags=re.M))
        edits["keys"].append(path.stem)
    removed = 0
    for path in by_layer["bronze"]:
        if removed == 2:
            break
        text = path.read_text()
        line = _column_line(text, -1)
        readers = [f for f in by_layer["silver"] if re.search(rf"\b{path.stem}\b", f.read_text())]
        if not readers:
            continue
        path.write_text(text[:line.start()] + text[line.end() + 1:])
        edits["column_removed"].append(path.stem)
        removed += 1
    return edits


def prepare(count: int) -> tuple[Path, dict[str, list[str]]]:
    root = write_project(build_tables(count), WORK / f"medallion-{count}")
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run([*GIT, "add", "."], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "bench"], cwd=root, check=True)
    return root, edit_specs(root)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write bench/results/diff.md")
    args = parser.parse_args(argv)
    root, edits = prepare(args.tables)
    command = [str(MEDALLION), "diff", "--against", "HEAD", "--format", "json", "--allow-breaking"]
    report = json.loads(subprocess.run(command, cwd=root, capture_output=True, text=True, check=True).stdout)
    changed = {t["table"]: t for t in report["tables"]}
    expected = {name for names in edits.values() for name in names}
    assert set(changed) == expected, (sorted(changed), sorted(expected))
    breaks = sum(len(changed[name]["breaks"]) for name in edits["column_removed"])
    assert breaks > 0, "the removed columns break no reader"
    load_before = load_average()
    runs = time_runs(command, root, args.repeat)
    yardstick = time_runs([str(MEDALLION), "validate", "--format", "json"], root, args.repeat, expect_rc=1).summary()
    load_after = load_average()
    s = runs.summary()
    consequences = {t["table"]: t["consequence"] for t in report["tables"]}
    lines = [
        "# `medallion diff` on 1,000 specs, 10 changed",
        "",
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC by `python bench/diff.py --tables {args.tables} "
        f"--repeat {args.repeat} --write`; {machine()['cpu']}, {machine()['cores']} cores, shared with other work "
        f"(load average before {load_before}, after {load_after}).",
        "",
        "| specs | changed | wall median | wall min | CPU median | runs |",
        "|---|---|---|---|---|---|",
        f"| {args.tables:,} | {len(expected)} | {s['median']:.2f} s | {s['min']:.2f} s | {s['cpu_median']:.2f} s | "
        f"{s['runs']} |",
        "",
        f"- target under {TARGET_SECONDS:.0f} s: **{'met' if s['median'] < TARGET_SECONDS else 'not met'}** in wall "
        f"time, **{'met' if s['cpu_median'] < TARGET_SECONDS else 'not met'}** in CPU time (the command's process "
        "and git's).",
        f"- yardstick, measured right after on the same machine: `medallion validate` on the same working tree "
        f"(which the removed columns make invalid) takes {yardstick['median']:.2f} s wall, "
        f"{yardstick['cpu_median']:.2f} s CPU (median of {yardstick['runs']}).",
        "- what it does per run: reads the working tree's specs (YAML + JSON Schema, no semantic checks, on two "
        "processes when a core is idle), reads the specs at HEAD with one `git ls-tree` and one "
        "`git cat-file --batch` and parses only those whose bytes differ from the working tree, compares them, "
        "and traces column lineage only for the changed tables' readers (to locate breaks) and downstream columns.",
        f"- the edits: {', '.join(f'{k} {len(v)}' for k, v in edits.items())}; consequences: "
        + ", ".join(f"{c} {sum(v == c for v in consequences.values())}" for c in ("safe", "full_refresh", "breaking"))
        + f"; {breaks} reader lines located for the removed columns.",
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        RESULTS.write_text(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    sys.exit(main())
