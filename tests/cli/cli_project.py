"""A copy of the real market-bars project to run commands in and break (imported by the CLI tests).

Fixtures live here, not in a conftest.py: several test folders import `conftest` by name, and a
conftest.py of ours would shadow theirs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def market_project(tmp_path: Path) -> Path:
    """tables/ and environments/ of the repository, copied: the shipped specs, free to edit."""
    root = tmp_path / "project"
    root.mkdir()
    for folder in ("tables", "environments", "transforms", "market"):
        shutil.copytree(REPO / folder, root / folder)
    shutil.copy(REPO / "medallion.yaml", root / "medallion.yaml")  # the project's check kinds
    return root
