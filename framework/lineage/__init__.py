"""Column lineage and change impact, computed on demand (never while validating).

* `columns`: which upstream columns each column is computed from (`ColumnLineage`), and where each
  reader uses them (located `Reference`s);
* `changes`: what an edit to the specs changes and its consequence (`compare` -> `Impact`);
* `gitref`: the specs at a git revision, read with git into an in-memory `Project`.
"""

from framework.lineage.changes import Break, Change, Impact, TableImpact, compare, type_change
from framework.lineage.columns import ColumnLineage, ColumnRef, Edge, Reference, TableLineage

__all__ = ["Break", "Change", "ColumnLineage", "ColumnRef", "Edge", "Impact", "Reference", "TableImpact",
           "TableLineage", "compare", "type_change"]
