"""Local stand-in for Auto Loader: a Spark file stream over the landing folder, with the declared schema.

What it keeps from Auto Loader:

* only new files are read on each run (the stream's checkpoint remembers every file by path, so a
  file landed twice under the same name is ingested once);
* nothing is silently lost: a JSON line that does not parse, a value that does not fit its declared
  type, or a line carrying fields the schema does not know is kept whole in `_rescued_data`;
* schema evolution (`schema_evolution` of the spec):
  - `add_new_columns`: before a run the first record of each new file is checked; unknown fields
    become new STRING columns (Auto Loader's default type for JSON) and the bronze table grows them.
    A field that shows up only later in a file is rescued for that batch and added from then on;
  - `rescue`: unknown fields stay in `_rescued_data`;
  - `none`: a new file with unknown fields stops the flow with an error naming them.
  The evolved schema is saved beside the flow's checkpoint (Auto Loader's `schemaLocation`).

JSON is read as text and parsed with `from_json` in PERMISSIVE mode, which is what lets us see the
keys of every record; CSV and Parquet use Spark's own readers.

Files written in place (not temp file + rename): Spark lists a file once and never reads it again, so
a file caught half-written would lose its rest. Before a micro-batch is written, `unsettled_files`
checks the batch's files (from the stream's own offset and source logs): a file that changed within
the environment's `landing_settle_seconds` and either changed after Spark listed it or does not yet
end with a complete record (a line format without its final newline, a Parquet file without its
footer, an empty file) makes the batch fail with `FilesNotSettled` before anything is written.
The flow then restarts its stream a moment later; the replayed batch is planned again from the same
files and reads them as they are then, in full.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from framework.engine.storage import Storage
from framework.errors import PipelineDefinitionError, SchemaEvolutionError
from framework.naming import INGESTED_AT_COLUMN, INTERNAL_PREFIX, RESCUED_COLUMN, SOURCE_FILE_COLUMN
from framework.spec.environment import Environment
from framework.spec.model import FilesSource, TableSpec

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

UNKNOWN_KEYS_COLUMN = f"{INTERNAL_PREFIX}unknown_keys"
SCHEMA_FILE = "_schema.json"
MAX_FILE_AGE = "36500d"
"""Spark ignores files older than `maxFileAge` relative to the newest one; landing backfills must not be."""


@dataclass
class FileSourceState:
    """The schema a file flow reads with: declared columns plus those added by evolution."""

    table: str
    spec_file: str
    path: str
    mode: str
    declared: list[tuple[str, str]]
    schema_file: Path
    evolved: list[tuple[str, str]] = field(default_factory=list)
    checked_files: set[str] = field(default_factory=set)
    file_format: str = "json"
    settle_seconds: float = 10.0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def columns(self) -> list[tuple[str, str]]:
        return self.declared + self.evolved

    @property
    def known(self) -> set[str]:
        return {name for name, _ in self.columns}

    def load(self) -> None:
        if self.schema_file.is_file():
            saved = json.loads(self.schema_file.read_text())
            self.evolved = [tuple(c) for c in saved.get("evolved", [])]  # type: ignore[misc]
            self.checked_files = set(saved.get("checked_files", []))

    def save(self) -> None:
        self.schema_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.schema_file.with_name(f".{SCHEMA_FILE}.{os.getpid()}")
        tmp.write_text(json.dumps({"evolved": self.evolved, "checked_files": sorted(self.checked_files)}, indent=1))
        tmp.replace(self.schema_file)

    def add_columns(self, names: list[str]) -> list[str]:
        """Add unknown fields as STRING columns; returns the ones that were new."""
        with self.lock:
            new = [n for n in sorted(set(names)) if n not in self.known]
            self.evolved += [(n, "STRING") for n in new]
            if new:
                self.save()
            return new


_STATES: dict[Path, FileSourceState] = {}
"""flow checkpoint folder -> state of its file source, for the runtime's micro-batch sink."""


def state_for(checkpoint: Path) -> FileSourceState | None:
    return _STATES.get(checkpoint)


def landing_files(path: str) -> list[Path]:
    """Files Spark would read: not hidden (`.`/`_` prefixes are in-flight or metadata files)."""
    root = Path(path)
    if not root.is_dir():
        return []
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "_"))]
        found += [Path(dirpath) / f for f in filenames if not f.startswith((".", "_"))]
    return sorted(found)


def first_record_keys(file: Path) -> set[str]:
    """Top-level keys of the first parseable JSON line of a file (empty if none parses)."""
    try:
        with file.open("r", encoding="utf-8", errors="replace") as handle:
            for _, line in zip(range(20), handle):
                line = line.strip()
                if not line:
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                return set(record) if isinstance(record, dict) else set()
    except OSError:
        pass
    return set()


def check_new_files(state: FileSourceState) -> list[str]:
    """Evolve (or refuse) the schema from the first record of each file not checked before."""
    new_files = [f for f in landing_files(state.path) if str(f) not in state.checked_files]
    unknown: dict[str, str] = {}
    for file in new_files:
        for key in first_record_keys(file) - state.known:
            unknown.setdefault(key, file.name)
    if unknown and state.mode == "none":
        listed = ", ".join(f"`{k}` (in {f})" for k, f in sorted(unknown.items()))
        raise SchemaEvolutionError(f"{state.spec_file}: table `{state.table}`: landing files have field(s) the spec "
                                   f"does not declare: {listed}; declare them in `columns` or set "
                                   "`source.files.schema_evolution` to add_new_columns or rescue")
    added = state.add_columns(list(unknown)) if state.mode == "add_new_columns" else []
    state.checked_files.update(str(f) for f in new_files)
    if new_files:
        state.save()
    return added


def unsettled_files(state: FileSourceState, stream_checkpoint: Path, batch_id: int) -> list[str]:
    """The files of micro-batch `batch_id` that may still be being written (see the module docstring)."""
    now_ms = time.time() * 1000
    pending = []
    for path, listed_ms in batch_files(stream_checkpoint, batch_id):
        uri = urlparse(path)
        if uri.scheme not in ("", "file"):
            continue  # not a local file: nothing to check here
        local = Path(unquote(uri.path))
        try:
            stat = local.stat()
        except OSError:
            continue  # gone: Spark reports it when it reads the batch
        modified_ms = stat.st_mtime_ns // 1_000_000
        age_ms = now_ms - modified_ms
        if age_ms >= state.settle_seconds * 1000 or age_ms < -1000:
            continue  # quiet for the settle time: read in full as it is now (a future mtime: clock skew, no age)
        if modified_ms != listed_ms or not _looks_complete(local, stat.st_size, state):
            pending.append(path)  # changed after Spark listed it (the listing in the offset log stays), or unfinished
    return pending


def _looks_complete(file: Path, size: int, state: FileSourceState) -> bool:
    """Does the file end the way a finished file of its format ends?"""
    if size == 0:
        return False
    try:
        with file.open("rb") as handle:
            handle.seek(max(size - 64, 0))
            tail = handle.read()
    except OSError:
        return True
    if state.file_format == "parquet":
        return tail.endswith(b"PAR1")
    if state.file_format == "json_multiline":
        return tail.rstrip().endswith((b"}", b"]"))
    return tail.endswith(b"\n")


def batch_files(stream_checkpoint: Path, batch_id: int) -> list[tuple[str, int]]:
    """(path, modification time in ms when listed) of the files Spark planned for one micro-batch.

    Read from the query's offset log (the file source's log offsets of this batch and the one before)
    and the file source's own log (`sources/0/<n>`, or the `<m>.compact` file that absorbed it).
    """
    first, last = _log_offset(stream_checkpoint, batch_id - 1) + 1, _log_offset(stream_checkpoint, batch_id)
    source_log = stream_checkpoint / "sources" / "0"
    entries: list[tuple[str, int]] = []
    for n in range(first, last + 1):
        single = source_log / str(n)
        files = [single] if single.is_file() else sorted(
            (p for p in source_log.glob("*.compact") if int(p.name.split(".")[0]) >= n),
            key=lambda p: int(p.name.split(".")[0]))[:1]
        for file in files:
            for line in file.read_text().splitlines()[1:]:
                entry = json.loads(line)
                if entry.get("batchId") == n:
                    entries.append((entry["path"], int(entry["timestamp"])))
    return entries


def _log_offset(stream_checkpoint: Path, batch_id: int) -> int:
    """The file source's log offset recorded for a query batch (-1 before the first)."""
    offsets = stream_checkpoint / "offsets" / str(batch_id)
    if batch_id < 0 or not offsets.is_file():
        return -1
    last = offsets.read_text().strip().splitlines()[-1]
    return int(json.loads(last).get("logOffset", -1))


def read_files_stream(spark: "SparkSession", spec: TableSpec, env: Environment, path: str, table: str) -> "DataFrame":
    """The streaming DataFrame of a `source.files` spec, with `_rescued_data`, `_source_file`, `_ingested_at`.

    The local engine hands this to the generic registration as its file reader (Auto Loader's stand-in).
    """
    source = spec.source
    assert isinstance(source, FilesSource)
    state = FileSourceState(table=table, spec_file=spec.file, path=path, mode=source.schema_evolution,
                            declared=[(c.name, c.type) for c in spec.columns],
                            schema_file=Storage.of(env).checkpoint(table) / SCHEMA_FILE,
                            file_format="json_multiline" if _multiline(source) else source.format,
                            settle_seconds=env.landing_settle_seconds)
    state.load()
    if source.format == "json" and not _multiline(source):
        check_new_files(state)
    _STATES[state.schema_file.parent] = state
    options = {k: str(v) for k, v in source.options.items()}
    reader = spark.readStream.option("maxFileAge", MAX_FILE_AGE)
    if source.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(source.max_files_per_trigger))
    if source.format == "json" and not _multiline(source):
        df = _json_lines(reader, path, state, options)
    else:
        df = _native(reader, path, source, state, options)
    from pyspark.sql import functions as F

    df = (df.withColumn(SOURCE_FILE_COLUMN, F.col("_metadata.file_path"))
            .withColumn(INGESTED_AT_COLUMN, F.current_timestamp()))
    return df.drop("_metadata") if "_metadata" in df.columns else df


def _multiline(source: FilesSource) -> bool:
    return str(source.options.get("multiLine", source.options.get("multiline", "false"))).lower() == "true"


def _ddl(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"`{name}` {type_}" for name, type_ in columns)


def _json_lines(reader, path: str, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    from pyspark.sql import functions as F

    schema = _ddl(state.columns + [(RESCUED_COLUMN, "STRING")])
    parse_options = {"mode": "PERMISSIVE", "columnNameOfCorruptRecord": RESCUED_COLUMN, **options}
    known = F.array(*[F.lit(name) for name in sorted(state.known)])
    lines = reader.format("text").load(path).where(F.length(F.trim("value")) > 0)
    parsed = lines.select(F.from_json("value", schema, parse_options).alias("r"), "value", "_metadata")
    unknown = F.coalesce(F.array_except(F.json_object_keys("value"), known), F.array().cast("array<string>"))
    rescued = F.when(F.col(RESCUED_COLUMN).isNotNull(), F.col(RESCUED_COLUMN)) \
               .when(F.size(F.col(UNKNOWN_KEYS_COLUMN)) > 0, F.col("value"))
    return (parsed.select("r.*", "value", "_metadata", unknown.alias(UNKNOWN_KEYS_COLUMN))
            .select(*[F.col(f"`{name}`") for name, _ in state.columns], rescued.alias(RESCUED_COLUMN),
                    "_metadata", UNKNOWN_KEYS_COLUMN))


def _native(reader, path: str, source: FilesSource, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    from pyspark.sql import functions as F

    if source.format == "parquet":
        return reader.format("parquet").schema(_ddl(state.columns)).options(**options).load(path) \
            .withColumn(RESCUED_COLUMN, F.lit(None).cast("string"))
    if source.format not in ("csv", "json"):
        raise PipelineDefinitionError(f"{state.spec_file}: unsupported file format `{source.format}`")
    schema = _ddl(state.columns + [(RESCUED_COLUMN, "STRING")])
    return (reader.format(source.format).schema(schema)
            .options(mode="PERMISSIVE", columnNameOfCorruptRecord=RESCUED_COLUMN, **options).load(path))
