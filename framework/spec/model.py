"""The typed model of a table spec, built only from documents that passed the JSON Schema.

Everything downstream (graph, engine, bundle, docs) reads these objects, never raw YAML. Defaults that
depend on other fields (the kind of a dataset, the read mode of a source) are resolved here, once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from framework.spec.checks import TableChecks, build_checks
from framework.spec.documents import Document

Layer = Literal["bronze", "silver", "gold"]
LAYERS: tuple[Layer, ...] = ("bronze", "silver", "gold")
Kind = Literal["streaming_table", "materialized_view", "view"]
Action = Literal["warn", "drop", "fail", "quarantine"]
TypeErrorAction = Literal["fail", "quarantine"]
"""What a value that cannot be cast to its declared column type does (`on_type_error`)."""
CLUSTER_BY_AUTO = "auto"
"""`cluster_by: auto` — automatic liquid clustering instead of a list of clustering columns."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = True
    description: str = ""
    on_type_error: TypeErrorAction | None = None
    """None: the table's `on_type_error`."""


@dataclass(frozen=True)
class Expectation:
    name: str
    rule: str
    action: Action
    description: str = ""


@dataclass(frozen=True)
class FilesSource:
    path: str
    format: str
    options: dict[str, Any] = field(default_factory=dict)
    schema_evolution: str = "rescue"
    max_files_per_trigger: int | None = None


@dataclass(frozen=True)
class TablesSource:
    tables: tuple[str, ...]
    mode: Literal["stream", "batch"] = "stream"


@dataclass(frozen=True)
class SqlSource:
    sql: str


Source = FilesSource | TablesSource | SqlSource


@dataclass(frozen=True)
class Refresh:
    """`refresh:` of a materialized view: which groups the local runtime may recompute alone."""

    incremental_by: tuple[str, ...]
    extends_by: str | None = None
    context_rows: int = 1


@dataclass(frozen=True)
class Transform:
    sql: str | None = None
    python: str | None = None
    lineage: dict[str, tuple[str, ...]] = field(default_factory=dict, hash=False)
    """`transform.lineage` of a Python transform: output column -> the columns it is computed from
    (`column` of the source or `table.column`); empty: the transform is opaque to column lineage."""


@dataclass
class TableSpec:
    """One table of the pipeline, as declared in tables/<layer>/<name>.yaml."""

    name: str
    layer: Layer
    description: str
    source: Source
    columns: tuple[Column, ...]
    kind: Kind
    owner: str = ""
    tags: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    transform: Transform | None = None
    dedupe_sequence_by: str | None = None
    refresh: Refresh | None = None
    expectations: tuple[Expectation, ...] = ()
    zorder_by: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    """Liquid clustering columns (`cluster_by: [cols]`); empty for `cluster_by: auto`."""
    cluster_by_auto: bool = False
    """`cluster_by: auto`: automatic liquid clustering, Databricks picks the keys (CLUSTER BY AUTO)."""
    partition_by: tuple[str, ...] = ()
    table_properties: dict[str, str] = field(default_factory=dict)
    grants: tuple[dict[str, Any], ...] = ()
    quality: dict[str, Any] = field(default_factory=dict)
    checks: TableChecks = field(default_factory=TableChecks)
    """The quality checks declared in `checks:` (framework/spec/checks.py)."""
    on_type_error: TypeErrorAction = "fail"
    upstreams: tuple[str, ...] = ()
    """Names of the tables this one reads (from `source.tables` or the tables named in `source.sql`)."""
    document: Document | None = field(default=None, repr=False, compare=False)

    @property
    def file(self) -> str:
        return self.document.file if self.document else f"<{self.name}>"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def reads_files(self) -> bool:
        return isinstance(self.source, FilesSource)

    @property
    def is_streaming(self) -> bool:
        return self.kind == "streaming_table"

    @property
    def quarantine_table(self) -> str | None:
        """Name of the side table that receives rows failing `quarantine` expectations (or uncastable values)."""
        quarantines = any(e.action == "quarantine" for e in self.expectations) or self.quarantines_type_errors
        return f"{self.name}_quarantine" if quarantines else None

    def type_error_action(self, column: Column) -> TypeErrorAction:
        """What an uncastable value of `column` does: the column's setting, else the table's; views fail
        (they have no quarantine table)."""
        if self.kind == "view":
            return "fail"
        return column.on_type_error or self.on_type_error

    @property
    def quarantines_type_errors(self) -> bool:
        return any(self.type_error_action(c) == "quarantine" for c in self.columns)

    def expectations_with(self, action: Action) -> tuple[Expectation, ...]:
        return tuple(e for e in self.expectations if e.action == action)


def default_kind(source: Source) -> Kind:
    """As in DLT: incremental sources make streaming tables, full recomputation makes materialized views."""
    if isinstance(source, FilesSource):
        return "streaming_table"
    if isinstance(source, TablesSource) and source.mode == "stream":
        return "streaming_table"
    return "materialized_view"


def _stringify(value: Any) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def build_source(raw: dict[str, Any]) -> Source:
    if "files" in raw:
        f = raw["files"]
        return FilesSource(path=f["path"], format=f["format"], options=dict(f.get("options", {})),
                           schema_evolution=f.get("schema_evolution", "rescue"),
                           max_files_per_trigger=f.get("max_files_per_trigger"))
    if "tables" in raw:
        return TablesSource(tables=tuple(raw["tables"]), mode=raw.get("mode", "stream"))
    return SqlSource(sql=raw["sql"])


def build_refresh(raw: dict[str, Any]) -> Refresh:
    return Refresh(tuple(raw["incremental_by"]), raw.get("extends_by"), int(raw.get("context_rows", 1)))


def build_transform(raw: dict[str, Any]) -> Transform:
    return Transform(raw.get("sql"), raw.get("python"),
                     {column: tuple(inputs) for column, inputs in raw.get("lineage", {}).items()})


def build_table(data: dict[str, Any], document: Document | None = None) -> TableSpec:
    """Build a TableSpec from a document that already passed the JSON Schema."""
    source = build_source(data["source"])
    transform = build_transform(data["transform"]) if "transform" in data else None
    return TableSpec(
        name=data["name"],
        layer=data["layer"],
        description=data["description"].strip(),
        source=source,
        columns=tuple(Column(c["name"], c["type"], c.get("nullable", True), c.get("description", "").strip(),
                             c.get("on_type_error")) for c in data["columns"]),
        kind=data.get("kind") or default_kind(source),
        owner=data.get("owner", ""),
        tags=tuple(data.get("tags", ())),
        keys=tuple(data.get("keys", ())),
        transform=transform,
        dedupe_sequence_by=(data.get("dedupe") or {}).get("sequence_by"),
        refresh=build_refresh(data["refresh"]) if "refresh" in data else None,
        expectations=tuple(Expectation(e["name"], e["rule"].strip(), e["action"], e.get("description", "").strip())
                           for e in data.get("expectations", ())),
        zorder_by=tuple(data.get("zorder_by", ())),
        cluster_by=() if data.get("cluster_by") == CLUSTER_BY_AUTO else tuple(data.get("cluster_by", ())),
        cluster_by_auto=data.get("cluster_by") == CLUSTER_BY_AUTO,
        partition_by=tuple(data.get("partition_by", ())),
        table_properties={k: _stringify(v) for k, v in data.get("table_properties", {}).items()},
        grants=tuple(data.get("grants", ())),
        quality=dict(data.get("quality", {})),
        checks=build_checks(data.get("checks")),
        on_type_error=data.get("on_type_error", "fail"),
        document=document,
    )
