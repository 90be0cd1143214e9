"""Read a Delta table's transaction log with plain Python: versions, commits, live files, row counts.

The docs need a few facts about a local run (how many rows, when the table last changed, its recent
versions) and the local runtime needs to know whether a folder holds a table at all; neither may
start a JVM for that. The Delta protocol keeps all of that in `_delta_log/`:
newline-delimited JSON commits (`commitInfo`, `add`, `remove`, ...) plus parquet checkpoints that
summarise the table every N commits. We reconstruct the snapshot the way the protocol describes: the
newest complete checkpoint, then every JSON commit after it. Row counts come from the `numRecords`
statistic Delta writes for every file (minus rows hidden by deletion vectors).

The local engine also asks, without a Spark job, whether a table was ever written, which version last
changed its data (materialized views compare it at every run) and how many files came since the last
OPTIMIZE. Only what those need is read; this is not a general Delta reader (no data, no column mapping).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import unquote, urlparse


from framework.errors import DeltaLogError

LOG_DIR = "_delta_log"
_COMMIT = re.compile(r"^(\d{20})\.json$")
_CHECKPOINT = re.compile(r"^(\d{20})\.checkpoint(?:\.(\d{10})\.(\d{10}))?\.parquet$")
SUMMARY_METRICS = ("numOutputRows", "numTargetRowsInserted", "numTargetRowsUpdated", "numTargetRowsDeleted",
                   "numDeletedRows", "numUpdatedRows", "numCopiedRows", "numAddedFiles", "numRemovedFiles",
                   "numFiles")
"""operationMetrics worth a glance in a version history, in the order they are shown."""


@dataclass(frozen=True)
class Commit:
    """One version of the table, from its `commitInfo` action."""

    version: int
    timestamp_ms: int
    operation: str
    parameters: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, str] = field(default_factory=dict)

    @property
    def timestamp(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=timezone.utc)

    @property
    def when(self) -> str:
        """UTC, to the second: what a reader needs, and the same on every machine."""
        return self.timestamp.strftime("%Y-%m-%d %H:%M:%S UTC")

    @property
    def metrics_summary(self) -> str:
        return ", ".join(f"{key}={self.metrics[key]}" for key in SUMMARY_METRICS if key in self.metrics)


@dataclass(frozen=True)
class DataFile:
    """A live data file of the snapshot."""

    path: str
    """Relative to the table folder (URL-decoded), or an absolute path."""
    size: int
    num_records: int | None
    """Rows visible in the file: its `numRecords` minus rows its deletion vector hides; None without stats."""
    stats: str | None = None
    """The `add` action's statistics as written (JSON: numRecords, minValues, maxValues, nullCount)."""


@dataclass(frozen=True)
class Snapshot:
    """The latest state of a Delta table, as far as the docs need it."""

    table_path: Path
    version: int
    files: tuple[DataFile, ...]
    commits: tuple[Commit, ...]
    """Commits whose JSON is still in the log (Delta cleans up old ones), oldest first."""

    @property
    def row_count(self) -> int | None:
        """Sum of `numRecords` over live files; None when any file lacks statistics."""
        counts = [f.num_records for f in self.files]
        return None if any(c is None for c in counts) else sum(counts)  # type: ignore[arg-type]

    @property
    def size_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def last_commit(self) -> Commit | None:
        return self.commits[-1] if self.commits else None

    def file_paths(self) -> list[Path]:
        """Absolute paths of the live data files, sorted (to read them in a stable order)."""
        return sorted(_resolve(self.table_path, f.path) for f in self.files)


def is_delta_table(path: Path) -> bool:
    """True when `path` holds a Delta table: its log has a commit or a checkpoint.

    A `_delta_log` folder alone is not enough: a run that failed writing a table's first commit (disk
    full, killed) leaves the folder without one, and Delta refuses to open such a location.
    """
    log = path / LOG_DIR
    return log.is_dir() and any(_COMMIT.match(p.name) or _CHECKPOINT.match(p.name) for p in log.iterdir())


def _versions(table_path: Path) -> tuple[Path, dict[int, Path], dict[int, list[Path]], int]:
    """(log folder, JSON commits by version, checkpoint parts by version, newest version) of a table."""
    log = table_path / LOG_DIR
    if not log.is_dir():
        raise DeltaLogError(f"{table_path} is not a Delta table (no {LOG_DIR}/ folder)")
    commits, checkpoints = _list_log(log)
    if not commits and not checkpoints:
        raise DeltaLogError(f"{log} has no commits")
    return log, commits, checkpoints, max([*commits, *checkpoints])


def latest_commit(table_path: Path) -> Commit:
    """The table's newest version and its commit info, from the newest JSON commit alone (no replay):
    what a cache keyed by "this table has not changed" needs. Falls back to the snapshot when the newest
    version is only a checkpoint (its JSON cleaned up)."""
    _, commits, checkpoints, latest = _versions(table_path)
    if latest in commits:
        for action in _actions(commits[latest]):
            if "commitInfo" in action:
                return _commit(latest, action["commitInfo"])
        return Commit(latest, int(commits[latest].stat().st_mtime * 1000), "")
    snapshot = read_snapshot(table_path, history=1)
    return snapshot.last_commit or Commit(snapshot.version, 0, "")


def read_snapshot(table_path: Path, history: int = 25) -> Snapshot:
    """Reconstruct the latest snapshot; keep the commit info of the newest `history` versions."""
    log, commits, checkpoints, latest = _versions(table_path)
    start = _replay_start(commits, checkpoints, latest, log)
    live: dict[tuple[str, str], DataFile] = {}
    if start > 0:
        for part in checkpoints[start - 1]:
            _apply_checkpoint(part, live)
    infos: dict[int, Commit] = {}
    first_info = max(0, latest - history + 1)
    for version in range(min(start, first_info), latest + 1):
        if version not in commits:
            continue
        for action in _actions(commits[version]):
            if version >= start:
                _apply(action, live)
            if "commitInfo" in action and version >= first_info:
                infos[version] = _commit(version, action["commitInfo"])
    files = tuple(sorted(live.values(), key=lambda f: f.path))
    return Snapshot(table_path, latest, files, tuple(infos[v] for v in sorted(infos)))


def _list_log(log: Path) -> tuple[dict[int, Path], dict[int, list[Path]]]:
    """JSON commits by version, and complete classic checkpoints (single or multi-part) by version."""
    commits: dict[int, Path] = {}
    parts: dict[int, dict[int, Path]] = {}
    expected: dict[int, int] = {}
    for path in log.iterdir():
        if m := _COMMIT.match(path.name):
            commits[int(m.group(1))] = path
        elif m := _CHECKPOINT.match(path.name):
            version = int(m.group(1))
            part, total = (int(m.group(2)), int(m.group(3))) if m.group(2) else (1, 1)
            parts.setdefault(version, {})[part] = path
            expected[version] = total
    checkpoints = {v: [ps[i] for i in sorted(ps)] for v, ps in parts.items() if len(ps) == expected[v]}
    return commits, checkpoints


def _replay_start(commits: dict[int, Path], checkpoints: dict[int, list[Path]], latest: int, log: Path) -> int:
    """The first JSON version to replay: just after the newest usable checkpoint, else 0."""
    for version in sorted(checkpoints, reverse=True):
        if all(v in commits for v in range(version + 1, latest + 1)):
            return version + 1
    missing = [v for v in range(latest + 1) if v not in commits]
    if missing:
        raise DeltaLogError(f"{log} misses commit(s) {missing[0]}..{missing[-1]} and has no checkpoint after them")
    return 0


def _actions(path: Path) -> Iterator[dict[str, Any]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DeltaLogError(f"cannot read {path}: {exc.strerror}") from None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield json.loads(line)
        except json.JSONDecodeError as exc:
            raise DeltaLogError(f"{path}:{number}: not a JSON action ({exc.msg})") from None


def _apply_checkpoint(path: Path, live: dict[tuple[str, str], DataFile]) -> None:
    # Imported here: pyarrow is the local engine's (`local` extra); the installed wheel's Databricks job
    # tasks import this module through framework.eventlog without ever reading a checkpoint.
    import pyarrow.parquet as pq

    try:
        rows = pq.read_table(path, columns=["add"]).column("add").to_pylist()
    except Exception as exc:  # pyarrow raises several types for damaged or foreign files
        raise DeltaLogError(f"cannot read checkpoint {path}: {exc}") from None
    for add in rows:
        if add:
            _apply({"add": add}, live)


def _dv_key(action: dict[str, Any]) -> str:
    dv = action.get("deletionVector") or {}
    return f"{dv.get('storageType', '')}:{dv.get('pathOrInlineDv', '')}:{dv.get('offset', '')}"


def _apply(action: dict[str, Any], live: dict[tuple[str, str], DataFile]) -> None:
    """Protocol rule: a file is live when its newest add/remove (by path and deletion vector) is an add."""
    if add := action.get("add"):
        live[(add["path"], _dv_key(add))] = DataFile(unquote(add["path"]), int(add.get("size") or 0),
                                                      _visible_records(add), add.get("stats") or None)
    elif remove := action.get("remove"):
        live.pop((remove["path"], _dv_key(remove)), None)


def _visible_records(add: dict[str, Any]) -> int | None:
    stats = add.get("stats")
    if not stats:
        return None
    try:
        records = json.loads(stats).get("numRecords")
    except (json.JSONDecodeError, AttributeError):
        return None
    if records is None:
        return None
    hidden = (add.get("deletionVector") or {}).get("cardinality") or 0
    return int(records) - int(hidden)


def _commit(version: int, info: dict[str, Any]) -> Commit:
    timestamp = info.get("inCommitTimestamp") or info.get("timestamp") or 0
    return Commit(version=version, timestamp_ms=int(timestamp), operation=str(info.get("operation", "")),
                  parameters=dict(info.get("operationParameters") or {}),
                  metrics={k: str(v) for k, v in sorted((info.get("operationMetrics") or {}).items())})


def _resolve(table_path: Path, path: str) -> Path:
    if "://" in path or path.startswith("file:"):
        return Path(unquote(urlparse(path).path))
    candidate = Path(path)
    return candidate if candidate.is_absolute() else table_path / candidate


def files_written_since_optimize(table_path: Path, enough: int) -> int:
    """Data files added by commits after the table's latest OPTIMIZE (counting stops at `enough`).

    Read newest commit first from the JSON commits (no Spark job), so deciding whether a table is worth
    optimizing costs a few small file reads whatever the table's size.
    """
    commits, _ = _list_log(table_path / LOG_DIR)
    count = 0
    for version in sorted(commits, reverse=True):
        actions = list(_actions(commits[version]))
        if any((a.get("commitInfo") or {}).get("operation") == "OPTIMIZE" for a in actions):
            break
        count += sum(1 for a in actions if (a.get("add") or {}).get("dataChange"))
        if count >= enough:
            break
    return count


def data_version(path: Path) -> int | None:
    """The latest version of a Delta table whose commit changed data (OPTIMIZE and metadata don't count).

    Read straight from the JSON commits: an `add`/`remove` with `"dataChange":true` marks a data change.
    Cheap (no Spark job), so materialized views can tell at every run whether their inputs moved.
    """
    log = path / LOG_DIR
    if not log.is_dir():
        return None
    commits, _ = _list_log(log)
    for version in sorted(commits, reverse=True):
        if '"dataChange":true' in commits[version].read_text(errors="replace"):
            return version
    return min(commits) if commits else None


def never_written(path: Path) -> bool:
    """True while no commit of the table has added a data file (a new or fully refreshed table)."""
    log = path / LOG_DIR
    if any(p.suffix == ".parquet" for p in log.glob("*.checkpoint*")):
        return False
    return not any('{"add":' in p.read_text(errors="replace") for p in log.glob("*.json"))


Bound = str | int | date | datetime
"""A key value the statistics can be compared with: a string, an integer, a date, or an aware timestamp."""
Box = dict[str, tuple[Bound, Bound]]
"""Inclusive (lowest, highest) value per column: the rows asked about."""


def may_hold(table_path: Path, boxes: list[Box]) -> bool | None:
    """Whether any live file of the table may hold a row inside one of `boxes`, read from the files'
    min/max statistics without a Spark job (what Delta's data skipping reads, before any scan).

    False: no file can (every row of the table lies outside every box). True: some file may. None: the
    statistics cannot tell (a file without them, a column they do not cover, a value type not compared
    here) and the caller must ask Spark. Strings compare by code point (UTF-8 byte order, as Delta
    orders them; a truncated minimum is a prefix, a truncated maximum ends with a tie-breaker, so both
    still bound the values); timestamp maxima are kept to milliseconds, so one is added.
    """
    for file in read_snapshot(table_path, history=1).files:
        if file.num_records == 0:
            continue
        try:
            stats = json.loads(file.stats) if file.stats else None
        except json.JSONDecodeError:
            return None
        if not isinstance(stats, dict):
            return None
        lows, highs = stats.get("minValues") or {}, stats.get("maxValues") or {}
        for box in boxes:
            overlaps = True
            for column, (low, high) in box.items():
                if column not in lows or column not in highs:
                    return None
                file_low, file_high = _stat_value(lows[column], low), _stat_value(highs[column], high, ceiling=True)
                if file_low is None or file_high is None:
                    return None
                if file_high < low or file_low > high:  # type: ignore[operator]
                    overlaps = False
                    break
            if overlaps:
                return True
    return False


def _stat_value(value: Any, like: Bound, *, ceiling: bool = False) -> Bound | None:
    """A statistic as the type of `like`; None when it cannot be compared with it exactly."""
    try:
        if isinstance(like, bool):
            return None
        if isinstance(like, str):
            return value if isinstance(value, str) else None
        if isinstance(like, int):
            return value if isinstance(value, int) and not isinstance(value, bool) else None
        if isinstance(like, datetime):
            if like.tzinfo is None or not isinstance(value, str):
                return None
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if parsed.tzinfo is None:
                return None
            return parsed + timedelta(milliseconds=1) if ceiling else parsed
        if isinstance(like, date):
            return date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else None
    except ValueError:
        return None
    return None
