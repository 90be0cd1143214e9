"""Run the job DAG locally (the project's tasks, the pipeline, the quality checks), like the Databricks job.

Each task runs as its own `python -m framework ...` process, as a Databricks job task runs in its own
context: a task's timeout can really stop it (the whole process group is killed), a crash in one task
cannot corrupt the runner, and retries start from a clean interpreter. The runner records every job
and task run in the run history and sends the environment's notifications when a task fails.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import IO, Callable

from framework.jobs.dag import JOB_START_TIME, job_tasks
from framework.jobs.history import RunHistory
from framework.jobs.notify import Alert, Delivery, send_alert
from framework.spec.environment import Environment
from framework.spec.project_file import ProjectSettings

SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|WEBHOOK)", re.IGNORECASE)


class TaskStatus(StrEnum):
    """As a Databricks job run reports its tasks."""

    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEDOUT = "TIMEDOUT"
    SKIPPED = "SKIPPED"


@dataclass(frozen=True)
class ProcessTask:
    """How one job task runs here: a process, its timeout and retries."""

    name: str
    argv: tuple[str, ...]
    depends_on: tuple[str, ...] = ()
    timeout_seconds: int | None = None
    max_retries: int = 0
    retry_interval_seconds: float = 0.0


@dataclass
class TaskOutcome:
    task: str
    status: TaskStatus
    attempts: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass
class JobResult:
    run_id: str
    status: TaskStatus
    tasks: list[TaskOutcome] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == TaskStatus.SUCCESS


def history_for(env: Environment) -> RunHistory:
    return RunHistory(env.storage_root / "ops" / "job_runs.sqlite")


def local_tasks(settings: ProjectSettings, env: Environment,
                extra_args: dict[str, tuple[str, ...]] | None = None) -> list[ProcessTask]:
    """The job's tasks (framework/jobs/dag.py, from the project's declaration) as `python -m framework
    <command>` processes, with the environment's retries; `extra_args` adds arguments per task key
    (`medallion job --task-args KEY=ARGS`)."""
    python = (sys.executable, "-m", "framework")
    interval = env.job.min_retry_interval_millis / 1000
    started = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def resolved(command: tuple[str, ...]) -> tuple[str, ...]:
        """Dynamic value references resolved as Databricks resolves them for a run (the job's start)."""
        return tuple(started if arg == JOB_START_TIME else arg for arg in command)

    return [ProcessTask(task.key, (*python, *resolved(task.command), *(extra_args or {}).get(task.key, ())),
                        task.depends_on,
                        task.timeout_seconds, max_retries=env.job.max_retries,
                        retry_interval_seconds=min(interval, 30.0) if env.runtime == "local" else interval)
            for task in job_tasks(settings, env)]


def redact(text: str, environ: dict[str, str] | None = None) -> str:
    """Mask the values of secret-looking environment variables wherever they appear in `text`."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if value and len(value) >= 6 and SECRET_NAME.search(name):
            text = text.replace(value, f"<{name} redacted>")
    return text


def _pump(stream: IO[str], sink: IO[str], tail: deque[str]) -> None:
    for line in iter(stream.readline, ""):
        clean = redact(line)
        sink.write(clean)
        sink.flush()
        tail.append(clean.rstrip())


def run_process(argv: tuple[str, ...], cwd: Path, timeout: float | None) -> tuple[int | None, str]:
    """Run one task process, streaming its output; returns (exit code or None on timeout, stderr tail)."""
    process = subprocess.Popen(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               stdin=subprocess.DEVNULL, start_new_session=True)
    tail: deque[str] = deque(maxlen=15)
    pumps = [threading.Thread(target=_pump, args=(process.stdout, sys.stdout, deque(maxlen=1)), daemon=True),
             threading.Thread(target=_pump, args=(process.stderr, sys.stderr, tail), daemon=True)]
    for pump in pumps:
        pump.start()
    try:
        code: int | None = process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        code = None
    for pump in pumps:
        pump.join(timeout=5)
    return code, "\n".join(tail)


def run_job(env: Environment, tasks: list[ProcessTask], *, history: RunHistory | None = None, job_name: str = "medallion",
            on_task: Callable[[TaskOutcome], None] | None = None) -> JobResult:
    """Run `tasks` in dependency order; a failed task skips everything downstream of it."""
    history = history or history_for(env)
    run_id = history.start_job(job_name, env.name)
    result = JobResult(run_id, TaskStatus.RUNNING)
    finished: dict[str, TaskOutcome] = {}
    for task in tasks:
        blocked = [d for d in task.depends_on if finished.get(d) and finished[d].status != TaskStatus.SUCCESS]
        if blocked:
            outcome = TaskOutcome(task.name, TaskStatus.SKIPPED, error=f"upstream task {blocked[0]} did not succeed")
        else:
            outcome = _run_task(env, task, run_id, history)
        finished[task.name] = outcome
        result.tasks.append(outcome)
        if on_task:
            on_task(outcome)
    failed = [t for t in result.tasks if t.status in (TaskStatus.FAILED, TaskStatus.TIMEDOUT)]
    result.status = TaskStatus.FAILED if failed else TaskStatus.SUCCESS
    error = f"task {failed[0].task} {failed[0].status.lower()}: {failed[0].error}" if failed else None
    history.end_job(run_id, result.status, error)
    if failed:
        result.deliveries = send_alert(env.get("notifications"), _alert(env, job_name, run_id, failed[0]))
    return result


def _run_task(env: Environment, task: ProcessTask, run_id: str, history: RunHistory) -> TaskOutcome:
    outcome = TaskOutcome(task.name, TaskStatus.FAILED)
    started = time.monotonic()
    for attempt in range(1, task.max_retries + 2):
        outcome.attempts = attempt
        history.start_task(run_id, task.name, attempt)
        code, stderr_tail = run_process(task.argv, env.root, task.timeout_seconds)
        if code == 0:
            outcome.status, outcome.error = TaskStatus.SUCCESS, None
            history.end_task(run_id, task.name, attempt, TaskStatus.SUCCESS)
            break
        if code is None:
            outcome.status, outcome.error = TaskStatus.TIMEDOUT, f"exceeded its timeout of {task.timeout_seconds}s"
        else:
            last_line = next((l for l in reversed(stderr_tail.splitlines()) if l.strip()), "")
            outcome.status, outcome.error = TaskStatus.FAILED, f"exit code {code}" + (f": {last_line}" if last_line else "")
        history.end_task(run_id, task.name, attempt, outcome.status, outcome.error)
        if attempt <= task.max_retries:
            time.sleep(task.retry_interval_seconds)
    outcome.seconds = time.monotonic() - started
    return outcome


def _alert(env: Environment, job_name: str, run_id: str, failed: TaskOutcome) -> Alert:
    subject = f"[medallion:{env.name}] job {job_name} failed in task {failed.task}"
    body = (f"Job run {run_id} in environment {env.name} failed.\n"
            f"Task: {failed.task} ({failed.status}, {failed.attempts} attempt(s))\n"
            f"Error: {failed.error}\n"
            f"See: medallion runs --env {env.name}")
    return Alert(subject, redact(body))
