"""What the job's Python tasks run: the project's wheel, its `medallion` entry point, the table-grants command."""

from __future__ import annotations

import email
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.grants import grant_statements
from framework.errors import GrantError
from framework.project import load_project

from .conftest import REPO, edit

LOCAL_ENGINE = ("pyspark", "delta-spark", "pandas", "pyarrow")
"""What a Databricks Runtime ships itself: the wheel must not install its own over it."""


def wheel_tasks(root: Path) -> list[tuple[str, dict]]:
    out = []
    for env_name in ("dev", "prod"):
        resources = yaml.safe_load((root / f"resources/{env_name}.yml").read_text())["targets"][env_name]["resources"]
        out += [(env_name, task) for task in resources["jobs"]["medallion"]["tasks"] if "python_wheel_task" in task]
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel the bundle's artifact builds, built offline (the venv's setuptools) from a copy of the sources."""
    source = tmp_path_factory.mktemp("wheel-source")
    shutil.copytree(REPO / "framework", source / "framework", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(out), str(source)], check=True, capture_output=True, text=True)
    (built,) = out.glob("medallion-*.whl")
    return built


def test_the_wheel_holds_framework_and_the_medallion_entry_point(wheel: Path):
    with zipfile.ZipFile(wheel) as archive:
        files = archive.namelist()
        info = next(f for f in files if f.endswith(".dist-info/entry_points.txt"))
        entry_points = archive.read(info).decode()
        metadata = email.message_from_bytes(archive.read(next(f for f in files if f.endswith(".dist-info/METADATA"))))
    assert "framework/cli/__init__.py" in files and "framework/deploy/schemas/bundle.schema.json" in files
    assert not any(f.startswith(("tables/", "tests/", "notebooks/")) for f in files), "the project files are synced"
    assert "medallion = framework.cli:main" in entry_points
    requires = metadata.get_all("Requires-Dist") or []
    name = lambda requirement: re.match(r"[A-Za-z0-9._-]+", requirement).group(0)  # noqa: E731
    unconditional = {name(r) for r in requires if "extra ==" not in r}
    assert "databricks-sdk" in unconditional and "pyyaml" in unconditional
    assert not unconditional & set(LOCAL_ENGINE), \
        "the local engine's Spark stack is the `local` extra, never installed on a Databricks Runtime"
    assert {name(r) for r in requires if 'extra == "local"' in r} == set(LOCAL_ENGINE)


def test_every_wheel_task_runs_a_medallion_command_with_the_synced_project():
    tasks = wheel_tasks(REPO)
    assert {key for _, t in tasks for key in [t["task_key"]]} >= {"collect", "quality_checks"}
    for env_name, task in tasks:
        wheel_task = task["python_wheel_task"]
        assert (wheel_task["package_name"], wheel_task["entry_point"]) == ("medallion", "medallion")
        assert wheel_task["parameters"][-2:] == ["--project", "${workspace.file_path}"]
        assert task["libraries"] == [{"whl": "../dist/*.whl"}], "one library: the project's wheel"
        # Every option parses (click rejects unknown ones before --help answers): what Databricks passes works.
        args = [str(REPO) if a == "${workspace.file_path}" else a for a in wheel_task["parameters"]]
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0, (env_name, task["task_key"], result.output)


def test_the_entry_point_finds_the_project_from_another_folder(tmp_path: Path):
    # A wheel task starts wherever the cluster puts it: --project alone must locate tables/ and environments/.
    medallion = Path(sys.executable).with_name("medallion")
    result = subprocess.run([str(medallion), "list", "--project", str(REPO)], capture_output=True, text=True,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "bars_raw" in result.stdout and "daily_bars" in result.stdout


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
