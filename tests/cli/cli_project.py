"""A copy of the real market-bars project to run commands in and break (imported by the CLI tests).

Fixtures live here, not in a conftest.py: several test folders import `conftest` by name, and a
conftest.py of ours would shadow theirs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.medallion_testing import copy_market_project

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def market_project(tmp_path: Path) -> Path:
    """The market project's specs (named, tests.medallion_testing.MARKET_SPECS) and environments, copied:
    the shipped specs, free to edit."""
    return copy_market_project(tmp_path / "project")
