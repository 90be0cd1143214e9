"""What the job's Python tasks run: the project's wheel, its `medallion` entry point, the table-grants command."""

from __future__ import annotations

import email
import re
import subprocess
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.grants import grant_statements
from framework.errors import GrantError
from framework.project import load_project

from tests.collect.market_server import ALPACA_PATH, MarketServer
from tests.installed_wheel import Installed, clean_environ, installed, wheel  # noqa: F401 (fixtures)
from tests.medallion_testing import copy_market_project

from .conftest import PROJECT_PARTS, REPO, edit
from .workspace_server import WorkspaceServer

TOKEN = "dapi-test-token"

LOCAL_ENGINE = ("pyspark", "delta-spark", "pandas", "pyarrow", "deltalake")
"""The local engine's stack: what a Databricks Runtime ships itself (the wheel must not install its own over
it), and delta-rs, with which the local engine records a run that had nothing to do without starting a JVM."""


def wheel_tasks(root: Path) -> list[tuple[str, dict]]:
    out = []
    for env_name in ("dev", "prod"):
        resources = yaml.safe_load((root / f"resources/{env_name}.yml").read_text())["targets"][env_name]["resources"]
        out += [(env_name, task) for task in resources["jobs"]["medallion"]["tasks"] if "python_wheel_task" in task]
    return out


def test_the_wheel_holds_framework_the_market_project_and_the_medallion_entry_point(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        info = next(f for f in files if f.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(info).decode()
        metadata = email.message_from_bytes(archive.read(next(f for f in files if f.endswith(".dist-info/METADATA"))))
    assert "framework/cli/__init__.py" in files and "framework/deploy/schemas/bundle.schema.json" in files
    assert "framework/spec/schemas/project.schema.json" in files
    assert "market/collect/cli.py" in files and "market/collect/config.schema.json" in files, "the market project's task"
    assert not any(f.startswith("framework/collect/") for f in files), "collection is the market project's, not the framework's"
    assert not any(f.startswith(("tables/", "tests/", "notebooks/")) for f in files), "the project files are synced"
    assert "medallion = framework.cli:main" in entry_points
    requires = metadata.get_all("Requires-Dist") or []
    name = lambda requirement: re.match(r"[A-Za-z0-9._-]+", requirement).group(0)  # noqa: E731
    unconditional = {name(r) for r in requires if "extra ==" not in r}
    assert "databricks-sdk" in unconditional and "pyyaml" in unconditional
    assert not unconditional & set(LOCAL_ENGINE), \
        "the local engine's Spark stack is the `local` extra, never installed on a Databricks Runtime"
    assert {name(r) for r in requires if 'extra == "local"' in r} == set(LOCAL_ENGINE)


# --- the wheel as a python_wheel_task runs it ---------------------------------------------------------------
#
# Databricks installs the wheel (no extras: the runtime brings Spark) and calls the `medallion` entry point it
# finds in the wheel's metadata, in-process, with the task's parameters as sys.argv[1:]. `Installed.call` does the
# same in a virtualenv outside the repository, so nothing of the source tree or an editable install helps
# (tests/installed_wheel.py, shared with the tests of a plain `pip install medallion`).

SINCE = "2026-11-27T22:00:00.000Z"
"""What Databricks substitutes for {{job.start_time.iso_datetime}}."""


def synced_project(tmp: Path) -> Path:
    """What `databricks bundle deploy` syncs to ${workspace.file_path}: the project without tests/."""
    return copy_market_project(tmp / "files", PROJECT_PARTS)


def task_command(task: dict, project: Path) -> list[str]:
    """The task's parameters with the values Databricks substitutes at run time."""
    values = {"${workspace.file_path}": str(project), "{{job.start_time.iso_datetime}}": SINCE,
              "${workspace.current_user.short_name}": "alice"}
    return [values.get(a, a) for a in task["python_wheel_task"]["parameters"]]


def test_the_installed_wheel_has_no_local_engine(installed: Installed):
    probe = subprocess.run([str(installed.python), "-c", "import importlib.util as u; print(u.find_spec('pyspark'), "
                            "u.find_spec('delta'), u.find_spec('framework').origin)"],
                           capture_output=True, text=True, cwd=installed.home, env=clean_environ(installed.home))
    assert probe.returncode == 0, probe.stderr
    pyspark, delta, origin = probe.stdout.split()
    assert (pyspark, delta) == ("None", "None"), "installed without extras: the runtime brings Spark"
    assert "site-packages" in origin and str(REPO) not in origin


def test_medallion_help_from_the_installed_wheel(installed: Installed):
    env = clean_environ(installed.home)
    script = subprocess.run([str(installed.script), "--help"], capture_output=True, text=True, env=env,
                            cwd=installed.home)
    assert script.returncode == 0, script.stderr
    assert "task" in script.stdout and "trigger" in script.stdout
    called = installed.call(["--help"], env, installed.home)
    assert called.returncode == 0, called.stderr
    assert called.stdout.splitlines()[-1] == "entry point returned 0"
    usage = installed.call(["no-such-command"], env, installed.home)
    assert usage.returncode == 2 and "No such command" in usage.stderr, "a failure is a non-zero SystemExit"
    assert "entry point returned" not in usage.stdout


def test_every_wheel_task_parses_from_the_installed_wheel(installed: Installed, tmp_path: Path):
    project = synced_project(tmp_path)
    tasks = wheel_tasks(REPO)
    assert {t["task_key"] for _, t in tasks} >= {"collect", "pipeline", "quality_checks"}
    collect = [t["python_wheel_task"]["parameters"] for _, t in tasks if t["task_key"] == "collect"]
    assert collect and all(p[p.index("task"):p.index("task") + 2] == ["task", "collect"] for p in collect), \
        "a project task runs as `medallion task <key>`"
    env = clean_environ(installed.home)
    for env_name, task in tasks:
        wheel_task = task["python_wheel_task"]
        assert (wheel_task["package_name"], wheel_task["entry_point"]) == ("medallion", "medallion")
        assert wheel_task["parameters"][-2:] == ["--project", "${workspace.file_path}"]
        # Every option parses (click rejects unknown ones before --help answers): what Databricks passes works.
        result = installed.call([*task_command(task, project), "--help"], env, tmp_path)
        assert result.returncode == 0, (env_name, task["task_key"], result.stderr)
        assert result.stdout.splitlines()[-1] == "entry point returned 0"


def prod_task(key: str) -> dict:
    return next(t for env_name, t in wheel_tasks(REPO) if env_name == "prod" and t["task_key"] == key)


def test_collect_task_reads_its_keys_from_the_secret_scope_and_lands_files(installed: Installed, tmp_path: Path):
    project = synced_project(tmp_path)
    landing = tmp_path / "volume" / "landing"
    with MarketServer() as market, WorkspaceServer(TOKEN) as workspace:
        # The copy lands on local disk (a volume is a FUSE path on Databricks) and asks the loopback market.
        edit(project / "environments/prod.yaml", "landing_path: /Volumes/medallion_prod/bronze/landing",
             f"landing_path: {landing}")
        edit(project / "environments/dev.yaml", "    provider: alpaca", f"    provider: alpaca\n    base_url: {market.url}")
        workspace.add_secret_scope("medallion-prod", {"ALPACA_API_KEY_ID": market.key,
                                                      "ALPACA_API_SECRET_KEY": market.secret})
        env = clean_environ(installed.home, DATABRICKS_RUNTIME_VERSION="16.4", DATABRICKS_HOST=workspace.url,
                             DATABRICKS_TOKEN=TOKEN, DATABRICKS_AUTH_TYPE="pat")
        result = installed.call(task_command(prod_task("collect"), project), env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-1] == "entry point returned 0"
    assert sorted(p.name for p in landing.rglob("alpaca_*.jsonl")), "bars landed"
    assert "/api/2.0/secrets/get" in workspace.paths("GET"), "the keys came from the secret scope"
    assert market.secret not in result.stdout + result.stderr
    assert market.served(ALPACA_PATH), "bars were fetched"


def test_trigger_task_follows_the_continuous_pipeline(installed: Installed, tmp_path: Path):
    project = synced_project(tmp_path)
    with WorkspaceServer(TOKEN) as workspace:
        pipeline = workspace.add_pipeline("medallion_prod", continuous=True, state="RUNNING")
        update = workspace.add_update(pipeline, "RUNNING")
        env = clean_environ(installed.home, DATABRICKS_HOST_PROD=workspace.url, DATABRICKS_TOKEN=TOKEN,
                             DATABRICKS_AUTH_TYPE="pat", DATABRICKS_WAREHOUSE_ID="wh-1")
        result = installed.call(task_command(prod_task("pipeline"), project), env, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert f"continuous pipeline already running update {update['update_id']}" in result.stdout
    assert "nothing to wait for" in result.stdout and lines[-1] == "entry point returned 0"


def test_check_task_starts_and_says_where_it_runs(installed: Installed, tmp_path: Path):
    # The checks read Unity Catalog through the cluster's Spark session, which only Databricks has: off a
    # cluster the installed command loads the project and stops with its one documented line (exit 2).
    project = synced_project(tmp_path)
    result = installed.call(task_command(prod_task("quality_checks"), project), clean_environ(installed.home),
                            tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    assert result.stderr.strip().splitlines() == [
        "error: environment `prod` runs on Databricks (runtime: databricks): run `medallion check --env prod` on a "
        "Databricks cluster (the job's tasks do; DATABRICKS_RUNTIME_VERSION is not set here), or use a local "
        "environment on this machine (--env local)"]


def with_grants(root: Path) -> None:
    edit(root / "tables/gold/daily_bars.yaml", "zorder_by: [symbol, trade_date]",
         "zorder_by: [symbol, trade_date]\ngrants:\n"
         "  - {principal: '${var.quant_group}', privileges: [SELECT]}\n"
         "  - {principal: '${var.ops_group}', privileges: [SELECT, MODIFY]}")


def test_grant_statements_substitute_principals(project_copy: Path):
    with_grants(project_copy)
    project = load_project(project_copy)
    env = project.environments["prod"]
    assert grant_statements(project, env) == [
        "GRANT SELECT ON TABLE `medallion_prod`.`gold`.`daily_bars` TO `${var.quant_group}`",
        "GRANT SELECT, MODIFY ON TABLE `medallion_prod`.`gold`.`daily_bars` TO `${var.ops_group}`"]
    resolved = grant_statements(project, env, {"quant_group": "quants", "ops_group": "data `ops`"})
    assert resolved[1] == "GRANT SELECT, MODIFY ON TABLE `medallion_prod`.`gold`.`daily_bars` TO `data ``ops```"
    try:
        grant_statements(project, env, {"quant_group": "quants"})
    except GrantError as exc:
        assert "--principal ops_group=<principal>" in str(exc)
    else:
        raise AssertionError("a missing principal value must be an error")


def test_grants_command(project_copy: Path):
    runner = CliRunner()
    none = runner.invoke(cli, ["bundle", "grants", "--env", "dev", "--project", str(project_copy)])
    assert none.exit_code == 0 and "no table grants" in none.output
    with_grants(project_copy)
    shown = runner.invoke(cli, ["bundle", "grants", "--env", "dev", "--project", str(project_copy),
                                "--principal", "quant_group=quants", "--principal", "ops_group=ops"])
    assert shown.exit_code == 0, shown.output
    assert "GRANT SELECT ON TABLE `medallion_dev`.`gold`.`daily_bars` TO `quants`;" in shown.output
    missing = runner.invoke(cli, ["bundle", "grants", "--env", "dev", "--project", str(project_copy),
                                  "--apply", "--principal", "quant_group=quants"])
    assert missing.exit_code == 2 and "ops_group" in missing.output
