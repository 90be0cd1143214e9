"""A local stand-in for the pipelines module: the same decorators and functions, recording a dataflow graph.

`framework.pipeline` is written against Databricks' declarative-pipelines Python API: the
`pyspark.pipelines` names (`table`, `materialized_view`, `temporary_view`, `create_streaming_table`,
`create_auto_cdc_flow`, `expect_all*`), or the legacy `dlt` names (`view`, `apply_changes`) for a
module without them. `LocalDLT` offers both sets. Here that API records what is declared —
datasets (tables, views, streaming-table targets), their expectations and the `apply_changes` flows —
into a `DataflowGraph` that `framework.engine.runner` executes on PySpark + Delta. Nothing runs at
declaration time, exactly as in DLT, where query functions are only called when the update plans.

Only the parts of the API the generic module uses are implemented; anything else raises a clear
NotImplementedError instead of silently doing something different from Databricks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Literal

from framework.naming import INTERNAL_PREFIX
from framework.pipeline.hints import NO_HINTS, LocalHints, hints_of

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

Action = Literal["warn", "drop", "fail"]
DatasetKind = Literal["table", "view", "streaming_table"]


@dataclass(frozen=True)
class Expectation:
    name: str
    rule: str
    action: Action


@dataclass
class Dataset:
    """One declared dataset. `streaming_table` is a `create_streaming_table` target fed by flows."""

    name: str
    kind: DatasetKind
    query: Callable[[], "DataFrame"] | None = None
    comment: str | None = None
    table_properties: dict[str, str] = field(default_factory=dict)
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()
    cluster_by_auto: bool = False
    """`cluster_by_auto=True`: automatic liquid clustering (Databricks picks the keys)."""
    schema: str | None = None
    expectations: tuple[Expectation, ...] = ()
    hints: LocalHints = NO_HINTS
    """What `framework.pipeline` attached to the query for the local runtime (split, incremental
    refresh, source view); empty for what DLT alone declares."""


@dataclass(frozen=True)
class ChangeFlow:
    """`apply_changes` (AUTO CDC) into `target` from dataset `source`, SCD type 1."""

    target: str
    source: str
    keys: tuple[str, ...]
    sequence_by: str
    name: str


@dataclass
class DataflowGraph:
    datasets: dict[str, Dataset] = field(default_factory=dict)
    change_flows: list[ChangeFlow] = field(default_factory=list)

    def add(self, dataset: Dataset) -> None:
        if dataset.name in self.datasets:
            raise ValueError(f"dataset `{dataset.name}` is declared twice")
        self.datasets[dataset.name] = dataset

    def change_flow_into(self, target: str) -> ChangeFlow | None:
        return next((f for f in self.change_flows if f.target == target), None)


def _sequence_name(sequence_by: "Column | str") -> str:
    if isinstance(sequence_by, str):
        return sequence_by
    # a Column: its SQL text is the column name for plain references (col("_ingested_at"))
    text = str(sequence_by)
    inner = text[text.find("'") + 1:text.rfind("'")] if "'" in text else text
    return inner.strip("`")


class LocalDLT:
    """Has the shape of the `dlt` module; `graph` holds what was declared."""

    def __init__(self, spark: "SparkSession | None" = None):
        self.spark = spark
        self.graph = DataflowGraph()
        self._expectations: dict[Callable, list[Expectation]] = {}
        """Expectations decorated onto a query function, until the dataset decorator takes them (as DLT
        records them: the decorators run before `table` / `view` registers the function)."""

    def _expectations_of(self, function: Callable) -> list[Expectation]:
        return list(self._expectations.get(function, []))

    # -- datasets -----------------------------------------------------------------------------------

    def table(self, query_function: Callable | None = None, *, name: str | None = None, comment: str | None = None,
              spark_conf: dict | None = None, table_properties: dict | None = None, path: str | None = None,
              partition_cols: list[str] | None = None, cluster_by: list[str] | None = None,
              cluster_by_auto: bool = False, schema: Any = None, temporary: bool = False,
              row_filter: str | None = None) -> Any:
        if path or row_filter:
            raise NotImplementedError("dlt.table(path=..., row_filter=...) is not supported by the local runtime")
        if schema is not None and not isinstance(schema, str):
            raise NotImplementedError("the local runtime takes `schema` as a DDL string")

        def register(function: Callable) -> Callable:
            self.graph.add(Dataset(
                name=name or function.__name__, kind="table", query=function, comment=comment,
                table_properties={k: str(v) for k, v in (table_properties or {}).items()},
                partition_cols=tuple(partition_cols or ()), cluster_by=tuple(cluster_by or ()),
                cluster_by_auto=cluster_by_auto, schema=schema,
                expectations=tuple(self._expectations_of(function)), hints=hints_of(function)))
            return function

        return register(query_function) if query_function is not None else register

    materialized_view = table
    """`dp.materialized_view`: a batch dataset; the local runtime recomputes it like any batch `table`."""

    def view(self, query_function: Callable | None = None, *, name: str | None = None, comment: str | None = None,
             spark_conf: dict | None = None) -> Any:
        def register(function: Callable) -> Callable:
            self.graph.add(Dataset(name=name or function.__name__, kind="view", query=function, comment=comment,
                                   expectations=tuple(self._expectations_of(function)), hints=hints_of(function)))
            return function

        return register(query_function) if query_function is not None else register

    temporary_view = view
    """`dp.temporary_view`, the `dlt.view` of the pyspark.pipelines API."""

    def create_streaming_table(self, name: str, *, comment: str | None = None, spark_conf: dict | None = None,
                               table_properties: dict | None = None, partition_cols: list[str] | None = None,
                               cluster_by: list[str] | None = None, cluster_by_auto: bool = False,
                               path: str | None = None, schema: Any = None,
                               expect_all: dict | None = None, expect_all_or_drop: dict | None = None,
                               expect_all_or_fail: dict | None = None, row_filter: str | None = None) -> None:
        if path or row_filter:
            raise NotImplementedError("create_streaming_table(path=..., row_filter=...) is not supported locally")
        expectations = [Expectation(n, r, a) for a, rules in (("warn", expect_all), ("drop", expect_all_or_drop),
                                                              ("fail", expect_all_or_fail))
                        for n, r in (rules or {}).items()]
        self.graph.add(Dataset(
            name=name, kind="streaming_table", comment=comment,
            table_properties={k: str(v) for k, v in (table_properties or {}).items()},
            partition_cols=tuple(partition_cols or ()), cluster_by=tuple(cluster_by or ()),
            cluster_by_auto=cluster_by_auto, schema=schema, expectations=tuple(expectations)))

    def apply_changes(self, target: str, source: str, keys: list[str], sequence_by: "Column | str", *,
                      where: Any = None, ignore_null_updates: bool = False, apply_as_deletes: Any = None,
                      apply_as_truncates: Any = None, column_list: Any = None, except_column_list: Any = None,
                      stored_as_scd_type: int | str = 1, track_history_column_list: Any = None,
                      track_history_except_column_list: Any = None, flow_name: str | None = None,
                      once: bool = False, **_: Any) -> None:
        internal_only = all(str(c).startswith(INTERNAL_PREFIX) for c in (except_column_list or ()))
        unsupported = {"where": where, "ignore_null_updates": ignore_null_updates, "apply_as_deletes": apply_as_deletes,
                       "apply_as_truncates": apply_as_truncates, "column_list": column_list,
                       # the runtime never writes internal `_medallion_*` columns: leaving them out is what it does
                       "except_column_list": None if internal_only else except_column_list,
                       "track_history_column_list": track_history_column_list,
                       "track_history_except_column_list": track_history_except_column_list, "once": once}
        used = [k for k, v in unsupported.items() if v]
        if used or str(stored_as_scd_type) != "1":
            raise NotImplementedError(f"apply_changes: only SCD type 1 upserts are supported locally (got {used or 'scd 2'})")
        if target not in self.graph.datasets or self.graph.datasets[target].kind != "streaming_table":
            raise ValueError(f"apply_changes target `{target}` must be declared with create_streaming_table first")
        self.graph.change_flows.append(ChangeFlow(target, source, tuple(keys), _sequence_name(sequence_by),
                                                  flow_name or target))

    create_auto_cdc_flow = apply_changes

    # -- expectations -------------------------------------------------------------------------------

    def _expect(self, rules: dict[str, str], action: Action) -> Callable[[Callable], Callable]:
        def decorate(function: Callable) -> Callable:
            existing = self._expectations_of(function)
            names = {e.name for e in existing}
            for name, rule in rules.items():
                if name in names:
                    raise ValueError(f"expectation `{name}` is declared twice on `{function.__name__}`")
                existing.append(Expectation(name, rule, action))
            self._expectations[function] = existing
            return function

        return decorate

    def expect(self, name: str, inv: str) -> Callable:
        return self._expect({name: inv}, "warn")

    def expect_or_drop(self, name: str, inv: str) -> Callable:
        return self._expect({name: inv}, "drop")

    def expect_or_fail(self, name: str, inv: str) -> Callable:
        return self._expect({name: inv}, "fail")

    def expect_all(self, expectations: dict[str, str]) -> Callable:
        return self._expect(expectations, "warn")

    def expect_all_or_drop(self, expectations: dict[str, str]) -> Callable:
        return self._expect(expectations, "drop")

    def expect_all_or_fail(self, expectations: dict[str, str]) -> Callable:
        return self._expect(expectations, "fail")

    # -- reading ------------------------------------------------------------------------------------

    def read(self, name: str) -> "DataFrame":
        return self._read(name, stream=False)

    def read_stream(self, name: str) -> "DataFrame":
        return self._read(name, stream=True)

    def _read(self, name: str, *, stream: bool) -> "DataFrame":
        dataset = self.graph.datasets.get(name)
        if dataset is not None and dataset.kind == "view" and dataset.query is not None:
            return dataset.query()
        if self.spark is None:
            raise RuntimeError("LocalDLT needs a SparkSession to read tables")
        return self.spark.readStream.table(name) if stream else self.spark.read.table(name)
