"""Secrets never leak: a full local job with fake credentials, then every output is searched for them.

The job (collect from the loopback Alpaca-shaped server -> pipeline -> quality checks) and the docs
generation run as real `medallion` processes with a fake Alpaca key/secret and a fake Databricks
token in their environment. The server is hostile on purpose: its error bodies echo the credentials
back (some proxies and gateways do), so error messages, retry warnings and per-symbol failure
reports are exercised too. Then every byte the run left behind is searched: the processes' stdout
and stderr, every file under the project (landing files, manifests, calendar, checkpoints, Delta
logs, run history, generated docs) and the decoded contents of every Delta table (event log included,
since Parquet may compress a literal out of a byte search).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.medallion_testing import REPO, make_local_project

from tests.collect.market_server import ALPACA_PATH, MarketServer

pytestmark = [pytest.mark.spark, pytest.mark.slow, pytest.mark.reliability]

KEY = "PKFAKEKEY7Q2W9E4R1T8"
SECRET = "fakeSecret-3vN8xL0pQ7sZ2mK5wB9cJ4hT6yR1uE"
TOKEN = "dapiFAKE0123456789abcdef0123456789abcdef"
NEEDLES = (KEY, SECRET, TOKEN)


def medallion(*args: str, cwd: Path, env: dict[str, str], timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "framework", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "200", **env})


def leaks_in_files(root: Path) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.relative_to(root)}: {n[:6]}..." for n in NEEDLES if n.encode() in data]
    return found


def leaks_in_tables(spark, storage: Path) -> list[str]:
    found = []
    for log in storage.rglob("_delta_log"):
        table = log.parent
        text = "\n".join(repr(row) for row in spark.read.format("delta").load(str(table)).collect())
        found += [f"table {table.relative_to(storage)}: {n[:6]}..." for n in NEEDLES if n in text]
    return found


def test_a_full_job_with_fake_credentials_leaks_them_nowhere(spark, tmp_path):
    project = make_local_project(tmp_path / "project", (
        "tasks:\n  collect:\n    provider: alpaca\n    symbols: [AAPL, MSFT, BAD]\n    key_env: TEST_ALPACA_KEY\n"
        "    secret_env: TEST_ALPACA_SECRET\n    requests_per_minute: 60000\n"))
    secrets_env = {"TEST_ALPACA_KEY": KEY, "TEST_ALPACA_SECRET": SECRET, "DATABRICKS_TOKEN": TOKEN,
                   "DATABRICKS_HOST": "https://127.0.0.1:9"}
    echo = {"message": f"bad request from key {KEY} with secret {SECRET}"}
    with MarketServer(key=KEY, secret=SECRET) as server:
        server.fault("status", lambda r: r.path == ALPACA_PATH, times=1, status=500, body=echo)  # retried
        server.fault("status", lambda r: "BAD" in r.query.get("symbols", ""), times=None, status=500, body=echo)
        collect_args = f"--date 2025-11-26 --base-url {server.url} --max-attempts 2"
        job = medallion("job", "--env", "test", "--project", str(project.root), "--task-args", f"collect={collect_args}",
                        cwd=project.root, env=secrets_env)
        served = server.served(ALPACA_PATH)
    # a symbol failed, so the job stops after collect (as it should); run the rest of it on what landed
    rest = medallion("job", "--env", "test", "--project", str(project.root), "--skip", "collect", cwd=project.root,
                     env=secrets_env)
    docs = medallion("docs", "--env", "test", "--project", str(project.root), "--out", str(tmp_path / "site"),
                     cwd=project.root, env=secrets_env)
    outputs = {"job": job.stdout + job.stderr, "rest of the job": rest.stdout + rest.stderr,
               "docs": docs.stdout + docs.stderr}

    # the run really happened: bars were fetched with the credentials and went through the pipeline
    assert len(served) >= 5, [r.query.get('symbols') for r in served]  # batch, retry, per symbol
    assert (project.storage / "tables" / "silver" / "bars").is_dir(), outputs
    assert project.table(spark, "silver.bars").where("symbol = 'AAPL'").count() > 0
    assert "BAD" in outputs["job"], "the failing symbol is reported"
    assert docs.returncode == 0, outputs["docs"][-3000:]
    assert any((tmp_path / "site").rglob("*.html"))
    assert (project.storage / "ops" / "job_runs.sqlite").exists()

    leaks = [f"{name} output: {n[:6]}..." for name, text in outputs.items() for n in NEEDLES if n in text]
    leaks += leaks_in_files(tmp_path)
    leaks += leaks_in_tables(spark, project.storage / "tables")
    assert not leaks


def test_databricks_status_against_an_unreachable_host_does_not_print_the_token(tmp_path):
    project = make_local_project(tmp_path / "project")
    result = medallion("status", "--env", "dev", "--project", str(project.root), "--timeout", "3", cwd=project.root,
                       env={"DATABRICKS_HOST": "https://127.0.0.1:9", "DATABRICKS_TOKEN": TOKEN}, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and "127.0.0.1:9" in output, output
    assert "Traceback" not in output
    assert TOKEN not in output and TOKEN[:12] not in output
