"""The dependency graph of tables: execution order, cycles and lineage.

Edges run from an upstream table to the table that reads it. The order is deterministic (layer, then
name, among tables that are ready) so runs, listings and generated files never reorder by accident.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass
from typing import Iterable

from framework.spec.model import LAYERS, TableSpec


@dataclass
class TableGraph:
    tables: dict[str, TableSpec]

    def upstreams(self, name: str) -> tuple[str, ...]:
        return tuple(u for u in self.tables[name].upstreams if u in self.tables)

    def downstreams(self, name: str) -> tuple[str, ...]:
        return tuple(sorted(t.name for t in self.tables.values() if name in t.upstreams))

    def find_cycle(self) -> list[str] | None:
        """One cycle as [a, b, ..., a], or None."""
        sorter = graphlib.TopologicalSorter({n: self.upstreams(n) for n in self.tables})
        try:
            sorter.prepare()
        except graphlib.CycleError as exc:
            return list(reversed(exc.args[1]))
        return None

    def order(self) -> list[str]:
        """Tables in dependency order; ties broken by layer, then name."""
        rank = {layer: i for i, layer in enumerate(LAYERS)}
        sorter = graphlib.TopologicalSorter({n: self.upstreams(n) for n in self.tables})
        sorter.prepare()
        ordered: list[str] = []
        while sorter.is_active():
            ready = sorted(sorter.get_ready(), key=lambda n: (rank[self.tables[n].layer], n))
            ordered.extend(ready)
            sorter.done(*ready)
        return ordered

    def closure(self, names: Iterable[str], *, upstream: bool = True) -> set[str]:
        """The named tables plus everything they read from (or that reads them)."""
        step = self.upstreams if upstream else self.downstreams
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen or name not in self.tables:
                continue
            seen.add(name)
            stack.extend(step(name))
        return seen
