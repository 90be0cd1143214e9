"""Small pieces with sharp edges: rounding of pass rates, run grouping, settings flattening, escaping."""

from __future__ import annotations

import pytest

from framework.docs.chart import pass_rate_chart, percent
from framework.docs.environments import flatten
from framework.docs.render import human_bytes, inline_code, md_cell
from framework.eventlog import EventHistory, ExpectationCount, FlowProgress, parse_events, quality_history


def result(run: str, name: str, passed: int, failed: int, dataset: str = "bars", ts: str | None = None):
    """One flow_progress event of `run` with one expectation's counts."""
    return FlowProgress(run, ts or f"2026-11-2{run[-1]}T21:05:00.000000Z", dataset,
                        expectations=(ExpectationCount(name, dataset, passed, failed),))


def quality_by_table(results, runs: int = 12):
    return quality_history(EventHistory(progress=tuple(results)), runs=runs)


def test_percent_never_rounds_a_failure_up_to_100():
    assert percent(1.0) == "100.00%"
    assert percent(99_999 / 100_000) == "99.99%"
    assert percent(0.5) == "50.00%"


def test_runs_are_grouped_summed_ordered_and_limited():
    results = [result(f"u{i}", "a", 90, 10) for i in range(1, 6)]
    results += [result("u5", "a", 100, 0), result("u5", "b", 200, 0)]
    results.append(result("u6", "a", 0, 0))  # a run that checked nothing is not a run to chart
    results.append(result("u3", "a", 5, 5, dataset="daily_bars"))
    quality = quality_by_table(results, runs=3)
    bars = quality["bars"]
    assert [r.run_id for r in bars.runs] == ["u3", "u4", "u5"]
    assert bars.expectations == ("a", "b")
    assert bars.latest.pass_rate("a") == pytest.approx(190 / 200) and bars.latest.pass_rate("b") == 1.0
    assert bars.runs[0].pass_rate("b") is None
    assert bars.latest.records == 200
    assert quality["daily_bars"].latest.pass_rate("a") == 0.5


def test_chart_points_follow_the_rates():
    quality = quality_by_table([result("u1", "a", 100, 0), result("u2", "a", 90, 10)])["bars"]
    chart = pass_rate_chart(quality)
    (series,) = chart.series
    first, second = series.points
    assert second.y > first.y  # a lower pass rate is drawn lower (SVG y grows downwards)
    assert [label for _, label in chart.y_ticks] == ["85%", "92.5%", "100%"]  # 90% -> axis starts at 85%
    assert [anchor for _, _, anchor in chart.x_ticks] == ["start", "end"]
    assert "a: 90.00% (run of 2026-11-22 21:05 UTC)" == second.label
    assert [label for _, label, _ in chart.x_ticks] == ["2026-11-21", "2026-11-22"]
    same_day = quality_by_table([result("u1", "a", 1, 0, ts="2026-11-21T09:30:00Z"),
                                 result("u2", "a", 1, 0, ts="2026-11-21T16:00:00Z")])["bars"]
    assert [label for _, label, _ in pass_rate_chart(same_day).x_ticks] == ["09:30 UTC", "16:00 UTC"]


def test_dataset_names_are_reduced_to_table_names():
    details = '{"flow_progress": {"data_quality": {"expectations": [{"name": "a", "passed_records": 1}]}}}'
    rows = [("u1", "2026-11-21T09:30:00Z", "flow_progress", flow, None, details)
            for flow in ("medallion_local.silver.bars", "`silver`.`bars`", "bars")]
    quality = quality_history(parse_events(rows))
    assert list(quality) == ["bars"] and quality["bars"].latest.counts == (("a", 3, 0),)


def test_settings_flatten_to_comparable_rows():
    flat = flatten({"clusters": [{"label": "default", "autoscale": {"max_workers": 2}}], "photon": True,
                    "tags": {}, "symbols": ["AAPL", "MSFT"], "schedule": None})
    assert flat == {"clusters[0].autoscale.max_workers": "2", "clusters[0].label": "default", "photon": "true",
                    "tags": "{}", "symbols": "AAPL, MSFT", "schedule": "null"}


def test_text_filters_escape():
    assert md_cell("a | b\nc") == "a \\| b c"
    assert md_cell("") == " "
    assert str(inline_code("keeps `_rescued_data` & <b>")) == "keeps <code>_rescued_data</code> &amp; &lt;b&gt;"
    assert human_bytes(512) == "512 B" and human_bytes(6860) == "6.7 KiB" and human_bytes(3 * 1024**3) == "3.0 GiB"
