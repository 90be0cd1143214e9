"""`medallion task collect` (the market project's task) end to end: exit codes, summary, JSON output, usage errors, and no secret in any output."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.collect.market_server import ALPACA_PATH, MarketServer

from framework.cli import cli

FAKE_KEY, FAKE_SECRET = "AKFAKE7Q2WZXSUPERSECRETID", "fakeSecretValue/9x8y7z6w5v4u3t2s1r0q"
ENVIRONMENT = """\
name: ci
runtime: local
landing_path: {landing}
tasks:
  collect:
    provider: synthetic
    symbols: [AAPL, MSFT, XOM]
    sessions: 2
    timeframe: 1Min
    seed: 7
    defect_rate: 0.01
    key_env: CI_ALPACA_KEY
    secret_env: CI_ALPACA_SECRET
    requests_per_minute: 6000
variables:
  bars_folder: bars
"""


PROJECT_FILE = """\
name: market
job:
  tasks:
    - key: collect
      run: market.collect.cli:main
    - key: pipeline
      depends_on: [collect]
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "environments").mkdir()
    (tmp_path / "environments" / "ci.yaml").write_text(ENVIRONMENT.format(landing=tmp_path / "landing"))
    (tmp_path / "medallion.yaml").write_text(PROJECT_FILE)
    return tmp_path


def run(project: Path, *args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(cli, ["task", "collect", "--project", str(project), "--env", "ci", *args], env=env)


def test_synthetic_run_prints_a_summary_and_exits_0(project: Path) -> None:
    result = run(project, "--date", "2025-11-26", "--date", "2025-11-27", "--date", "2025-11-28")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "synthetic (1Min): 1,8" in out and "2 file(s)" in out
    assert "2025-11-28  13:00" in out and "2025-11-26  16:00" in out
    assert "skipped 2025-11-27: not an NYSE session (market holiday)" in out
    assert "injected defects:" in out and "_manifests" in out
    assert sorted(p.name for p in (project / "landing" / "bars").iterdir()) == [
        "synthetic_1Min_2025-11-26_b000.jsonl", "synthetic_1Min_2025-11-28_b000.jsonl"]


def test_json_output_and_overrides(project: Path) -> None:
    result = run(project, "--start", "2025-11-24", "--end", "2025-11-26", "--symbols", "nvda,tsla",
                 "--timeframe", "15Min", "--defect-rate", "0", "--batch-size", "1", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["timeframe"] == "15Min" and report["sessions"] == [
        "2025-11-24", "2025-11-25", "2025-11-26"]
    assert report["lines"] == 3 * 2 * 26 and report["defects"] == {}
    assert [Path(f["path"]).name for f in report["files"]][:2] == ["synthetic_15Min_2025-11-24_b000.jsonl",
                                                                  "synthetic_15Min_2025-11-24_b001.jsonl"]
    assert report["files"][0]["first_session"] == report["files"][0]["last_session"] == "2025-11-24"


def test_daily_backfill_lands_a_file_per_year(project: Path) -> None:
    result = run(project, "--timeframe", "1Day", "--start", "2024-12-01", "--end", "2025-01-31", "--format", "json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [(Path(f["path"]).name, f["first_session"], f["last_session"], f["session_count"], f["lines"])
            for f in report["files"]] == [
        ("synthetic_1Day_2024-12-02_2024-12-31_b000.jsonl", "2024-12-02", "2024-12-31", 21, 3 * 21),
        ("synthetic_1Day_2025-01-02_2025-01-31_b000.jsonl", "2025-01-02", "2025-01-31", 20, 3 * 20)]
    assert [Path(p).name for p in report["calendar_files"]] == ["xnys_2024-12-02_2024-12-31.jsonl",
                                                                "xnys_2025-01-02_2025-01-31.jsonl"]
    again = run(project, "--timeframe", "1Day", "--start", "2024-12-01", "--end", "2025-01-31")
    assert again.exit_code == 0 and "2 file(s)" in again.stdout and "0 calendar file(s)" in again.stdout


@pytest.mark.parametrize("args,message", [
    (["--date", "2025-11-26", "--sessions", "2"], "not several"),
    (["--provider", "csv"], "csv provider needs a file or folder"),
    (["--symbols", "AAPL,not-a-symbol!"], "not a ticker symbol: NOT-A-SYMBOL!"),
    (["--env", "nope"], "environment `nope` is missing or invalid"),
])
def test_usage_errors_exit_2_without_a_traceback(project: Path, args: list[str], message: str) -> None:
    result = run(project, *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.stderr.split()) and "Traceback" not in result.output


def test_bad_date_is_rejected_by_click(project: Path) -> None:
    result = run(project, "--date", "26/11/2025")
    assert result.exit_code == 2 and "Invalid value for '--date'" in result.stderr


def test_missing_credentials_name_the_variable(project: Path) -> None:
    result = run(project, "--provider", "alpaca", "--date", "2025-11-26", env={"CI_ALPACA_KEY": FAKE_KEY})
    assert result.exit_code == 2
    assert "export CI_ALPACA_SECRET" in " ".join(result.stderr.split()) and FAKE_KEY not in result.output


def test_alpaca_partial_failure_exits_1_and_never_shows_the_secrets(project: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore log every request at DEBUG
    secrets = {"CI_ALPACA_KEY": FAKE_KEY, "CI_ALPACA_SECRET": FAKE_SECRET}
    with MarketServer(key=FAKE_KEY, secret=FAKE_SECRET) as server:
        server.fault("status", status=500, times=1)
        server.fault("status", match=lambda r: r.symbols == ["XOM"] or "XOM" in r.symbols, times=None, status=503)
        result = run(project, "--provider", "alpaca", "--base-url", server.url, "--date", "2025-11-26",
                     "--max-attempts", "2", "--backoff", "0.01", env=secrets)
        assert result.exit_code == 1, result.output
        stderr = " ".join(result.stderr.split())
        assert "1 symbol-session(s) failed" in stderr and "XOM 2025-11-26: server error (HTTP 503)" in stderr
        assert "retry 1/1" in stderr  # retries are reported
        json_run = run(project, "--provider", "alpaca", "--base-url", server.url, "--date", "2025-11-26",
                       "--max-attempts", "2", "--backoff", "0.01", "--format", "json", env=secrets)
        server.faults.clear()
        server.secret = "rotated"
        denied = run(project, "--provider", "alpaca", "--base-url", server.url, "--date", "2025-11-28", env=secrets)
        assert denied.exit_code == 1 and "credentials rejected (HTTP 403)" in denied.stderr
        assert len(server.served(ALPACA_PATH)) > 5
    assert json.loads(json_run.stdout)["failures"][0]["symbol"] == "XOM"
    assert "HTTP Request: GET" in caplog.text, "the DEBUG/INFO logs were captured"
    landing_text = "".join(p.read_text() for p in (project / "landing").rglob("*") if p.is_file())
    for secret in (FAKE_KEY, FAKE_SECRET):
        for text in (result.output, json_run.output, denied.output, caplog.text, landing_text):
            assert secret not in text


def test_unwritable_landing_is_a_clear_error(project: Path) -> None:
    blocker = project / "not-a-folder"
    blocker.write_text("a file where the landing folder should be")
    result = run(project, "--date", "2025-11-26", "--landing", str(blocker / "landing"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "cannot write the landing files: Not a directory" in " ".join(result.stderr.split())
