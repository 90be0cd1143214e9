"""What the local engine adds on top of the DLT API, typed and in one place.

A Databricks pipeline needs nothing but the DLT declarations: it runs each flow on its own and refreshes
materialized views incrementally by itself. The local engine runs the same declarations and needs three
facts the DLT API has no words for. `register_table` attaches them to the query function it declares,
with `attach`; the engine reads them back with `hints_of` — the one accessor. Nothing is stored on the
function object itself, so what DLT receives is an ordinary function.

* `SplitHint` — a quarantine table's rows come from the same micro-batch as its main table's, so each
  source row is read, counted and placed exactly once;
* `IncrementalHint` — a materialized view with `refresh:` recomputes only the groups whose source rows
  changed;
* `source_view` — a table that only re-reads a private view (`<name>__typed`) runs that view's query
  and expectations as its own flow.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:
    from pyspark.sql import DataFrame


@dataclass(frozen=True)
class SplitHint:
    """A quarantine table's rows are `transform(rows of source_dataset's micro-batch)`."""

    source_dataset: str
    transform: Callable[["DataFrame"], "DataFrame"]


@dataclass(frozen=True)
class IncrementalHint:
    """How a materialized view with `refresh:` is recomputed for the changed groups only.

    `build(where, previous)` is the view's query over the upstream rows matching `where` (a SQL
    predicate), continuing from the view's own `previous` rows where the spec has `extends_by`.
    """

    upstream: str
    """Published name of the one upstream table."""
    incremental_by: tuple[str, ...]
    extends_by: str | None
    context_rows: int
    build: Callable[[str, "DataFrame | None"], "DataFrame"]


@dataclass(frozen=True)
class LocalHints:
    """Everything the local engine knows about a query function beyond its DLT declaration."""

    split: SplitHint | None = None
    incremental: IncrementalHint | None = None
    source_view: str | None = None
    """The private view a table only re-reads (`<name>__typed`), or None."""


NO_HINTS = LocalHints()

_HINTS: "weakref.WeakKeyDictionary[Callable[..., object], LocalHints]" = weakref.WeakKeyDictionary()


def attach(function: Callable[..., object], *, split: SplitHint | None = None,
           incremental: IncrementalHint | None = None, source_view: str | None = None) -> None:
    """Record local hints for a query function (merged with any it already has)."""
    current = _HINTS.get(function, NO_HINTS)
    _HINTS[function] = replace(current, **{k: v for k, v in (("split", split), ("incremental", incremental),
                                                              ("source_view", source_view)) if v is not None})


def hints_of(function: Callable[..., object] | None) -> LocalHints:
    """The local hints of a query function (`NO_HINTS` when it has none)."""
    return _HINTS.get(function, NO_HINTS) if function is not None else NO_HINTS
