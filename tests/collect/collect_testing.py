"""Shared helpers for the collection tests: an Environment in a temp folder, the loopback market server."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from market.collect.http import RetryPolicy
from framework.spec.environment import DEFAULTS, Environment, deep_merge
from tests.collect.market_server import MarketServer

FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff=0.05, max_backoff=2.0)
AFTER_THANKSGIVING_2025 = datetime(2025, 12, 2, 23, 0, tzinfo=timezone.utc)
"""Tuesday 2025-12-02 18:00 New York: the sessions of Thanksgiving week 2025 are complete."""


@pytest.fixture
def make_env(tmp_path: Path) -> Callable[..., Environment]:
    """An Environment whose landing folder is tmp_path/landing, with the given `tasks.collect` settings."""

    def build(**collect: Any) -> Environment:
        settings = deep_merge(DEFAULTS, {"name": "test", "landing_path": str(tmp_path / "landing"),
                                         "variables": {"bars_folder": "bars"}, "tasks": {"collect": collect}})
        return Environment("test", settings, tmp_path)

    return build


@pytest.fixture
def server() -> Iterator[MarketServer]:
    with MarketServer() as running:
        yield running


def read_lines(folder: Path, pattern: str = "*.jsonl") -> list[str]:
    return [line for path in sorted(folder.glob(pattern)) for line in path.read_text().splitlines()]


def read_records(folder: Path, pattern: str = "*.jsonl") -> list[dict[str, Any]]:
    return [json.loads(line) for line in read_lines(folder, pattern)]
