"""The job is the project's: built from medallion.yaml by `job_tasks`, the one list `medallion job` runs
and `medallion bundle render` renders. An orders project without a collection task gets pipeline ->
quality_checks; a declared task runs as `medallion task <key>` locally and on Databricks; the market
project keeps collect -> pipeline -> quality_checks."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.check import check_bundle
from framework.deploy.render import render_bundle, write_bundle
from framework.deploy.schema import official_schema_path
from framework.jobs.dag import job_tasks
from framework.jobs.runner import local_tasks
from framework.project import load_project
from tests.medallion_testing import REPO
from tests.validation.spec_project import SpecProject

DEV = """\
name: dev
runtime: databricks
catalog: orders_dev
landing_path: /Volumes/orders_dev/bronze/landing
storage_root: /Volumes/orders_dev/ops/state
variables:
  events_folder: events
timeouts:
  pipeline_seconds: 1800
  checks_seconds: 600
  export_seconds: 900
tasks:
  export:
    target: s3
"""

EXPORT = """\
import json
from pathlib import Path


def main(context, args):
    \"\"\"Writes what it was given next to the project: the framework's contract with a project task.\"\"\"
    out = {"key": context.key, "env": context.env.name, "config": dict(context.config), "args": args}
    (context.root / "export.json").write_text(json.dumps(out))
    return 3 if "--fail" in args else 0
"""

DECLARED = """\
name: orders
job:
  description: "Orders: update {pipeline}, check, export ({env})."
  tasks:
    - key: export
      run: jobs.export:main
      args: ["--target-env", "{env}"]
      depends_on: [quality_checks]
"""


BUNDLE_SOURCES = ("framework", "templates", "notebooks", "pyproject.toml")
"""What rendering a bundle reads besides the project's own files (the notebook runs the synced framework/)."""


@pytest.fixture
def orders(tmp_path: Path) -> SpecProject:
    """An orders-like project: its own tables, a local and a Databricks environment, no collection task."""
    project = SpecProject(tmp_path / "orders")
    project.pipeline()
    for part in (p for p in BUNDLE_SOURCES if (REPO / p).exists()):  # templates/ may ship in the package instead
        copy = shutil.copytree if (REPO / part).is_dir() else shutil.copy2
        copy(REPO / part, project.root / part, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                                  if (REPO / part).is_dir() else {}))
    project.write("environments/dev.yaml", DEV.replace("tasks:\n  export:\n    target: s3\n", "")
                  .replace("  export_seconds: 900\n", ""))
    return project


def keys_and_upstreams(tasks) -> list[tuple[str, tuple[str, ...]]]:
    return [(t.key, t.depends_on) for t in tasks]


def rendered_job(root: Path, env: str = "dev") -> dict:
    text = render_bundle(load_project(root))[f"resources/{env}.yml"]
    return yaml.safe_load(text)["targets"][env]["resources"]["jobs"]["medallion"]


def test_without_a_declaration_the_job_is_pipeline_then_quality_checks(orders: SpecProject):
    project = orders.load()
    assert project.ok, [f.render() for f in project.errors]
    local = job_tasks(project.settings, project.environment("local"))
    assert keys_and_upstreams(local) == [("pipeline", ()), ("quality_checks", ("pipeline",))]
    assert local[0].command == ("run", "--env", "local")
    job = rendered_job(orders.root)
    assert [t["task_key"] for t in job["tasks"]] == ["pipeline", "quality_checks"]
    assert "depends_on" not in job["tasks"][0] and "pipeline_task" in job["tasks"][0]
    assert job["description"] == "Update the orders_dev pipeline, then run the quality checks (dev)."
    assert job["name"] == "orders_dev_job", "the project's name (its folder's, without medallion.yaml)"
    write_bundle(load_project(orders.root))
    bundle = yaml.safe_load((orders.root / "databricks.yml").read_text())
    assert bundle["bundle"]["name"] == "orders"
    assert check_bundle(load_project(orders.root), schema_path=official_schema_path()) == []


def test_a_declared_task_is_the_same_in_the_local_job_and_the_bundle(orders: SpecProject):
    orders.write("medallion.yaml", DECLARED)
    orders.write("jobs/__init__.py", "")
    orders.write("jobs/export.py", EXPORT)
    orders.write("environments/dev.yaml", DEV)
    project = orders.load()
    assert project.ok, [f.render() for f in project.errors]
    dev = job_tasks(project.settings, project.environment("dev"))
    assert keys_and_upstreams(dev) == [("pipeline", ()), ("quality_checks", ("pipeline",)),
                                       ("export", ("quality_checks",))]
    assert dev[2].command == ("task", "export", "--env", "dev"), "`medallion task` adds the declared args"
    assert dev[2].timeout_seconds == 900, "the environment's timeouts.export_seconds"
    local = local_tasks(project.settings, project.environment("local"))
    assert [t.name for t in local] == ["pipeline", "quality_checks", "export"]
    assert local[2].argv[1:] == ("-m", "framework", "task", "export", "--env", "local")
    job = rendered_job(orders.root)
    export = job["tasks"][2]
    assert export["task_key"] == "export" and export["depends_on"] == [{"task_key": "quality_checks"}]
    assert export["python_wheel_task"]["parameters"] == [
        "task", "export", "--env", "dev", "--project", "${workspace.file_path}"]
    assert export["timeout_seconds"] == 900
    assert job["name"] == "orders_dev_job" and job["description"] == "Orders: update orders_dev, check, export (dev)."
    write_bundle(load_project(orders.root))
    assert check_bundle(load_project(orders.root), schema_path=official_schema_path()) == []


def test_medallion_task_imports_the_callable_from_the_project_and_passes_its_configuration(orders: SpecProject):
    orders.write("medallion.yaml", DECLARED)
    orders.write("jobs/__init__.py", "")
    orders.write("jobs/export.py", EXPORT.replace("export.json", "export_cli.json"))
    orders.write("environments/dev.yaml", DEV)
    # a fresh process, as the job runs it: the module is imported from the project root, not from this test
    done = subprocess.run([sys.executable, "-m", "framework", "task", "export", "--env", "dev", "--project",
                           str(orders.root), "--limit", "5"], capture_output=True, text=True, cwd=orders.root.parent,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads((orders.root / "export_cli.json").read_text()) == {
        "key": "export", "env": "dev", "config": {"target": "s3"}, "args": ["--target-env", "dev", "--limit", "5"]}
    failed = subprocess.run([sys.executable, "-m", "framework", "task", "export", "--env", "dev", "--project",
                             str(orders.root), "--fail"], capture_output=True, text=True, timeout=120)
    assert failed.returncode == 3, "the task's exit code is the command's"


def test_an_unknown_task_is_a_usage_error(orders: SpecProject):
    result = CliRunner().invoke(cli, ["task", "collect", "--env", "local", "--project", str(orders.root)])
    assert result.exit_code == 2
    assert "unknown project task `collect`" in result.stderr and "Traceback" not in result.output


def local_job_with_export(orders: SpecProject, module: str, env_extra: str = "") -> None:
    """The orders project with an `export` task (no upstream) whose module is `module`, and a local env."""
    orders.write("medallion.yaml", DECLARED.replace("depends_on: [quality_checks]", "depends_on: []"))
    orders.write("jobs/__init__.py", "")
    orders.write("jobs/export.py", module)
    orders.write("environments/local.yaml", textwrap.dedent(f"""\
        name: local
        runtime: local
        catalog: test
        storage_root: {orders.root / 'state'}
        variables:
          events_folder: events
        """) + env_extra)


def test_the_local_job_runs_a_project_task_as_a_process(orders: SpecProject):
    local_job_with_export(orders, EXPORT, "tasks:\n  export: {target: disk}\n")
    result = CliRunner().invoke(cli, ["job", "--env", "local", "--project", str(orders.root), "--skip", "pipeline",
                                      "--skip", "quality_checks", "--task-args", "export=--limit 2"])
    assert result.exit_code == 0, result.output
    assert json.loads((orders.root / "export.json").read_text()) == {
        "key": "export", "env": "local", "config": {"target": "disk"},
        "args": ["--target-env", "local", "--limit", "2"]}
    assert "task export" in result.stdout and "SUCCESS" in result.stdout
    from framework.jobs.runner import history_for
    [run] = history_for(orders.load().environment("local")).jobs(1)
    assert (run.job, run.status) == ("orders", "SUCCESS"), "the run history names the project's job"
    bad = CliRunner().invoke(cli, ["job", "--env", "local", "--project", str(orders.root), "--skip", "collect"])
    assert bad.exit_code == 2 and "not a task of this job" in bad.stderr


def test_the_market_project_keeps_collect_before_the_pipeline():
    project = load_project(REPO)
    for env in ("local", "dev", "prod"):
        tasks = job_tasks(project.settings, project.environment(env))
        assert keys_and_upstreams(tasks)[:3] == [("collect", ()), ("pipeline", ("collect",)),
                                                 ("quality_checks", ("pipeline",))], env
        assert tasks[0].command == ("task", "collect", "--env", env)
    assert job_tasks(project.settings, project.environment("dev"))[0].timeout_seconds == 1800


def test_a_task_module_that_cannot_import_is_one_line_not_a_traceback(orders: SpecProject):
    orders.write("medallion.yaml", DECLARED)
    orders.write("jobs/__init__.py", "")
    orders.write("jobs/export.py", "import no_such_dependency_xyz\n\n\ndef main(context, args):\n    return 0\n")
    result = CliRunner().invoke(cli, ["task", "export", "--env", "local", "--project", str(orders.root)])
    assert result.exit_code == 2, result.output
    assert "cannot import `jobs.export` (for `jobs.export:main`): No module named 'no_such_dependency_xyz'" in \
        " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_a_task_module_that_raises_on_import_is_one_line_not_a_traceback(orders: SpecProject):
    orders.write("medallion.yaml", DECLARED)
    orders.write("jobs/__init__.py", "")
    orders.write("jobs/export.py", "raise KeyError('EXPORT_TOKEN')\n\n\ndef main(context, args):\n    return 0\n")
    for name in [m for m in sys.modules if m == "jobs" or m.startswith("jobs.")]:  # another test's project
        del sys.modules[name]
    result = CliRunner().invoke(cli, ["task", "export", "--env", "local", "--project", str(orders.root)])
    assert result.exit_code == 2, result.output
    assert "cannot import `jobs.export` (for `jobs.export:main`): KeyError: 'EXPORT_TOKEN'" in " ".join(result.stderr.split())
    assert "Traceback" not in result.output


def test_a_failed_task_error_is_printed_as_text_not_markup(orders: SpecProject):
    """The task's last line is shown as written: `[local]` is text, not a rich style tag that vanishes."""
    local_job_with_export(orders, "import sys\n\n\ndef main(context, args):\n"
                                  "    print('export failed for [local] [bold]target', file=sys.stderr)\n    return 4\n")
    result = CliRunner().invoke(cli, ["job", "--env", "local", "--project", str(orders.root), "--skip", "pipeline",
                                      "--skip", "quality_checks"])
    assert result.exit_code != 0
    assert "exit code 4: export failed for [local] [bold]target" in " ".join(result.stdout.split()), result.output
