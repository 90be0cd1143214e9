"""What a `--tables` selection leaves behind: upstreams with input they have not processed yet.

`medallion run --tables daily_bars` runs only `daily_bars` (dbt's plain selection). When a table it
reads from — directly or through others — is not selected and has unprocessed input, the run must say
so and how to include it, instead of reporting `up_to_date` over stale data. Three kinds of input are
recognised, each read from disk without a Spark job:

* a table reading landing files: files in its landing folder that its stream has not listed yet
  (the file source's log under the checkpoint: `sources/0/<n>` and `<n>.compact`);
* a streaming table reading tables: an upstream whose last data-changing version is past what the
  stream's last committed micro-batch consumed (the Delta source offset in `offsets/<batch>`);
* a materialized view: its inputs or definition changed since it was computed (`Materializer`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from framework.delta_log import data_version, is_delta_table
from framework.pipeline.query import landing_files
from framework.engine.materialize import Materializer
from framework.engine.results import PendingInput
from framework.engine.storage import Storage, newest_batch
from framework.naming import TableRef
from framework.spec.environment import substitute
from framework.spec.model import FilesSource, TablesSource, TableSpec

if TYPE_CHECKING:
    from framework.spec.environment import Environment
    from framework.spec.project import Project

END_INDEX = 9223372036854775807
"""A Delta source offset `index` meaning every file of `reservoirVersion` was read (Long.MaxValue)."""


def left_out_inputs(project: "Project", env: "Environment", selected: set[str]) -> list[PendingInput]:
    """Upstreams of the selected tables that are not selected and have unprocessed input, in graph order."""
    graph = project.graph()
    materializer = Materializer(project, env, Storage.of(env))
    found = []
    for name, readers in graph.left_out_upstreams(selected).items():
        spec = project.tables[name]
        if spec.kind == "view":
            continue  # no data of its own; what it reads is checked on its own
        pending = _pending(spec, env, project, materializer)
        if pending is not None:
            kind, detail, count = pending
            found.append(PendingInput(name, kind, detail, tuple(readers), count))
    return found


def _pending(spec: TableSpec, env: "Environment", project: "Project",
             materializer: Materializer) -> tuple[str, str, int | None] | None:
    ref = TableRef.of(spec, env)
    stream = ref.checkpoint / "stream"
    if isinstance(spec.source, FilesSource):
        new = new_landing_files(substitute(spec.source.path, env.variables()), stream)
        return ("landing_files", f"{len(new)} new landing file(s)", len(new)) if new else None
    if spec.is_streaming and isinstance(spec.source, TablesSource):
        behind = {name: versions for name in spec.source.tables
                  if (versions := unconsumed_versions(TableRef.of(project.tables[name], env).path, stream,
                                                      spec.source.tables.index(name))) > 0}
        if not behind:
            return None
        shown = ", ".join(f"{n} ({v} version(s))" for n, v in behind.items())
        return "upstream_data", f"unprocessed data from {shown}", sum(behind.values())
    if spec.kind == "materialized_view" and not materializer.is_current(spec):
        return "inputs_changed", "inputs (or a definition) that changed since it was computed", None
    return None


def new_landing_files(path: str, stream_checkpoint: Path) -> list[Path]:
    """Files of the landing folder that the stream's file source has not listed yet."""
    listed = ingested_files(stream_checkpoint)
    return [f for f in landing_files(path) if str(f.resolve()) not in listed]


def ingested_files(stream_checkpoint: Path) -> set[str]:
    """Local paths of every file the file source listed (its log: `sources/0/<n>`, `<n>.compact`)."""
    log = stream_checkpoint / "sources" / "0"
    paths: set[str] = set()
    if not log.is_dir():
        return paths
    for file in log.iterdir():
        if file.name.startswith("."):
            continue
        for line in file.read_text(errors="replace").splitlines()[1:]:
            try:
                uri = urlparse(json.loads(line)["path"])
            except (ValueError, KeyError, TypeError):
                continue
            if uri.scheme in ("", "file"):
                paths.add(str(Path(unquote(uri.path)).resolve()))
    return paths


def unconsumed_versions(upstream: Path, stream_checkpoint: Path, position: int) -> int:
    """Data-changing versions of `upstream` past what the stream's last committed batch consumed.

    The stream's offsets of its last committed micro-batch hold one Delta source offset per source;
    `position` is the source's place in the spec's `source.tables` (the stream unions them in order).
    A stream that never committed has consumed nothing.
    """
    latest = data_version(upstream) if is_delta_table(upstream) else None
    if latest is None:
        return 0
    offset = _source_offset(stream_checkpoint, position)
    if offset is None:
        return latest + 1
    version, index = int(offset.get("reservoirVersion", 0)), int(offset.get("index", -1))
    consumed = version if index == END_INDEX else version - 1
    return max(latest - consumed, 0)


def _source_offset(stream_checkpoint: Path, position: int) -> dict | None:
    """The Delta source offset number `position` of the last committed batch, or None."""
    committed = newest_batch(stream_checkpoint, "commits")
    if committed is None:
        return None
    offsets = stream_checkpoint / "offsets" / str(committed)
    if not offsets.is_file():
        return None
    lines = offsets.read_text(errors="replace").splitlines()[2:]  # "v1", the batch metadata, then one per source
    if position >= len(lines):
        return None
    try:
        offset = json.loads(lines[position])
    except ValueError:
        return None
    return offset if isinstance(offset, dict) else None
