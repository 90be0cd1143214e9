"""Live statistics of a local run: row counts, last update, versions and expectation pass rates.

Read from each table's folder (`framework.naming.TableRef.path`) with delta_log.py, and from the event
log with its Arrow reader (framework/eventlog), so they need no JVM. Every value comes from the data
(commit timestamps, file statistics), never from the clock, so the same run gives the same pages.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from framework.delta_log import Commit, is_delta_table, read_snapshot
from framework.docs.catalog import Catalog
from framework.errors import DeltaLogError, DocsError
from framework.eventlog import QualityHistory, quality_history, read_with_arrow
from framework.naming import TABLES_FOLDER, TableRef
from framework.spec.environment import Environment

LiveStats = Literal["auto", "on", "off"]
HISTORY_SHOWN = 15


@dataclass(frozen=True)
class TableStats:
    """What a local run says about one table; `error` explains a table whose log could not be read."""

    found: bool
    row_count: int | None = None
    size_bytes: int = 0
    file_count: int = 0
    version: int | None = None
    last_update: str | None = None
    history: tuple[Commit, ...] = ()
    """Newest first."""
    quality: QualityHistory | None = None
    error: str | None = None


@dataclass(frozen=True)
class RunStats:
    """Statistics of the documented environment's local storage."""

    storage: str
    """The storage root as the environment's settings write it (pages must not show machine paths)."""
    tables: dict[str, TableStats]
    event_log_found: bool
    event_log_error: str | None = None


def tables_root(env: Environment) -> Path:
    return env.storage_root / TABLES_FOLDER


def has_local_run(env: Environment) -> bool:
    return env.runtime == "local" and tables_root(env).is_dir()


ARROW_MISSING = ('pyarrow is not installed, so the local run\'s event log and Delta checkpoints cannot be read; '
                 'pip install "medallion[local]" to add them')
"""Why the live statistics are left out of a plain install (`pip install medallion` has no pyarrow)."""


def stats_unavailable(catalog: Catalog, mode: LiveStats) -> str | None:
    """Why live statistics are skipped although a local run exists (None when they can be read or are off).

    They need pyarrow (the event log's reader, Delta checkpoints), which is part of the `local` extra, not of
    the base install: a Databricks Runtime ships its own pyarrow, and the docs of a spec-only checkout need
    none. A project that has a local run has the extra, so this only bites docs built in another environment.
    """
    if mode == "off" or not has_local_run(catalog.env) or importlib.util.find_spec("pyarrow") is not None:
        return None
    return ARROW_MISSING


def collect_stats(catalog: Catalog, mode: LiveStats) -> RunStats | None:
    """None when statistics are off, (in auto mode) there is no local run to read, or pyarrow is missing."""
    env = catalog.env
    if mode == "off":
        return None
    missing = stats_unavailable(catalog, mode)
    if missing is not None:
        if mode == "on":
            raise DocsError(f"--live-stats on: {missing}")
        return None
    if not has_local_run(env):
        if mode == "auto":
            return None
        if env.runtime != "local":
            raise DocsError(f"--live-stats on: environment `{env.name}` runs on {env.runtime}, so there is no local "
                            "run to read; document a local environment or use --live-stats off")
        raise DocsError(f"--live-stats on: environment `{env.name}` has no local run at {tables_root(env)}; run "
                        f"`medallion run --env {env.name}` first, or use --live-stats auto")
    quality: dict[str, QualityHistory] = {}
    event_log_error = None
    log_path = TableRef.event_log(env).path
    event_log_found = is_delta_table(log_path)
    if event_log_found:
        try:
            quality = quality_history(read_with_arrow(log_path))
        except DeltaLogError as exc:
            event_log_error = str(exc)
    tables = {doc.name: _table_stats(TableRef.of(doc.spec, env).path, quality.get(doc.name))
              for doc in catalog.tables}
    storage = str(env.settings["storage_root"]).replace("{env}", env.name)
    return RunStats(storage, tables, event_log_found, event_log_error)


def _table_stats(path: Path, quality: QualityHistory | None) -> TableStats:
    if not is_delta_table(path):
        return TableStats(found=False, quality=quality)
    try:
        snapshot = read_snapshot(path, history=HISTORY_SHOWN)
    except DeltaLogError as exc:
        return TableStats(found=True, quality=quality, error=str(exc))
    last = snapshot.last_commit
    return TableStats(found=True, row_count=snapshot.row_count, size_bytes=snapshot.size_bytes,
                      file_count=len(snapshot.files), version=snapshot.version,
                      last_update=last.when if last else None, history=tuple(reversed(snapshot.commits)),
                      quality=quality)
