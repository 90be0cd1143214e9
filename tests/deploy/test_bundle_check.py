"""check_bundle: the committed bundle is valid; each broken case fails with a located message."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.bundle import load_bundle
from framework.deploy.check import check_bundle
from framework.deploy.diff import diff_targets
from framework.deploy.render import write_bundle
from framework.findings import Finding
from framework.project import load_project

from .conftest import REPO, edit, override_template


def errors(root: Path) -> list[Finding]:
    return [f for f in check_bundle(load_project(root)) if f.severity == "error"]


def render(root: Path) -> None:
    write_bundle(load_project(root))


def line_of(path: Path, text: str) -> int:
    lines = path.read_text("utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def only(findings: list[Finding], code: str | None = None) -> Finding:
    selected = [f for f in findings if code is None or f.code == code]
    assert len(selected) == 1, "\n".join(f.render() for f in findings)
    return selected[0]


def test_committed_bundle_passes_schema_and_rules(official_schema: Path):
    findings = check_bundle(load_project(REPO), schema_path=official_schema)
    assert findings == [], "\n".join(f.render() for f in findings)


def test_copy_is_valid_and_a_second_check_agrees(project_copy: Path):
    project = load_project(project_copy)
    assert check_bundle(project) == []
    assert check_bundle(project) == []  # the compiled schema is reused


def test_check_starts_no_jvm_and_compiles_the_schema_only_when_asked():
    code = ("import sys\n"
            "from pathlib import Path\n"
            "from framework.project import load_project\n"
            "import framework.deploy.schema as s\n"
            "assert s.load_schema.cache_info().currsize == 0\n"
            "from framework.deploy.check import check_bundle\n"
            f"assert check_bundle(load_project(Path({str(REPO)!r}))) == []\n"
            "assert s.load_schema.cache_info().currsize == 1\n"
            "assert 'pyspark' not in sys.modules and 'databricks.sdk' not in sys.modules\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr


def test_prod_in_development_mode(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", "development: false", "development: true")
    render(project_copy)
    finding = only(errors(project_copy))
    assert finding.file == "databricks.yml"
    assert "target `prod` must use `mode: production`, not development mode" in finding.message
    prod_mode_line = [i for i, l in enumerate((project_copy / "databricks.yml").read_text().splitlines(), 1)
                      if l.strip() == "mode: development"][-1]
    assert (finding.line, finding.column) == (prod_mode_line, 11)


def test_production_pipeline_in_development(project_copy: Path):
    resource = project_copy / "resources/prod.yml"
    edit(resource, "development: false", "development: true")
    found = errors(project_copy)
    finding = only(found, "bundle")
    assert (finding.file, finding.line) == ("resources/prod.yml", line_of(resource, "development: true"))
    assert "pipeline `medallion` of production target `prod` has `development: true`" in finding.message
    assert only(found, "bundle-drift").line == finding.line


PROD_ROOT = "  root_path: /Workspace/Users/${workspace.current_user.userName}/.bundle/medallion/prod\n"


def test_missing_root_path(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", PROD_ROOT, "")
    render(project_copy)
    finding = only(errors(project_copy))
    assert finding.file == "databricks.yml" and "must set an explicit workspace.root_path" in finding.message
    assert finding.line == line_of(project_copy / "databricks.yml", "  prod:")
    assert "databricks.root_path" in finding.hint and "/Workspace/Users/" in finding.hint


def test_a_shared_prod_root_is_an_error(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", PROD_ROOT, "  root_path: /Workspace/Shared/.bundle/medallion/prod\n")
    render(project_copy)
    finding = only(errors(project_copy))
    assert (finding.file, finding.line) == ("databricks.yml", line_of(project_copy / "databricks.yml", "/Workspace/Shared"))
    assert "which every workspace user can write" in finding.message and "run_as" in finding.message


def test_prod_must_grant_its_run_as_principal(project_copy: Path):
    resource = project_copy / "resources/prod.yml"
    text = resource.read_text()
    start = text.index("        silver:")
    block = text[start:text.index("        gold:")]
    resource.write_text(text.replace(block, block.replace("                - CREATE_TABLE\n", "")))
    found = [f for f in errors(project_copy) if f.code == "bundle"]
    finding = only(found)
    assert finding.file == "resources/prod.yml" and finding.line == line_of(resource, "        silver:") + 5  # its grants
    assert "schema `silver` of production target `prod` does not grant its run-as principal CREATE_TABLE" \
        in finding.message
    # the volume's grants are checked the same way:
    edit(resource, "                - WRITE_VOLUME\n", "")
    assert any("landing volume `landing`" in f.message and "WRITE_VOLUME" in f.message for f in errors(project_copy))


SP_PERMISSION = '    - {level: CAN_RUN, service_principal_name: "${var.service_principal}"}\n'


def test_prod_permissions_must_let_the_run_as_principal_read_its_files(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", SP_PERMISSION, "")
    render(project_copy)
    finding = only(errors(project_copy))
    assert "runs as ${var.service_principal}, but its `permissions` do not let it read the deployed files" \
        in finding.message
    assert "CAN_RUN" in finding.hint


def test_the_run_as_principal_can_start_pipeline_updates(project_copy: Path):
    # Before: CAN_VIEW, with which the catch-up task's start_update is refused (pipeline privileges).
    assert "{level: CAN_RUN, service_principal_name" in (REPO / "environments/prod.yaml").read_text()
    edit(project_copy / "environments/prod.yaml", SP_PERMISSION, SP_PERMISSION.replace("CAN_RUN", "CAN_VIEW"))
    render(project_copy)
    finding = only(errors(project_copy))
    assert finding.file == "environments/prod.yaml" or finding.file == "databricks.yml"
    assert "has CAN_VIEW only, which cannot start an update of pipeline `medallion`" in finding.message
    assert "CAN_RUN, CAN_MANAGE or IS_OWNER" in finding.message


def test_a_literal_principal_in_permissions_is_an_error(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", 'group_name: "${var.operators_group}"', "group_name: on-call")
    finding = only([f for f in errors(project_copy) if f.code == "principal"])
    assert finding.file == "environments/prod.yaml" and "'on-call' is written literally" in finding.message


def test_missing_run_as(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", "  run_as_service_principal: ${var.service_principal}\n", "")
    render(project_copy)
    finding = only(errors(project_copy))
    assert finding.file == "databricks.yml" and "must set run_as" in finding.message
    assert finding.line == line_of(project_copy / "databricks.yml", "  prod:")


def test_drift_after_editing_an_environment(project_copy: Path):
    edit(project_copy / "environments/prod.yaml", "  max_retries: 2", "  max_retries: 3")
    finding = only(errors(project_copy), "bundle-drift")
    assert finding.file == "resources/prod.yml"
    assert finding.line == line_of(project_copy / "resources/prod.yml", "max_retries: 2")
    assert "`max_retries: 2`, a fresh render has `max_retries: 3`" in finding.message
    assert "medallion bundle render" in finding.hint
    render(project_copy)
    assert errors(project_copy) == []


def test_missing_and_stale_generated_files(project_copy: Path):
    (project_copy / "resources/dev.yml").unlink()
    (project_copy / "resources/qa.yml").write_text("# Generated by `medallion bundle render` from x.\ntargets: {}\n")
    messages = sorted(f.message for f in errors(project_copy))
    assert messages == ["resources/dev.yml is missing; it is rendered from environments/",
                        "resources/qa.yml was generated for an environment that no longer renders",
                        "target `dev` has no pipeline `medallion`, so none of the 7 table spec(s) is deployed"]


def test_literal_principal_in_environment(project_copy: Path):
    env_file = project_copy / "environments/dev.yaml"
    edit(env_file, 'principal: "${var.analysts_group}"', 'principal: "analysts@example.com"')
    render(project_copy)
    finding = only(errors(project_copy), "principal")
    assert finding.file == "environments/dev.yaml"
    assert finding.line == line_of(env_file, "analysts@example.com")
    assert "'analysts@example.com' is written literally" in finding.message


def test_literal_principal_in_a_table_spec(project_copy: Path):
    spec = project_copy / "tables/gold/symbol_summary.yaml"
    edit(spec, "zorder_by: [symbol]", "zorder_by: [symbol]\ngrants:\n  - {principal: quants, privileges: [SELECT]}")
    render(project_copy)
    finding = only(errors(project_copy), "principal")
    assert (finding.file, finding.line) == ("tables/gold/symbol_summary.yaml", line_of(spec, "principal: quants"))


def test_literal_principal_in_a_handwritten_resource(project_copy: Path):
    (project_copy / "resources/extra.yml").write_text(
        "targets:\n  prod:\n    resources:\n      schemas:\n        gold:\n          grants:\n"
        "            - principal: someone@example.com\n              privileges: [SELECT]\n")
    finding = only(errors(project_copy), "principal")
    assert (finding.file, finding.line, finding.column) == ("resources/extra.yml", 7, 26)


def test_schema_violation_is_located(project_copy: Path):
    (project_copy / "resources/extra.yml").write_text(
        "targets:\n  prod:\n    resources:\n      pipelines:\n        backfill:\n"
        "          photon: sometimes\n          clusters:\n            - label: default\n"
        "              num_workers: two\n          colour: blue\n")
    found = {(f.file, f.line, f.message) for f in errors(project_copy) if f.code == "bundle-schema"}
    assert found == {("resources/extra.yml", 6, "expected true or false, got a string"),
                     ("resources/extra.yml", 9, "expected an integer, got a string"),
                     ("resources/extra.yml", 10, "unknown key `colour`")}, found


def test_schema_violation_in_a_rendered_file_is_also_drift(project_copy: Path):
    edit(project_copy / "resources/prod.yml", "max_concurrent_runs: 1", "max_concurrent_runs: one")
    found = errors(project_copy)
    schema = only(found, "bundle-schema")
    assert schema.file == "resources/prod.yml"
    assert schema.line == line_of(project_copy / "resources/prod.yml", "max_concurrent_runs: one")
    assert schema.message == "expected an integer, got a string"
    assert only(found, "bundle-drift").line == schema.line


def test_pipeline_must_run_the_generic_notebook(project_copy: Path):
    edit(override_template(project_copy, "bundle/target.yml.j2"), "path: {{ p.notebook | y }}", "path: ../notebooks/other.py")
    render(project_copy)
    found = errors(project_copy)
    messages = [f.message for f in found]
    assert any("does not run notebooks/medallion_pipeline.py, so none of the 7 table spec(s)" in m for m in messages)
    assert {f.file for f in found} == {"resources/dev.yml", "resources/prod.yml"}


def test_configuration_must_point_at_the_synced_files_and_own_environment(project_copy: Path):
    edit(project_copy / "resources/prod.yml", "medallion.env: prod", "medallion.env: dev")
    edit(project_copy / "resources/prod.yml", "medallion.project_root: ${workspace.file_path}",
         "medallion.project_root: /tmp/elsewhere")
    rules = [f for f in errors(project_copy) if f.code == "bundle"]
    assert sorted(f.message.split(":")[0] for f in rules) == [
        "pipeline `medallion` must set configuration `medallion.project_root",
        "pipeline `medallion` of target `prod` runs environment 'dev', not `prod`"]


def test_sync_exclude_must_not_drop_specs(project_copy: Path):
    edit(override_template(project_copy, "bundle/databricks.yml.j2"), "    - bench/**", "    - bench/**\n    - tables/gold/*")
    render(project_copy)
    finding = only(errors(project_copy))
    assert finding.file == "databricks.yml" and "tables/gold/daily_bars.yaml" in finding.message


def test_continuous_pipeline_cannot_be_a_pipeline_task(project_copy: Path):
    (project_copy / "resources/extra.yml").write_text(
        "targets:\n  prod:\n    resources:\n      jobs:\n        other:\n          name: x\n          tasks:\n"
        "            - task_key: refresh\n              pipeline_task:\n"
        "                pipeline_id: ${resources.pipelines.medallion.id}\n")
    finding = only(errors(project_copy))
    assert (finding.file, finding.line) == ("resources/extra.yml", 10)
    assert "continuous pipeline `medallion`" in finding.message


def test_undeclared_variable(project_copy: Path):
    (project_copy / "resources/extra.yml").write_text(
        "targets:\n  prod:\n    resources:\n      schemas:\n        gold:\n          grants:\n"
        "            - principal: ${var.auditors}\n              privileges: [SELECT]\n")
    finding = only(errors(project_copy))
    assert (finding.file, finding.line) == ("resources/extra.yml", 7)
    assert "variable `auditors` is used but not declared" in finding.message


def test_landing_path_outside_the_catalog(project_copy: Path):
    env_file = project_copy / "environments/prod.yaml"
    edit(env_file, "landing_path: /Volumes/medallion_prod/", "landing_path: /Volumes/medallion_dev/")
    render(project_copy)
    finding = only(errors(project_copy))
    assert (finding.file, finding.line) == ("environments/prod.yaml", line_of(env_file, "landing_path:"))
    assert "catalog `medallion_dev`" in finding.message


def test_yaml_error_in_a_bundle_file_is_located(project_copy: Path):
    (project_copy / "resources/extra.yml").write_text("targets:\n  prod: [unclosed\n")
    finding = only(errors(project_copy))
    assert finding.file == "resources/extra.yml" and finding.code == "yaml"


def test_the_vendored_schema_checks_a_project_with_no_sibling_folders(tmp_path: Path, project_copy: Path):
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]
    edit(project_copy / "resources/prod.yml", "channel: CURRENT", "chanel: CURRENT")
    finding = only(check_bundle(load_project(project_copy)), "bundle-schema")
    assert finding.file == "resources/prod.yml" and finding.message == "unknown key `chanel`"
    assert finding.hint == "did you mean `channel`?"


def test_bundle_check_command(project_copy: Path):
    ok = CliRunner().invoke(cli, ["bundle", "check", "--project", str(project_copy)])
    assert ok.exit_code == 0 and "bundle: valid" in ok.output
    edit(project_copy / "environments/dev.yaml", "photon: true", "photon: false")
    bad = CliRunner().invoke(cli, ["bundle", "check", "--project", str(project_copy), "--format", "github"])
    assert bad.exit_code == 1
    assert bad.output.startswith("::error file=resources/dev.yml,line=")


@pytest.mark.parametrize("text", [
    "targets: [dev, prod]\n",
    "targets:\n  prod: production\n",
    "targets:\n  prod:\n    resources: []\n",
    "targets:\n  prod:\n    resources:\n      pipelines:\n        medallion: [1, 2]\n",
    "targets:\n  prod:\n    resources:\n      pipelines:\n        p:\n          libraries: {notebook: x}\n"
    "          configuration: [a]\n",
    "targets:\n  prod:\n    resources:\n      jobs:\n        j:\n          tasks: {a: 1}\n",
    "resources:\n  jobs:\n    j:\n      tasks: [1, null, {pipeline_task: 7}]\n",
    "sync: exclude\nvariables: [a]\nworkspace: 3\n",
    "- just\n- a list\n",
])
def test_malformed_bundle_files_give_findings_not_crashes(project_copy: Path, text: str):
    (project_copy / "resources/extra.yml").write_text(text)
    found = errors(project_copy)
    assert any(f.file == "resources/extra.yml" for f in found), "\n".join(f.render() for f in found)
    diff_targets(load_bundle(project_copy), ["dev", "prod"])  # the diff view copes as well
