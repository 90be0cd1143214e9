"""`medallion deploy`: checks the bundle, then runs `databricks bundle deploy -t <env>` with the env's host.

The Databricks CLI is a Go binary that cannot be installed here, so a small executable named
`databricks` on PATH records what it was given (arguments, DATABRICKS_HOST, working directory).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from framework.cli import cli

from .conftest import REPO, edit

RECORDER = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi
printf '%s\\n' "$@" > "{log}.args"
printf '%s' "$DATABRICKS_HOST" > "{log}.host"
pwd > "{log}.cwd"
echo "Deployment complete!"
exit {code}
"""


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for key in list(os.environ):
        if key.startswith(("DATABRICKS_", "BUNDLE_VAR_")):
            monkeypatch.delenv(key)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DATABRICKS_HOST", "https://dev.example.cloud.databricks.com")
    monkeypatch.setenv("DATABRICKS_HOST_PROD", "https://prod.example.cloud.databricks.com")
    return bin_dir


def fake_cli(bin_dir: Path, version: str = "Databricks CLI v0.250.0", code: int = 0) -> Path:
    log = bin_dir.parent / "databricks-call"
    script = bin_dir / "databricks"
    script.write_text(RECORDER.format(version=version, log=log, code=code))
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return log


def deploy(root: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["deploy", *args, "--project", str(root)])


def test_dry_run_without_the_cli_explains_how_to_install_it(clean_env: Path):
    result = deploy(REPO, "--env", "prod", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "$ DATABRICKS_HOST=$DATABRICKS_HOST_PROD databricks bundle deploy -t prod" in result.stdout
    assert "the `databricks` command is not on PATH" in result.stdout and "install.sh" in result.stdout
    assert "prod.example" not in result.stdout, "values are never printed, only variable names"


def test_deploy_without_the_cli_fails_with_the_install_hint(clean_env: Path):
    result = deploy(REPO, "--env", "dev")
    assert result.exit_code == 2
    assert "error: the `databricks` command is not on PATH" in result.stderr


def test_deploy_prod_runs_the_cli_with_the_prod_host(clean_env: Path):
    log = fake_cli(clean_env)
    result = deploy(REPO, "--env", "prod", "--var", "analysts_group=data-analysts")
    assert result.exit_code == 0, result.output
    assert Path(f"{log}.args").read_text().split() == ["bundle", "deploy", "-t", "prod", "--var",
                                                       "analysts_group=data-analysts"]
    assert Path(f"{log}.host").read_text() == "https://prod.example.cloud.databricks.com"
    assert Path(f"{log}.cwd").read_text().strip() == str(REPO)


def test_deploy_dev_uses_databricks_host_and_passes_the_exit_code(clean_env: Path):
    log = fake_cli(clean_env, code=3)
    result = deploy(REPO, "--env", "dev")
    assert result.exit_code == 3
    assert result.stdout.startswith("$ databricks bundle deploy -t dev")
    assert Path(f"{log}.host").read_text() == "https://dev.example.cloud.databricks.com"


def test_the_legacy_pypi_cli_is_refused(clean_env: Path):
    fake_cli(clean_env, version="Version 0.18.0")
    result = deploy(REPO, "--env", "dev")
    assert result.exit_code == 2 and "legacy PyPI `databricks-cli` has no `bundle` command" in result.stderr


def test_prod_needs_its_host_variable(clean_env: Path, monkeypatch):
    fake_cli(clean_env)
    monkeypatch.delenv("DATABRICKS_HOST_PROD")
    result = deploy(REPO, "--env", "prod")
    assert result.exit_code == 1 and "DATABRICKS_HOST_PROD is not set" in result.stderr


def test_an_invalid_bundle_is_not_deployed(clean_env: Path, project_copy: Path):
    log = fake_cli(clean_env)
    edit(project_copy / "environments/prod.yaml", "continuous: true", "continuous: false")
    result = deploy(project_copy, "--env", "prod")
    assert result.exit_code == 1
    assert "resources/prod.yml" in result.stderr and "run `medallion bundle render`" in result.stderr
    assert not Path(f"{log}.args").exists()


def test_a_local_environment_has_no_target(clean_env: Path):
    result = deploy(REPO, "--env", "local")
    assert result.exit_code == 2 and "runs locally" in result.stderr
