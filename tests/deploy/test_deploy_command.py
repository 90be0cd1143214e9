"""`medallion deploy`: checks the bundle and the Unity Catalog prerequisites, then runs
`databricks bundle deploy -t <env>` with the env's host.

The Databricks CLI is a Go binary that cannot be installed here, so a small executable named
`databricks` on PATH records what it was given (arguments, DATABRICKS_HOST, working directory, the
first PATH entry). The prerequisites are read with the real databricks-sdk from the loopback REST
server (tests/deploy/workspace_server.py), which holds a small Unity Catalog and the SCIM identities.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Iterator

import pytest
from click.testing import CliRunner, Result

from framework.cli import cli

from .conftest import REPO, edit
from .workspace_server import WorkspaceServer

TOKEN = "dapi-test-token"
SP = "5f0c2a8e-1111-4a7b-9c3d-0123456789ab"
SKIP = "--skip-prerequisites"

RECORDER = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "{version}"; exit 0; fi
printf '%s\\n' "$@" > "{log}.args"
printf '%s' "$DATABRICKS_HOST" > "{log}.host"
pwd > "{log}.cwd"
printf '%s' "${{PATH%%:*}}" > "{log}.path"
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
    result = deploy(REPO, "--env", "prod", "--dry-run", SKIP)
    assert result.exit_code == 0, result.output
    assert "$ DATABRICKS_HOST=$DATABRICKS_HOST_PROD databricks bundle deploy -t prod" in result.stdout
    assert "the `databricks` command is not on PATH" in result.stdout and "install.sh" in result.stdout
    assert "prod.example" not in result.stdout, "values are never printed, only variable names"


def test_deploy_without_the_cli_fails_with_the_install_hint(clean_env: Path):
    result = deploy(REPO, "--env", "dev", SKIP)
    assert result.exit_code == 2
    assert "error: the `databricks` command is not on PATH" in result.stderr


def test_deploy_prod_runs_the_cli_with_the_prod_host(clean_env: Path):
    log = fake_cli(clean_env)
    result = deploy(REPO, "--env", "prod", "--var", "analysts_group=data-analysts", SKIP)
    assert result.exit_code == 0, result.output
    assert "prerequisites not checked (--skip-prerequisites)" in result.stderr
    assert Path(f"{log}.args").read_text().split() == ["bundle", "deploy", "-t", "prod", "--var",
                                                       "analysts_group=data-analysts"]
    assert Path(f"{log}.host").read_text() == "https://prod.example.cloud.databricks.com"
    assert Path(f"{log}.cwd").read_text().strip() == str(REPO)
    assert Path(f"{log}.path").read_text() == str(Path(sys.executable).parent), "this Python builds the wheel"


def test_deploy_dev_uses_databricks_host_and_passes_the_exit_code(clean_env: Path):
    log = fake_cli(clean_env, code=3)
    result = deploy(REPO, "--env", "dev", SKIP)
    assert result.exit_code == 3
    assert result.stdout.startswith("$ databricks bundle deploy -t dev")
    assert Path(f"{log}.host").read_text() == "https://dev.example.cloud.databricks.com"


def test_the_legacy_pypi_cli_is_refused(clean_env: Path):
    fake_cli(clean_env, version="Version 0.18.0")
    result = deploy(REPO, "--env", "dev", SKIP)
    assert result.exit_code == 2 and "legacy PyPI `databricks-cli` has no `bundle` command" in result.stderr


def test_prod_needs_its_host_variable(clean_env: Path, monkeypatch):
    fake_cli(clean_env)
    monkeypatch.delenv("DATABRICKS_HOST_PROD")
    result = deploy(REPO, "--env", "prod", SKIP)
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


# Unity Catalog prerequisites, read through databricks-sdk from the loopback server ------------------

@pytest.fixture
def workspace(clean_env: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[WorkspaceServer]:
    """A prod workspace at DATABRICKS_HOST_PROD with a PAT, the recording CLI on PATH, nothing else to find."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(tmp_path / "no-databrickscfg"))
    monkeypatch.setenv("DATABRICKS_AUTH_TYPE", "pat")
    monkeypatch.setenv("DATABRICKS_TOKEN", TOKEN)
    monkeypatch.setenv("BUNDLE_VAR_analysts_group", ANALYSTS)
    with WorkspaceServer(TOKEN) as server:
        monkeypatch.setenv("DATABRICKS_HOST_PROD", server.url)
        # The secret scope `collect` reads, with the provider's keys; its runners' group may read it.
        server.add_secret_scope("medallion-prod", KEYS, {SP: "READ", "deployer@example.com": "MANAGE"})
        yield server


ANALYSTS = "data-analysts"
KEYS = {"ALPACA_API_KEY_ID": "key-id", "ALPACA_API_SECRET_KEY": "secret-key"}


def ready(server: WorkspaceServer) -> None:
    """What a platform engineer sets up once: the catalog, USE CATALOG for the deployer, the principal and the
    analysts the bundle grants to."""
    server.unity.add("catalog", "medallion_prod", "platform-admins")
    server.unity.grant("catalog", "medallion_prod", "data-platform", "USE_CATALOG", "CREATE_SCHEMA")  # a group
    server.add_service_principal(SP, groups=("medallion-runners",))
    server.unity.grant("catalog", "medallion_prod", "medallion-runners", "USE_CATALOG")
    server.unity.grant("catalog", "medallion_prod", ANALYSTS, "USE_CATALOG")


def missing_lines(result: Result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("missing: ")]


def test_deploy_checks_the_prerequisites_then_deploys(workspace: WorkspaceServer):
    ready(workspace)
    log = fake_cli(Path(os.environ["PATH"].split(os.pathsep)[0]))
    result = deploy(REPO, "--env", "prod", "--var", f"service_principal={SP}")
    assert result.exit_code == 0, result.output
    assert f"prerequisites: catalog `medallion_prod` at {workspace.url} is ready for this deploy" in result.stdout
    assert Path(f"{log}.args").read_text().split()[:4] == ["bundle", "deploy", "-t", "prod"]
    paths = workspace.paths("GET")
    assert "/api/2.0/preview/scim/v2/Me" in paths and "/api/2.1/unity-catalog/catalogs/medallion_prod" in paths
    assert "/api/2.1/unity-catalog/effective-permissions/catalog/medallion_prod" in paths
    assert not [p for m, p, _ in workspace.requests if m != "GET"], "the check changes nothing"


def test_a_missing_catalog_is_one_line_with_its_fix_and_nothing_is_deployed(workspace: WorkspaceServer):
    log = fake_cli(Path(os.environ["PATH"].split(os.pathsep)[0]))
    workspace.add_service_principal(SP)
    result = deploy(REPO, "--env", "prod", "--var", f"service_principal={SP}")
    assert result.exit_code == 1
    assert missing_lines(result) == ["missing: catalog `medallion_prod` does not exist; fix: a metastore admin runs: "
                                     "CREATE CATALOG IF NOT EXISTS `medallion_prod`"]
    assert "1 deploy prerequisite(s) missing in catalog `medallion_prod`" in result.stderr
    assert not Path(f"{log}.args").exists()


def test_every_missing_privilege_is_listed_with_the_grant_that_fixes_it(workspace: WorkspaceServer):
    workspace.unity.add("catalog", "medallion_prod", "platform-admins")
    workspace.add_service_principal(SP)
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert result.exit_code == 1
    assert missing_lines(result) == [
        "missing: you (`deployer@example.com`) have no USE CATALOG on catalog `medallion_prod`; fix: the owner of the "
        "catalog (`platform-admins`) runs: GRANT USE CATALOG ON CATALOG `medallion_prod` TO `deployer@example.com`",
        "missing: you (`deployer@example.com`) cannot create schema(s) `bronze`, `silver`, `gold`, `ops` in catalog "
        "`medallion_prod` (no CREATE SCHEMA); fix: the owner of the catalog (`platform-admins`) runs: "
        "GRANT CREATE SCHEMA ON CATALOG `medallion_prod` TO `deployer@example.com`",
        f"missing: the run-as service principal `{SP}` has no USE CATALOG on catalog `medallion_prod` (the bundle "
        "grants it everything below the catalog, but cannot grant this); fix: the owner of the catalog "
        f"(`platform-admins`) runs: GRANT USE CATALOG ON CATALOG `medallion_prod` TO `{SP}`",
        f"missing: `{ANALYSTS}` is granted USE_SCHEMA, SELECT on schema `medallion_prod.gold` but has no USE CATALOG on "
        "catalog `medallion_prod`, so it cannot reach them; fix: the owner of the catalog (`platform-admins`) runs: "
        f"GRANT USE CATALOG ON CATALOG `medallion_prod` TO `{ANALYSTS}`"]


def test_a_deployer_who_owns_the_catalog_is_told_to_grant_use_catalog_itself(workspace: WorkspaceServer):
    workspace.unity.add("catalog", "medallion_prod", "data-platform")  # owned by the deployer's group
    workspace.add_service_principal(SP)
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert missing_lines(result) == [
        f"missing: the run-as service principal `{SP}` has no USE CATALOG on catalog `medallion_prod` (the bundle "
        "grants it everything below the catalog, but cannot grant this); fix: you can run it (you manage the "
        f"catalog): GRANT USE CATALOG ON CATALOG `medallion_prod` TO `{SP}`",
        f"missing: `{ANALYSTS}` is granted USE_SCHEMA, SELECT on schema `medallion_prod.gold` but has no USE CATALOG on "
        "catalog `medallion_prod`, so it cannot reach them; fix: you can run it (you manage the catalog): "
        f"GRANT USE CATALOG ON CATALOG `medallion_prod` TO `{ANALYSTS}`"]


def test_the_run_as_principal_must_be_set_and_exist(workspace: WorkspaceServer):
    ready(workspace)
    unset = deploy(REPO, "--env", "prod", "--dry-run")
    assert missing_lines(unset) == ["missing: the run-as service principal (bundle variable `service_principal`) is "
                                    "not set; fix: export BUNDLE_VAR_service_principal=<application id> or pass "
                                    "--var service_principal=<application id>"]
    unknown = deploy(REPO, "--env", "prod", "--dry-run", "--var", "service_principal=00000000-dead-beef")
    assert len(missing_lines(unknown)) == 1
    assert "service principal `00000000-dead-beef` (run_as) does not exist in this workspace" in unknown.stderr


def test_the_variable_can_come_from_bundle_var(workspace: WorkspaceServer, monkeypatch):
    ready(workspace)
    monkeypatch.setenv("BUNDLE_VAR_service_principal", SP)
    result = deploy(REPO, "--env", "prod", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run: nothing deployed" in result.stdout


def test_an_existing_schema_of_someone_else_is_reported(workspace: WorkspaceServer):
    ready(workspace)
    workspace.unity.add("schema", "medallion_prod.gold", "alice@example.com")
    workspace.unity.add("schema", "medallion_prod.bronze", "deployer@example.com")  # the deployer's: fine
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert missing_lines(result) == [
        "missing: schema `medallion_prod.gold` exists and belongs to `alice@example.com`: the bundle, deployed by you "
        "(`deployer@example.com`), cannot set its grants or create the landing volume in it; fix: "
        "`alice@example.com` or a metastore admin runs: ALTER SCHEMA `medallion_prod`.`gold` OWNER TO "
        "`deployer@example.com`"]
    workspace.unity.grant("schema", "medallion_prod.gold", "deployer@example.com", "MANAGE")
    assert deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}").exit_code == 0


def test_all_privileges_inherited_from_the_catalog_count(workspace: WorkspaceServer):
    workspace.unity.add("catalog", "medallion_prod", "platform-admins")
    workspace.unity.grant("catalog", "medallion_prod", "deployer@example.com", "ALL_PRIVILEGES")
    workspace.add_service_principal(SP)
    workspace.unity.grant("catalog", "medallion_prod", SP, "USE_CATALOG")
    workspace.unity.grant("catalog", "medallion_prod", ANALYSTS, "USE_CATALOG")
    workspace.unity.add("schema", "medallion_prod.ops", "platform-admins")
    workspace.unity.grant("catalog", "medallion_prod", "deployer@example.com", "MANAGE")  # inherited by ops
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert result.exit_code == 0, result.stderr


def test_unreadable_permissions_are_reported_but_do_not_block(workspace: WorkspaceServer):
    ready(workspace)
    workspace.failures["/api/2.1/unity-catalog/effective-permissions"] = (403, "PERMISSION_DENIED",
                                                                         "User does not have MANAGE on Catalog")
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert result.exit_code == 0, result.output
    assert "unverified: cannot read the privileges of `deployer@example.com` on catalog `medallion_prod` (HTTP 403: " \
           "User does not have MANAGE on Catalog)" in result.stdout


def test_a_wrong_token_is_one_line(workspace: WorkspaceServer, monkeypatch):
    monkeypatch.setenv("DATABRICKS_TOKEN", "dapi-wrong")
    result = deploy(REPO, "--env", "prod", "--dry-run")
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: authentication failed at ")
    assert "dapi-wrong" not in result.output


def test_skip_prerequisites_calls_no_api(workspace: WorkspaceServer):
    result = deploy(REPO, "--env", "prod", "--dry-run", SKIP)
    assert result.exit_code == 0, result.output
    assert workspace.requests == []


def test_every_granted_principal_needs_use_catalog(workspace: WorkspaceServer, project_copy: Path):
    # Before: only the run-as principal was checked, so analysts got USE SCHEMA + SELECT they could not use.
    ready(workspace)
    workspace.unity.grants[("catalog", "medallion_prod")].pop(ANALYSTS)
    edit(project_copy / "tables/gold/daily_bars.yaml", "zorder_by: [symbol, trade_date]",
         "zorder_by: [symbol, trade_date]\ngrants:\n  - {principal: '${var.quant_group}', privileges: [SELECT]}")
    from framework.deploy.render import write_bundle
    from framework.project import load_project

    write_bundle(load_project(project_copy))
    result = deploy(project_copy, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert result.exit_code == 1
    assert missing_lines(result) == [
        f"missing: `{ANALYSTS}` is granted USE_SCHEMA, SELECT on schema `medallion_prod.gold` but has no USE CATALOG on "
        "catalog `medallion_prod`, so it cannot reach them; fix: the owner of the catalog (`platform-admins`) runs: "
        f"GRANT USE CATALOG ON CATALOG `medallion_prod` TO `{ANALYSTS}`",
        "missing: bundle variable `quant_group` is not set (granted SELECT on table `medallion_prod.gold.daily_bars`); "
        "fix: export BUNDLE_VAR_quant_group=<principal> or pass --var quant_group=<principal>"]
    workspace.unity.grant("catalog", "medallion_prod", "quants", "USE_CATALOG")
    workspace.unity.grant("catalog", "medallion_prod", ANALYSTS, "USE_CATALOG")
    fixed = deploy(project_copy, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}",
                   "--var", "quant_group=quants")
    assert fixed.exit_code == 0, fixed.output


def test_the_secret_scope_must_exist_hold_the_keys_and_be_readable(workspace: WorkspaceServer):
    # Before: nothing checked that the run-as principal may READ the scope `collect` reads.
    ready(workspace)
    workspace.secret_acls["medallion-prod"].pop(SP)
    del workspace.secret_scopes["medallion-prod"]["ALPACA_API_SECRET_KEY"]
    result = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert result.exit_code == 1
    assert missing_lines(result) == [
        f"missing: `{SP}` (runs `collect`) cannot READ secret scope `medallion-prod`; fix: a MANAGE holder of the "
        f"scope runs: databricks secrets put-acl medallion-prod {SP} READ",
        "missing: secret scope `medallion-prod` has no key `ALPACA_API_SECRET_KEY` (tasks.collect.secret_env); fix: "
        "databricks secrets put-secret medallion-prod ALPACA_API_SECRET_KEY"]
    assert KEYS["ALPACA_API_KEY_ID"] not in result.output, "values are never read"
    assert not any("/api/2.0/secrets/get" in p for p in workspace.paths())
    workspace.secret_acls["medallion-prod"]["medallion-runners"] = "READ"  # through one of its groups
    workspace.secret_scopes["medallion-prod"].update(KEYS)
    assert deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}").exit_code == 0
    del workspace.secret_scopes["medallion-prod"]
    gone = deploy(REPO, "--env", "prod", "--dry-run", "--var", f"service_principal={SP}")
    assert missing_lines(gone) == [
        "missing: secret scope `medallion-prod` (databricks.secret_scope, read by `collect`) does not exist; fix: "
        "databricks secrets create-scope medallion-prod; databricks secrets put-secret medallion-prod "
        "ALPACA_API_KEY_ID; databricks secrets put-secret medallion-prod ALPACA_API_SECRET_KEY; "
        f"databricks secrets put-acl medallion-prod {SP} READ"]


def test_a_per_user_dev_target_needs_create_schema_not_the_shared_schemas(workspace: WorkspaceServer, monkeypatch):
    monkeypatch.setenv("DATABRICKS_HOST", workspace.url)
    workspace.unity.add("catalog", "medallion_dev", "platform-admins")
    workspace.unity.grant("catalog", "medallion_dev", "data-platform", "USE_CATALOG")
    workspace.unity.grant("catalog", "medallion_dev", ANALYSTS, "USE_CATALOG")
    workspace.unity.add("schema", "medallion_dev.gold", "alice@example.com")  # someone's shared schema: not ours
    workspace.add_secret_scope("medallion-dev", KEYS, {"users": "READ"})
    result = deploy(REPO, "--env", "dev", "--dry-run")
    assert missing_lines(result) == [
        "missing: you (`deployer@example.com`) cannot create schema(s) `${workspace.current_user.short_name}_bronze`, "
        "`${workspace.current_user.short_name}_silver`, `${workspace.current_user.short_name}_gold`, "
        "`${workspace.current_user.short_name}_ops` in catalog `medallion_dev` (no CREATE SCHEMA); fix: the owner of "
        "the catalog (`platform-admins`) runs: GRANT CREATE SCHEMA ON CATALOG `medallion_dev` TO `deployer@example.com`"]
    workspace.unity.grant("catalog", "medallion_dev", "data-platform", "CREATE_SCHEMA")
    assert deploy(REPO, "--env", "dev", "--dry-run").exit_code == 0
