"""Fixtures for the Databricks deployment tests: the vendored official bundle schema, a private project copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from framework import templates
from framework.deploy.schema import official_schema_path

REPO = Path(__file__).resolve().parents[2]
PROJECT_PARTS = ("framework", "market", "tables", "environments", "transforms", "notebooks", "resources",
                 "databricks.yml", "pyproject.toml", "medallion.yaml")
"""framework/ too: the notebook runs it from the synced files, and its imports are the pipeline's dependencies."""


@pytest.fixture(scope="session")
def official_schema() -> Path:
    """The copy of the official schema that ships in the package (framework/deploy/schemas/)."""
    path = official_schema_path()
    assert path.is_file(), f"the vendored bundle schema is missing: {path}"
    return path


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """tmp/project: the bundle sources and rendered files, alone in an empty folder (no sibling folders)."""
    return copy_project(tmp_path / "project")


def copy_project(root: Path) -> Path:
    """This repository's project (PROJECT_PARTS) copied into `root`, a new folder."""
    root.mkdir()
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, root / part)
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of text in a file (fails loudly if the fixture drifted)."""
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")


def override_template(root: Path, relative: str) -> Path:
    """The project's own copy of a default template (templates/<relative>), to edit: it then overrides the package's."""
    target = root / templates.PROJECT_DIR / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(templates.path(None, relative), target)
    return target
