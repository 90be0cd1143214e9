"""Local stand-in for Auto Loader: a Spark file stream over the landing folder, read as Auto Loader reads.

What it keeps from Auto Loader (pages "Configure schema inference and evolution in Auto Loader",
"Auto Loader options", "Read CSV files" of the Databricks documentation):

* only new files are read on each run (the stream's checkpoint remembers every file by path, so a
  file landed twice under the same name is ingested once);
* fields are placed by NAME. JSON by its keys; CSV by each file's header when `header: true` (Auto Loader
  ignores `enforceSchema` when it rescues data, so the header is aligned with the schema by name, each
  file with its own header), by position when `header` is false (Auto Loader's default: then the header
  line, if any, is a data row);
* nothing is silently lost, and only what could not be placed is rescued: `_rescued_data` is a JSON
  object of the fields that are no column (a field whose name differs from a column only in case
  included: Auto Loader reads case-sensitively, `readerCaseSensitive` defaults to true) and of those
  whose value does not parse to the column's type (the column is NULL), plus `_file_path`, the record's
  source file: `{"Country": "FR", "_file_path": "file:/landing/customers/a.csv"}`.
  A line that does not parse at all (broken JSON; a CSV row with another number of fields than the
  file's first row, which Databricks calls incomplete) is kept whole: `{"_corrupt_record": "<line>",
  "_file_path": ...}`. Databricks puts such records in the `_corrupt_record` column when the schema
  has one (`columnNameOfCorruptRecord`), not in `_rescued_data`: keeping it here means the local run
  never loses it and silver quarantines it like any rescued row;
* schema evolution (`schema_evolution` of the spec):
  - `add_new_columns`: before a run the first record (JSON), the header (CSV) or the footer (Parquet) of
    each new file is checked; unknown fields become new columns, STRING for JSON and CSV (Auto Loader's
    default type for them), the file's own type for Parquet, and the bronze table grows them. A JSON or
    CSV field that shows up only later is rescued for that batch and added from then on;
  - `rescue`: unknown fields stay in `_rescued_data`;
  - `none`: a new file with unknown fields stops the flow with an error naming them.
  The evolved schema is saved beside the flow's checkpoint (Auto Loader's `schemaLocation`).
* Parquet: Spark's reader reads only the fields of its schema, so the undeclared fields the footers
  show (read with pyarrow before the run) are added to the schema it reads with, then moved into
  `_rescued_data` (`{"tier": "gold", "_file_path": ...}`). A Parquet file in a micro-batch with fields the
  running stream does not read (it landed after the stream started) makes the batch write nothing and the
  stream restart, as an unsettled file does; the restart reads its footer. Local differs from Databricks
  (documented in docs/databricks-fidelity.md): a field differing from a column only in case is placed in
  that column by Spark's case-insensitive resolution (Databricks rescues it), and a declared column whose
  Parquet type Spark cannot convert stops the run with Spark's error (Databricks rescues the value).

JSON is read as text and parsed with `from_json` with the declared types (PERMISSIVE, partial
results), its field names listed beside (`json_object_keys`), so each field is placed or rescued on its
own; only a line with something to rescue is parsed again, as a map of its fields, for their raw values. CSV lines come from Spark's CSV source (which drops each file's header line), are split by
a Python function with the file's dialect and paired with the file's own header, and typed by
`from_csv` with the spec's options, as Spark's CSV reader types them. Parquet and multi-line JSON use
Spark's readers (multi-line JSON: a record that does not fit is rescued whole).

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

import csv
import json
import threading
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import unquote, urlparse

from framework.engine.storage import Storage
from framework.errors import PipelineDefinitionError, SchemaEvolutionError
from framework.files import write_atomically
from framework.naming import INGESTED_AT_COLUMN, INTERNAL_PREFIX, RESCUED_COLUMN, SOURCE_FILE_COLUMN
from framework.pipeline.query import landing_files
from framework.spec.environment import Environment
from framework.spec.model import FilesSource, TableSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

UNKNOWN_KEYS_COLUMN = f"{INTERNAL_PREFIX}unknown_keys"
"""Fields of each record that no column has, in any case: what `add_new_columns` adds (read by the flow)."""
RECORD_COLUMN = f"{INTERNAL_PREFIX}record"
KEYS_COLUMN = f"{INTERNAL_PREFIX}keys"
UNDECLARED_COLUMN = f"{INTERNAL_PREFIX}undeclared"
CANDIDATES_COLUMN = f"{INTERNAL_PREFIX}candidates"
TYPED_COLUMN = f"{INTERNAL_PREFIX}typed"
LINE_COLUMN = f"{INTERNAL_PREFIX}line"
OVERFLOW_COLUMN = f"{INTERNAL_PREFIX}line_overflow"
LINE_SEPARATOR = "\u0001\u0002\u0003"
"""The separator CSV lines are read with so that each line is one field (a line holding it comes whole
in the overflow column instead)."""
RESCUED_FILE_PATH = "_file_path"
"""Key of the source file in `_rescued_data`, as Auto Loader names it."""
CORRUPT_RECORD = "_corrupt_record"
"""Key of a line that does not parse at all (Spark's and Databricks' name for such a record)."""
FILE_SOURCE_OPTIONS = frozenset({"pathglobfilter", "recursivefilelookup", "modifiedbefore", "modifiedafter",
                                 "ignorecorruptfiles", "ignoremissingfiles"})
"""Options of Spark's file source itself (which files it reads), lower case: option keys are case-insensitive."""
READER_OWNED_OPTIONS = frozenset({"header", "enforceschema", "mode", "columnnameofcorruptrecord", "multiline",
                                  "rescueddatacolumn", "readercasesensitive", "inferschema", "samplingratio",
                                  "singlevariantcolumn", "maxfilespertrigger", "maxfileage"})
"""Options this reader decides itself, never handed to the parser."""
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
    rescued_fields: list[tuple[str, str]] = field(default_factory=list)
    """Parquet: undeclared fields seen in file footers (name, Spark type), read only to be rescued."""
    stream_fields: set[str] = field(default_factory=set)
    """Parquet: the fields (lower case) the running stream reads; a batch file with others restarts it."""
    file_format: str = "json"
    settle_seconds: float = 10.0
    csv_header: bool = False
    dialect: "CsvDialect | None" = None
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
            self.rescued_fields = [tuple(c) for c in saved.get("rescued_fields", [])]  # type: ignore[misc]

    def save(self) -> None:
        write_atomically(self.schema_file, json.dumps({"evolved": self.evolved,
                                                       "checked_files": sorted(self.checked_files),
                                                       "rescued_fields": self.rescued_fields}, indent=1))

    def add_columns(self, names: list[str], types: dict[str, str] | None = None) -> list[str]:
        """Add unknown fields as columns, STRING unless `types` says otherwise (Parquet's own types); returns
        the ones that were new.

        A field that differs from a column only in case is never a new column (Delta's names are
        case-insensitive, and Auto Loader treats `abc` and `Abc` as one column): it stays rescued.
        """
        with self.lock:
            taken = {n.lower() for n in self.known}
            new = []
            for n in sorted(set(names)):
                if n.lower() not in taken:
                    new.append(n)
                    taken.add(n.lower())
            self.evolved += [(n, (types or {}).get(n, "STRING")) for n in new]
            if new:
                self.save()
            return new


_STATES: dict[Path, FileSourceState] = {}
"""flow checkpoint folder -> state of its file source, for the runtime's micro-batch sink."""


def state_for(checkpoint: Path) -> FileSourceState | None:
    return _STATES.get(checkpoint)


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


def parquet_fields(file: Path) -> dict[str, str] | None:
    """A Parquet file's top-level fields and their Spark types, from its footer alone (None: no readable
    footer yet, e.g. a file still being written). A type Spark cannot read is named as Arrow names it, so
    the run stops on it with Spark's error instead of losing the field."""
    import pyarrow.parquet as pq
    from pyspark.sql.pandas.types import from_arrow_type

    try:
        schema = pq.read_schema(file)
    except (OSError, ValueError):  # ArrowInvalid is a ValueError: no footer (yet)
        return None
    fields = {}
    for f in schema:
        try:
            fields[f.name] = from_arrow_type(f.type).simpleString()
        except (TypeError, ValueError, NotImplementedError):
            fields[f.name] = str(f.type)
    return fields


def file_fields(state: FileSourceState, file: Path) -> dict[str, str] | None:
    """The fields a new file brings with their types where the file has them (else STRING): its first JSON
    record's keys, its CSV header (none without one), or its Parquet footer (None: not readable yet)."""
    if state.file_format == "json":
        return dict.fromkeys(first_record_keys(file), "STRING")
    if state.file_format == "csv" and state.csv_header and state.dialect is not None:
        return dict.fromkeys(csv_file_header(state.dialect, file), "STRING")
    if state.file_format == "parquet":
        return parquet_fields(file)
    return {}


def check_new_files(state: FileSourceState) -> list[str]:
    """Evolve (or refuse) the schema from the first record (JSON), header (CSV) or footer (Parquet) of each
    file not checked before.

    Fields that match a column in another case are no new fields: they are rescued (see `add_columns`).
    Parquet's undeclared fields must also be read to be rescued (Spark's reader reads only the fields of
    its schema): under `rescue` they are remembered in `rescued_fields`. A Parquet file without a readable
    footer yet is checked again on the next start.
    """
    new_files = [f for f in landing_files(state.path) if str(f) not in state.checked_files]
    unknown: dict[str, str] = {}
    types: dict[str, str] = {}
    known = {n.lower() for n in state.known}
    unread: set[Path] = set()
    for file in new_files:
        fields = file_fields(state, file)
        if fields is None:
            unread.add(file)
            continue
        for key in sorted(fields):
            if key.lower() not in known:
                unknown.setdefault(key, file.name)
                types.setdefault(key, fields[key])
    if unknown and state.mode == "none":
        listed = ", ".join(f"`{k}` (in {f})" for k, f in sorted(unknown.items()))
        raise SchemaEvolutionError(f"{state.spec_file}: table `{state.table}`: landing files have field(s) the spec "
                                   f"does not declare: {listed}; declare them in `columns` or set "
                                   "`source.files.schema_evolution` to add_new_columns or rescue")
    added = state.add_columns(list(unknown), types) if state.mode == "add_new_columns" else []
    if state.file_format == "parquet" and state.mode != "add_new_columns":
        taken = {n.lower() for n, _ in state.rescued_fields}
        state.rescued_fields += [(k, types[k]) for k in sorted(unknown) if k.lower() not in taken]
    state.checked_files.update(str(f) for f in new_files if f not in unread)
    if new_files:
        state.save()
    return added


def unsettled_files(state: FileSourceState, stream_checkpoint: Path, batch_id: int) -> list[str]:
    """The files of micro-batch `batch_id` that may still be being written (see the module docstring), and
    the Parquet files with fields the running stream does not read (landed after it started: Spark's
    reader would drop them). Either way the batch writes nothing and the stream restarts, and the restart
    reads the new files' footers (`check_new_files`)."""
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
        if state.file_format == "parquet" and state.stream_fields:
            fields = parquet_fields(local)
            if fields is not None and {n.lower() for n in fields} - state.stream_fields:
                pending.append(path)
                continue
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
    multiline = _truthy(_option(source.options, "multiLine"))
    state = FileSourceState(table=table, spec_file=spec.file, path=path, mode=source.schema_evolution,
                            declared=[(c.name, c.type) for c in spec.columns],
                            schema_file=Storage.of(env).checkpoint(table) / SCHEMA_FILE,
                            file_format="json_multiline" if source.format == "json" and multiline else source.format,
                            settle_seconds=env.landing_settle_seconds,
                            csv_header=_truthy(_option(source.options, "header")),
                            dialect=CsvDialect.of(source.options) if source.format == "csv" else None)
    state.load()
    # A landing folder nothing has been written to yet is empty, not an error: Auto Loader lists a
    # prefix that holds no object as empty, and the Databricks declaration reads a folder not created
    # yet with the declared schema (pipeline/query.py `landing_is_empty`). Spark's file source refuses
    # a path that does not exist (PATH_NOT_FOUND), so a new dataset's bronze table would fail its first
    # update: create the (local) folder, and the table starts empty like any other.
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError:
        pass  # a folder we may not create: Spark's own error names the path
    if state.file_format in ("json", "csv", "parquet"):
        check_new_files(state)
    _STATES[state.schema_file.parent] = state
    file_options, parse_options = _split_options(source.options)
    reader = spark.readStream.option("maxFileAge", MAX_FILE_AGE).options(**file_options)
    if source.max_files_per_trigger:
        reader = reader.option("maxFilesPerTrigger", str(source.max_files_per_trigger))
    if state.file_format == "json":
        df = _json_lines(reader, path, state, parse_options)
    elif state.file_format == "csv":
        df = _csv_records(reader, path, state, parse_options)
    else:
        df = _native(reader, path, source, state, parse_options)
    from pyspark.sql import functions as F

    df = (df.withColumn(SOURCE_FILE_COLUMN, F.col("_metadata.file_path"))
            .withColumn(INGESTED_AT_COLUMN, F.current_timestamp()))
    return df.drop("_metadata") if "_metadata" in df.columns else df


def _truthy(value: str | None) -> bool:
    return str(value).strip().lower() == "true"


def _option(options: dict[str, Any], name: str) -> str | None:
    """An option by name, case-insensitively (Spark's option keys are), as Spark sees its value."""
    for key, value in options.items():
        if key.lower() == name.lower():
            return str(value).lower() if isinstance(value, bool) else str(value)
    return None


def _split_options(options: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """(options of Spark's file source, options of the format's parser), as strings.

    `cloudFiles.*` are Auto Loader's own: the local engine implements what it supports of them through
    the spec's keys (`schema_evolution`, `max_files_per_trigger`) and leaves the rest to Databricks.
    """
    files: dict[str, str] = {}
    parse: dict[str, str] = {}
    for key, value in options.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        lowered = key.lower()
        if lowered.startswith("cloudfiles."):
            continue
        if lowered in FILE_SOURCE_OPTIONS:
            files[key] = text
        elif lowered not in READER_OWNED_OPTIONS:
            parse[key] = text
    return files, parse


def _ddl(columns: list[tuple[str, str]]) -> str:
    return ", ".join(f"`{name.replace('`', '``')}` {type_}" for name, type_ in columns)


def _string_array(names: Iterable[str]) -> "Column":
    from pyspark.sql import functions as F

    return F.array(*[F.lit(n) for n in names]).cast("array<string>")


def _rescued(record: "Column", keys: "Column", candidates: "Column", values_present: Callable[["Column"], "Column"],
             file_path: "Column", line: "Column") -> "Column":
    """`_rescued_data`: the fields that could not be placed as a JSON object plus `_file_path`, or NULL.

    `record` is the record's fields by name, `keys` their names (NULL when the line does not parse at
    all: then the raw line is kept as `_corrupt_record`); `candidates` the names of the fields that may
    need rescuing (no column, or no value of the column's type); `values_present(value)` whether a
    field's value counts as given (a JSON `null` does not).

    Speed: the map is narrowed with a higher-order function, which Spark evaluates interpreted, per
    field; guarded by the cheap, code-generated `size(candidates) > 0`, it (and `record`, when it is an
    expression still to evaluate) runs only for the rare rows that have something to rescue.
    """
    from pyspark.sql import functions as F

    rescue = F.map_filter(record, lambda k, v: F.array_contains(candidates, k) & values_present(v))
    path_json = F.to_json(F.struct(file_path.alias(RESCUED_FILE_PATH)))  # {"_file_path":"..."}
    fields = F.to_json(rescue)                                          # {"a":...} or {}
    placed = F.concat(F.substring(fields, F.lit(1), F.length(fields) - 1), F.lit(","),
                      F.substring(path_json, F.lit(2), F.length(path_json)))
    corrupt = F.to_json(F.struct(line.alias(CORRUPT_RECORD), file_path.alias(RESCUED_FILE_PATH)))
    return (F.when(keys.isNull(), corrupt)
            .when(F.size(candidates) > 0, F.when(F.length(fields) > 2, placed)))


def _undeclared(keys: "Column", names: list[str]) -> "Column":
    """The field names that are no column, compared exactly (code-generated, no lambda)."""
    from pyspark.sql import functions as F

    return F.array_except(keys, _string_array(names))


def _unknown_keys(keys: "Column", known: Iterable[str], undeclared: "Column | None" = None) -> "Column":
    """Field names that are no column, not even in another case: what schema evolution may add.

    The case-insensitive comparison needs a lambda (interpreted): it runs only for a record with a field
    that is no column exactly, which most records do not have."""
    from pyspark.sql import functions as F

    names = sorted(set(known))
    lowered = _string_array(sorted({n.lower() for n in names}))
    unknown = F.filter(keys, lambda k: ~F.array_contains(lowered, F.lower(k)))
    empty = F.array().cast("array<string>")
    undeclared = _undeclared(keys, names) if undeclared is None else undeclared
    return F.when(F.size(F.coalesce(undeclared, empty)) > 0, F.coalesce(unknown, empty)).otherwise(empty)


JSON_SYNTAX_OPTIONS = frozenset({
    "allowcomments", "allowunquotedfieldnames", "allowsinglequotes", "allownumericleadingzeros",
    "allownonnumericnumbers", "allowbackslashescapinganycharacter", "allowunquotedcontrolchars"})
"""JSON options that change what parses (Spark's JSON data source options, lower case): with any of them,
a record's field names come from `from_json` with those options, not from `json_object_keys` (which
takes none)."""


def _json_lines(reader, path: str, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    """JSON lines: each line parsed with the declared types, its field names listed beside.

    A field is rescued when it is no column (a case mismatch included: Auto Loader reads case-sensitively)
    or when its value is present but does not parse to the column's type; the column is then NULL.
    Only a line with such a field (or a typed NULL under a name it has) is parsed a second time, as a
    map of its fields, to put their raw values in `_rescued_data`.
    """
    from pyspark.sql import functions as F

    lines = reader.format("text").load(path).where(F.length(F.trim("value")) > 0)
    line = F.col("value")
    record = F.from_json(line, "map<string,variant>", options)
    syntax = any(key.lower() in JSON_SYNTAX_OPTIONS for key in options)
    parsed = lines.select(line.alias(LINE_COLUMN),
                          (F.map_keys(record) if syntax else F.json_object_keys(line)).alias(KEYS_COLUMN),
                          F.from_json(line, _ddl(state.columns), {**options, "mode": "PERMISSIVE"})
                          .alias(TYPED_COLUMN), "_metadata")
    keys, typed = F.col(KEYS_COLUMN), F.col(TYPED_COLUMN)
    names = [name for name, _ in state.columns]

    def present(value: "Column") -> "Column":
        return value.isNotNull() & ~F.is_variant_null(value)

    # a column that came out NULL under a name the line has: mistyped, or a JSON null (not rescued)
    mismatched = F.array_compact(F.array(*[F.when(typed[n].isNull() & F.array_contains(keys, F.lit(n)), F.lit(n))
                                           for n in names]))
    undeclared = _undeclared(keys, names)
    # computed once per row, in their own projection (code-generated): the lambdas below are guarded by them
    flagged = parsed.select(*[typed[n].alias(n) for n in names], LINE_COLUMN, KEYS_COLUMN, "_metadata",
                            undeclared.alias(UNDECLARED_COLUMN),
                            F.array_union(undeclared, mismatched).alias(CANDIDATES_COLUMN))
    return flagged.select(*names,
                          _rescued(F.from_json(F.col(LINE_COLUMN), "map<string,variant>", options), keys,
                                   F.col(CANDIDATES_COLUMN), present, F.col("_metadata.file_path"),
                                   F.col(LINE_COLUMN)).alias(RESCUED_COLUMN),
                          "_metadata", _unknown_keys(keys, names, F.col(UNDECLARED_COLUMN)).alias(UNKNOWN_KEYS_COLUMN))


def _csv_records(reader, path: str, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    """CSV rows placed by header name (or by position without a header), values typed by Spark's CSV parser.

    Spark's CSV source yields each data line whole (no quoting, a separator no line holds; with
    `header: true` it drops each file's first line, exactly as its CSV reader does); a Python function
    splits the line with the file's dialect and pairs the fields with the file's header, read from the
    file itself (so files with different column orders each read right). Fields are then typed by
    `from_csv` with the spec's options (dateFormat, nullValue, ...), as Spark's CSV reader types them.
    """
    from pyspark.sql import functions as F

    dialect = state.dialect
    assert dialect is not None
    names = [name for name, _ in state.columns]
    line_options = {k: v for k, v in options.items() if k.lower() in ("linesep", "encoding", "charset", "comment")}
    lines = (reader.format("csv").schema(f"`{LINE_COLUMN}` STRING, `{OVERFLOW_COLUMN}` STRING")
             .options(**line_options, header=str(state.csv_header).lower(), enforceSchema="true", sep=LINE_SEPARATOR,
                      quote="", mode="PERMISSIVE", columnNameOfCorruptRecord=OVERFLOW_COLUMN)
             .load(path))
    split = F.udf(partial(csv_record, dialect, state.csv_header, tuple(names)),
                  "names array<string>, fields array<string>, complete boolean", useArrow=True)
    line = F.coalesce(F.col(OVERFLOW_COLUMN), F.col(LINE_COLUMN))  # a line holding the separator: all of it
    fields = (lines.select(line.alias(LINE_COLUMN), "_metadata")
              .select("*", split(F.col("_metadata.file_path"), F.col(LINE_COLUMN)).alias("r"))
              .select("*", F.map_from_arrays("r.names", "r.fields").alias(RECORD_COLUMN)))
    record = F.col(RECORD_COLUMN)
    raw = {n: F.try_element_at(record, F.lit(n)) for n in names}
    typed_names = [(n, t) for n, t in state.columns if t.strip().upper() != "STRING"]
    unsafe = dialect.unsafe_characters()
    typed_raw = {n: F.when(~raw[n].rlike(unsafe), raw[n]) for n, _ in typed_names}  # can only be a string
    if typed_names:
        typed_line = F.concat_ws(dialect.sep, *[F.coalesce(typed_raw[n], F.lit("")) for n, _ in typed_names])
        parse_options = {**{k: v for k, v in options.items() if k.lower() not in ("nullvalue",)},
                         "sep": dialect.sep, "quote": dialect.quote or "", "mode": "PERMISSIVE"}
        typed_struct = F.from_csv(typed_line, _ddl(typed_names), parse_options)
    value = {n: raw[n] for n in names}
    value.update({n: typed_struct[n] for n, _ in typed_names})
    mismatched = F.array_compact(F.array(*[F.when(raw[n].isNotNull() & value[n].isNull(), F.lit(n))
                                           for n, _ in typed_names])) if typed_names else F.array().cast("array<string>")
    candidates = F.array_union(_undeclared(F.map_keys(record), names), mismatched)
    keys = F.when(F.col("r.complete"), F.map_keys(record))  # NULL: another number of fields than the file
    unknown = _unknown_keys(F.map_keys(record), names) if state.csv_header else F.array().cast("array<string>")
    return fields.select(*[value[n].alias(n) for n in names],
                         _rescued(record, keys, candidates, lambda v: v.isNotNull(), F.col("_metadata.file_path"),
                                  F.col(LINE_COLUMN)).alias(RESCUED_COLUMN),
                         "_metadata", unknown.alias(UNKNOWN_KEYS_COLUMN))


def _native(reader, path: str, source: FilesSource, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    """Parquet, and JSON documents spanning lines (`multiLine`), with Spark's own readers."""
    from pyspark.sql import functions as F

    if source.format == "parquet":
        return _parquet(reader, path, state, options)
    if source.format != "json":
        raise PipelineDefinitionError(f"{state.spec_file}: unsupported file format `{source.format}`")
    schema = _ddl(state.columns + [(RESCUED_COLUMN, "STRING")])
    return (reader.format("json").schema(schema)
            .options(**options, multiLine="true", mode="PERMISSIVE", columnNameOfCorruptRecord=RESCUED_COLUMN).load(path))


def _parquet(reader, path: str, state: FileSourceState, options: dict[str, str]) -> "DataFrame":
    """Parquet with Spark's reader, its schema widened by the undeclared fields the footers showed, which
    are then rescued: `_rescued_data` is a JSON object of those present in the row plus `_file_path`."""
    from pyspark.sql import functions as F

    known = {n.lower() for n in state.known}
    extras = [(n, t) for n, t in state.rescued_fields if n.lower() not in known]
    state.stream_fields = known | {n.lower() for n, _ in extras}
    df = reader.format("parquet").schema(_ddl(state.columns + extras)).options(**options).load(path)

    def col(name: str) -> "Column":
        return F.col(f"`{name.replace('`', '``')}`")

    rescued = F.lit(None).cast("string")
    if extras:
        present = F.lit(False)
        for name, _ in extras:
            present = present | col(name).isNotNull()
        # to_json leaves NULL fields out: the object holds only the fields this row has
        blob = F.to_json(F.struct(*[col(n).alias(n) for n, _ in extras],
                                  F.col("_metadata.file_path").alias(RESCUED_FILE_PATH)))
        rescued = F.when(present, blob)
    return df.select(*[col(n).alias(n) for n, _ in state.columns], rescued.alias(RESCUED_COLUMN), "_metadata")


# ---------------------------------------------------------------------------------------------------
# CSV: the dialect, each file's header, one line split into fields (runs in the Python workers too)
# ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class CsvDialect:
    """How a spec's CSV files are split, from its options with Spark's defaults."""

    sep: str = ","
    quote: str = '"'
    escape: str = "\\"
    null_value: str = ""
    encoding: str = "utf-8"

    @classmethod
    def of(cls, options: dict[str, Any]) -> "CsvDialect":
        sep = _option(options, "sep") or _option(options, "delimiter") or ","
        sep = {"\\t": "\t", "\\u0001": "\x01"}.get(sep, sep)
        quote = _option(options, "quote")
        escape = _option(options, "escape")
        encoding = _option(options, "encoding") or _option(options, "charset") or "utf-8"
        return cls(sep=sep, quote='"' if quote is None else quote, escape="\\" if escape is None else escape,
                   null_value=_option(options, "nullValue") or "", encoding=encoding)

    def reader_kwargs(self) -> dict[str, Any]:
        if len(self.sep) != 1:
            raise PipelineDefinitionError(f"the local engine reads CSV with a one-character separator, not {self.sep!r}")
        if not self.quote:
            return {"delimiter": self.sep, "quoting": csv.QUOTE_NONE, "escapechar": None}
        same = self.escape == self.quote
        return {"delimiter": self.sep, "quotechar": self.quote, "doublequote": same,
                "escapechar": None if same or not self.escape else self.escape}

    def unsafe_characters(self) -> str:
        """A regex matching values that cannot be a number, date or boolean written unquoted."""
        chars = {c for c in self.sep + self.quote + self.escape + "\r\n" if c}
        return "[" + "".join("\\" + c if c in "\\]^-[" else c for c in sorted(chars)) + "]"

    def split(self, line: str) -> list[str]:
        rows = list(csv.reader([line], **self.reader_kwargs()))
        return rows[0] if rows else []


_HEADERS: dict[tuple[str, int], list[str]] = {}


def csv_file_header(dialect: CsvDialect, file: Path) -> list[str]:
    """The first row of a CSV file (its header, or its first record), as Spark names header columns:
    an empty name is `_c<i>`, a repeated one gets its position appended."""
    try:
        stamp = file.stat().st_mtime_ns
    except OSError:
        return []
    key = (str(file), stamp)
    if key not in _HEADERS:
        encoding = "utf-8-sig" if dialect.encoding.lower().replace("_", "-") in ("utf-8", "utf8") else dialect.encoding
        row: list[str] = []
        try:
            with file.open("r", encoding=encoding, errors="replace", newline="") as handle:
                row = next((r for r in csv.reader(handle, **dialect.reader_kwargs()) if r), [])
        except (OSError, csv.Error):
            pass
        names = [name or f"_c{i}" for i, name in enumerate(row)]
        repeated = {n.lower() for n in names if sum(m.lower() == n.lower() for m in names) > 1}
        _HEADERS[key] = [f"{n}{i}" if n.lower() in repeated else n for i, n in enumerate(names)]
    return _HEADERS[key]


def csv_record(dialect: CsvDialect, header: bool, columns: tuple[str, ...], file_path: str,
               line: str) -> dict[str, Any]:
    """One data line -> its field names and values (NULL for empty / `nullValue`), and whether it has as
    many fields as the file's first row (else it is incomplete, as Databricks calls it, and kept whole)."""
    first = csv_file_header(dialect, Path(unquote(urlparse(file_path).path)))
    try:
        values = dialect.split(line.lstrip("\ufeff"))
    except csv.Error:
        return {"names": [], "fields": [], "complete": False}
    if header:
        names = first
    else:
        names = list(columns[:len(first)]) + [f"_c{i}" for i in range(len(columns), len(first))]
    width = min(len(names), len(values))
    fields = [None if v == "" or v == dialect.null_value else v for v in values[:width]]
    return {"names": names[:width], "fields": fields, "complete": len(values) == len(first)}
