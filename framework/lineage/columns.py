"""Column lineage: which upstream columns each column of a table is computed from, and where it reads them.

Computed on demand (by `medallion lineage`, `medallion diff`, the docs site), never while validating:
`validate` checks that the SQL resolves; this module works out where each output column comes from,
through CTEs, subqueries, set operations, joins, aggregates, window functions and `*`, against the
declared columns of the upstreams (the same contract validate resolves against). It walks sqlglot's
scopes (`sqlglot.optimizer.scope`) itself rather than calling `sqlglot.lineage.lineage`, which qualifies
and copies each statement first: on the 1,000-spec benchmark project that took 3x the CPU (measured in
this change), too much for the docs site's 5 s budget, for the same edges on our specs.

How each kind of spec reads its upstreams:

* `source.sql`: the tables it names;
* `source.tables` (one or several, combined by name) with no transform: each column from the same-named
  column of every upstream; with `transform.sql`: the SQL's `source` view is that combination;
* `transform.python`: opaque (its code decides), unless the spec declares `transform.lineage`, a mapping
  of output columns to the columns they are computed from (`column` of the source, or `table.column`);
* a quarantine sibling (`<table>_quarantine`) holds the rows failing the table's quarantine rules, so its
  columns come from where the table's do, and `_failed_rules` from the columns the rules test;
* `source.files`: columns read from the landing files (no upstream table).

Besides the lineage (output column <- input columns, `via` the expression), each table records its
*references*: every upstream column its SQL reads anywhere (a projection, a join condition, a filter, a
grouping), located at the line and column in its YAML file. `medallion diff` uses them to say where a
removed or narrowed column breaks a reader.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import Scope, build_scope

from framework.naming import FAILED_RULES_COLUMN, FILE_COLUMNS, QUARANTINE_SUFFIX
from framework.spec.model import FilesSource, SqlSource, TablesSource, TableSpec
from framework.validation.sql import parse_statements

if TYPE_CHECKING:
    from framework.spec.project import Project

SOURCE_VIEW = "source"
"""The view a `transform.sql` reads: the table's source rows."""
DIALECT = "spark"


@dataclass(frozen=True, order=True)
class ColumnRef:
    """One column of one table (or quarantine sibling)."""

    table: str
    column: str

    def __str__(self) -> str:
        return f"{self.table}.{self.column}"

    @classmethod
    def parse(cls, text: str) -> "ColumnRef":
        """`table.column` (the form the CLI takes)."""
        table, dot, column = text.strip().rpartition(".")
        if not dot or not table or not column:
            raise ValueError(f"`{text}` is not TABLE.COLUMN")
        return cls(table.lower(), column)


@dataclass(frozen=True)
class Edge:
    """`target` is computed from `source`, by the expression `via`."""

    source: ColumnRef
    target: ColumnRef
    via: str


@dataclass(frozen=True)
class Reference:
    """A reader's use of an upstream column, located in the reader's YAML file."""

    column: ColumnRef
    reader: str
    file: str
    line: int
    col: int
    text: str
    """What the reader wrote there (the column reference, or the declared column)."""


@dataclass(frozen=True)
class TableLineage:
    table: str
    edges: tuple[Edge, ...] = ()
    references: tuple[Reference, ...] = ()
    opaque: str = ""
    """Why the sources of its columns are unknown ('' when they are known)."""
    origin: str = ""
    """Where its rows come from when that is not a table (landing files)."""


@dataclass
class ColumnLineage:
    """The column lineage of a project, computed per table on first use (a query touches few tables)."""

    project: "Project"
    via: bool = True
    """Whether edges carry their expression (`via`) and tables their located references: printing SQL is
    half the cost, and the docs site needs neither (False)."""
    _tables: dict[str, TableLineage] = field(default_factory=dict)
    _readers: dict[str, tuple[str, ...]] | None = None

    # ------------------------------------------------------------------ per table

    def table(self, name: str) -> TableLineage:
        known = self._tables.get(name)
        if known is None:
            known = self._tables[name] = _compute(name, self.project, self.via)
        return known

    def has_table(self, name: str) -> bool:
        base = name[: -len(QUARANTINE_SUFFIX)] if name.endswith(QUARANTINE_SUFFIX) else name
        spec = self.project.tables.get(base)
        return spec is not None and (base == name or spec.quarantine_table == name)

    def columns(self, name: str) -> tuple[str, ...]:
        """The columns of a table or quarantine sibling, as declared."""
        return _declared_columns(name, self.project)

    def readers(self, name: str) -> tuple[str, ...]:
        """Tables whose lineage may read `name` (its downstreams, and the table itself for its quarantine)."""
        if self._readers is None:
            readers: dict[str, list[str]] = {}
            for spec in self.project.tables.values():
                for upstream in spec.upstreams:
                    readers.setdefault(upstream, []).append(spec.name)
                    if spec.quarantine_table:  # the quarantine sibling's columns come from the same sources
                        readers[upstream].append(spec.quarantine_table)
                if spec.quarantine_table:
                    readers.setdefault(spec.name, []).append(spec.quarantine_table)
            self._readers = {k: tuple(sorted(set(v))) for k, v in readers.items()}
        return self._readers.get(name, ())

    # ------------------------------------------------------------------ across the DAG

    def sources_of(self, ref: ColumnRef) -> list[Edge]:
        return [e for e in self.table(ref.table).edges if e.target == ref]

    def derived_from(self, ref: ColumnRef) -> list[Edge]:
        return [e for reader in self.readers(ref.table) for e in self.table(reader).edges if e.source == ref]

    def references_to(self, ref: ColumnRef) -> list[Reference]:
        return [r for reader in self.readers(ref.table) for r in self.table(reader).references if r.column == ref]

    def upstream(self, ref: ColumnRef, depth: int | None = None) -> list[tuple[int, Edge]]:
        """Every edge into `ref` and, recursively, into its sources: (distance, edge), breadth first."""
        return _walk(ref, depth, self.sources_of, lambda e: e.source)

    def downstream(self, ref: ColumnRef, depth: int | None = None) -> list[tuple[int, Edge]]:
        """Every edge out of `ref` and, recursively, out of the columns computed from it."""
        return _walk(ref, depth, self.derived_from, lambda e: e.target)


def _walk(start: ColumnRef, depth: int | None, step, follow) -> list[tuple[int, Edge]]:
    out: list[tuple[int, Edge]] = []
    seen = {start}
    frontier = [start]
    level = 0
    while frontier and (depth is None or level < depth):
        level += 1
        following: list[ColumnRef] = []
        for ref in frontier:
            for edge in sorted(step(ref), key=lambda e: (e.source, e.target)):
                out.append((level, edge))
                nxt = follow(edge)
                if nxt not in seen:
                    seen.add(nxt)
                    following.append(nxt)
        frontier = following
    return out


# ------------------------------------------------------------------------------------ computing one table

def _declared_columns(name: str, project: "Project") -> tuple[str, ...]:
    if name in project.tables:
        return project.tables[name].column_names
    base = name[: -len(QUARANTINE_SUFFIX)]
    spec = project.tables.get(base)
    if spec is None or spec.quarantine_table != name:
        return ()
    return (*spec.column_names, FAILED_RULES_COLUMN)


def _rows(spec: TableSpec) -> dict[str, str]:
    """A table's columns as a reader's SQL sees them: declared, plus the file columns of a files source."""
    columns = {c.name: c.type for c in spec.columns}
    if isinstance(spec.source, FilesSource):
        for name, type_, _ in FILE_COLUMNS:
            columns.setdefault(name, type_)
    return columns


def _compute(name: str, project: "Project", via: bool = True) -> TableLineage:
    spec = project.tables.get(name)
    if spec is None:
        base = name[: -len(QUARANTINE_SUFFIX)] if name.endswith(QUARANTINE_SUFFIX) else ""
        owner = project.tables.get(base)
        if owner is not None and owner.quarantine_table == name:
            return _quarantine(owner, _compute(base, project, via))
        return TableLineage(name, opaque=f"`{name}` is not a table of this project")
    source = spec.source
    transform = spec.transform
    if transform is not None and transform.python:
        return _python(spec, project)
    if isinstance(source, SqlSource):
        schema = {u: _rows(project.tables[u]) for u in spec.upstreams if u in project.tables}
        return _sql(spec, ("source", "sql"), source.sql, schema, lambda table, column: [table], project, via)
    if isinstance(source, FilesSource):
        origin = f"landing files `{source.path}` ({source.format})"
        if transform is not None and transform.sql:
            lin = _sql(spec, ("transform", "sql"), transform.sql, {SOURCE_VIEW: _rows(spec)},
                       lambda table, column: [], project, via)
            return TableLineage(name, lin.edges, lin.references, lin.opaque, origin)
        return TableLineage(name, origin=origin)
    assert isinstance(source, TablesSource)
    upstreams = [project.tables[u] for u in source.tables if u in project.tables]
    union: dict[str, str] = {}
    for upstream in upstreams:
        for column, type_ in _rows(upstream).items():
            union.setdefault(column, type_)

    def owners(table: str, column: str) -> list[str]:
        return [u.name for u in upstreams if column.lower() in {c.lower() for c in _rows(u)}]

    if transform is not None and transform.sql:
        return _sql(spec, ("transform", "sql"), transform.sql, {SOURCE_VIEW: union}, owners, project, via)
    edges, refs = [], []
    for index, column in enumerate(spec.columns):
        line, col = spec.document.where(("columns", index, "name")) if spec.document else (0, 0)
        for owner in owners(SOURCE_VIEW, column.name):
            upstream_column = _actual_name(project.tables[owner], column.name)
            edges.append(Edge(ColumnRef(owner, upstream_column), ColumnRef(name, column.name), upstream_column))
            refs.append(Reference(ColumnRef(owner, upstream_column), name, spec.file, line, col, column.name))
    return TableLineage(name, tuple(edges), tuple(refs))


def _actual_name(spec: TableSpec, column: str) -> str:
    for declared in _rows(spec):
        if declared.lower() == column.lower():
            return declared
    return column


def _python(spec: TableSpec, project: "Project") -> TableLineage:
    """A Python transform: its declared `transform.lineage`, else opaque."""
    assert spec.transform is not None
    mapping = spec.transform.lineage
    function = spec.transform.python
    if not mapping:
        return TableLineage(spec.name, opaque=f"Python transform `{function}` (declare `transform.lineage` "
                                              "to map its columns)")
    upstreams = [project.tables[u] for u in spec.upstreams if u in project.tables]
    edges, refs = [], []
    for output, inputs in mapping.items():
        for index, text in enumerate(inputs):
            table, dot, column = text.rpartition(".")
            candidates = [project.tables[table]] if dot and table in project.tables else \
                [u for u in upstreams if column.lower() in {c.lower() for c in _rows(u)}]
            line, col = spec.document.where(("transform", "lineage", output, index)) if spec.document else (0, 0)
            for upstream in candidates:
                ref = ColumnRef(upstream.name, _actual_name(upstream, column))
                edges.append(Edge(ref, ColumnRef(spec.name, output), f"python {function}"))
                refs.append(Reference(ref, spec.name, spec.file, line, col, text))
    return TableLineage(spec.name, tuple(edges), tuple(refs))


def _quarantine(spec: TableSpec, table: TableLineage) -> TableLineage:
    """The quarantine sibling: the table's rows failing its quarantine rules (or uncastable), plus why."""
    name = spec.quarantine_table or ""
    edges = [Edge(e.source, ColumnRef(name, e.target.column), e.via) for e in table.edges]
    rules = [e for e in spec.expectations if e.action == "quarantine"]
    declared = {c.lower(): c for c in spec.column_names}
    for rule in rules:
        try:
            tested = {c.name for c in sqlglot.parse_one(rule.rule, dialect=DIALECT).find_all(exp.Column)}
        except SqlglotError:
            continue
        for column in sorted(tested):
            if column.lower() in declared:
                edges.append(Edge(ColumnRef(spec.name, declared[column.lower()]),
                                  ColumnRef(name, FAILED_RULES_COLUMN), f"{rule.name}: {rule.rule}"))
    if spec.quarantines_type_errors:
        for column in spec.columns:
            if spec.type_error_action(column) == "quarantine":
                edges.append(Edge(ColumnRef(spec.name, column.name), ColumnRef(name, FAILED_RULES_COLUMN),
                                  f"{column.name} not castable to {column.type}"))
    return TableLineage(name, tuple(edges), (), table.opaque, table.origin)


def _sql(spec: TableSpec, where: tuple, sql: str, schema: dict[str, dict[str, str]], owners,
         project: "Project", via: bool = True) -> TableLineage:
    """Lineage and references of one SQL text. `owners(table, column)`: the project tables a leaf
    `table.column` stands for (the `source` view stands for the upstreams that have the column)."""
    try:
        statements = parse_statements(sql)  # the one Spark SQL parser (reused tokenizer and parser)
        if len(statements) != 1:
            raise SqlglotError("not one statement")
        root = build_scope(statements[0])
        if root is None:
            raise SqlglotError("not a query")
        tracer = _Tracer({name.lower(): {c.lower(): c for c in columns} for name, columns in schema.items()}, via)
        outputs = tracer.outputs(root)
        references = list(_references(spec, where, sql, root, tracer, owners, project)) if via else []
    except (SqlglotError, ValueError, KeyError, RecursionError) as exc:
        return TableLineage(spec.name, opaque=f"its SQL could not be traced ({str(exc).splitlines()[0][:120]})")
    declared = {c.lower(): c for c in spec.column_names}
    edges: list[Edge] = []
    for output, (_, leaves) in outputs.items():
        target = ColumnRef(spec.name, declared.get(output, output))
        for table, column, via, _ in leaves:
            for owner in owners(table, column):
                if owner in project.tables:
                    edges.append(Edge(ColumnRef(owner, _actual_name(project.tables[owner], column)), target, via))
    return TableLineage(spec.name, tuple(dict.fromkeys(edges)), tuple(dict.fromkeys(references)))


Leaf = tuple[str, str, str, bool]
"""(table, column, via, pass-through): a column of a table the SQL reads, the expressions computing an
output from it, and whether they only pass it through."""


class _Tracer:
    """Column lineage over sqlglot's scopes (`sqlglot.optimizer.scope`), without qualifying the tree.

    sqlglot's `lineage()` qualifies and copies the statement first; for a thousand specs that is seconds.
    This walk binds each column reference to the source of its scope (by qualifier, else the one source
    that has the column: a table by its declared columns, a CTE or subquery by its outputs), follows
    CTEs, subqueries and set operations, expands `*` (and `* EXCEPT`), and keeps every column inside an
    output expression: arguments of aggregates, `PARTITION BY` / `ORDER BY` of window functions, CASE
    branches. Columns used only to filter, join or group rows are references, not lineage.
    """

    def __init__(self, schema: dict[str, dict[str, str]], via: bool = True):
        self.schema = schema
        self.via = via
        self._outputs: dict[int, dict[str, tuple[exp.Expression | None, list[Leaf]]]] = {}
        self._texts: dict[int, str] = {}

    def text(self, node: exp.Expression) -> str:
        if not self.via:
            return ""
        known = self._texts.get(id(node))
        if known is None:
            known = self._texts[id(node)] = node.sql(dialect=DIALECT, comments=False)
        return known

    # ---------------------------------------------------------------- what a source offers
    def names(self, source: object) -> dict[str, str]:
        """Lower-case column name -> name, of a table or a scope."""
        if isinstance(source, exp.Table):
            return self.schema.get(source.name.lower(), {})
        if isinstance(source, Scope):
            return {name: name for name in self.outputs(source)}
        return {}

    def outputs(self, scope: Scope) -> dict[str, tuple[exp.Expression | None, list[Leaf]]]:
        """Lower-case output name -> (its expression, its leaves), in order."""
        known = self._outputs.get(id(scope))
        if known is not None:
            return known
        self._outputs[id(scope)] = {}  # a scope reading itself (recursive CTE) sees nothing
        result: dict[str, tuple[exp.Expression | None, list[Leaf]]] = {}
        if scope.set_operation_scopes:
            sides = [list(self.outputs(side).items()) for side in scope.set_operation_scopes]
            for index, (name, (expression, leaves)) in enumerate(sides[0]):
                merged = list(leaves)
                for other in sides[1:]:
                    if index < len(other):
                        merged += other[index][1][1]
                result[name] = (expression, list(dict.fromkeys(merged)))
        elif isinstance(scope.expression, exp.Select):
            for projection in scope.expression.selects:
                if isinstance(projection, exp.Star) or (isinstance(projection, exp.Column)
                                                        and isinstance(projection.this, exp.Star)):
                    result.update(self.star(scope, projection))
                    continue
                name = projection.alias_or_name.lower()
                if not name:
                    continue
                result[name] = (projection, self.leaves(scope, projection))
        self._outputs[id(scope)] = result
        return result

    def star(self, scope: Scope, star: exp.Expression) -> dict[str, tuple[exp.Expression | None, list[Leaf]]]:
        qualifier = star.table if isinstance(star, exp.Column) else ""
        node = star.this if isinstance(star, exp.Column) else star
        excepted = {e.name.lower() for e in (node.args.get("except") or [])}
        result: dict[str, tuple[exp.Expression | None, list[Leaf]]] = {}
        for alias, source in scope.selected_sources.items():
            if qualifier and alias.lower() != qualifier.lower():
                continue
            source = source[1]
            for lower, name in self.names(source).items():
                if lower not in excepted and lower not in result:
                    result[lower] = (None, self.resolve(source, name))
        return result

    # ---------------------------------------------------------------- binding references
    def source_of(self, scope: Scope, column: exp.Column) -> object | None:
        if column.table:
            found = scope.sources.get(column.table) or next(
                (s for a, s in scope.sources.items() if a.lower() == column.table.lower()), None)
            return found
        lower = column.name.lower()
        for alias, (_, source) in scope.selected_sources.items():
            if lower in self.names(source):
                return source
        return None

    def resolve(self, source: object, name: str) -> list[Leaf]:
        """The leaves of column `name` of a source: itself for a table, its leaves for a scope."""
        if isinstance(source, exp.Table):
            actual = self.schema.get(source.name.lower(), {}).get(name.lower(), name)
            return [(source.name.lower(), actual, actual, True)]
        if isinstance(source, Scope):
            return self.outputs(source).get(name.lower(), (None, []))[1]
        return []

    def leaves(self, scope: Scope, projection: exp.Expression) -> list[Leaf]:
        """The leaves of one output expression: `via` chains the expressions from this one down to the
        one reading the table's column, leaving out plain pass-throughs (`s.total AS total`)."""
        found: list[Leaf] = []
        text = self.text(projection)
        inner = projection.this if isinstance(projection, exp.Alias) else projection
        passes = isinstance(inner, exp.Column)
        for column in _columns_in(projection):
            source = self.source_of(scope, column)
            for table, name, via, through in self.resolve(source, column.name) if source is not None else ():
                if passes:
                    found.append((table, name, via if not (through and isinstance(source, exp.Table)) else text,
                                  through))
                elif through:
                    found.append((table, name, text, False))
                else:
                    found.append((table, name, f"{text} <- {via}" if self.via else "", False))
        return list(dict.fromkeys(found))


def _columns_in(expression: exp.Expression) -> Iterator[exp.Column]:
    """The columns of an expression, not those inside a subquery (another scope)."""
    stack = [expression]
    while stack:
        node = stack.pop()
        if isinstance(node, exp.Column):
            if not isinstance(node.this, exp.Star):
                yield node
            continue
        if isinstance(node, (exp.Subquery, exp.Select)) and node is not expression:
            continue
        stack.extend(reversed(list(node.iter_expressions())))  # in the order they are written


def _references(spec: TableSpec, where: tuple, sql: str, root: Scope, tracer: _Tracer, owners,
                project: "Project") -> Iterator[Reference]:
    """Every column of a table the SQL reads (anywhere: outputs, joins, filters, groupings), located in
    the YAML (line, column), `*` included (at the star)."""
    document = spec.document
    for scope in root.traverse():
        located: list[tuple[exp.Expression, str, exp.Table]] = []
        for column in scope.columns:
            source = tracer.source_of(scope, column)
            if isinstance(source, exp.Table):
                located.append((column, column.name, source))
        if isinstance(scope.expression, exp.Select):
            for projection in scope.expression.selects:
                star = projection if isinstance(projection, exp.Star) else \
                    projection.this if isinstance(projection, exp.Column) and isinstance(projection.this, exp.Star) else None
                if star is None:
                    continue
                for _, (_, leaves) in tracer.star(scope, projection).items():
                    for table, column_name, _, _ in leaves:
                        for alias, (_, source) in scope.selected_sources.items():
                            if isinstance(source, exp.Table) and source.name.lower() == table:
                                located.append((star, column_name, source))
                                break
        for node, name, source in located:
            line, col = 0, 0
            if document is not None:
                start = _start(node)
                at = _position(sql, start) if start is not None else (1, 1)
                line, col = document.within(where, *at)
            for owner in owners(source.name.lower(), name):
                if owner in project.tables:
                    ref = ColumnRef(owner, _actual_name(project.tables[owner], name))
                    yield Reference(ref, spec.name, spec.file, line, col, name)


def _start(node: exp.Expression) -> int | None:
    """0-based offset of a node in the SQL text (from the parser's token positions)."""
    target = node.this if isinstance(node, exp.Column) and isinstance(node.this, exp.Identifier) else node
    start = target.meta.get("start") if hasattr(target, "meta") else None
    if isinstance(start, int):
        return start
    for child in node.walk():
        start = child.meta.get("start") if isinstance(child, exp.Expression) else None
        if isinstance(start, int):
            return start
    return None


def _position(text: str, offset: int) -> tuple[int, int]:
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def build(project: "Project", tables: Iterable[str] | None = None) -> ColumnLineage:
    """The lineage of a project, with `tables` (default: none) computed up front."""
    result = ColumnLineage(project)
    for name in tables or ():
        result.table(name)
    return result
