"""`medallion bundle diff dev prod`: the effective differences between targets, in one command."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.bundle import load_bundle
from framework.deploy.diff import diff_targets

from .conftest import REPO


def rows(root: Path) -> dict[str, tuple[str, ...]]:
    return {r.setting: r.values for r in diff_targets(load_bundle(root), ["dev", "prod"])}


def test_effective_differences_between_dev_and_prod():
    diff = rows(REPO)
    assert diff["mode"] == ("development", "production")
    assert diff["continuous"] == ("false", "true")
    assert diff["development"] == ("true", "false")
    assert diff["catalog"] == ("medallion_dev", "medallion_prod")
    assert diff["clusters"] == ("default: 1-2 workers (autoscale ENHANCED) × i3.xlarge", "serverless")
    assert diff["serverless"] == ("false", "true") and diff["job compute"] == ("tasks", "serverless")
    assert diff["schedule pause status"] == ("PAUSED", "UNPAUSED")
    assert diff["pipeline notifications"][1] == ("data-platform-oncall@example.com on on-update-failure, "
                                                 "on-update-fatal-failure, on-flow-failure")
    assert diff["photon"] == ("true", "-"), "built into serverless"
    assert diff["task max_retries"] == ("1", "0, 2"), "the catch-up task is never retried"
    assert diff["pipeline name"] == ("[dev ${workspace.current_user.short_name}] medallion_dev", "medallion_prod")
    assert diff["run_as"] == ("(deploying user)", "${var.service_principal}")


def test_development_mode_forces_development_pipelines(project_copy: Path):
    # dev.yaml says development: true anyway; a development-mode target wins even over `false`
    text = (project_copy / "resources/dev.yml").read_text().replace("development: true", "development: false")
    (project_copy / "resources/dev.yml").write_text(text)
    assert rows(project_copy)["development"] == ("true", "false")


def test_diff_command_lists_only_differences_by_default():
    runner = CliRunner()
    result = runner.invoke(cli, ["bundle", "diff", "dev", "prod", "--project", str(REPO)], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "continuous" in result.output and "UNPAUSED" in result.output
    assert "edition" not in result.output and "setting(s) are the same" in result.output
    everything = runner.invoke(cli, ["bundle", "diff", "dev", "prod", "--all", "--project", str(REPO)],
                               terminal_width=200)
    assert "ADVANCED" in everything.output


def test_diff_command_rejects_unknown_targets():
    result = CliRunner().invoke(cli, ["bundle", "diff", "dev", "staging", "--project", str(REPO)])
    assert result.exit_code == 2
    assert "unknown: staging" in result.output
