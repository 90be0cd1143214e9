"""The dependency graph of tables: execution order, cycles, lineage and the ready queue of an update.

Edges run from an upstream table to the table that reads it. The order is deterministic (layer, then
name, among tables that are ready) so runs, listings and generated files never reorder by accident.

The graph owns traversal: the engine asks it which tables are ready (`GraphQueue`, as dbt's
graph/queue.py does), what a `--tables` pattern selects (`select`: `name`, `+name`, `name+`,
`+name+`, as dbt's `--select`) and which upstreams it leaves out (`left_out_upstreams`), which
streaming tables a full refresh drags along (`stream_readers`) and which tables a materialized view
really reads through views (`inputs`); nobody else walks the edges.
"""

from __future__ import annotations

import graphlib
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterable

from framework.spec.model import LAYERS, TablesSource, TableSpec


@dataclass
class TableGraph:
    tables: dict[str, TableSpec]

    def upstreams(self, name: str) -> tuple[str, ...]:
        return tuple(u for u in self.tables[name].upstreams if u in self.tables)

    def downstreams(self, name: str) -> tuple[str, ...]:
        return self._downstreams.get(name, ())

    @cached_property
    def _downstreams(self) -> dict[str, tuple[str, ...]]:
        readers: dict[str, list[str]] = {}
        for spec in self.tables.values():
            for upstream in spec.upstreams:
                readers.setdefault(upstream, []).append(spec.name)
        return {name: tuple(sorted(names)) for name, names in readers.items()}

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

    def select(self, pattern: str) -> set[str]:
        """dbt's node selection for one name: `name` (only it), `+name` (with everything it reads from),
        `name+` (with everything that reads it), `+name+` (both). The name must be known (see `selector`)."""
        name, upstream, downstream = selector(pattern)
        chosen = {name}
        if upstream:
            chosen |= self.closure([name], upstream=True)
        if downstream:
            chosen |= self.closure([name], upstream=False)
        return chosen

    def left_out_upstreams(self, selected: set[str]) -> dict[str, list[str]]:
        """Tables some selected table reads from (transitively) that are not selected -> those selected
        tables, in graph order: what a selection without `+` leaves as it is."""
        result: dict[str, list[str]] = {}
        for name in self.order():
            if name in selected:
                for upstream in sorted(self.closure([name], upstream=True) - selected):
                    result.setdefault(upstream, []).append(name)
        return {name: result[name] for name in self.order() if name in result}

    def stream_readers(self, names: Iterable[str]) -> set[str]:
        """`names` plus every table that reads one of them as a stream, transitively.

        A rebuilt table is a new Delta table: a streaming table reading it must start over too (as in
        DLT), or its checkpoint would point into the old table.
        """
        result, pending = set(names), list(names)
        while pending:
            name = pending.pop()
            for reader in self.downstreams(name):
                source = self.tables[reader].source
                if reader not in result and isinstance(source, TablesSource) and source.mode == "stream":
                    result.add(reader)
                    pending.append(reader)
        return result

    def inputs(self, name: str) -> set[str]:
        """The tables `name` reads data from, looking through views (which hold no data of their own)."""
        found: set[str] = set()
        pending, seen = list(self.upstreams(name)), set()
        while pending:
            upstream = pending.pop()
            if upstream in seen:
                continue
            seen.add(upstream)
            if self.tables[upstream].kind == "view":
                pending.extend(self.upstreams(upstream))
            else:
                found.add(upstream)
        return found

    def queue(self, names: Iterable[str]) -> "GraphQueue":
        """A ready queue over `names` (the tables of one update)."""
        return GraphQueue(self, [n for n in self.order() if n in set(names)])


@dataclass
class GraphQueue:
    """Hands out the tables of an update whose upstreams (within the update) are done.

    The runner asks for what is `ready()`, runs it, and reports `done(name, failed=...)`; a table
    whose upstream failed is still handed out, so the runner can report it skipped, and
    `failed_upstreams` names the cause. Tables come out in graph order.
    """

    graph: TableGraph
    names: list[str]
    _handed: set[str] = field(default_factory=set)
    _done: set[str] = field(default_factory=set)
    _failed: set[str] = field(default_factory=set)

    def _upstreams(self, name: str) -> list[str]:
        return [u for u in self.graph.upstreams(name) if u in self.names]

    def ready(self) -> list[str]:
        """Tables not handed out yet whose upstreams in the update are all done; marks them handed out."""
        out = [n for n in self.names if n not in self._handed and all(u in self._done for u in self._upstreams(n))]
        self._handed.update(out)
        return out

    def done(self, name: str, *, failed: bool = False) -> None:
        """`failed`: the table did not get built (failed or skipped), so what reads it cannot run."""
        self._done.add(name)
        if failed:
            self._failed.add(name)

    def failed_upstreams(self, name: str) -> list[str]:
        return [u for u in self._upstreams(name) if u in self._failed]

    @property
    def finished(self) -> bool:
        return len(self._done) == len(self.names)

    @property
    def waiting(self) -> list[str]:
        """Tables not handed out yet."""
        return [n for n in self.names if n not in self._handed]


def selector(pattern: str) -> tuple[str, bool, bool]:
    """`+name+` -> (name, with upstreams, with downstreams), as in dbt's `--select`."""
    text = pattern.strip()
    upstream, downstream = text.startswith("+"), text.endswith("+") and len(text) > 1
    return text[1 if upstream else 0:len(text) - 1 if downstream else len(text)].strip(), upstream, downstream
