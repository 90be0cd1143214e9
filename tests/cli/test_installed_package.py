"""A plain `pip install medallion` (no extras), in a clean virtualenv outside the repository, used from a folder
outside it: `--help`, `validate`, `docs`, `bundle`, `new` and `init` work; the engine commands name the extra.

The wheel is built from this checkout and installed once per session (tests/installed_wheel.py, shared with
tests/deploy/test_job_tasks.py). Nothing here may reach the repository: every project is a copy in tmp_path.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.conftest import PROJECT_PARTS
from tests.installed_wheel import REPO, Installed, installed, wheel  # noqa: F401 (fixtures)
from tests.medallion_testing import copy_market_project

EXTRA_LINE = 'pip install "medallion[local]"'


@pytest.fixture
def market_copy(tmp_path: Path) -> Path:
    """This repository's project as `databricks bundle deploy` syncs it (framework/ too: its pipeline runs it)."""
    return copy_market_project(tmp_path / "market", PROJECT_PARTS)


def test_the_install_has_no_engine_and_runs_from_outside_the_repository(installed: Installed):
    probe = installed.medallion("--help")
    assert probe.returncode == 0, probe.stderr
    for command in ("init", "validate", "docs", "bundle", "new", "run"):
        assert f"  {command} " in probe.stdout, command
    where = installed.python.parent.parent
    assert str(REPO) not in str(where) and not where.is_relative_to(REPO)


def test_validate_docs_and_bundle_work_on_this_project(installed: Installed, market_copy: Path, tmp_path: Path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    valid = installed.medallion("validate", "--strict", "--project", str(market_copy), cwd=outside)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.rstrip().endswith("environment(s): valid")
    sarif = installed.medallion("validate", "--format", "sarif", "--project", str(market_copy), cwd=outside)
    assert sarif.returncode == 0 and '"version": "2.1.0"' in sarif.stdout
    site = tmp_path / "site"
    docs = installed.medallion("docs", "--project", str(market_copy), "--out", str(site), cwd=outside)
    assert docs.returncode == 0, docs.stdout + docs.stderr
    assert (site / "index.html").is_file() and (site / "tables" / "bars.html").is_file()
    assert (site / "assets" / "style.css").read_text() == (REPO / "framework/templates/docs/assets/style.css").read_text()
    check = installed.medallion("bundle", "check", "--project", str(market_copy), cwd=outside)
    assert check.returncode == 0, check.stdout + check.stderr
    render = installed.medallion("bundle", "render", "--project", str(market_copy), cwd=outside)
    assert render.returncode == 0 and "bundle is up to date" in render.stdout, render.stdout + render.stderr


@pytest.mark.parametrize("args", [["run"], ["sql", "SELECT 1"], ["history", "bars"], ["job"]])
def test_engine_commands_name_the_local_extra(installed: Installed, market_copy: Path, args: list[str]):
    done = installed.medallion(*args, "--project", str(market_copy))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and EXTRA_LINE in lines[0], done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert done.stdout == "", "nothing starts before the check"
    assert installed.medallion(*args[:1], "--help").returncode == 0, "--help of an engine command still works"


def test_init_makes_a_project_that_validates_and_grows(installed: Installed, tmp_path: Path):
    project = tmp_path / "shop"
    made = installed.medallion("init", str(project), cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    assert (project / ".github" / "workflows" / "medallion.yml").is_file()
    assert (project / "databricks.yml").is_file() and (project / "resources" / "prod.yml").is_file()
    valid = installed.medallion("validate", "--strict", "--project", str(project))
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert valid.stdout.strip() == "3 table(s), 3 environment(s): valid", "no findings at all"
    again = installed.medallion("init", str(project))
    assert again.returncode == 2 and "is not empty" in again.stderr
    new = installed.medallion("new", "table", "customers", "--layer", "bronze", "--project", str(project))
    assert new.returncode == 0, new.stdout + new.stderr
    assert (project / "tables" / "bronze" / "customers.yaml").is_file()
    assert installed.medallion("validate", "--project", str(project)).returncode == 0


def test_docs_skip_live_statistics_without_pyarrow_and_say_so(installed: Installed, tmp_path: Path):
    project = tmp_path / "shop"
    assert installed.medallion("init", str(project)).returncode == 0
    (project / ".medallion" / "local" / "tables").mkdir(parents=True)  # a local run's storage exists
    docs = installed.medallion("docs", "--project", str(project), "--out", str(tmp_path / "site"))
    assert docs.returncode == 0, docs.stdout + docs.stderr
    assert "live statistics skipped" in docs.stdout and EXTRA_LINE in docs.stdout
    assert (tmp_path / "site" / "tables" / "daily_revenue.html").is_file()
    forced = installed.medallion("docs", "--project", str(project), "--out", str(tmp_path / "site"),
                                 "--live-stats", "on")
    assert forced.returncode == 1 and EXTRA_LINE in forced.stderr
