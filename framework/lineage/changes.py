"""Change impact: what an edit to the specs changes, what Databricks must rebuild, and what it breaks.

`compare(old, new)` takes two projects (the specs at a git revision and the working tree) and says, per
changed table, what changed (columns added, removed, retyped; keys; dedupe; source; expectations;
transform; refresh settings) and the consequence:

* `safe`: the next update applies it;
* `full_refresh`: Databricks requires a full refresh of the table (and of the tables reading it) — the
  rules and the Databricks pages they come from are in docs/databricks-fidelity.md (change-impact);
* `breaking`: a reader uses a column that was removed or whose type was narrowed (or changed to an
  incompatible type): located at the reader's YAML line through column lineage.

It also lists the downstream tables and columns the change reaches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Literal

from framework.graph import TableGraph
from framework.lineage.columns import ColumnLineage, ColumnRef, Reference
from framework.spec.model import Column, FilesSource, SqlSource, TablesSource, TableSpec
from framework.spec.project import Project

Consequence = Literal["safe", "full_refresh", "breaking"]
CONSEQUENCES: tuple[Consequence, ...] = ("safe", "full_refresh", "breaking")

FULL_REFRESH_PAGE = "Full refresh for streaming tables"
TYPE_WIDENING_PAGE = "Type widening"
AUTO_CDC_PAGE = "AUTOCDC_INVALID_STATE error condition (KEY_SCHEMA_DRIFT)"
TYPE_WIDENING_PROPERTY = "delta.enableTypeWidening"

# ------------------------------------------------------------------------------------------ types

WIDER: dict[str, tuple[str, ...]] = {
    "TINYINT": ("SMALLINT", "INT", "BIGINT", "DECIMAL", "DOUBLE"),
    "SMALLINT": ("INT", "BIGINT", "DECIMAL", "DOUBLE"),
    "INT": ("BIGINT", "DECIMAL", "DOUBLE"),
    "BIGINT": ("DECIMAL",),
    "FLOAT": ("DOUBLE",),
    "DECIMAL": ("DECIMAL",),
    "DATE": ("TIMESTAMP_NTZ",),
}
"""Type widening as Databricks documents it (page "Type widening"): each type -> the types it may widen to
without rewriting data. A change the other way is a narrowing."""
MIN_DECIMAL = {"TINYINT": (3, 0), "SMALLINT": (5, 0), "INT": (10, 0), "BIGINT": (20, 0)}
"""The narrowest DECIMAL each integer type widens to (page "Type widening": decimal(10,0) for int, (20,0) for long)."""
_ALIASES = {"BYTE": "TINYINT", "SHORT": "SMALLINT", "INTEGER": "INT", "LONG": "BIGINT", "REAL": "FLOAT",
            "DEC": "DECIMAL", "NUMERIC": "DECIMAL", "BOOL": "BOOLEAN", "VARCHAR": "STRING", "CHAR": "STRING",
            "TIMESTAMP_LTZ": "TIMESTAMP"}
_TYPE = re.compile(r"\s*([A-Za-z_]+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")

TypeChange = Literal["widened", "narrowed", "changed"]


def _parse_type(text: str) -> tuple[str, int | None, int | None] | None:
    match = _TYPE.match(text)
    if not match:
        return None
    name = _ALIASES.get(match.group(1).upper(), match.group(1).upper())
    precision = int(match.group(2)) if match.group(2) else None
    scale = int(match.group(3)) if match.group(3) else (0 if precision is not None else None)
    if name == "DECIMAL" and precision is None:
        precision, scale = 10, 0
    return name, precision, scale


def _widens(old: tuple[str, int | None, int | None], new: tuple[str, int | None, int | None]) -> bool:
    if new[0] not in WIDER.get(old[0], ()):
        return False
    if new[0] != "DECIMAL":
        return True
    p, s = (old[1] or 0, old[2] or 0) if old[0] == "DECIMAL" else MIN_DECIMAL[old[0]]
    p2, s2 = new[1] or 10, new[2] or 0
    return p2 - p >= s2 - s >= 0  # decimal(p, s) -> decimal(p + k1, s + k2) iff k1 >= k2 >= 0


def type_change(old: str, new: str) -> TypeChange | None:
    """None when both texts name the same type; else widened, narrowed (the reverse of a widening) or
    changed (anything else: STRING -> INT, INT -> STRING, ...)."""
    a, b = _parse_type(old), _parse_type(new)
    if a is None or b is None:
        return None if old.replace(" ", "").upper() == new.replace(" ", "").upper() else "changed"
    if a == b:
        return None
    if _widens(a, b):
        return "widened"
    if _widens(b, a):
        return "narrowed"
    return "changed"


# ------------------------------------------------------------------------------------------ report

@dataclass(frozen=True)
class Change:
    kind: str
    """table_added, table_removed, column_added, column_removed, column_widened, column_narrowed,
    column_retyped, keys, dedupe, source, kind, transform, expectations, refresh, layout, properties."""
    detail: str
    consequence: Consequence
    reason: str
    """Why this consequence (naming the Databricks page it follows)."""
    file: str
    line: int
    col: int
    column: str = ""


@dataclass(frozen=True)
class Break:
    """A reader that uses a removed or narrowed column, at the line where it uses it."""

    column: ColumnRef
    reference: Reference
    why: str


@dataclass
class TableImpact:
    table: str
    status: Literal["added", "removed", "changed"]
    changes: list[Change] = field(default_factory=list)
    breaks: list[Break] = field(default_factory=list)
    downstream_tables: list[str] = field(default_factory=list)
    downstream_columns: list[ColumnRef] = field(default_factory=list)
    refresh_with: list[str] = field(default_factory=list)
    """Tables that must be fully refreshed with this one (its readers, as Databricks requires)."""
    notes: list[str] = field(default_factory=list)

    @property
    def consequence(self) -> Consequence:
        ranks = [CONSEQUENCES.index(c.consequence) for c in self.changes]
        if self.breaks:
            ranks.append(CONSEQUENCES.index("breaking"))
        return CONSEQUENCES[max(ranks, default=0)]


@dataclass
class Impact:
    tables: list[TableImpact]

    @property
    def consequence(self) -> Consequence:
        return CONSEQUENCES[max((CONSEQUENCES.index(t.consequence) for t in self.tables), default=0)]

    @property
    def modified(self) -> list[str]:
        """The tables that exist now and changed (dbt's `state:modified`)."""
        return [t.table for t in self.tables if t.status != "removed"]


# ------------------------------------------------------------------------------------------ compare

def compare(old: Project, new: Project) -> Impact:
    """What changed from `old` to `new`, table by table, with consequences and the downstream reach."""
    impacts: list[TableImpact] = []
    changed: dict[str, TableImpact] = {}
    for name in sorted(set(old.tables) | set(new.tables)):
        before, after = old.tables.get(name), new.tables.get(name)
        if after is None:
            assert before is not None
            impact = TableImpact(name, "removed", [Change("table_removed", f"table `{name}` removed", "safe",
                                                          "nothing reads it any more", before.file, 1, 1)])
        elif before is None:
            impact = TableImpact(name, "added", [Change("table_added", f"table `{name}` added", "safe",
                                                        "a new table is created by the next update",
                                                        after.file, 1, 1)])
        else:
            changes = list(_table_changes(before, after))
            if not changes:
                continue
            impact = TableImpact(name, "changed", changes)
        impacts.append(impact)
        changed[name] = impact
    if not impacts:
        return Impact([])
    traced = _with_old_columns(old, new, changed)
    _locate_breaks(traced, new, changed)
    graph = TableGraph(new.tables)
    lineage = ColumnLineage(traced)
    for impact in impacts:
        if impact.status == "removed":
            continue
        impact.downstream_tables = sorted(graph.closure([impact.table], upstream=False) - {impact.table})
        touched = [c.column for c in impact.changes if c.column]
        columns: set[ColumnRef] = set()
        for column in touched:
            for _, edge in lineage.downstream(ColumnRef(impact.table, column)):
                columns.add(edge.target)
        impact.downstream_columns = sorted(columns)
        if any(c.consequence == "full_refresh" for c in impact.changes):
            impact.refresh_with = impact.downstream_tables
    return Impact(impacts)


def _at(spec: TableSpec, path: tuple) -> tuple[str, int, int]:
    if spec.document is None:
        return spec.file, 1, 1
    try:
        line, col = spec.document.where(path)
    except (KeyError, IndexError):
        line, col = 1, 1
    return spec.file, line, col


def _column_path(spec: TableSpec, name: str) -> tuple:
    for index, column in enumerate(spec.columns):
        if column.name == name:
            return ("columns", index)
    return ("columns",)


def _auto_cdc(spec: TableSpec) -> bool:
    """Keys with `dedupe` make a streaming table an AUTO CDC target (pipeline/declare.py)."""
    return spec.is_streaming and bool(spec.keys) and spec.dedupe_sequence_by is not None


def _table_changes(old: TableSpec, new: TableSpec):
    streaming = new.is_streaming and old.is_streaming
    kind_word = "streaming table" if streaming else new.kind.replace("_", " ")
    # --- columns
    before = {c.name.lower(): c for c in old.columns}
    after = {c.name.lower(): c for c in new.columns}
    for key, column in after.items():
        if key not in before:
            yield Change("column_added", f"column `{column.name}` {column.type} added", "safe",
                         "adding a column is backward compatible (schema evolution)",
                         *_at(new, _column_path(new, column.name)), column=column.name)
    for key, column in before.items():
        if key not in after:
            consequence: Consequence = "full_refresh" if streaming else "safe"
            reason = (f"hard-deleting a column from a streaming table needs a full refresh ({FULL_REFRESH_PAGE})"
                      if streaming else f"a {kind_word} is recomputed from its query")
            yield Change("column_removed", f"column `{column.name}` removed", consequence, reason,
                         *_at(new, ("columns",)), column=column.name)
    for key, column in after.items():
        if key in before:
            yield from _column_change(old, new, before[key], column, streaming, kind_word)
    # --- keys, dedupe
    if old.keys != new.keys:
        cdc = _auto_cdc(old) or _auto_cdc(new)
        yield Change("keys", f"keys {list(old.keys)} -> {list(new.keys)}", "full_refresh" if cdc else "safe",
                     f"an AUTO CDC target's keys cannot change across incremental updates ({AUTO_CDC_PAGE}; "
                     f"{FULL_REFRESH_PAGE})" if cdc else "keys only drive duplicate checks here (no AUTO CDC)",
                     *_at(new, ("keys",) if new.keys else ("name",)))
    if old.dedupe_sequence_by != new.dedupe_sequence_by:
        full = (old.is_streaming and bool(old.keys)) or (new.is_streaming and bool(new.keys))
        yield Change("dedupe", f"dedupe.sequence_by {old.dedupe_sequence_by!r} -> {new.dedupe_sequence_by!r}",
                     "full_refresh" if full else "safe",
                     f"changing the de-duplication columns or logic needs a full refresh ({FULL_REFRESH_PAGE})"
                     if full else "no de-duplication state is kept", *_at(new, ("dedupe",) if new.dedupe_sequence_by
                                                                          else ("name",)))
    # --- source, kind
    if old.source != new.source:
        yield _source_change(old, new, streaming)
    if old.kind != new.kind:
        yield Change("kind", f"kind {old.kind} -> {new.kind}", "full_refresh",
                     "the dataset is dropped and created as another type", *_at(new, ("name",)))
    # --- transform
    if old.transform != new.transform:
        old_t, new_t = old.transform, new.transform
        what = "transform changed"
        if (old_t and old_t.python) != (new_t and new_t.python) or (old_t and old_t.sql) != (new_t and new_t.sql):
            what = "transform logic changed"
        elif old_t is not None and new_t is not None and old_t.lineage != new_t.lineage:
            what = "transform.lineage changed"
        yield Change("transform", what, "safe",
                     "new logic applies to rows processed from now on; earlier rows of a streaming table keep the "
                     f"old logic until a full refresh ({FULL_REFRESH_PAGE}: stateful changes need one)"
                     if streaming else f"a {kind_word} is recomputed from its query",
                     *_at(new, ("transform",) if new.transform else ("name",)))
    # --- expectations
    old_rules = {e.name: e for e in old.expectations}
    new_rules = {e.name: e for e in new.expectations}
    for name in sorted(set(old_rules) | set(new_rules)):
        if old_rules.get(name) != new_rules.get(name):
            state = "added" if name not in old_rules else "removed" if name not in new_rules else "changed"
            yield Change("expectations", f"expectation `{name}` {state}", "safe",
                         "expectations apply to rows processed from now on", *_at(new, ("expectations",)
                                                                                  if new.expectations else ("name",)))
    # --- refresh settings and layout
    if old.refresh != new.refresh:
        yield Change("refresh", "refresh settings changed", "safe", "the local incremental refresh settings",
                     *_at(new, ("refresh",) if new.refresh else ("name",)))
    if old.partition_by != new.partition_by or (old.partition_by and (new.cluster_by or new.cluster_by_auto)):
        yield Change("layout", f"partition_by {list(old.partition_by)} -> {list(new.partition_by)}",
                     "full_refresh" if streaming else "safe",
                     f"changing the physical layout (partitions, migrating to clustering) needs a full refresh "
                     f"({FULL_REFRESH_PAGE})" if streaming else f"a {kind_word} is rewritten when recomputed",
                     *_at(new, ("name",)))
    elif (old.cluster_by, old.cluster_by_auto, old.zorder_by) != (new.cluster_by, new.cluster_by_auto, new.zorder_by):
        yield Change("layout", "clustering changed", "safe", "clustering keys apply to data written from now on",
                     *_at(new, ("name",)))
    if old.table_properties != new.table_properties or old.on_type_error != new.on_type_error:
        yield Change("properties", "table properties or on_type_error changed", "safe",
                     "applied by the next update", *_at(new, ("name",)))


def _column_change(old: TableSpec, new: TableSpec, before: Column, after: Column, streaming: bool, kind_word: str):
    path = _column_path(new, after.name)
    change = type_change(before.type, after.type)
    if change == "widened":
        widening = new.table_properties.get(TYPE_WIDENING_PROPERTY, "false").lower() == "true"
        full = streaming and not widening
        yield Change("column_widened", f"column `{after.name}` widened {before.type} -> {after.type}",
                     "full_refresh" if full else "safe",
                     f"a streaming table changes a column's type in place only with {TYPE_WIDENING_PROPERTY} = true "
                     f"({TYPE_WIDENING_PAGE}); without it, a full refresh" if full else
                     f"a widening type change ({TYPE_WIDENING_PAGE}); readers see a wider type",
                     *_at(new, path + ("type",)), column=after.name)
    elif change is not None:
        word = "narrowed" if change == "narrowed" else "retyped"
        yield Change(f"column_{word}", f"column `{after.name}` {word} {before.type} -> {after.type}",
                     "full_refresh" if streaming else "safe",
                     f"a narrowing or incompatible type change of a streaming table needs a full refresh "
                     f"({FULL_REFRESH_PAGE})" if streaming else f"a {kind_word} is recomputed from its query",
                     *_at(new, path + ("type",)), column=after.name)
    if before.name != after.name:
        yield Change("column_renamed", f"column `{before.name}` renamed `{after.name}` (case)",
                     "full_refresh" if streaming else "safe",
                     f"renaming a column without column mapping needs a full refresh ({FULL_REFRESH_PAGE})"
                     if streaming else f"a {kind_word} is recomputed", *_at(new, path + ("name",)), column=after.name)
    if before.nullable != after.nullable:
        yield Change("column_nullability", f"column `{after.name}` nullable {before.nullable} -> {after.nullable}",
                     "safe", "checked on rows written from now on", *_at(new, path), column=after.name)


def _source_change(old: TableSpec, new: TableSpec, streaming: bool) -> Change:
    a, b = old.source, new.source
    where = _at(new, ("source",))
    if type(a) is not type(b):
        detail = f"source switched from {_source_word(a)} to {_source_word(b)}"
        essential = True
    elif isinstance(a, FilesSource) and isinstance(b, FilesSource):
        essential = (a.path, a.format) != (b.path, b.format)
        detail = f"files source {a.path} ({a.format}) -> {b.path} ({b.format})" if essential else "reader options changed"
    elif isinstance(a, TablesSource) and isinstance(b, TablesSource):
        essential = (set(a.tables), a.mode) != (set(b.tables), b.mode)
        detail = f"source tables {list(a.tables)} ({a.mode}) -> {list(b.tables)} ({b.mode})"
    else:
        essential = False
        detail = "source SQL changed"
    if streaming and essential:
        return Change("source", detail, "full_refresh", "changing the source a streaming query reads (its table, "
                      f"type or location) needs a full refresh ({FULL_REFRESH_PAGE})", *where)
    return Change("source", detail, "safe", "the checkpoint still matches the source" if streaming
                  else "recomputed from the new source", *where)


def _source_word(source) -> str:
    return {FilesSource: "files", TablesSource: "tables", SqlSource: "sql"}[type(source)]


# ------------------------------------------------------------------------------------------ breaks

def _gone(impacts: dict[str, TableImpact]) -> dict[ColumnRef, str]:
    """Columns removed ("removed") or narrowed / incompatibly retyped (the change, as `A -> B`)."""
    gone: dict[ColumnRef, str] = {}
    for impact in impacts.values():
        if impact.status == "removed":
            continue
        for change in impact.changes:
            if change.kind == "column_removed":
                gone[ColumnRef(impact.table, change.column)] = "removed"
            elif change.kind in ("column_narrowed", "column_retyped"):
                gone[ColumnRef(impact.table, change.column)] = change.detail.split("`", 2)[-1].strip()
    return gone


def _with_old_columns(old: Project, new: Project, impacts: dict[str, TableImpact]) -> Project:
    """The new project, with each changed table also keeping the columns it lost: a reader's use of a
    removed column then still resolves, so it can be located and followed downstream."""
    tables = dict(new.tables)
    for name, impact in impacts.items():
        if impact.status != "changed":
            continue
        before, after = old.tables[name], new.tables[name]
        names = {c.name.lower() for c in after.columns}
        lost = tuple(c for c in before.columns if c.name.lower() not in names)
        if lost:
            tables[name] = replace(after, columns=tuple(after.columns) + lost)
    return replace(new, tables=tables)


def _locate_breaks(traced: Project, new: Project, impacts: dict[str, TableImpact]) -> None:
    """Readers (in the new specs) of removed, narrowed or incompatibly retyped columns, at their lines."""
    gone = _gone(impacts)
    if not gone:
        return
    lineage = ColumnLineage(traced)
    by_key = {(ref.table, ref.column.lower()): (ref, why) for ref, why in gone.items()}
    for table in sorted({ref.table for ref in gone}):
        for reader in lineage.readers(table):
            if reader not in new.tables:
                continue
            for reference in lineage.table(reader).references:
                hit = by_key.get((reference.column.table, reference.column.column.lower()))
                if hit is None:
                    continue
                ref, why = hit
                what = "was removed" if why == "removed" else f"was {why}"
                impacts[ref.table].breaks.append(Break(ref, reference, f"`{reader}` reads `{ref}`, which {what}"))
        for reader in lineage.readers(table):
            if reader in new.tables and lineage.table(reader).opaque:
                impacts[table].notes.append(f"`{reader}` is not traced ({lineage.table(reader).opaque}): check by "
                                            "hand whether it uses the changed columns")
