"""What the job's Python tasks run: the entry script and the table-grants command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.grants import grant_statements
from framework.errors import GrantError
from framework.project import load_project

from .conftest import REPO, edit

ENTRYPOINT = REPO / "framework/cli/entrypoint.py"


def test_entrypoint_runs_medallion_from_the_given_root(project_copy: Path):
    # Run from another folder, as a Databricks task does: the script must find framework/ and the project.
    result = subprocess.run([sys.executable, str(ENTRYPOINT), "--project-root", str(REPO), "bundle", "check"],
                            capture_output=True, text=True, cwd=project_copy.parent)
    assert result.returncode == 0, result.stderr
    assert "bundle: valid" in result.stdout


def test_entrypoint_usage_error():
    result = subprocess.run([sys.executable, str(ENTRYPOINT), "collect"], capture_output=True, text=True)
    assert result.returncode == 1 and "usage: entrypoint.py --project-root" in result.stderr


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
