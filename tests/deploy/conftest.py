"""Fixtures for the Databricks deployment tests: a private copy of the project beside the shared/ folder."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
SCHEMA = SHARED / "databricks" / "bundle.schema.json"
PROJECT_PARTS = ("tables", "environments", "transforms", "templates", "notebooks", "resources", "databricks.yml",
                 "pyproject.toml")


@pytest.fixture(scope="session")
def official_schema() -> Path:
    if not SCHEMA.is_file():
        pytest.skip(f"the official bundle schema is not at {SCHEMA} (shared/ must sit beside the project root)")
    return SCHEMA


@pytest.fixture
def project_copy(tmp_path: Path, official_schema: Path) -> Path:
    """tmp/project (the bundle sources and rendered files) with tmp/shared -> the real shared/ folder,
    so the schema is found exactly as in CI: ../shared relative to the project root."""
    root = tmp_path / "project"
    root.mkdir()
    for part in PROJECT_PARTS:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, root / part)
    os.symlink(SHARED, tmp_path / "shared")
    return root


def edit(path: Path, old: str, new: str) -> None:
    """Replace one exact piece of text in a file (fails loudly if the fixture drifted)."""
    text = path.read_text("utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), "utf-8")
