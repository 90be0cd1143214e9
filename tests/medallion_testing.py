"""Shared test helpers (imported by tests/conftest.py and by tests as `medallion_testing`): ONE SparkSession for every Spark test, and throw-away Medallion projects.

`spark` (session scope) is the only JVM the test run starts in-process: real Spark 4 + Delta, the local
runtime's settings, an in-memory catalog. A test that runs the pipeline points it at its own project
with `attach_storage` (done by `LocalProject.run`), so tests never touch `.medallion/`.

`local_project(...)` copies the market project's specs (`MARKET_SPECS`, by name: a spec a user adds to
tables/ never reaches a framework test), environments/ and its Python (`PROJECT_PARTS`) into tmp_path and
adds an environment `test` (extends `local`) whose landing folder and storage live in tmp_path;
`write_bars` and `write_calendar` land JSON-lines files the way the collection job does (temp file,
then rename).
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import pytest

from framework.spec.environment import DEFAULTS, Environment, deep_merge

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from framework.engine.runner import RunResult
    from framework.project import Project

REPO = Path(__file__).resolve().parents[1]

MARKET_SPECS: tuple[str, ...] = (
    "bronze/bars_raw.yaml", "bronze/nyse_sessions_raw.yaml",
    "silver/bars.yaml", "silver/trading_sessions.yaml",
    "gold/daily_bars.yaml", "gold/daily_indicators.yaml", "gold/symbol_summary.yaml",
)
"""The market project's specs under tables/, named one by one. Tests copy these, never the whole folder:
a dataset a user adds to tables/ (say a bronze table over a landing folder with no file yet) must not
change what the framework's tests run (issue 22). Renaming a market spec fails every copy loudly."""
PROJECT_PARTS: tuple[str, ...] = ("environments", "transforms", "market", "medallion.yaml")
"""The rest of the market project a copy needs beside its specs (those present in this checkout)."""


def copy_market_project(root: Path, parts: Iterable[str] = PROJECT_PARTS, *,
                        specs: Iterable[str] = MARKET_SPECS) -> Path:
    """The market project's named specs and `parts` (folders or files of the repository root that exist
    here), copied to `root`: a project a test may change, whatever else tables/ holds."""
    root.mkdir(parents=True, exist_ok=True)
    for relative in specs:
        target = root / "tables" / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / "tables" / relative, target)
    for part in parts:
        source = REPO / part
        if source.is_dir():
            shutil.copytree(source, root / part, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.is_file():
            shutil.copy2(source, root / part)
    return root

SESSIONS: dict[date, tuple[datetime, datetime]] = {
    d: (datetime(d.year, d.month, d.day, 14, 30, tzinfo=timezone.utc),
        datetime(d.year, d.month, d.day, 18 if early else 21, 0, tzinfo=timezone.utc))
    for d, early in ((date(2026, 11, 19), False), (date(2026, 11, 20), False), (date(2026, 11, 23), False),
                     (date(2026, 11, 24), False), (date(2026, 11, 25), False), (date(2026, 11, 27), True))
}
"""Real NYSE sessions (UTC; New York is UTC-5 in late November): Thanksgiving 11-26 is closed and the
Friday after closes at 13:00 New York."""


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def bar_rows(symbol: str, session: date, *, every_minutes: int = 30, price: float = 100.0,
             batch_id: str = "b000", provider: str = "synthetic") -> list[dict[str, Any]]:
    """Deterministic, valid minute bars of one symbol over one session (one bar every N minutes)."""
    opens, closes = SESSIONS[session]
    rows, minute, step = [], 0, 0
    while opens + timedelta(minutes=minute) < closes:
        drift = (((step * 7 + len(symbol) * 13 + session.day) % 21) - 10) / 1000  # deterministic walk
        close = round(price * (1 + drift), 4)
        rows.append({"symbol": symbol, "ts": rfc3339(opens + timedelta(minutes=minute)), "timeframe": "1Min",
                     "open": price, "high": round(max(price, close) * 1.001, 4),
                     "low": round(min(price, close) * 0.999, 4), "close": close, "volume": 1000 + step * 10,
                     "trade_count": 10 + step, "vwap": round((price + close) / 2, 4),
                     "session_open": rfc3339(opens), "session_close": rfc3339(closes), "provider": provider,
                     "batch_id": batch_id})
        price, minute, step = close, minute + every_minutes, step + 1
    return rows


def calendar_rows(sessions: Iterable[date] = SESSIONS) -> list[dict[str, Any]]:
    return [{"session_date": d.isoformat(), "open_utc": rfc3339(SESSIONS[d][0]), "close_utc": rfc3339(SESSIONS[d][1]),
             "early_close": SESSIONS[d][1].hour == 18} for d in sessions]


def land(folder: Path, name: str, lines: Iterable[str | dict]) -> Path:
    """Write a landing file atomically: a dot-file Spark ignores, then a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    tmp = folder / f".{name}.tmp"
    tmp.write_text(text)
    os.replace(tmp, folder / name)
    return folder / name


BUNDLE_PARTS: tuple[str, ...] = ("framework", "resources", "databricks.yml", "notebooks", "templates", "pyproject.toml")
"""What the Databricks bundle of the market project is rendered from and checked against, beside PROJECT_PARTS
(framework/ too: the pipeline notebook runs it from the synced files, and validate checks it is there)."""


@functools.lru_cache(maxsize=None)
def market_root() -> Path:
    """A read-only copy of the market project (its named specs, environments, Python and bundle files), made
    once per test process: for tests that load "the project" without changing it, where `REPO` would also
    load whatever else a user added to tables/."""
    root = Path(tempfile.mkdtemp(prefix="medallion-market-")) / "project"
    atexit.register(shutil.rmtree, root.parent, True)
    return copy_market_project(root, (*PROJECT_PARTS, *BUNDLE_PARTS))


@dataclass
class LocalProject:
    """A copy of the project in a temp folder with a `test` environment pointing into it."""

    root: Path
    env_name: str = "test"

    @property
    def landing(self) -> Path:
        return self.root / "landing"

    @property
    def storage(self) -> Path:
        return self.root / "storage"

    def load(self) -> "Project":
        from framework.project import load_project

        project = load_project(self.root, env=self.env_name)
        assert project.ok, [f.render() for f in project.errors]
        return project

    def env(self) -> Environment:
        return self.load().environment(self.env_name)

    def write_bars(self, name: str, rows: Iterable[dict | str]) -> Path:
        return land(self.landing / "bars", name, rows)

    def write_calendar(self, name: str = "calendar_2026-11.jsonl", sessions: Iterable[date] = SESSIONS) -> Path:
        return land(self.landing / "calendar", name, calendar_rows(sessions))

    def edit(self, relative: str, old: str, new: str) -> None:
        path = self.root / relative
        text = path.read_text()
        assert old in text, f"{old!r} not in {relative}"
        path.write_text(text.replace(old, new))

    def run(self, spark: "SparkSession", **options: Any) -> "RunResult":
        from framework.engine.runner import run_pipeline

        return run_pipeline(self.load(), self.env_name, spark=spark, handle_signals=False, **options)

    def table(self, spark: "SparkSession", name: str) -> "DataFrame":
        """A table of this project's storage by `<schema>.<name>` (read by path: no catalog involved)."""
        schema, table = name.split(".")
        return spark.read.format("delta").load(str(self.storage / "tables" / schema / table))

    def versions(self, name: str) -> int:
        """Number of commits of a table (read from its _delta_log)."""
        schema, table = name.split(".")
        return len(list((self.storage / "tables" / schema / table / "_delta_log").glob("*.json")))


def make_local_project(root: Path, env_settings: str = "") -> LocalProject:
    copy_market_project(root)
    (root / "environments" / "test.yaml").write_text(
        "name: test\nextends: local\n"
        f"landing_path: {root / 'landing'}\nstorage_root: {root / 'storage'}\n"
        "spark_conf:\n  spark.sql.shuffle.partitions: \"2\"\n" + env_settings)
    return LocalProject(root)


@pytest.fixture
def local_project(tmp_path: Path) -> Callable[..., LocalProject]:
    """Factory: `local_project(env_settings="development: false\\n")` -> a fresh LocalProject."""
    counter = iter(range(1000))

    def build(env_settings: str = "") -> LocalProject:
        return make_local_project(tmp_path / f"project{next(counter)}", env_settings)

    return build


@pytest.fixture(scope="session")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator["SparkSession"]:
    """The one SparkSession of the test run (local[2], Delta, in-memory catalog, quiet)."""
    from framework.engine.spark import build_session

    root = tmp_path_factory.mktemp("spark")
    settings = deep_merge(DEFAULTS, {"name": "pytest", "storage_root": str(root / "storage"),
                                     "landing_path": str(root / "landing"),
                                     "spark_conf": {"spark.sql.shuffle.partitions": "2"}})
    session = build_session(Environment("pytest", settings, root))
    yield session
    session.stop()
