"""Rendering the asset bundle from environments/: deterministic, committed up to date, and what it says."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from framework.cli import cli
from framework.deploy.render import GENERATED_MARK, render_bundle, write_bundle
from framework.project import load_project
from framework.spec.runtimes import RUNTIMES

from .conftest import REPO, edit


def rendered(root: Path) -> dict[str, dict]:
    return {name: yaml.safe_load(text) for name, text in render_bundle(load_project(root)).items()}


def prod_resources(files: dict[str, dict]) -> dict:
    return files["resources/prod.yml"]["targets"]["prod"]["resources"]


def test_committed_bundle_is_a_fresh_render():
    project = load_project(REPO)
    for relative, text in render_bundle(project).items():
        assert (REPO / relative).read_text("utf-8") == text, f"{relative} is stale: run `medallion bundle render`"


def test_render_is_deterministic_and_marked_generated(project_copy: Path):
    first = render_bundle(load_project(project_copy))
    second = render_bundle(load_project(project_copy))
    assert first == second
    assert set(first) == {"databricks.yml", "resources/dev.yml", "resources/prod.yml"}
    for text in first.values():
        assert text.startswith(GENERATED_MARK)
        assert "medallion bundle render" in text.splitlines()[1]


def test_prod_pipeline_settings(project_copy: Path):
    pipeline = prod_resources(rendered(project_copy))["pipelines"]["medallion"]
    assert pipeline["name"] == "medallion_prod"
    assert pipeline["catalog"] == "medallion_prod"
    # serverless by default (Photon built in, incremental MV refresh): no photon, no clusters
    assert (pipeline["continuous"], pipeline["development"], pipeline["serverless"]) == (True, False, True)
    assert "photon" not in pipeline and "clusters" not in pipeline
    assert (pipeline["edition"], pipeline["channel"]) == ("ADVANCED", "CURRENT")
    assert pipeline["configuration"] == {"spark.sql.ansi.enabled": "true", "medallion.env": "prod",
                                         "medallion.project_root": "${workspace.file_path}"}, \
        "serverless rejects spark.databricks.* and manages AQE, caching and file sizes itself; ANSI is the runtime's"
    assert pipeline["libraries"] == [{"notebook": {"path": "../notebooks/medallion_pipeline.py"}}]
    alerts = ["on-update-failure", "on-update-fatal-failure", "on-flow-failure"]
    assert pipeline["notifications"] == [{"email_recipients": ["data-platform-oncall@example.com"], "alerts": alerts}]
    assert pipeline["event_log"] == {"catalog": "medallion_prod", "schema": "${resources.schemas.ops.name}",
                                     "name": "pipeline_event_log"}
    # only what the notebook imports (framework/deploy/dependencies.py), pinned as in pyproject.toml
    assert pipeline["environment"]["dependencies"] == ["pyyaml==6.0.3", "jsonschema-rs==0.61.0", "sqlglot==30.30.0"]


def test_the_continuous_pipeline_restarts_outside_the_daily_job(project_copy: Path):
    # The job starts at 17:00 New York and may run 2 hours: the five-hour window starts at 19:00 there.
    pipeline = prod_resources(rendered(project_copy))["pipelines"]["medallion"]
    window = pipeline["restart_window"]
    assert window == {"start_hour": 19, "time_zone_id": "America/New_York"}
    hours = {(window["start_hour"] + h) % 24 for h in range(5)}
    assert not hours & {17, 18}, "no maintenance restart while the job runs"
    dev = rendered(project_copy)["resources/dev.yml"]["targets"]["dev"]["resources"]["pipelines"]["medallion"]
    assert "restart_window" not in dev, "a triggered pipeline restarts with each update"


def test_classic_compute_stays_an_option(project_copy: Path, official_schema: Path):
    from framework.deploy.check import check_bundle

    edit(project_copy / "environments/prod.yaml", "serverless: true", "serverless: false")
    edit(project_copy / "environments/prod.yaml", "databricks_runtime: serverless", 'databricks_runtime: "17.3"')
    write_bundle(load_project(project_copy))
    resources = prod_resources(rendered(project_copy))
    pipeline, job = resources["pipelines"]["medallion"], resources["jobs"]["medallion"]
    assert pipeline["photon"] is True and "serverless" not in pipeline
    assert pipeline["clusters"] == [{"label": "default", "node_type_id": "i3.xlarge", "num_workers": 2}]
    assert pipeline["configuration"]["spark.databricks.io.cache.enabled"] == "true"  # classic keeps them
    cluster = job["job_clusters"][0]["new_cluster"]
    assert cluster["data_security_mode"] == "USER_ISOLATION", "standard access mode, not dedicated"
    assert check_bundle(load_project(project_copy), schema_path=official_schema) == []


def test_dev_pipeline_is_triggered_development_with_autoscale(project_copy: Path):
    pipeline = rendered(project_copy)["resources/dev.yml"]["targets"]["dev"]["resources"]["pipelines"]["medallion"]
    assert (pipeline["continuous"], pipeline["development"]) == (False, True)
    assert pipeline["clusters"][0]["autoscale"] == {"min_workers": 1, "max_workers": 2, "mode": "ENHANCED"}


def test_job_tasks_schedule_and_limits(project_copy: Path):
    files = rendered(project_copy)
    dev_job = files["resources/dev.yml"]["targets"]["dev"]["resources"]["jobs"]["medallion"]
    prod_job = prod_resources(files)["jobs"]["medallion"]
    for job, paused in ((dev_job, "PAUSED"), (prod_job, "UNPAUSED")):
        assert job["schedule"] == {"quartz_cron_expression": "0 0 17 ? * MON-FRI", "timezone_id": "America/New_York",
                                   "pause_status": paused}
        assert job["max_concurrent_runs"] == 1
        assert job["timeout_seconds"] == 7200
        tasks = {t["task_key"]: t for t in job["tasks"]}
        assert list(tasks) == ["collect", "pipeline", "quality_checks"]
        assert tasks["pipeline"]["depends_on"] == [{"task_key": "collect"}]
        assert tasks["quality_checks"]["depends_on"] == [{"task_key": "pipeline"}]
        assert [tasks[k]["timeout_seconds"] for k in tasks] == [1800, 3600, 1200]
        assert all(t["min_retry_interval_millis"] == 300000 for t in tasks.values() if t["max_retries"])
        env_name = job["name"].split("_")[1]
        developer = ["--developer", "${workspace.current_user.short_name}"] if env_name == "dev" else []
        assert tasks["collect"]["python_wheel_task"] == {
            "package_name": "medallion", "entry_point": "medallion",
            "parameters": [*developer, "task", "collect", "--env", env_name, "--project", "${workspace.file_path}"]}
        assert tasks["quality_checks"]["python_wheel_task"]["parameters"][len(developer)] == "check"
    assert dev_job["tasks"][0]["libraries"] == [{"whl": "../dist/*.whl"}]
    assert dev_job["job_clusters"][0]["new_cluster"]["data_security_mode"] == "USER_ISOLATION"
    assert "job_clusters" not in prod_job and prod_job["environments"][0]["environment_key"] == "default"
    assert dev_job["email_notifications"] == {"on_failure": ["data-platform-dev@example.com"]}
    assert {t["max_retries"] for t in dev_job["tasks"]} == {1}
    # the catch-up task is never retried: a retry with the same --since cannot fit in the task's timeout
    assert [t["max_retries"] for t in prod_job["tasks"]] == [2, 0, 2]
    assert "min_retry_interval_millis" not in prod_job["tasks"][1]
    # dev's pipeline is triggered: a real pipeline_task; prod's is continuous, which a pipeline_task cannot run
    dev_pipeline = dev_job["tasks"][1]
    assert dev_pipeline["pipeline_task"] == {"pipeline_id": "${resources.pipelines.medallion.id}",
                                             "full_refresh": False}
    prod_pipeline = prod_job["tasks"][1]
    assert "pipeline_task" not in prod_pipeline
    assert prod_pipeline["python_wheel_task"]["parameters"] == [
        "trigger", "--env", "prod", "--wait-for-catchup", "--since", "{{job.start_time.iso_datetime}}",
        "--wait-timeout", "3540", "--project", "${workspace.file_path}"]


def test_databricks_yml_targets(project_copy: Path):
    root = rendered(project_copy)["databricks.yml"]
    assert root["bundle"] == {"name": "medallion"}
    assert root["include"] == ["resources/*.yml"]
    assert root["artifacts"] == {"medallion": {
        "type": "whl", "path": ".", "build": "rm -rf dist && python3 -m pip wheel --quiet --no-deps --wheel-dir dist ."}}
    dev, prod = root["targets"]["dev"], root["targets"]["prod"]
    assert dev["mode"] == "development" and dev["default"] is True and "workspace" not in dev
    assert dev["presets"]["artifacts_dynamic_version"] is True
    assert prod["mode"] == "production" and "default" not in prod
    assert prod["workspace"] == {"root_path": "/Workspace/Users/${workspace.current_user.userName}/.bundle/medallion/prod"}
    assert prod["run_as"] == {"service_principal_name": "${var.service_principal}"}
    assert prod["permissions"] == [
        {"level": "CAN_RUN", "service_principal_name": "${var.service_principal}"},
        {"level": "CAN_RUN", "group_name": "${var.operators_group}"},
        {"level": "CAN_VIEW", "group_name": "${var.analysts_group}"}]
    assert "artifacts_dynamic_version" not in prod["presets"]
    assert prod["presets"]["tags"]["environment"] == "prod"
    assert set(root["variables"]) == {"analysts_group", "operators_group", "service_principal"}
    assert all("default" not in v for v in root["variables"].values()), "principals never get a default"
    assert dev["variables"] == {"operators_group": "", "service_principal": ""}, \
        "dev must not require a principal it does not use"


def test_schema_grants_use_variables(project_copy: Path):
    schemas = prod_resources(rendered(project_copy))["schemas"]
    assert set(schemas) == {"bronze", "silver", "gold", "ops"}
    assert schemas["gold"]["grants"][0] == {"principal": "${var.analysts_group}", "privileges": ["USE_SCHEMA", "SELECT"]}
    dev = rendered(project_copy)["resources/dev.yml"]["targets"]["dev"]["resources"]
    assert "grants" not in dev["schemas"]["bronze"] and "grants" not in dev["volumes"]["landing"], \
        "dev runs as the deploying user: no run-as grants"


def test_the_run_as_principal_gets_exactly_what_the_pipeline_and_job_touch(project_copy: Path):
    resources = prod_resources(rendered(project_copy))
    run_as = {key: [g["privileges"] for g in schema["grants"] if g["principal"] == "${var.service_principal}"]
              for key, schema in resources["schemas"].items()}
    # SELECT everywhere: the tables and the event log belong to the pipeline's owner (whoever deployed), and
    # the catch-up (bronze, event log) and the checks (every layer) read them as the run-as principal.
    assert run_as == {
        "bronze": [["USE_SCHEMA", "SELECT", "CREATE_TABLE"]],            # streaming tables
        "silver": [["USE_SCHEMA", "SELECT", "CREATE_TABLE"]],            # AUTO CDC targets, quarantine tables
        "gold": [["USE_SCHEMA", "SELECT", "CREATE_MATERIALIZED_VIEW"]],  # materialized views only
        "ops": [["USE_SCHEMA", "SELECT", "CREATE_TABLE"]],               # the published event log
    }
    assert resources["volumes"]["landing"] == {
        "catalog_name": "medallion_prod", "schema_name": "${resources.schemas.bronze.name}", "name": "landing",
        "volume_type": "MANAGED",
        "grants": [{"principal": "${var.service_principal}", "privileges": ["READ_VOLUME", "WRITE_VOLUME"]}]}


def test_a_materialized_view_in_bronze_adds_its_privilege(project_copy: Path):
    edit(project_copy / "tables/gold/symbol_summary.yaml", "layer: gold", "layer: silver")
    schemas = prod_resources(rendered(project_copy))["schemas"]
    granted = [g["privileges"] for g in schemas["silver"]["grants"] if g["principal"] == "${var.service_principal}"]
    assert granted == [["USE_SCHEMA", "SELECT", "CREATE_TABLE", "CREATE_MATERIALIZED_VIEW"]]


def test_a_serverless_environment_renders_without_clusters(project_copy: Path, official_schema: Path):
    from framework.deploy.check import check_bundle

    # prod is serverless: pipeline and job tasks alike
    resources = prod_resources({k: yaml.safe_load(v) for k, v in render_bundle(load_project(project_copy)).items()})
    pipeline, job = resources["pipelines"]["medallion"], resources["jobs"]["medallion"]
    assert pipeline["serverless"] is True and "clusters" not in pipeline and "photon" not in pipeline
    assert "job_clusters" not in job
    assert job["environments"] == [{"environment_key": "default", "spec": {
        "environment_version": "4", "dependencies": ["../dist/*.whl"]}}]
    for task in job["tasks"]:
        if "python_wheel_task" in task:
            assert task["environment_key"] == "default"
            assert "libraries" not in task and "job_cluster_key" not in task
    assert check_bundle(load_project(project_copy), schema_path=official_schema) == []


def test_table_grants_from_specs_add_a_task(project_copy: Path):
    edit(project_copy / "tables/gold/daily_bars.yaml", "zorder_by: [symbol, trade_date]",
         "zorder_by: [symbol, trade_date]\ngrants:\n  - {principal: '${var.quant_group}', privileges: [SELECT]}")
    files = rendered(project_copy)
    task = prod_resources(files)["jobs"]["medallion"]["tasks"][-1]
    assert task["task_key"] == "table_grants"
    assert task["depends_on"] == [{"task_key": "pipeline"}]
    assert task["python_wheel_task"]["parameters"] == [
        "bundle", "grants", "--env", "prod", "--apply", "--principal", "quant_group=${var.quant_group}",
        "--project", "${workspace.file_path}"]
    assert "quant_group" in files["databricks.yml"]["variables"]
    gold = prod_resources(files)["schemas"]["gold"]["grants"]
    run_as = [g["privileges"] for g in gold if g["principal"] == "${var.service_principal}"]
    assert run_as == [["USE_SCHEMA", "SELECT", "CREATE_MATERIALIZED_VIEW", "MANAGE"]], \
        "the table_grants task grants on tables the pipeline's owner owns"


def test_write_bundle_removes_stale_generated_files_only(project_copy: Path):
    stale = project_copy / "resources/staging.yml"
    stale.write_text(f"{GENERATED_MARK} from environments/staging.yaml.\ntargets: {{}}\n")
    handwritten = project_copy / "resources/extra.yml"
    handwritten.write_text("resources: {}\n")
    written, removed = write_bundle(load_project(project_copy))
    assert written == [] and removed == ["resources/staging.yml"]
    assert not stale.exists() and handwritten.exists()


def test_render_command(project_copy: Path):
    edit(project_copy / "environments/dev.yaml", "    node_type_id: i3.xlarge", "    node_type_id: m5d.xlarge")
    result = CliRunner().invoke(cli, ["bundle", "render", "--project", str(project_copy)])
    assert result.exit_code == 0, result.output
    assert "wrote resources/dev.yml" in result.output
    assert "node_type_id: m5d.xlarge" in (project_copy / "resources/dev.yml").read_text()
    again = CliRunner().invoke(cli, ["bundle", "render", "--project", str(project_copy)])
    assert "bundle is up to date" in again.output


def effective_for(root: Path, target: str, user: str) -> dict:
    """What `databricks bundle deploy -t <target>` deploys for a user: presets applied, their short name resolved."""
    import json

    from framework.deploy.bundle import effective_target, load_bundle

    text = json.dumps(effective_target(load_bundle(root), target))
    return json.loads(text.replace("${workspace.current_user.short_name}", user))


def test_two_developers_deploy_dev_side_by_side(project_copy: Path, monkeypatch):
    from framework.spec.environment import DEVELOPER_VARIABLE

    alice, bob = effective_for(project_copy, "dev", "alice"), effective_for(project_copy, "dev", "bob")

    def names(config: dict) -> dict:
        resources = config["resources"]
        return {"schemas": {k: s["name"] for k, s in resources["schemas"].items()},
                "pipeline": resources["pipelines"]["medallion"]["name"],
                "job": resources["jobs"]["medallion"]["name"]}

    assert names(alice) == {"schemas": {"bronze": "alice_bronze", "silver": "alice_silver", "gold": "alice_gold",
                                        "ops": "alice_ops"},
                            "pipeline": "[dev alice] medallion_dev", "job": "[dev alice] medallion_dev_job"}
    mine, theirs = names(alice), names(bob)
    assert not set(mine["schemas"].values()) & set(theirs["schemas"].values()), "no schema is shared"
    assert mine["pipeline"] != theirs["pipeline"] and mine["job"] != theirs["job"]
    # The runtime publishes where the bundle created the schemas: the pipeline and every task get the short name.
    pipeline = alice["resources"]["pipelines"]["medallion"]
    assert pipeline["configuration"]["medallion.developer"] == "alice"
    for task in alice["resources"]["jobs"]["medallion"]["tasks"]:
        if "python_wheel_task" in task:
            assert task["python_wheel_task"]["parameters"][:2] == ["--developer", "alice"]
    monkeypatch.setenv(DEVELOPER_VARIABLE, "alice")
    env = load_project(project_copy, env="dev").environment("dev")
    assert {layer: env.schema_for(layer) for layer in mine["schemas"]} == mine["schemas"]
    assert str(env.landing_path) == "/Volumes/medallion_dev/alice_bronze/landing"
    assert env.variables()["landing_path"] == "/Volumes/medallion_dev/alice_bronze/landing"
    prod = load_project(project_copy, env="prod").environment("prod")
    assert prod.schema_for("bronze") == "bronze", "production is one deployment, in the schemas as written"


def test_the_developer_option_sets_whose_schemas_a_command_uses(project_copy: Path, monkeypatch):
    from framework.spec.environment import DEVELOPER_VARIABLE

    monkeypatch.setenv(DEVELOPER_VARIABLE, "placeholder")  # restored (unset) after the test
    edit(project_copy / "tables/gold/daily_bars.yaml", "zorder_by: [symbol, trade_date]",
         "zorder_by: [symbol, trade_date]\ngrants:\n  - {principal: '${var.quant_group}', privileges: [SELECT]}")
    result = CliRunner().invoke(cli, ["--developer", "bob", "bundle", "grants", "--env", "dev", "--project",
                                      str(project_copy), "--principal", "quant_group=quants"])
    assert result.exit_code == 0, result.output
    assert "GRANT SELECT ON TABLE `medallion_dev`.`bob_gold`.`daily_bars` TO `quants`;" in result.output
    bad = CliRunner().invoke(cli, ["--developer", "bob smith", "list", "--project", str(project_copy)])
    assert bad.exit_code == 2 and "not a short name" in bad.output


# ------------------------------------------------------------------ one target runtime per environment

def _job_cluster(resources: dict) -> dict:
    return resources["jobs"]["medallion"]["job_clusters"][0]["new_cluster"]


def test_the_shipped_runtime_is_one_for_job_cluster_and_pipeline(project_copy: Path):
    """17.3 LTS: the job cluster runs 17.3 (Scala 2.13 only from 17 on) and the pipeline the CURRENT channel,
    which runs 17.3 — before, the cluster ran 16.4 (Spark 3.5) while the pipeline ran CURRENT."""
    files = rendered(project_copy)
    dev = files["resources/dev.yml"]["targets"]["dev"]["resources"]
    assert _job_cluster(dev)["spark_version"] == "17.3.x-scala2.13"
    assert dev["pipelines"]["medallion"]["channel"] == "CURRENT"
    prod = prod_resources(files)  # serverless: the CURRENT channel's runtime, no job cluster to pin
    assert prod["pipelines"]["medallion"]["channel"] == "CURRENT" and "job_clusters" not in prod["jobs"]["medallion"]


@pytest.mark.parametrize("runtime, spark_version, channel", [
    (r.name, r.spark_version, r.channel) for r in RUNTIMES.values() if r.spark_version and r.channel])
def test_the_runtime_decides_spark_version_and_channel(project_copy: Path, runtime: str, spark_version: str,
                                                       channel: str):
    edit(project_copy / "environments/dev.yaml", 'databricks_runtime: "17.3"', f'databricks_runtime: "{runtime}"')
    assert load_project(project_copy).errors == []
    files = rendered(project_copy)
    dev = files["resources/dev.yml"]["targets"]["dev"]["resources"]
    assert _job_cluster(dev)["spark_version"] == spark_version
    assert dev["pipelines"]["medallion"]["channel"] == channel
    prod = prod_resources(files)  # states its own runtime (serverless): dev moving first does not move it
    assert prod["pipelines"]["medallion"]["channel"] == "CURRENT" and prod["pipelines"]["medallion"]["serverless"]


def test_preview_channel_for_18_1():
    """The table: 18.1 is what the PREVIEW channel runs (Lakeflow release notes), on Spark 4.1."""
    assert (RUNTIMES["18.1"].channel, RUNTIMES["18.1"].spark_line, RUNTIMES["18.1"].spark_version) == \
        ("PREVIEW", "4.1", "18.1.x-scala2.13")
    assert RUNTIMES["16.4"].channel is None  # no channel runs 16.4: a pipeline cannot target it


def test_the_pipeline_runs_with_ansi_sql_and_spark_conf_cannot_turn_it_off(project_copy: Path):
    """`spark.sql.ansi.enabled: "true"` goes into the pipeline's `configuration` (added to the Spark
    configuration of the pipeline's cluster); a spark_conf that turns it off is a located error, and
    the rendered value stays the runtime's."""
    for name in ("dev", "prod"):
        configuration = rendered(project_copy)[f"resources/{name}.yml"]["targets"][name]["resources"][
            "pipelines"]["medallion"]["configuration"]
        assert configuration["spark.sql.ansi.enabled"] == "true"
    edit(project_copy / "environments/dev.yaml", '  spark.sql.adaptive.enabled: "true"\n',
         '  spark.sql.adaptive.enabled: "true"\n  spark.sql.ansi.enabled: "false"\n')
    findings = load_project(project_copy).errors  # dev, and prod which extends it
    assert findings and all((f.file, f.doc_path) == ("environments/dev.yaml", "spark_conf.spark.sql.ansi.enabled")
                            for f in findings), [f.render() for f in findings]
    assert all("silent NULL" in f.message for f in findings)
    dev = rendered(project_copy)["resources/dev.yml"]["targets"]["dev"]["resources"]
    assert dev["pipelines"]["medallion"]["configuration"]["spark.sql.ansi.enabled"] == "true"
