"""The pipeline's `environment.dependencies`: exactly the third-party packages the notebook imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from framework.deploy.dependencies import notebook_imports, pipeline_dependencies
from framework.errors import RenderError

from .conftest import REPO, edit


def test_the_notebook_imports_three_packages_pinned_from_pyproject():
    assert [i.module for i in notebook_imports(REPO)] == ["jsonschema_rs", "sqlglot", "yaml"]
    assert pipeline_dependencies(REPO) == ["pyyaml==6.0.3", "jsonschema-rs==0.61.0", "sqlglot==30.30.0"]


def test_the_static_analysis_matches_what_importing_the_notebook_code_loads():
    # Import what the notebook imports (framework.pipeline, and its function-level load_project path) in a
    # fresh interpreter: every third-party package it loads must be listed (runtime ones aside), and
    # nothing else that pyproject.toml pins.
    code = ("import sys\n"
            "import framework.pipeline, framework.project\n"
            "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))\n")
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                cwd=REPO).stdout.split())
    found = {i.module for i in notebook_imports(REPO)}
    assert found <= loaded
    for module in ("click", "rich", "jinja2", "httpx", "databricks", "exchange_calendars", "pygments"):
        assert module not in found, f"{module} is the CLI's, not the pipeline's"


def test_an_import_added_to_a_framework_module_is_picked_up(project_copy: Path):
    edit(project_copy / "framework/sql.py", "import sqlglot", "import sqlglot\nimport jinja2")
    assert "jinja2==3.1.6" in pipeline_dependencies(project_copy)


def test_imports_under_type_checking_and_of_the_runtime_are_left_out(project_copy: Path):
    edit(project_copy / "framework/sql.py", "import sqlglot",
         "import sqlglot\nfrom typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import rich\nimport pyspark.sql")
    assert {i.module for i in notebook_imports(project_copy)} == {"jsonschema_rs", "sqlglot", "yaml"}


def test_an_import_no_dependency_provides_is_a_located_error(project_copy: Path):
    edit(project_copy / "framework/sql.py", "import sqlglot", "import sqlglot\nimport leftpad")
    with pytest.raises(RenderError, match=r"framework/sql.py:\d+: `leftpad` is imported by the pipeline notebook"):
        pipeline_dependencies(project_copy)
