"""Materialized views: recompute a view only when what it was computed from changed — and then, where the
spec allows it, only the part that changed.

A view's *fingerprint* is the data version of every table it reads (through views, which hold no data:
`TableGraph.inputs`), its spec, and the environment's variables. It is saved beside the view's
checkpoint after each refresh; an update whose fingerprint matches leaves the view as it is
(UP_TO_DATE), as DLT does for a materialized view whose sources did not change.

Incremental refresh (`refresh:` in the spec, framework/pipeline/hints.py `IncrementalHint`): the view reads
one upstream table with a change data feed. The groups (`incremental_by` values) of the upstream rows
that changed since the last refresh are read from that feed; only the upstream rows of those groups are
transformed, and they replace only those groups' rows (`replaceWhere`), so a daily run costs what the
day's data costs, not what the table's history costs; when the view's file statistics show that it holds
no row of those groups yet (a new trading day), they are appended, which leaves the same table without
Delta listing the view's files to find what to replace (each appended row is checked to lie in those
groups, as replaceWhere checks its rows: a transform returning others fails the refresh). With `extends_by`, a group whose changes all come
after its last row is *extended*: the transform gets the group's new rows plus its latest
`context_rows` rows of the view as `previous`, and the new rows are appended. Anything the feed cannot
vouch for — no feed for those versions, the upstream rebuilt since, the definition changed, more
groups than a predicate should carry — falls back to the full recomputation, which gives the same
table (tests/engine/test_engine_incremental.py compares both paths).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.delta_log import data_version, is_delta_table, may_hold
from framework.engine.flows import FLOW_ID_FILE, ViewWrite, flow_identity
from framework.errors import FlowError
from framework.files import write_atomically
from framework.naming import TableRef, quote_name, sql_string

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

    from framework.engine.flows import FlowRun
    from framework.engine.plan import PlannedFlow
    from framework.engine.storage import Storage
    from framework.pipeline import IncrementalHint
    from framework.spec.environment import Environment
    from framework.spec.model import TableSpec
    from framework.spec.project import Project

STATE_FILE = "_inputs.json"
MAX_GROUPS = 5_000
"""More changed groups than this (a backfill) are recomputed in full: one pass beats a huge predicate."""


@dataclass(frozen=True)
class PartialRefresh:
    """The upstream rows to transform (`where`), the view's rows to continue from, and how to write."""

    where: str
    previous: "DataFrame | None"
    write: ViewWrite
    groups: int


class Materializer:
    def __init__(self, project: "Project", env: "Environment", storage: "Storage",
                 spark: "SparkSession | None" = None):
        """`spark` is needed only to refresh; deciding whether a view is current reads files alone."""
        self.project, self.env, self.storage, self.spark = project, env, storage, spark
        self.graph = project.graph()

    def refresh(self, item: "PlannedFlow", run: "FlowRun") -> bool:
        """Bring `item`'s view up to date (partially where possible). True if anything was recomputed."""
        assert item.flow is not None
        spec, state_path = item.spec, run.checkpoint / STATE_FILE
        fingerprint, definition = self.fingerprint(spec), self.definition(spec)
        if self.is_current(spec, fingerprint):
            return False
        saved = _read_state(state_path)
        exists = is_delta_table(run.table_path)
        hint: "IncrementalHint | None" = item.flow.target.hints.incremental
        upstream = self._upstream_state(hint) if hint else None
        if hint and exists and saved.get("definition") == definition:
            partial = self._partial(hint, saved.get("upstream") or {}, upstream, run)
            if partial is not None:
                if partial.groups:
                    self._write(run, hint.build(partial.where, partial.previous), partial.write)
                self._save(state_path, fingerprint, definition, upstream)
                return partial.groups > 0
        df = item.flow.source.query()
        if df.isStreaming:
            raise FlowError(f"{item.flow.name}: a materialized view needs a batch source (source.mode: batch)")
        self._write(run, df, None)
        self._save(state_path, fingerprint, definition, upstream)
        return True

    # -- fingerprints --------------------------------------------------------------------------------

    def is_current(self, spec: "TableSpec", fingerprint: str | None = None) -> bool:
        """True when the view exists and was computed from what it would be computed from now."""
        ref = TableRef.of(spec, self.env)
        state = ref.checkpoint / STATE_FILE
        if not (is_delta_table(ref.path) and state.is_file()):
            return False
        return _read_state(state).get("inputs") == (fingerprint or self.fingerprint(spec))


    def fingerprint(self, spec: "TableSpec") -> str:
        """What the view would be computed from now: each input's data version and identity (a rebuilt
        table starts its versions over), the spec and the variables."""
        inputs = {ref.published: self._input_state(ref)
                  for ref in (TableRef.of(self.project.tables[name], self.env) for name in self.graph.inputs(spec.name))}
        return _digest({"inputs": inputs, "definition": self.definition(spec)})

    def definition(self, spec: "TableSpec") -> str:
        """The view's definition: its spec, the variables it may use and, for a python transform, the
        source of the package that holds it (an edited function recomputes the view, as its spec would)."""
        document = spec.document.data if spec.document else repr(spec)
        payload: dict[str, Any] = {"spec": document, "variables": self.env.variables()}
        if spec.transform is not None and spec.transform.python:
            payload["code"] = transform_code_digest(self.project.root, spec)
        return _digest(payload)

    # -- incremental refresh -------------------------------------------------------------------------

    def _upstream_state(self, hint: "IncrementalHint") -> dict[str, Any]:
        return self._input_state(self.storage.ref(hint.upstream))

    @staticmethod
    def _input_state(ref: TableRef) -> dict[str, Any]:
        """A table's data version and identity: the flow identity that wrote it, new when it is rebuilt."""
        marker = ref.checkpoint / FLOW_ID_FILE
        return {"version": data_version(ref.path), "identity": flow_identity(ref.checkpoint) if marker.is_file()
                else None}

    def _partial(self, hint: "IncrementalHint", before: dict[str, Any], now: dict[str, Any],
                 run: "FlowRun") -> PartialRefresh | None:
        """What changed upstream since `before`, as a partial refresh; None when only a full one is safe."""
        from pyspark.sql import functions as F

        last, current = before.get("version"), now["version"]
        if before.get("identity") != now["identity"] or last is None or current is None or current < last:
            return None
        if current == last:
            return PartialRefresh("false", None, ViewWrite(append=True), 0)
        try:
            changes = (self.spark.read.format("delta").option("readChangeFeed", "true")
                       .option("startingVersion", last + 1).option("endingVersion", current)
                       .load(str(self.storage.table_path(hint.upstream))))
            keys = [F.col(f"`{c}`") for c in hint.incremental_by]
            if hint.extends_by:
                rows = changes.groupBy(*keys).agg(F.min(f"`{hint.extends_by}`").alias("first")).collect()
            else:
                rows = changes.select(*keys).distinct().collect()
        except Exception:  # noqa: BLE001 - no change feed for these versions: recompute in full
            return None
        if len(rows) > MAX_GROUPS:
            return None
        if not rows:
            return PartialRefresh("false", None, ViewWrite(append=True), 0)
        groups = [tuple(row[c] for c in hint.incremental_by) for row in rows]
        if not hint.extends_by:
            where = _any_group(hint.incremental_by, groups)
            write = (ViewWrite(append=True, within=where) if self._all_new(run, hint, groups)
                     else ViewWrite(replace_where=where))
            return PartialRefresh(where, None, write, len(groups))
        firsts = {group: row["first"] for group, row in zip(groups, rows)}
        ends = self._group_ends(run, hint, groups)
        extended = {g: ends[g] for g in groups if ends.get(g) is not None and firsts[g] is not None
                    and firsts[g] > ends[g]}
        recomputed = [g for g in groups if g not in extended]
        terms = [_group_term(hint.incremental_by, g) for g in recomputed]
        terms += [f"({_group_term(hint.incremental_by, g)} AND `{hint.extends_by}` > {sql_literal(end)})"
                  for g, end in extended.items()]
        where = " OR ".join(terms)
        previous = self._context(run, hint, list(extended)) if extended else None
        write = ViewWrite(append=True) if not recomputed else ViewWrite(replace_where=where)
        return PartialRefresh(where, previous, write, len(groups))

    @staticmethod
    def _all_new(run: "FlowRun", hint: "IncrementalHint", groups: list[tuple]) -> bool:
        """True when the view's files' statistics show no row of any of `groups` (e.g. a new trading day):
        their rows are then appended, which writes the same table as replacing those (absent) groups
        without Delta reconstructing the view's file list to find what to replace. Read from the Delta
        log; False whenever the statistics cannot tell."""
        boxes = [{column: (value, value) for column, value in zip(hint.incremental_by, group)} for group in groups]
        if any(isinstance(v, (datetime, float, bool)) or v is None for box in boxes for v, _ in box.values()):
            return False  # timestamps come back zone-less; floats and booleans are not compared there
        return may_hold(run.table_path, boxes) is False  # type: ignore[arg-type]

    def _group_ends(self, run: "FlowRun", hint: "IncrementalHint", groups: list[tuple]) -> dict[tuple, Any]:
        """The last `extends_by` value of each group in the view as it is."""
        from pyspark.sql import functions as F

        assert hint.extends_by
        view = self.spark.read.format("delta").load(str(run.table_path))
        rows = (view.where(_any_group(hint.incremental_by, groups))
                .groupBy(*[F.col(f"`{c}`") for c in hint.incremental_by])
                .agg(F.max(f"`{hint.extends_by}`").alias("end")).collect())
        return {tuple(row[c] for c in hint.incremental_by): row["end"] for row in rows}

    def _context(self, run: "FlowRun", hint: "IncrementalHint", groups: list[tuple]) -> "DataFrame":
        """Each extended group's latest `context_rows` rows of the view: what its transform continues from."""
        from pyspark.sql import Window
        from pyspark.sql import functions as F

        assert hint.extends_by
        latest = Window.partitionBy(*[F.col(f"`{c}`") for c in hint.incremental_by]) \
            .orderBy(F.col(f"`{hint.extends_by}`").desc())
        view = self.spark.read.format("delta").load(str(run.table_path))
        return (view.where(_any_group(hint.incremental_by, groups))
                .withColumn("_medallion_rank", F.row_number().over(latest))
                .where(F.col("_medallion_rank") <= hint.context_rows).drop("_medallion_rank"))

    # -- writing -------------------------------------------------------------------------------------

    @staticmethod
    def _write(run: "FlowRun", df: "DataFrame", write: ViewWrite | None) -> None:
        run.prepare(df)
        run.view_write = write
        try:
            run.process_batch(df, None)
        finally:
            run.view_write = None

    @staticmethod
    def _save(path: Path, fingerprint: str, definition: str, upstream: dict[str, Any] | None) -> None:
        write_atomically(path, json.dumps({"inputs": fingerprint, "definition": definition, "upstream": upstream}))


def transform_code_digest(root: Path, spec: "TableSpec") -> str | None:
    """A digest of the python files of the top-level package (or module) holding the spec's python
    transform, found under the project root as `register_tables` imports it; None when not found there."""
    python = spec.transform.python if spec.transform is not None else None
    if not python:
        return None
    package = python.split(":", 1)[0].split(".", 1)[0]
    folder, module = root / package, root / f"{package}.py"
    if folder.is_dir():
        files = sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)
    else:
        files = [module] if module.is_file() else []
    if not files:
        return None
    digest = hashlib.sha256()
    for file in files:
        digest.update(str(file.relative_to(root)).encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    """The saved state of a view ({} when missing or unreadable: the view is then recomputed in full)."""
    try:
        state = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _digest(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _group_term(columns: tuple[str, ...], values: tuple) -> str:
    parts = [f"{quote_name(c)} IS NULL" if v is None else f"{quote_name(c)} = {sql_literal(v)}"
             for c, v in zip(columns, values)]
    return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"


def _any_group(columns: tuple[str, ...], groups: list[tuple]) -> str:
    """A predicate true for the rows of any of `groups` (`col IN (...)` for one column)."""
    if len(columns) == 1 and all(g[0] is not None for g in groups):
        return f"{quote_name(columns[0])} IN ({', '.join(sql_literal(g[0]) for g in groups)})"
    return " OR ".join(_group_term(columns, g) for g in groups)


def sql_literal(value: Any) -> str:
    """A Spark SQL literal for a value collected from a row."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return f"TIMESTAMP{sql_string(value.isoformat(sep=' '))}"
    if isinstance(value, date):
        return f"DATE{sql_string(value.isoformat())}"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, float):
        return f"CAST({sql_string(repr(value))} AS DOUBLE)"
    return sql_string(str(value))
