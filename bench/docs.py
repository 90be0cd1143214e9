"""Benchmark: `medallion docs` against `dbt docs generate` on the same tables, at 10, 100 and 1,000 tables.

    python bench/docs.py [--sizes 10,100,1000] [--repeat 3] [--with-dbt | --reuse-dbt] [--baseline REV]
                         [--browser] [--write]

For each size it:
1. generates the benchmark's project (bench/validate.py: 25% bronze from landing files, 45% silver, 30%
   gold; SQL transforms, joins across layers, 10-20 columns and 3-8 expectations per table, six owning
   teams) into bench/.work/docs/medallion-<n>/, and the equivalent dbt project (bench/dbt/generate.py)
   into bench/.work/docs/dbt-<n>/;
2. times `medallion docs --live-stats off` as a fresh process into an empty folder, `--repeat` times after
   one untimed warm-up, and reads the generation time the command reports (project loaded and
   validated before it); then once more into the existing site, which rewrites nothing;
3. measures the site: bytes, files, the largest table page, the overview page and the shared data file;
4. with --browser: opens the overview in headless Chromium (Debian's /usr/bin/chromium through Playwright,
   served on 127.0.0.1) and records when its lineage graph is drawn (ms after navigation start), the
   bytes the browser loaded, and how long opening one group takes;
5. with --with-dbt: times `dbt docs generate --no-partial-parse` (compiling every model, then building the
   catalog against an empty duckdb database: the models' columns come from their YAML properties) from its
   own virtualenv (bench/.work/dbt-venv), and measures what `dbt docs serve` needs (index.html,
   manifest.json, catalog.json) and the whole target/ folder; --reuse-dbt reports the last measurement;
6. with --baseline REV: the same timing for an earlier revision of framework/ and templates/ (extracted
   with `git archive` into bench/.work/docs/baseline/, run with the same virtualenv), so "before" and
   "after" are measured on the same machine at the same time. One run per size: the old generator takes
   half a minute at 1,000 tables.

The numbers go to stdout and, with --write, into bench/results/docs.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Callable

from validate import (DBT_PACKAGES, DBT_VENV, MEDALLION, PYTHON, REPO, build_tables, load_average, machine,
                      write_dbt_project, write_project)

WORK = REPO / "bench" / ".work" / "docs"
RESULTS = REPO / "bench" / "results" / "docs.md"
DBT_RESULT = WORK / "dbt-result.json"
TARGET_SECONDS, TARGET_BYTES, TARGET_READY_MS = 5.0, 15_000_000, 2000
_REPORTED = re.compile(r"; ([0-9.]+)s\)")


@dataclass
class Timing:
    wall: list[float]
    cpu: list[float]
    reported: list[float]
    """What the command itself reports (medallion: generation after loading; dbt: nothing)."""

    @property
    def median(self) -> float:
        return statistics.median(self.wall)

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu)

    @property
    def reported_median(self) -> float | None:
        return statistics.median(self.reported) if self.reported else None


def run_timed(command: list[str], cwd: Path, env: dict[str, str] | None = None,
              before: Callable[[], None] | None = None, repeat: int = 3, warmup: bool = True) -> Timing:
    """`repeat` runs of a fresh process (after one untimed warm-up): wall and CPU (user + system) time."""
    timing = Timing([], [], [])
    for i in range(repeat + (1 if warmup else 0)):
        if before:
            before()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
        if warmup and i == 0:
            continue
        timing.wall.append(elapsed)
        timing.cpu.append((after.ru_utime + after.ru_stime) - (usage.ru_utime + usage.ru_stime))
        if match := _REPORTED.search(done.stdout):
            timing.reported.append(float(match.group(1)))
    return timing


def folder_bytes(folder: Path, names: tuple[str, ...] | None = None) -> tuple[int, int]:
    """(bytes, files) of a folder, or of the named files in it."""
    files = [folder / n for n in names] if names else [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files if p.is_file()), sum(p.is_file() for p in files)


# --------------------------------------------------------------------------------------------------
# Medallion


def medallion_size(site: Path) -> dict:
    total, files = folder_bytes(site)
    pages = [p.stat().st_size for p in (site / "tables").glob("*.html")]
    return {"bytes": total, "files": files, "largest_page": max(pages), "mean_page": round(statistics.mean(pages)),
            "index": (site / "index.html").stat().st_size,
            "catalog_js": folder_bytes(site / "assets", ("catalog.js",))[0]}  # none before issue 15


def measure_medallion(project: Path, site: Path, repeat: int, medallion: list[str], env: dict | None = None,
                      warmup: bool = True) -> dict:
    # Run from the work folder with --project: `python -m framework` would import the checkout's own
    # package from the current directory, whatever PYTHONPATH says (it matters for --baseline).
    command = [*medallion, "docs", "--project", str(project), "--live-stats", "off", "--out", str(site)]
    load = load_average()
    fresh = run_timed(command, WORK, env=env, before=lambda: shutil.rmtree(site, ignore_errors=True),
                      repeat=repeat, warmup=warmup)
    result = {"wall": fresh.wall, "cpu": fresh.cpu, "reported": fresh.reported, "median": fresh.median,
              "cpu_median": fresh.cpu_median, "reported_median": fresh.reported_median, "load": load,
              **medallion_size(site)}
    if repeat > 1:
        again = run_timed(command, WORK, env=env, repeat=1, warmup=False)
        result["rerun"] = again.median
        result["rerun_reported"] = again.reported_median
    return result


def package_paths(revision: str) -> list[str]:
    """What the package is at `revision`: framework/, plus the top-level templates/ of revisions before the
    templates moved into framework/templates/ (issue 22)."""
    listed = subprocess.run(["git", "ls-tree", "--name-only", revision, "framework", "templates"], cwd=REPO,
                            capture_output=True, text=True, check=True).stdout.split()
    return listed or ["framework"]


def baseline_medallion(rev: str) -> tuple[list[str], dict]:
    """An earlier revision's framework/ and templates/, runnable with this checkout's virtualenv."""
    folder = WORK / "baseline"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev, *package_paths(rev)], cwd=REPO, capture_output=True,
                             check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    env = {**os.environ, "PYTHONPATH": str(folder)}
    return [str(PYTHON), "-m", "framework"], env


# --------------------------------------------------------------------------------------------------
# dbt


def ensure_dbt() -> Path:
    """dbt in its own virtualenv (never the project's): dbt-core 1.11 (1.12 cannot be installed here)."""
    dbt_bin = DBT_VENV / "bin" / "dbt"
    if not dbt_bin.exists():
        subprocess.run([shutil.which("python3") or sys.executable, "-m", "venv", str(DBT_VENV)], check=True)
        subprocess.run([str(DBT_VENV / "bin" / "pip"), "install", "-q", *DBT_PACKAGES], check=True)
    return dbt_bin


def dbt_version() -> str:
    done = subprocess.run([str(DBT_VENV / "bin" / "pip"), "list", "--format", "json"], capture_output=True, text=True)
    packages = {p["name"].lower(): p["version"] for p in json.loads(done.stdout or "[]")}
    return ", ".join(f"{n} {packages[n]}" for n in ("dbt-core", "dbt-duckdb", "duckdb") if n in packages)


def measure_dbt(tables: list, root: Path, repeat: int) -> dict:
    write_dbt_project(tables, root)
    dbt_bin = ensure_dbt()
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_PROFILES_DIR": str(root)}
    load = load_average()

    def clean() -> None:
        shutil.rmtree(root / "target", ignore_errors=True)
        (root / "bench.duckdb").unlink(missing_ok=True)

    timing = run_timed([str(dbt_bin), "docs", "generate", "--no-partial-parse"], root, env=env, before=clean,
                       repeat=repeat)
    target = root / "target"
    docs_bytes, _ = folder_bytes(target, ("index.html", "manifest.json", "catalog.json"))
    target_bytes, target_files = folder_bytes(target)
    return {"wall": timing.wall, "cpu": timing.cpu, "median": timing.median, "cpu_median": timing.cpu_median,
            "load": load, "docs_bytes": docs_bytes, "target_bytes": target_bytes, "target_files": target_files,
            "index": (target / "index.html").stat().st_size, "manifest": (target / "manifest.json").stat().st_size,
            "catalog": (target / "catalog.json").stat().st_size}


# --------------------------------------------------------------------------------------------------
# The browser


def measure_browser(site: Path, runs: int = 3) -> dict | None:
    """Median ms until the overview's lineage is drawn, bytes loaded, and ms to open the largest group."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    if not Path("/usr/bin/chromium").exists():
        return None
    sys.path.insert(0, str(REPO))
    from framework.docs.serve import serve_in_background, url_of

    server, thread = serve_in_background(site, port=0)
    ready, loaded, opened = [], [], []
    args = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=args, headless=True)
            for _ in range(runs + 1):  # the first load warms the disk cache and the browser
                context = browser.new_context(viewport={"width": 1400, "height": 900})
                page = context.new_page()
                page.goto(url_of(server))
                page.wait_for_selector("#lineage-graph[data-state=ready]")
                ready.append(page.evaluate("window.MEDALLION_LINEAGE_READY"))
                loaded.append(page.evaluate("""() => performance.getEntriesByType('navigation').concat(
                    performance.getEntriesByType('resource')).reduce((s, e) => s + e.encodedBodySize, 0)"""))
                groups = page.eval_on_selector_all("g.node.group", "gs => gs.map(g => [g.id, "
                                                   "parseInt(g.querySelector('.sub').textContent.replace(/,/g, ''))])")
                if groups:
                    largest = max(groups, key=lambda g: g[1])[0]
                    opened.append(page.evaluate("""id => { const t = performance.now();
                        document.getElementById(id).dispatchEvent(new MouseEvent('click', {bubbles: true}));
                        return performance.now() - t; }""", largest))
                context.close()
            browser.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
    return {"ready_ms": statistics.median(ready[1:]), "ready_all": ready[1:], "loaded_bytes": loaded[-1],
            "open_group_ms": statistics.median(opened[1:]) if len(opened) > 1 else None}


def chromium_version() -> str:
    done = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


# --------------------------------------------------------------------------------------------------
# Report


def mb(n: int) -> str:
    return f"{n / 1_000_000:.2f} MB" if n >= 100_000 else f"{n / 1000:.0f} kB"


def seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f} s"


def write_results(rows: list[dict], repo_row: dict, dbt: dict, baseline: dict, started: str, nice: int) -> None:
    facts = machine()
    lines = [
        "# `medallion docs` benchmark",
        "",
        "Written by `python bench/docs.py --with-dbt --baseline 305b69a --browser --write` (see Method for "
        "`--nice`); rerun it rather than editing by hand.",
        "",
        "## Result",
        "",
        "Fresh generation into an empty folder, a new process per run (median of the timed runs after one "
        "warm-up). *Generation* is what `medallion docs` reports: the time after the project is loaded and "
        "validated; *wall* is the whole command, interpreter start included. *CPU* is user + system time "
        "of the process: the machine is shared, so wall time moves with the load average and CPU time "
        "much less.",
        "",
        "| tables | tool | wall | CPU | generation | output | files | largest table page | load average |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    every = [repo_row, *rows] if repo_row else rows
    for row in every:
        n, ours = row["tables"], row["medallion"]
        label = f"{n:,}" + (" (this repository)" if row is repo_row else "")
        lines.append(f"| {label} | Medallion | {seconds(ours['median'])} | {seconds(ours['cpu_median'])} | "
                     f"{seconds(ours['reported_median'])} | {mb(ours['bytes'])} | {ours['files']:,} | "
                     f"{mb(ours['largest_page'])} | {ours['load']} |")
        if str(n) in baseline:
            old = baseline[str(n)]
            lines.append(f"| {label} | Medallion before ({old['rev']}) | {seconds(old['median'])} | "
                         f"{seconds(old['cpu_median'])} | {seconds(old['reported_median'])} | {mb(old['bytes'])} | "
                         f"{old['files']:,} | {mb(old['largest_page'])} | {old['load']} |")
        if str(n) in dbt:
            d = dbt[str(n)]
            lines.append(f"| {label} | `dbt docs generate` | {seconds(d['median'])} | {seconds(d['cpu_median'])} | "
                         f"— | {mb(d['docs_bytes'])} (target/: {mb(d['target_bytes'])}) | 3 "
                         f"({d['target_files']:,}) | — | {d['load']} |")
    big = next((r for r in rows if r["tables"] == 1000), None)
    lines += ["", "## Targets (issue 15)", ""]
    if big:
        ours = big["medallion"]
        share = ours["cpu_median"] / ours["median"]
        lines.append(f"- 1,000 tables in under {TARGET_SECONDS:.0f} s: **{'met' if ours['median'] < TARGET_SECONDS else 'NOT met'}** "
                     f"in wall time (wall {ours['median']:.2f} s, generation after loading "
                     f"{seconds(ours['reported_median'])}; load average {ours['load']}), "
                     f"**{'met' if ours['cpu_median'] < TARGET_SECONDS else 'NOT met'}** in CPU time "
                     f"({ours['cpu_median']:.2f} s for the whole command, one process: roughly what it takes on an idle "
                     f"core; here it got {share:.0%} of one).")
        lines.append(f"- 1,000 tables under {TARGET_BYTES / 1e6:.0f} MB: **{'met' if ours['bytes'] < TARGET_BYTES else 'NOT met'}** "
                     f"({ours['bytes']:,} bytes in {ours['files']:,} files; the largest table page "
                     f"{ours['largest_page']:,} bytes, the mean {ours['mean_page']:,}; `index.html` {ours['index']:,}; "
                     f"`assets/catalog.js`, shared by every page, {ours['catalog_js']:,}).")
        if big.get("browser"):
            b = big["browser"]
            lines.append(f"- the overview interactive in under {TARGET_READY_MS / 1000:.0f} s: "
                         f"**{'met' if b['ready_ms'] < TARGET_READY_MS else 'NOT met'}** (lineage drawn "
                         f"{b['ready_ms']:.0f} ms after navigation start, median of {len(b['ready_all'])}; "
                         f"{mb(b['loaded_bytes'])} loaded; opening the largest group redraws in "
                         f"{b['open_group_ms']:.0f} ms).")
    if repo_row:
        ours = repo_row["medallion"]
        lines.append(f"- this repository's {repo_row['tables']} tables as fast as before: generation "
                     f"{seconds(ours['reported_median'])}, wall {ours['median']:.2f} s"
                     + (f" (before: generation {seconds(baseline[str(repo_row['tables'])]['reported_median'])}, "
                        f"wall {baseline[str(repo_row['tables'])]['median']:.2f} s)" if str(repo_row['tables']) in baseline
                        else "") + ".")
    lines.append("- a second run into the same folder rewrites nothing (byte-identical output): " + ", ".join(
        f"{r['tables']:,} tables {seconds(r['medallion'].get('rerun'))}" for r in every if r["medallion"].get("rerun")) + ".")
    if dbt:
        lines += ["", "## Against dbt", ""]
        for row in rows:
            d = dbt.get(str(row["tables"]))
            if not d:
                continue
            ours = row["medallion"]
            lines.append(f"- {row['tables']:,} tables: `dbt docs generate` takes **{d['median'] / ours['median']:.0f}x** "
                         f"as long (CPU {d['cpu_median'] / ours['cpu_median']:.0f}x); it writes "
                         f"{mb(d['docs_bytes'])} for `dbt docs serve` (index.html {mb(d['index'])}, manifest.json "
                         f"{mb(d['manifest'])}, catalog.json {mb(d['catalog'])}) against Medallion's "
                         f"{mb(ours['bytes'])} (HTML and Markdown pages, the lineage SVG, the shared data file).")
        lines += ["", "The two outputs differ in kind: dbt writes one single-page application and the manifest it "
                  "loads (it needs `dbt docs serve`, or `--static` to inline them); Medallion writes a page per "
                  "table (HTML and Markdown for GitHub) that opens from `file://`, and one data file behind its "
                  "sidebar, search and lineage."]
    lines += ["", "## Browser", ""]
    lines.append("Overview opened in headless Chromium, served on 127.0.0.1; median of three loads after one warm-up:")
    lines += ["", "| tables | lineage drawn after | bytes loaded | open the largest group |", "| ---: | ---: | ---: | ---: |"]
    for row in every:
        b = row.get("browser")
        if b:
            opened = f"{b['open_group_ms']:.0f} ms" if b["open_group_ms"] is not None else "— (not grouped)"
            lines.append(f"| {row['tables']:,} | {b['ready_ms']:.0f} ms | {mb(b['loaded_bytes'])} | {opened} |")
    lines += ["", "## Method", "",
              "- Workload: `bench/validate.py`'s generator with the same seed (at 1,000 the very project of the "
              "validate benchmark; 10 and 100 tables drawn the same way); the dbt project is written "
              "from the same tables by bench/dbt/generate.py (one model SQL + one properties YAML each, a data "
              "test per expectation).",
              "- `medallion docs --live-stats off --out <empty folder>`: loads and validates the project (JSON "
              "Schema, semantic and SQL checks, as every command does), then writes the site: a page per table in "
              "HTML and Markdown, the overview, quality and environments pages, `lineage.svg` (Graphviz: every "
              "table up to 50 tables, layer x domain groups above) and `assets/catalog.js`.",
              "- `dbt docs generate --no-partial-parse`: parses every model and YAML file, compiles every model, "
              "and queries the duckdb database for the catalog (empty: nothing was built, so the columns shown "
              "come from the YAML properties). Anonymous usage statistics off.",
              "- Before (`--baseline`): the revision before issue 15, whose every page carried the full sidebar and "
              "ran Graphviz once per table; one run per size.",
              f"- Measured {started}; load average (1, 5, 15 min) is read from /proc/loadavg before each series"
              + (f"; every process ran at nice {nice} (both tools and the browser alike), because other work "
                 "shared the two cores" if nice else "") + ".",
              "", "## Machine and versions", ""]
    lines += [f"- {k}: {v}" for k, v in facts.items()]
    lines.append(f"- graphviz: {subprocess.run(['dot', '-V'], capture_output=True, text=True).stderr.strip()}")
    lines.append(f"- browser: {chromium_version()}")
    if dbt:
        lines.append(f"- dbt: {next(iter(dbt.values()))['version']}")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS}")


# --------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--with-dbt", action="store_true", help="time `dbt docs generate` on the same tables")
    parser.add_argument("--dbt-repeat", type=int, default=2)
    parser.add_argument("--reuse-dbt", action="store_true", help="report the last --with-dbt measurement")
    parser.add_argument("--baseline", metavar="REV", help="also time this earlier revision of the generator")
    parser.add_argument("--browser", action="store_true", help="time the overview in headless Chromium")
    parser.add_argument("--write", action="store_true", help="write bench/results/docs.md")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite bench/results/docs.md from the last measurement (bench/.work/docs/*.json)")
    parser.add_argument("--nice", type=int, default=0,
                        help="priority of this script and everything it starts (both tools, the browser), e.g. "
                             "-10 on a busy shared machine (needs root)")
    args = parser.parse_args(argv)
    if args.nice:
        os.setpriority(os.PRIO_PROCESS, 0, args.nice)
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.strftime("%Y-%m-%d %H:%M")
    if args.report_only:
        last = json.loads((WORK / "result.json").read_text())
        write_results(last["rows"], last["repo"], json.loads(DBT_RESULT.read_text()) if DBT_RESULT.exists() else {},
                      last["baseline"], last["started"], last["nice"])
        return 0
    WORK.mkdir(parents=True, exist_ok=True)

    dbt = json.loads(DBT_RESULT.read_text()) if args.reuse_dbt and DBT_RESULT.exists() else {}
    baseline: dict[str, dict] = {}
    old_command = None
    if args.baseline:
        old_command, old_env = baseline_medallion(args.baseline)

    def measure_baseline(n: int, project: Path) -> None:
        if old_command:
            try:
                old = measure_medallion(project, WORK / f"site-before-{n}", 1, old_command, env=old_env,
                                        warmup=n < 1000)
            except SystemExit as exc:  # an older generator may not read today's specs (new keys)
                print(f"  before ({args.baseline}): cannot generate this project: {str(exc).splitlines()[0]}")
                return
            baseline[str(n)] = {**old, "rev": args.baseline}
            print(f"  before ({args.baseline}): wall {old['median']:.2f} s, CPU {old['cpu_median']:.2f} s, "
                  f"generation {seconds(old['reported_median'])}, {mb(old['bytes'])}")

    # This repository's own tables (the 7-table market pipeline): the small case that must stay fast.
    print(f"{len(list((REPO / 'tables').rglob('*.yaml')))} tables of this repository:")
    site = WORK / "site-repo"
    ours = measure_medallion(REPO, site, max(args.repeat, 5), [str(MEDALLION)])
    repo_row = {"tables": len(list((REPO / "tables").rglob("*.yaml"))), "medallion": ours}
    if args.browser:
        repo_row["browser"] = measure_browser(site)
    print(f"  medallion: wall {ours['median']:.2f} s, CPU {ours['cpu_median']:.2f} s, generation "
          f"{seconds(ours['reported_median'])}, {mb(ours['bytes'])}")
    measure_baseline(repo_row["tables"], REPO)

    rows = []
    for n in sizes:
        tables = build_tables(n)
        project = write_project(tables, WORK / f"medallion-{n}")
        site = WORK / f"site-{n}"
        print(f"{n} tables (load average {load_average()}):")
        ours = measure_medallion(project, site, args.repeat, [str(MEDALLION)])
        row = {"tables": n, "medallion": ours}
        print(f"  medallion: wall {ours['median']:.2f} s, CPU {ours['cpu_median']:.2f} s, generation "
              f"{seconds(ours['reported_median'])}, {mb(ours['bytes'])} in {ours['files']} files, largest page "
              f"{ours['largest_page']:,} B, rerun {seconds(ours.get('rerun'))}")
        if args.browser:
            row["browser"] = measure_browser(site)
            if row["browser"]:
                print(f"  browser: lineage drawn after {row['browser']['ready_ms']:.0f} ms, "
                      f"{mb(row['browser']['loaded_bytes'])} loaded")
        measure_baseline(n, project)
        if args.with_dbt:
            d = measure_dbt(tables, WORK / f"dbt-{n}", args.dbt_repeat)
            dbt[str(n)] = {**d, "version": dbt_version()}
            DBT_RESULT.write_text(json.dumps(dbt))
        if str(n) in dbt:
            d = dbt[str(n)]
            print(f"  dbt docs generate: wall {d['median']:.2f} s, CPU {d['cpu_median']:.2f} s, "
                  f"{mb(d['docs_bytes'])} (target/ {mb(d['target_bytes'])}); load average {d['load']}")
        rows.append(row)
    (WORK / "result.json").write_text(json.dumps({"rows": rows, "repo": repo_row, "baseline": baseline,
                                                  "started": started, "nice": args.nice}))
    if args.write:
        write_results(rows, repo_row, dbt, baseline, started, args.nice)
    big = next((r for r in rows if r["tables"] == 1000), None)
    return 0 if not big or (big["medallion"]["median"] < TARGET_SECONDS and
                            big["medallion"]["bytes"] < TARGET_BYTES) else 1


if __name__ == "__main__":
    sys.exit(main())
