"""`medallion status` and `trigger` with the real databricks-sdk against a local REST server on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result

from framework.cli import cli

from .conftest import REPO
from .workspace_server import WorkspaceServer

TOKEN = "dapi-test-token"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WorkspaceServer]:
    """A workspace at DATABRICKS_HOST(_PROD), a PAT, and no other credential source the SDK could find."""
    for key in list(os.environ):
        if key.startswith(("DATABRICKS_", "BUNDLE_VAR_", "ARM_", "GOOGLE_")):
            monkeypatch.delenv(key)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    with WorkspaceServer(TOKEN) as workspace:
        monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
        monkeypatch.setenv("DATABRICKS_HOST_PROD", workspace.url)
        yield workspace


def medallion(*args: str) -> Result:
    return CliRunner().invoke(cli, [*args, "--project", str(REPO)], catch_exceptions=False)


def one_error_line(result: Result) -> str:
    """The command failed with exactly one line on stderr, no traceback, no token."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert TOKEN not in result.output and "Traceback" not in result.output
    return lines[0]


def event_log_rows(counts: dict[str, tuple[str, int, int]]) -> list[list[str | None]]:
    """A published event log's rows as the warehouse returns them: an update, then a flow_progress event per
    dataset with one expectation's counts (the DLT shape: `details` a JSON string)."""
    import json

    rows: list[list[str | None]] = [["u1", "2026-11-27T22:00:00.000Z", "create_update", None, None,
                                     json.dumps({"create_update": {"cause": "SCHEDULER"}})]]
    for dataset, (name, passed, failed) in counts.items():
        details = {"flow_progress": {"status": "RUNNING", "metrics": {"num_output_rows": passed},
                                     "data_quality": {"dropped_records": 0, "expectations": [
                                         {"name": name, "dataset": dataset, "passed_records": passed,
                                          "failed_records": failed}]}}}
        rows.append(["u1", "2026-11-27T22:01:00.000Z", "flow_progress", dataset, dataset, json.dumps(details)])
    rows.append(["u1", "2026-11-27T22:02:00.000Z", "flow_progress", "medallion_prod.gold.daily_bars", None,
                 json.dumps({"flow_progress": {"status": "COMPLETED"}})])
    return rows


# status -------------------------------------------------------------------------------------------

def test_status_reports_pipeline_update_and_expectation_metrics(server: WorkspaceServer, monkeypatch):
    pipeline = server.add_pipeline("medallion_prod", continuous=True, state="RUNNING")
    server.add_update(pipeline, "COMPLETED", full_refresh=True)
    server.add_update(pipeline, "RUNNING")
    server.add_pipeline("medallion_prod_backfill")  # matches the LIKE filter, but is another pipeline
    server.statement_rows = event_log_rows({"medallion_prod.silver.bars": ("prices_positive", 9990, 10),
                                            "medallion_prod.bronze.bars_raw": ("parsed", 1000, 0)})
    server.statement_chunk_rows = 2  # four events in two chunks: the second is fetched separately
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "wh-42")
    result = medallion("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert f"pipeline medallion_prod ({pipeline.pipeline_id}, continuous): state RUNNING, health HEALTHY" in out
    assert f"latest update {pipeline.updates[0]['update_id']}: RUNNING (cause API_CALL, started 2026-" in out
    assert "from medallion_prod.ops.pipeline_event_log" in out
    assert "99.90%" in out and "9,990" in out and "100.00%" in out
    statements = [body for method, path, body in server.requests if path == "/api/2.0/sql/statements"]
    assert "LIMIT 1" in statements[0]["statement"]  # the newest update first: never a scan of the whole log
    statement = statements[1]
    assert "origin.update_id = 'u1'" in statement["statement"]
    assert statement["warehouse_id"] == "wh-42"
    assert (statement["format"], statement["disposition"]) == ("JSON_ARRAY", "INLINE")
    assert statement["on_wait_timeout"] == "CANCEL"
    assert "FROM `medallion_prod`.`ops`.`pipeline_event_log`" in statement["statement"]
    assert "flow_progress" in statement["statement"]
    assert "medallion_prod.silver.bars" in out and "prices_positive" in out
    assert any("/result/chunks/1" in path for path in server.paths("GET"))


def test_status_without_a_warehouse_skips_metrics(server: WorkspaceServer):
    server.add_pipeline("medallion_prod")
    result = medallion("status", "--env", "prod")
    assert result.exit_code == 0, result.output
    assert "latest update: none yet" in result.stdout
    assert "skipped: set DATABRICKS_WAREHOUSE_ID" in result.stdout
    assert "/api/2.0/sql/statements" not in server.paths()


def test_status_when_the_event_log_query_fails(server: WorkspaceServer, monkeypatch):
    server.add_pipeline("medallion_prod")
    server.statement_failure = ("[TABLE_OR_VIEW_NOT_FOUND] The table `medallion_prod`.`ops`.`pipeline_event_log` "
                                "cannot be found.")
    monkeypatch.setenv("DATABRICKS_WAREHOUSE_ID", "wh-42")
    line = one_error_line(medallion("status", "--env", "prod"))
    assert "event log query on warehouse wh-42 failed: [TABLE_OR_VIEW_NOT_FOUND]" in line


def test_status_finds_the_development_mode_copy_across_pages(server: WorkspaceServer):
    server.page_size = 1
    for name in ("medallion_dev_old", "x medallion_dev", "[dev alice] medallion_dev"):
        server.add_pipeline(name)
    result = medallion("status", "--env", "dev")
    assert result.exit_code == 0, result.output
    assert "pipeline [dev alice] medallion_dev" in result.stdout
    assert sum(p == "/api/2.0/pipelines" for p in server.paths()) >= 2, "all pages were read"


def test_status_with_several_development_copies_is_ambiguous(server: WorkspaceServer):
    server.add_pipeline("[dev alice] medallion_dev")
    server.add_pipeline("[dev bob] medallion_dev")
    line = one_error_line(medallion("status", "--env", "dev"))
    assert "several pipelines match `medallion_dev`" in line and "[dev bob] medallion_dev" in line


def test_a_developer_finds_their_own_development_copy(server: WorkspaceServer, monkeypatch):
    from framework.spec.environment import DEVELOPER_VARIABLE

    monkeypatch.setenv(DEVELOPER_VARIABLE, "placeholder")  # restored after the test; --developer sets it
    server.add_pipeline("[dev alice] medallion_dev")
    bob = server.add_pipeline("[dev bob] medallion_dev")
    result = CliRunner().invoke(cli, ["--developer", "bob", "trigger", "--env", "dev", "--project", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "[dev bob] medallion_dev" in result.stdout and bob.updates, "bob's pipeline, not alice's"


def test_status_when_nothing_is_deployed(server: WorkspaceServer):
    line = one_error_line(medallion("status", "--env", "prod"))
    assert line == ("error: no pipeline named `medallion_prod` in this workspace; "
                    "deploy it with `medallion deploy --env prod`")


# trigger ------------------------------------------------------------------------------------------

def test_trigger_waits_for_a_triggered_update(server: WorkspaceServer):
    pipeline = server.add_pipeline("medallion_dev")
    result = medallion("trigger", "--env", "dev", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    update_id = pipeline.updates[0]["update_id"]
    assert f"started update {update_id} of pipeline medallion_dev" in result.stdout
    assert result.stdout.strip().endswith("COMPLETED")
    start = next(body for method, path, body in server.requests if method == "POST")
    assert start in ({}, None, {"full_refresh": False})
    assert server.paths("GET").count(f"/api/2.0/pipelines/{pipeline.pipeline_id}/updates/{update_id}") >= 4


def test_trigger_full_refresh_that_fails_exits_1(server: WorkspaceServer):
    pipeline = server.add_pipeline("medallion_dev", final_state="FAILED")
    result = medallion("trigger", "--env", "dev", "--full-refresh", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 1
    assert "with a full refresh: FAILED" in result.stdout
    assert pipeline.updates[0]["full_refresh"] is True


def test_trigger_without_wait_returns_at_once(server: WorkspaceServer):
    server.add_pipeline("medallion_dev")
    result = medallion("trigger", "--env", "dev")
    assert result.exit_code == 0 and result.stdout.strip().endswith(": QUEUED")


def test_trigger_a_running_continuous_pipeline_starts_nothing(server: WorkspaceServer):
    pipeline = server.add_pipeline("medallion_prod", continuous=True)
    running = server.add_update(pipeline, "RUNNING")
    result = medallion("trigger", "--env", "prod", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert f"continuous pipeline already running update {running['update_id']}" in result.stdout
    assert server.paths("POST") == []


def test_trigger_a_stopped_continuous_pipeline_waits_until_running(server: WorkspaceServer):
    pipeline = server.add_pipeline("medallion_prod", continuous=True)
    server.add_update(pipeline, "CANCELED")
    result = medallion("trigger", "--env", "prod", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(": RUNNING")
    assert server.paths("POST") == [f"/api/2.0/pipelines/{pipeline.pipeline_id}/updates"]


def test_trigger_while_an_update_is_active_is_a_conflict(server: WorkspaceServer):
    pipeline = server.add_pipeline("medallion_dev")
    server.add_update(pipeline, "RUNNING")
    line = one_error_line(medallion("trigger", "--env", "dev"))
    assert "(RESOURCE_CONFLICT): An active update" in line


def test_trigger_the_job_and_wait(server: WorkspaceServer):
    job = server.add_job("medallion_prod_job")
    result = medallion("trigger", "--env", "prod", "--job", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 0, result.output
    (run_id,) = job.runs
    assert f"started run {run_id} of job medallion_prod_job ({job.job_id}): SUCCESS" in result.stdout
    assert f"/jobs/{job.job_id}/runs/{run_id}" in result.stdout


def test_trigger_the_development_job_with_a_full_refresh(server: WorkspaceServer):
    job = server.add_job("[dev alice] medallion_dev_job")
    job.result_state = "FAILED"
    result = medallion("trigger", "--env", "dev", "--job", "--full-refresh", "--wait", "--poll-interval", "0.01")
    assert result.exit_code == 1 and result.stdout.rstrip().splitlines()[0].endswith(": FAILED")
    run_now = next(body for method, path, body in server.requests if path.endswith("/jobs/run-now"))
    assert run_now == {"job_id": job.job_id, "pipeline_params": {"full_refresh": True}}


# failures: one line, never a traceback, never the token -------------------------------------------

def test_wrong_token(server: WorkspaceServer, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong-secret")
    result = medallion("status", "--env", "prod")
    line = one_error_line(result)
    assert "authentication failed" in line and "HTTP 401: Invalid access token" in line
    assert "dapi-wrong-secret" not in result.output


def test_missing_token(server: WorkspaceServer, monkeypatch):
    monkeypatch.delenv("DATABRICKS_TOKEN")
    line = one_error_line(medallion("status", "--env", "prod"))
    assert "cannot configure Databricks credentials" in line and "DATABRICKS_TOKEN" in line


def test_missing_host_variable_for_prod(server: WorkspaceServer, monkeypatch):
    monkeypatch.delenv("DATABRICKS_HOST_PROD")
    line = one_error_line(medallion("status", "--env", "prod"))
    assert line.startswith("error: DATABRICKS_HOST_PROD is not set")
    assert server.requests == [], "prod must never fall back to DATABRICKS_HOST"


@pytest.mark.parametrize("status, code, message, expected", [
    (403, "PERMISSION_DENIED", "User cannot view pipelines", "permission denied at http://127.0.0.1:"),
    (404, "RESOURCE_DOES_NOT_EXIST", "Pipeline pl-1 does not exist", "not found at http://127.0.0.1:"),
    (500, "INTERNAL_ERROR", "Something broke", "(INTERNAL_ERROR): Something broke"),
])
def test_http_errors(server: WorkspaceServer, status, code, message, expected):
    server.failures["/api/2.0/pipelines"] = (status, code, message)
    line = one_error_line(medallion("status", "--env", "prod"))
    assert expected in line and message in line


def test_timeout(server: WorkspaceServer):
    server.add_pipeline("medallion_prod")
    server.delays["/api/2.0/pipelines"] = 3
    line = one_error_line(medallion("status", "--env", "prod", "--timeout", "0.5"))
    assert "no answer from http://127.0.0.1:" in line and "within 0.5s" in line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_unreachable_host_in_a_real_process(server: WorkspaceServer, monkeypatch):
    """The installed command, end to end: one line on stderr, exit 1, even with the SDK's logging."""
    monkeypatch.setenv("DATABRICKS_HOST_PROD", f"http://127.0.0.1:{free_port()}")
    result = subprocess.run([sys.executable, "-m", "framework", "status", "--env", "prod", "--timeout", "0.5",
                             "--project", str(REPO)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and result.stderr.startswith("error: no answer from"), result.stderr
    assert result.stdout == ""


def test_local_environment_is_a_usage_error(server: WorkspaceServer):
    result = medallion("trigger", "--env", "local")
    assert result.exit_code == 2 and "runs locally" in result.stderr
