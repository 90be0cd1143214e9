"""`medallion init DIR`: the scaffolded project runs locally on real Spark + Delta (gold rows, deduplicated and
quarantined silver), and its bundle renders with no edits and validates against the official bundle schema."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from framework import templates
from framework.cli import cli
from framework.deploy import names
from framework.deploy.bundle import load_bundle
from framework.deploy.check import check_bundle
from framework.deploy.render import render_bundle
from framework.deploy.schema import official_schema_path, validate_bundle
from framework.project import load_project

REPO = Path(__file__).resolve().parents[2]


def init(target: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["init", str(target), *args], catch_exceptions=False)
    return result.exit_code, result.output


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    root = tmp_path / "Shop-Orders"
    code, out = init(root)
    assert code == 0, out
    return root


def test_init_validates_with_no_findings_and_names_the_project(shop: Path):
    project = load_project(shop)
    assert project.ok and project.findings == []
    assert check_bundle(project) == []
    assert sorted(project.tables) == ["daily_revenue", "orders", "orders_raw"]
    assert sorted(project.environments) == ["dev", "local", "prod"]
    assert project.environment("dev").catalog == "shop_orders_dev", "the name comes from the folder"
    assert (shop / ".gitignore").read_text().startswith("# Local runs")
    assert "# shop_orders" in (shop / "README.md").read_text()


def test_the_bundle_renders_unchanged_and_fits_the_official_schema(shop: Path):
    project = load_project(shop)
    rendered = render_bundle(project)
    for relative, text in rendered.items():
        assert (shop / relative).read_text() == text, f"{relative} is exactly what `bundle render` writes"
    bundle = load_bundle(shop)
    assert bundle is not None and bundle.findings == []
    assert validate_bundle(bundle, official_schema_path()) == []
    prod = yaml.safe_load((shop / "resources/prod.yml").read_text())["targets"]["prod"]["resources"]
    pipeline = prod["pipelines"][names.PIPELINE_KEY]
    assert pipeline["environment"]["dependencies"] == [f"medallion=={_version()}"], \
        "a project without framework/ runs the installed medallion package"
    assert pipeline["libraries"] == [{"notebook": {"path": f"../{names.NOTEBOOK}"}}]
    assert "artifacts" not in yaml.safe_load((shop / "databricks.yml").read_text()), "no wheel of its own to build"


def test_the_workflow_validates_with_annotations_builds_docs_and_checks_the_bundle_only_with_credentials(shop: Path):
    workflow = yaml.safe_load((shop / ".github/workflows/medallion.yml").read_text())
    steps = workflow["jobs"]["validate"]["steps"]
    runs = "\n".join(step.get("run", "") for step in steps)
    assert "medallion validate --strict --format github" in runs and "medallion docs --out site" in runs
    assert f'pip install "medallion=={_version()}"' in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact") and step["with"]["path"] == "site/"
               for step in steps)
    bundle = workflow["jobs"]["bundle"]
    assert bundle["env"]["DATABRICKS_HOST"] == "${{ secrets.DATABRICKS_HOST }}"
    validate = next(s for s in bundle["steps"] if "databricks bundle validate" in s.get("run", ""))
    assert validate["if"] == "env.DATABRICKS_HOST != ''"


def test_init_refuses_a_folder_that_is_not_empty_unless_forced(tmp_path: Path):
    target = tmp_path / "taken"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    code, out = init(target)
    assert code == 2 and "is not empty (notes.txt)" in out and "--force" in out
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"], "nothing written"
    code, out = init(target, "--force")
    assert code == 0, out
    assert (target / "notes.txt").read_text() == "mine" and (target / "tables").is_dir()


def test_a_fresh_git_repository_counts_as_empty(tmp_path: Path):
    target = tmp_path / "repo"
    (target / ".git").mkdir(parents=True)
    code, out = init(target)
    assert code == 0, out


def test_init_refuses_a_bad_project_name(tmp_path: Path):
    code, out = init(tmp_path / "p", "--name", "Bad-Name")
    assert code == 2 and "invalid project name `Bad-Name`" in out


def test_the_shipped_notebook_is_the_repository_notebook():
    """One generic notebook: the copy `init` writes is this repository's, byte for byte."""
    shipped = templates.path(None, f"init/{names.NOTEBOOK}")
    assert shipped.read_bytes() == (REPO / names.NOTEBOOK).read_bytes()


def test_a_project_template_overrides_the_default_file_by_file(shop: Path):
    own = shop / "templates" / "bundle" / "target.yml.j2"
    own.parent.mkdir(parents=True)
    own.write_text(templates.path(None, "bundle/target.yml.j2").read_text().replace(
        "# the DLT pipeline and the daily job.", "# the DLT pipeline and the daily job (our own template)."))
    rendered = render_bundle(load_project(shop))
    assert "(our own template)" in rendered["resources/dev.yml"]
    assert "templates/bundle/target.yml.j2." in rendered["resources/dev.yml"].splitlines()[0]
    assert "medallion:templates/bundle/databricks.yml.j2." in rendered["databricks.yml"].splitlines()[0]
    assert templates.path(shop, "bundle/databricks.yml.j2") == templates.DEFAULTS / "bundle/databricks.yml.j2"


@pytest.mark.spark
def test_the_project_runs_locally_and_fills_gold(spark, shop: Path):
    from framework.engine.runner import run_pipeline

    project = load_project(shop, env="local")
    result = run_pipeline(project, "local", spark=spark, handle_signals=False)
    assert result.ok, [(f.table, f.error) for f in result.failed]
    tables = shop / ".medallion" / "local" / "tables"
    read = lambda schema, name: spark.read.format("delta").load(str(tables / schema / name))  # noqa: E731
    assert read("bronze", "orders_raw").count() == 8
    assert read("bronze", "orders_raw").where("_rescued_data IS NOT NULL").count() == 1, "the undeclared coupon"
    silver = {r.order_id: r.status for r in read("silver", "orders").collect()}
    assert silver == {"A-1001": "shipped", "A-1002": "paid", "A-1003": "cancelled", "A-1005": "paid",
                      "A-1007": "placed"}, "A-1001 sent twice: the latest wins; two bad rows quarantined"
    quarantined = {r.order_id for r in read("silver", "orders_quarantine").collect()}
    assert quarantined == {"A-1004", "A-1006"}
    gold = {str(r.order_date): (r.orders, r.customers, round(r.revenue, 2))
            for r in read("gold", "daily_revenue").collect()}
    assert gold == {"2026-01-05": (2, 2, 60.5), "2026-01-06": (2, 2, 124.9)}


def _version() -> str:
    from framework import __version__

    return __version__
