"""Live statistics from a real local run: the Delta log and event log read without Spark agree with Spark."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from framework.docs.catalog import build_catalog
from framework.delta_log import read_snapshot
from framework.errors import DeltaLogError, DocsError
from framework.eventlog import quality_history, read_with_arrow
from framework.docs.site import build_site
from framework.docs.stats import collect_stats

from tests.docs.docs_fixtures import RUNS, load_valid

pytestmark = pytest.mark.spark


def test_snapshot_matches_spark_for_every_table(local_run):
    for name, path in local_run.tables.items():
        snapshot = read_snapshot(path)
        assert snapshot.row_count == local_run.row_counts[name], name
        assert snapshot.version == local_run.versions[name], name
        assert [c.operation for c in snapshot.commits] == local_run.operations[name], name


def test_checkpoint_is_used_and_rows_hidden_by_deletion_vectors_are_not_counted(local_run):
    bars_raw = local_run.tables["bronze.bars_raw"]
    assert list((bars_raw / "_delta_log").glob("*.checkpoint.parquet")), "Spark wrote no checkpoint"
    assert local_run.row_counts["bronze.bars_raw"] == 16  # 4 appends of 5 rows, one symbol deleted
    sessions = read_snapshot(local_run.tables["silver.trading_sessions"])
    assert local_run.row_counts["silver.trading_sessions"] == 245
    assert sessions.row_count == 245


def test_old_commits_cleaned_up_behind_a_checkpoint_still_read(local_run, tmp_path):
    copy = tmp_path / "bars_raw"
    shutil.copytree(local_run.tables["bronze.bars_raw"], copy)
    checkpoint = int(sorted((copy / "_delta_log").glob("*.checkpoint.parquet"))[-1].name[:20])
    for version in range(checkpoint):  # what Delta's log cleanup does after the retention period
        (copy / "_delta_log" / f"{version:020d}.json").unlink()
    snapshot = read_snapshot(copy)
    assert snapshot.row_count == local_run.row_counts["bronze.bars_raw"]
    assert snapshot.commits[0].version == checkpoint
    for parquet in (copy / "_delta_log").glob("*.checkpoint.parquet"):
        parquet.unlink()
    with pytest.raises(DeltaLogError, match=r"misses commit\(s\) 0\.\."):
        read_snapshot(copy)


def test_expectation_pass_rates_per_run_add_up_micro_batches(local_run):
    quality = quality_history(read_with_arrow(local_run.tables["ops.event_log"]))
    assert sorted(quality) == ["bars", "daily_bars"]
    bars = quality["bars"]
    assert [r.run_id for r in bars.runs] == [run_id for run_id, _, _ in RUNS]
    assert bars.expectations == ("in_session", "prices_positive", "well_formed")
    for run, (_, _, expected) in zip(bars.runs, RUNS):
        for name, (passed, failed) in expected.items():
            assert run.pass_rate(name) == pytest.approx(passed / (passed + failed))
    assert bars.latest.records == 4680


def test_table_pages_show_the_run(local_run, graphviz_dot, tmp_path):
    project = load_valid(local_run.root)
    report = build_site(project, "local", tmp_path / "site", live_stats="on")
    assert report.stats is not None and report.stats.event_log_found
    page = (tmp_path / "site" / "tables" / "bars_raw.html").read_text()
    assert f'id="stat-rows">{local_run.row_counts["bronze.bars_raw"]:,}<' in page
    history = page.split('id="history"')[1].split("</table>")[0]
    versions = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', history)]
    assert versions == list(range(local_run.versions["bronze.bars_raw"], -1, -1))
    assert "DELETE" in history and "CREATE TABLE" in history

    runs = quality_history(read_with_arrow(local_run.tables["ops.event_log"]))["bars"].runs
    first, last = (r.started[:19].replace("T", " ") for r in (runs[0], runs[-1]))
    bars = (tmp_path / "site" / "tables" / "bars.html").read_text()
    chart = bars.split('<figure class="chart">')[1].split("</figure>")[0]
    assert chart.count("<polyline") == 3 and chart.count("<circle") == 9
    assert f"prices_positive: 96.15% (run of {last[:16]} UTC)" in chart  # 4500 / 4680, rounded down
    table = bars.split('id="runs"')[1].split("</table>")[0]
    assert table.index(last) < table.index(first)  # newest first
    assert '<td class="num">99.89%</td>' in bars  # in_session of the latest run: 4675 / 4680
    markdown = (tmp_path / "site" / "tables" / "bars.md").read_text()
    assert f"| {last} | 4,680 | 99.89% | 96.15% | 100.00% |" in markdown
    # a table the run has not written yet says so instead of inventing numbers
    assert "No local run has written this table yet" in (tmp_path / "site" / "tables" / "daily_bars.html").read_text()
    index = (tmp_path / "site" / "index.html").read_text()
    assert f'<td class="num">{local_run.row_counts["silver.bars"]:,}</td>' in index


def test_reading_a_run_starts_no_jvm(local_run, tmp_path):
    code = ("import sys; from pathlib import Path; from framework.project import load_project; "
            "from framework.docs.site import build_site; "
            f"r = build_site(load_project(Path({str(local_run.root)!r})), 'local', Path({str(tmp_path / 'site')!r}), "
            "'on'); import pyspark; "
            "print(r.stats.tables['bars'].row_count, r.stats.tables['bars'].quality is not None, "
            "pyspark.SparkContext._gateway is None)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.split() == [str(local_run.row_counts["silver.bars"]), "True", "True"]


def test_live_stats_off_and_auto(local_run, project_dir):
    catalog = build_catalog(load_valid(local_run.root), "local")
    assert collect_stats(catalog, "off") is None
    assert collect_stats(catalog, "auto") is not None
    empty = build_catalog(load_valid(project_dir), "local")
    assert collect_stats(empty, "auto") is None
    with pytest.raises(DocsError, match="has no local run"):
        collect_stats(empty, "on")
    with pytest.raises(DocsError, match="runs on databricks"):
        collect_stats(build_catalog(load_valid(project_dir), "dev"), "on")


def test_statistics_pages_are_deterministic(local_run, graphviz_dot, tmp_path):
    project = load_valid(local_run.root)
    build_site(project, "local", tmp_path / "a")
    build_site(project, "local", tmp_path / "b")
    files_a = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    files_b = sorted(p.relative_to(tmp_path / "b") for p in (tmp_path / "b").rglob("*") if p.is_file())
    assert files_a == files_b
    for relative in files_a:
        assert (tmp_path / "a" / relative).read_bytes() == (tmp_path / "b" / relative).read_bytes(), relative
    assert str(Path.home()) not in (tmp_path / "a" / "tables" / "bars.html").read_text()
