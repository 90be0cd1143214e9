"""From declared datasets to the flows of an update, and which of them a selection picks.

The generic registration (framework/pipeline/) declares datasets on a `LocalDLT`; `plan` turns each
spec's datasets into the one flow that writes its table (append, merge for AUTO CDC targets, or
materialize), with the quarantine tables it splits off. `select` resolves `--tables` /
`--full-refresh` names, with dbt's `+` operators (`+name`, `name+`, `+name+`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from framework.engine.dlt_api import LocalDLT
from framework.engine.flows import Flow
from framework.errors import PipelineDefinitionError, RunError
from framework.findings import did_you_mean
from framework.graph import TableGraph, selector
from framework.pipeline import Registration
from framework.spec.model import TableSpec


@dataclass
class PlannedFlow:
    registration: Registration
    flow: Flow | None
    """None for views (registered as temporary views, not materialized)."""

    @property
    def spec(self) -> TableSpec:
        return self.registration.spec

    @property
    def name(self) -> str:
        return self.registration.spec.name

    @property
    def tables(self) -> list[str]:
        """Every table this flow writes: the target and its quarantine table."""
        if self.flow is None:
            return []
        return [self.flow.name] + [d.name for d, _ in self.flow.splits]


def plan(dlt: LocalDLT, registrations: list[Registration]) -> list[PlannedFlow]:
    """Turn the declared datasets into flows, in the order they were declared (dependency order)."""
    graph = dlt.graph
    splits: dict[str, list] = {}
    for dataset in graph.datasets.values():
        if (hint := dataset.hints.split) is not None:
            splits.setdefault(hint.source_dataset, []).append((dataset, hint.transform))
    planned = []
    for reg in registrations:
        spec = reg.spec
        if spec.kind == "view":
            planned.append(PlannedFlow(reg, None))
            continue
        target = graph.datasets[reg.table]
        if target.kind == "streaming_table":
            change = graph.change_flow_into(reg.table)
            if change is None:
                raise PipelineDefinitionError(f"{spec.file}: streaming table `{reg.table}` has no flow into it")
            flow = Flow(reg.table, "merge", target, graph.datasets[change.source], change.keys, change.sequence_by,
                        splits.get(change.source, []))
        else:
            kind = "append" if spec.kind == "streaming_table" else "materialize"
            source = graph.datasets[target.hints.source_view] if target.hints.source_view else target
            flow = Flow(reg.table, kind, target, source, splits=splits.get(source.name, []))
        planned.append(PlannedFlow(reg, flow))
    return planned


def select(planned: list[PlannedFlow], names: Iterable[str] | None, what: str) -> set[str]:
    """Spec names chosen by `--tables` / `--full-refresh`; all when `names` is None.

    Each entry is a spec or published name, optionally with dbt's graph operators: `+name` adds every
    table it reads from, `name+` every table that reads it, `+name+` both; a plain name is only it.
    """
    if names is None:
        return {p.name for p in planned}
    by_name = {p.name: p.name for p in planned}
    by_name.update({p.registration.table: p.name for p in planned})
    graph = TableGraph({p.name: p.spec for p in planned})
    chosen: set[str] = set()
    for pattern in names:
        name, upstream, downstream = selector(pattern)
        if not name:
            continue
        if name not in by_name:
            hint = did_you_mean(name, by_name)
            raise RunError(f"{what}: unknown table `{name}`" + (f"; {hint}" if hint else
                           f" (tables: {', '.join(sorted(p.name for p in planned))})"))
        chosen |= graph.select(("+" if upstream else "") + by_name[name] + ("+" if downstream else ""))
    return chosen
