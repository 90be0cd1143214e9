"""The local job runner: real task processes, run history, timeouts, retries and failure alerts
delivered to a real SMTP server and a real webhook endpoint on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from framework.jobs.history import RunHistory
from framework.jobs.runner import ProcessTask, redact, run_job
from framework.spec.environment import DEFAULTS, Environment, deep_merge

PY = sys.executable
FAKE_WEBHOOK_SECRET = "T0000/B0000/hunter2-webhook-secret"


def make_env(tmp_path: Path, **settings) -> Environment:
    merged = deep_merge(DEFAULTS, {"storage_root": str(tmp_path / "store"), **settings})
    return Environment("testenv", merged, tmp_path)


def task(name: str, code: str, *depends: str, **kwargs) -> ProcessTask:
    return ProcessTask(name, (PY, "-c", code), depends, **kwargs)


class _Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd handler protocol
        self.messages.append(envelope.content.decode("utf-8", "replace"))
        return "250 OK"


@pytest.fixture
def smtp_server():
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd needs a concrete port to self-test the server
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield controller.port, inbox
    finally:
        controller.stop()


@pytest.fixture
def webhook_server():
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "json": json.loads(body)})
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/services/{FAKE_WEBHOOK_SECRET}", received
    finally:
        server.shutdown()


def test_successful_job_runs_tasks_in_order_and_records_history(tmp_path):
    env = make_env(tmp_path)
    marker = tmp_path / "order.txt"
    tasks = [task(n, f"open({str(marker)!r}, 'a').write({n!r} + '\\n')", *deps)
             for n, deps in (("collect", ()), ("pipeline", ("collect",)), ("quality_checks", ("pipeline",)))]
    result = run_job(env, tasks)
    assert result.ok
    assert marker.read_text().split() == ["collect", "pipeline", "quality_checks"]
    history = RunHistory(tmp_path / "store" / "ops" / "job_runs.sqlite")
    [run] = history.jobs()
    assert (run.run_id, run.status, run.env) == (result.run_id, "SUCCESS", "testenv")
    assert [(t.task, t.status) for t in history.tasks(run.run_id)] == [
        ("collect", "SUCCESS"), ("pipeline", "SUCCESS"), ("quality_checks", "SUCCESS")]


def test_failed_task_skips_downstream_and_alerts_by_email_and_webhook(tmp_path, smtp_server, webhook_server,
                                                                      monkeypatch, capfd):
    smtp_port, inbox = smtp_server
    webhook_url, received = webhook_server
    monkeypatch.setenv("MEDALLION_TEST_WEBHOOK_URL", webhook_url)
    env = make_env(tmp_path, notifications={
        "email": {"recipients": ["oncall@example.com"], "smtp_host": "127.0.0.1", "smtp_port": smtp_port,
                  "sender": "medallion@example.com"},
        "webhook": {"url_env": "MEDALLION_TEST_WEBHOOK_URL"},
    })
    tasks = [task("collect", "print('collected')"),
             task("pipeline", "import sys; print('flow bars failed: rule high_not_below_low', file=sys.stderr); "
                              "sys.exit(3)", "collect"),
             task("quality_checks", "print('never runs')", "pipeline")]
    result = run_job(env, tasks)

    assert result.status == "FAILED"
    assert [(t.task, t.status) for t in result.tasks] == [
        ("collect", "SUCCESS"), ("pipeline", "FAILED"), ("quality_checks", "SKIPPED")]
    assert "high_not_below_low" in result.tasks[1].error
    assert sorted(d.channel for d in result.deliveries if d.ok) == ["email", "webhook"]
    assert len(inbox.messages) == 1 and "failed in task pipeline" in inbox.messages[0]
    assert "exit code 3" in inbox.messages[0]
    assert received and "failed in task pipeline" in received[0]["json"]["text"]
    out, err = capfd.readouterr()
    assert FAKE_WEBHOOK_SECRET not in out + err + inbox.messages[0] + json.dumps(received[0]["json"])
    history = RunHistory(tmp_path / "store" / "ops" / "job_runs.sqlite")
    assert history.jobs()[0].status == "FAILED" and "pipeline" in history.jobs()[0].error


def test_timeout_kills_the_task_process_group(tmp_path):
    env = make_env(tmp_path)
    started = time.monotonic()
    result = run_job(env, [task("pipeline", "import time; time.sleep(60)", timeout_seconds=1)])
    assert result.tasks[0].status == "TIMEDOUT"
    assert time.monotonic() - started < 30


def test_retries_until_success_and_records_every_attempt(tmp_path):
    env = make_env(tmp_path)
    counter = tmp_path / "attempts"
    code = (f"import pathlib, sys; p = pathlib.Path({str(counter)!r}); "
            "n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n)); sys.exit(0 if n >= 3 else 1)")
    result = run_job(env, [task("collect", code, max_retries=3)])
    assert result.ok and result.tasks[0].attempts == 3
    history = RunHistory(tmp_path / "store" / "ops" / "job_runs.sqlite")
    assert [t.status for t in history.tasks(result.run_id)] == ["FAILED", "FAILED", "SUCCESS"]


def test_secret_values_are_redacted_from_task_output():
    environ = {"ALPACA_API_SECRET_KEY": "s3cr3t-value-123", "HOME": "/root"}
    assert redact("auth failed for s3cr3t-value-123 in /root", environ) == \
        "auth failed for <ALPACA_API_SECRET_KEY redacted> in /root"


def test_unreachable_smtp_is_reported_not_raised(tmp_path):
    from framework.jobs.notify import Alert, send_alert
    [delivery] = send_alert({"email": {"recipients": ["a@b.c"], "smtp_host": "127.0.0.1", "smtp_port": 1}},
                            Alert("s", "b"))
    assert not delivery.ok and "SMTP delivery" in delivery.detail


def test_local_tasks_resolve_the_job_start_time_as_databricks_does():
    """The rendered job passes `{{job.start_time.iso_datetime}}` (a dynamic value reference Databricks
    resolves per run); the local job must hand its tasks the run's start time, not the template."""
    from datetime import datetime, timezone

    from framework.jobs.dag import JOB_START_TIME
    from framework.jobs.runner import local_tasks
    from framework.project import load_project
    from tests.medallion_testing import REPO

    env = load_project(REPO, env="local").environment("local")
    before = datetime.now(timezone.utc).replace(microsecond=0)
    project = load_project(REPO, env="local")
    tasks = {task.name: task for task in local_tasks(project.settings, env)}
    argv = tasks["quality_checks"].argv
    assert JOB_START_TIME not in argv and "--since" in argv
    since = datetime.fromisoformat(argv[argv.index("--since") + 1].replace("Z", "+00:00"))
    assert before <= since <= datetime.now(timezone.utc)
