"""Fixtures for the Databricks deployment tests: the vendored official bundle schema, a private project copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from framework import templates
from framework.deploy.schema import official_schema_path
from tests import medallion_testing

REPO = Path(__file__).resolve().parents[2]
PROJECT_PARTS = (*medallion_testing.PROJECT_PARTS, *medallion_testing.BUNDLE_PARTS)
"""framework/ too: the notebook runs it from the synced files, and its imports are the pipeline's dependencies.
The specs are the market project's, by name (medallion_testing.MARKET_SPECS), never all of tables/."""


@pytest.fixture(scope="session")
def official_schema() -> Path:
    """The copy of the official schema that ships in the package (framework/deploy/schemas/)."""
    path = official_schema_path()
    assert path.is_file(), f"the vendored bundle schema is missing: {path}"
    return path


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """tmp/project: the bundle sources and rendered files, alone in an empty folder (no sibling folders)."""
    return medallion_testing.copy_market_project(tmp_path / "project", PROJECT_PARTS)


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
