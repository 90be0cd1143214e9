"""The market project's `nyse_completeness` check kind (market/checks.py) names what is missing (issue 12, case 5): the sessions per symbol for daily
bars and the minutes per session for 1-minute bars — all of them in JSON, the first few in text.

Real pipeline on real Spark + Delta: one-minute bars over real NYSE sessions, with a session and a
few minutes left out on purpose.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone

import pytest
from click.testing import CliRunner

from tests.medallion_testing import SESSIONS, bar_rows, make_local_project

pytestmark = pytest.mark.spark

DAYS = (date(2026, 11, 19), date(2026, 11, 20), date(2026, 11, 23), date(2026, 11, 24), date(2026, 11, 25))
GAP_DAY = date(2026, 11, 24)
"""AAPL has no bar at all on this session."""
HOLE_DAY, HOLE = date(2026, 11, 20), ("2026-11-20T14:31:00Z", "2026-11-20T14:32:00Z", "2026-11-20T14:33:00Z")
"""AAPL misses three minutes of this session."""


@pytest.fixture(scope="module")
def checked(spark, tmp_path_factory):
    from framework.checks.suite import CheckContext, run_checks

    project = make_local_project(tmp_path_factory.mktemp("completeness") / "project")
    project.write_calendar()
    for day in DAYS:
        rows = bar_rows("MSFT", day, every_minutes=1)
        if day != GAP_DAY:
            rows += [r for r in bar_rows("AAPL", day, every_minutes=1) if r["ts"] not in HOLE]
        project.write_bars(f"bars_{day}.jsonl", rows)
    result = project.run(spark)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    ctx = CheckContext(spark, project.load(), project.env(), now=datetime(2026, 11, 26, 12, tzinfo=timezone.utc))
    return project, run_checks(ctx, ["nyse_completeness"])


def _result(report, target):
    return next(r for r in report.results if r.target == target)


def test_daily_completeness_names_the_missing_sessions_per_symbol(checked):
    _, report = checked
    aapl = _result(report, "daily_bars[AAPL]")
    assert (aapl.observed, aapl.missing) == (1, ["2026-11-24"])
    assert "1 of 5 NYSE sessions missing" in aapl.detail and aapl.detail.endswith(": 2026-11-24")
    msft = _result(report, "daily_bars[MSFT]")
    assert (msft.observed, msft.missing, msft.passed) == (0, [], True)


def test_intraday_completeness_names_the_missing_minutes_per_session(checked):
    _, report = checked
    minutes = _result(report, "bars[1Min]")
    gap_minutes = SESSIONS[GAP_DAY][1] - SESSIONS[GAP_DAY][0]
    assert minutes.missing == [
        {"symbol": "AAPL", "session": "2026-11-20", "missing_minutes": 3,
         "ranges": [["2026-11-20T14:31Z", "2026-11-20T14:33Z"]]},
        {"symbol": "AAPL", "session": "2026-11-24", "missing_minutes": int(gap_minutes.total_seconds() // 60),
         "ranges": [["2026-11-24T14:30Z", "2026-11-24T20:59Z"]]}]
    assert minutes.observed == 3 + 390 and not minutes.passed
    assert "AAPL 2026-11-20 14:31-14:33 UTC; AAPL 2026-11-24 14:30-20:59 UTC" in minutes.detail


def test_check_json_lists_everything_missing(checked):
    from framework.cli import cli

    project, _ = checked
    out = CliRunner().invoke(cli, ["check", "--only", "nyse_completeness", "--format", "json", "--env", "test",
                                   "--project", str(project.root)], catch_exceptions=False)
    results = {r["target"]: r for r in json.loads(out.output)["results"]}
    assert results["daily_bars[AAPL]"]["missing"] == ["2026-11-24"]
    assert [g["session"] for g in results["bars[1Min]"]["missing"]] == ["2026-11-20", "2026-11-24"]


def test_text_names_the_first_few_and_points_to_json_for_the_rest():
    from framework.checks.results import MAX_LISTED, first_few

    sessions = [f"2026-11-{day:02d}" for day in range(1, 12)]
    text = first_few(sessions)
    assert text.startswith(": 2026-11-01, ") and sessions[MAX_LISTED - 1] in text and sessions[MAX_LISTED] not in text
    assert text.endswith(f"and {len(sessions) - MAX_LISTED} more (all in --format json)")
