"""The shape of a SELECT, worked out once per SQL text, without knowing any table's columns.

Resolving a transform against its upstreams needs the syntax tree, and parsing is the expensive part
of validation. Columns, though, depend on other specs (an upstream may change while this SQL does
not), and large projects parse half their specs in a forked worker (prefetch.py) that cannot see all
upstreams. So resolution is split in two:

1. here, per SQL text: one walk over the tree records its scopes (each SELECT, union, CTE, subquery),
   what each reads (tables by name, other scopes, lateral views), what it outputs (names, `*`, a
   cheap type expression per output) and every column reference and function call with its offset
   in the text. The result is plain tuples, lists and dicts, so marshal carries it across the fork;
2. `framework.validation.resolve` binds a shape to the declared columns of the tables it reads.

Layout of a shape (a dict; every offset is a 0-based character offset into the SQL, -1 if unknown):

    scopes     list of scopes, see `_new_scope`; ids are indexes into it
    root       id of the scope whose rows the statement returns
    functions  [(name as written, offset)] of every `name(...)` call
    select_at  offset of the root SELECT keyword (for findings about the output as a whole)

Type expressions (what an output's type is, as far as it is cheap to know):

    None               unknown
    ("t", family)      known family: string, numeric, boolean, date, timestamp, null
    ("s", text)        a string literal (whether it casts to the column's type depends on the text)
    ("r", ref index)   the type of a column reference of the same scope (known once bound)
    ("any", (...))     CASE / COALESCE / max...: the family all branches agree on
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from sqlglot import exp

Shape = dict[str, Any]
TypeExpr = tuple | None

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_SELECT_WORD = re.compile(r"\bselect\b", re.IGNORECASE)

_STRING_FUNCTIONS = tuple(getattr(exp, name) for name in (
    "Upper", "Lower", "Initcap", "Trim", "Concat", "ConcatWs", "Substring", "RegexpReplace", "RegexpExtract",
    "TimeToStr", "DPipe", "MD5", "SHA", "SHA2", "Hex", "Pad", "Replace", "Repeat", "Left", "Right", "Chr",
    "Translate", "Soundex", "Base64", "FormatString", "Format", "NumberToStr") if hasattr(exp, name))
"""Functions whose result is a string whatever their arguments (sqlglot's classes for them)."""
_SAME_AS_ARGUMENTS = tuple(getattr(exp, name) for name in (
    "Coalesce", "Nullif", "Max", "Min", "ArgMax", "ArgMin", "First", "Last", "AnyValue", "Greatest", "Least",
    "Paren", "If", "Case") if hasattr(exp, name))
"""Expressions whose type is their branches' (when the branches agree): the values in `this` and
`expressions` (so NULLIF(a, b) and max_by(a, b) are typed by `a`), or as `_VALUE_ARGUMENTS` says."""
_NUMERIC_FUNCTIONS = tuple(getattr(exp, name) for name in (
    "Count", "Sum", "Avg", "Length", "Abs", "Round", "Floor", "Ceil", "Ln", "Log", "Exp", "Sqrt", "Pow",
    "Stddev", "StddevSamp", "StddevPop", "Variance", "VariancePop") if hasattr(exp, name))
_ARITHMETIC = (exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.Neg)
_PREDICATES = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is, exp.In,
               exp.Between, exp.Like, exp.ILike, exp.Exists, exp.RegexpLike)
_QUERIES = (exp.Select, exp.SetOperation, exp.Subquery)
_SKIP = (exp.Identifier, exp.DataType, exp.Var, exp.Parameter, exp.Placeholder, exp.Star)
"""Leaves with no columns or calls inside (a `${variable}` is a Parameter)."""
_EXPLODES = tuple(getattr(exp, name) for name in ("Explode", "ExplodeOuter", "Posexplode", "PosexplodeOuter")
                  if hasattr(exp, name))
_EXPLODE_COLUMNS = ("col", "key", "value", "pos")
"""Default output names of explode / posexplode (of arrays or maps) in a LATERAL VIEW without names."""

_TYPE_FAMILIES = {
    "TEXT": "string", "VARCHAR": "string", "CHAR": "string", "NCHAR": "string", "NVARCHAR": "string",
    "BOOLEAN": "boolean", "DATE": "date", "DATE32": "date",
    "TIMESTAMP": "timestamp", "TIMESTAMPTZ": "timestamp", "TIMESTAMPLTZ": "timestamp", "TIMESTAMPNTZ": "timestamp",
    "DATETIME": "timestamp",
    **{name: "numeric" for name in ("TINYINT", "SMALLINT", "INT", "BIGINT", "FLOAT", "DOUBLE", "DECIMAL",
                                    "UTINYINT", "USMALLINT", "UINT", "UBIGINT", "BIGDECIMAL", "MONEY")},
}
ALL_ALIASES = 1 << 30
"""`visible aliases` of a reference that may use every alias of its SELECT (GROUP BY, ORDER BY...)."""


def analyze(tree: exp.Expression, text: str) -> Shape:
    """The shape of one parsed SELECT (see the module docstring)."""
    builder = _Builder(text)
    root = builder.query(tree, {}, -1)
    return {"scopes": builder.scopes, "root": root, "functions": builder.functions,
            "select_at": builder.select_offset(tree)}


def _new_scope(kind: str, parent: int) -> dict[str, Any]:
    """One scope. kind: select, union (of `parts`) or opaque (rows we cannot see into, e.g. VALUES).

    sources      [(alias, kind, target, renames, in_star)]: kind `table` (target: a table name), `scope`
                 (target: a scope id), `columns` (target: known column names) or `opaque`
    projections  [(kind, name, type, offset, text)]: kind `star` (name: qualifier or None, type: names
                 excepted) or `expr` (name: as Spark names the output; None when Spark makes one up; an
                 int when it is the name of that reference, if that reference is a column)
    refs         [(lower-case name parts, as written, offset, number of SELECT aliases it may use)]
    aliases      lower-case output aliases of the SELECT, in order
    merged       a USING or NATURAL join (its columns are not ambiguous)
    """
    return {"kind": kind, "parts": [], "sources": [], "projections": [], "refs": [], "aliases": [],
            "parent": parent, "merged": False}


class _Builder:
    """One depth-first walk over the tree, filling scopes as it meets them."""

    def __init__(self, text: str):
        self.text = text
        self.scopes: list[dict[str, Any]] = []
        self.functions: list[tuple[str, int]] = []

    # ------------------------------------------------------------------------------------ queries

    def query(self, node: exp.Expression, ctes: dict[str, tuple[int, tuple[str, ...]]], parent: int) -> int:
        while isinstance(node, (exp.Subquery, exp.Paren)) and isinstance(node.this, exp.Expression):
            node = node.this
        with_ = node.args.get("with_")
        if with_ is not None:
            ctes = dict(ctes)
            for cte in with_.expressions:
                ctes[cte.alias_or_name.lower()] = (self.query(cte.this, ctes, parent), _renames(cte.args.get("alias")))
        if isinstance(node, exp.Select):
            return self.select(node, ctes, parent)
        if isinstance(node, exp.SetOperation):
            left, right = self.query(node.this, ctes, parent), self.query(node.expression, ctes, parent)
            sid = self._add(_new_scope("union", parent))
            self.scopes[sid]["parts"] = [left, right]
            self._walk_loose(node, ("order", "limit", "offset"), ctes, parent)
            return sid
        sid = self._add(_new_scope("opaque", parent))
        self._walk_loose(node, tuple(node.args), ctes, parent)
        return sid

    def select(self, node: exp.Select, ctes: dict[str, tuple[int, tuple[str, ...]]], parent: int) -> int:
        sid = self._add(_new_scope("select", parent))
        scope = self.scopes[sid]
        args = node.args
        from_ = args.get("from_")
        if from_ is not None:
            self.source(from_.this, ctes, sid, parent, in_star=True)
        for join in args.get("joins") or ():
            side_only = (join.args.get("kind") or "").upper() in ("SEMI", "ANTI")
            self.source(join.this, ctes, sid, parent, in_star=not side_only)
            if join.args.get("using") or (join.args.get("method") or "").upper() == "NATURAL":
                scope["merged"] = True
            if join.args.get("on") is not None:
                self.expr(join.args["on"], sid, ctes, _NO_LAMBDAS, 0)
        for lateral in args.get("laterals") or ():
            self.lateral(lateral, sid, ctes)
        if args.get("pivots"):
            scope["sources"].append(("", "opaque", None, (), True))  # PIVOT makes columns we cannot name
        for projection in node.expressions:
            self.projection(projection, sid, ctes)
        for key, value in args.items():
            if key in _SELECT_HANDLED or value is None:
                continue
            visible = 0 if key in ("where", "prewhere") else ALL_ALIASES
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, exp.Expression):
                    self.expr(item, sid, ctes, _NO_LAMBDAS, visible)
        return sid

    def source(self, node: exp.Expression, ctes: dict[str, tuple[int, tuple[str, ...]]], sid: int, parent: int,
               *, in_star: bool) -> None:
        """Something a FROM or JOIN reads: a table or CTE by name, a subquery, VALUES, a table function."""
        scope = self.scopes[sid]
        alias_node = node.args.get("alias")
        alias = (alias_node.name if alias_node is not None else "").lower()
        renames = _renames(alias_node)
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Identifier):
            name = node.name.lower()
            if name in ctes and not node.args.get("db"):
                target, cte_renames = ctes[name]
                scope["sources"].append((alias or name, "scope", target, renames or cte_renames, in_star))
            else:
                scope["sources"].append((alias or name, "table", name, renames, in_star))
            return
        if isinstance(node, (exp.Subquery, exp.Select, exp.SetOperation)):
            target = self.query(node, ctes, parent)
            scope["sources"].append((alias, "scope", target, renames, in_star))
            return
        if isinstance(node, exp.Values) and renames:
            scope["sources"].append((alias, "columns", renames, (), in_star))
        else:
            scope["sources"].append((alias, "opaque", None, (), in_star))
        self._walk_loose(node, tuple(node.args), ctes, sid)

    def lateral(self, node: exp.Lateral, sid: int, ctes: dict[str, tuple[int, tuple[str, ...]]]) -> None:
        """LATERAL VIEW explode(x) t AS a, b: a source named t with columns a, b."""
        function = node.this
        if isinstance(function, exp.Expression):
            self.expr(function, sid, ctes, _NO_LAMBDAS, 0)
        alias_node = node.args.get("alias")
        alias = (alias_node.name if alias_node is not None else "").lower()
        names = _renames(alias_node)
        if not names and isinstance(function, _EXPLODES):
            names = _EXPLODE_COLUMNS
        kind = "columns" if names else "opaque"
        self.scopes[sid]["sources"].append((alias, kind, names or None, (), True))

    def projection(self, node: exp.Expression, sid: int, ctes: dict[str, tuple[int, tuple[str, ...]]]) -> None:
        """One item of the SELECT list; it may use the aliases defined before it (lateral column aliases)."""
        scope = self.scopes[sid]
        is_alias = type(node) is exp.Alias  # the common case first: `expression AS name`
        if not is_alias and isinstance(node, exp.Star):
            scope["projections"].append(("star", None, _excepted(node), -1, "*"))
            return
        if not is_alias and isinstance(node, exp.Column) and isinstance(node.this, exp.Star):
            qualifier = node.args.get("table")
            scope["projections"].append(("star", qualifier.name.lower() if qualifier else None,
                                         _excepted(node.this), _offset(node), node.sql("spark")))
            return
        inner = node.args["this"] if is_alias else node
        type_ = self.expr(inner, sid, ctes, _NO_LAMBDAS, len(scope["aliases"]))
        name: str | int | None
        text = ""
        if is_alias:
            alias = node.args["alias"]
            name, offset = alias.this, _identifier_offset(alias)
            if offset < 0:
                offset = self.first_offset(inner)
        elif type(inner) is exp.Column:
            name, offset = inner.args["this"].this, _offset(inner)
        else:
            name, offset = self.output_name(inner, sid), self.first_offset(inner)
            text = _short(self.source_text(inner))
        if isinstance(name, str):
            scope["aliases"].append(name.lower())
        scope["projections"].append(("expr", name, type_, offset, text))

    def output_name(self, node: exp.Expression, sid: int) -> str | int | None:
        """The name Spark gives an unaliased output: a column's own name (also through parentheses and
        CAST / TRY_CAST / `::`), a struct field's name; anything else gets a made-up name (None)."""
        while isinstance(node, exp.Paren):
            node = node.this
        if isinstance(node, (exp.Cast, exp.TryCast)) and not _called_by_name(node) \
                and isinstance(node.this, exp.Column):
            refs = self.scopes[sid]["refs"]
            column = node.this
            if len(column.parts) == 1:
                return column.name
            for index in range(len(refs) - 1, -1, -1):  # the reference the walk just recorded
                if refs[index][2] == _offset(column):
                    return index
            return None
        if isinstance(node, (exp.Column, exp.Dot)):
            return node.name or None
        return None

    # -------------------------------------------------------------------------------- expressions

    def expr(self, node: exp.Expression, sid: int, ctes: dict[str, tuple[int, tuple[str, ...]]],
             lambdas: frozenset[str], visible: int) -> TypeExpr:
        """Record the references and calls under `node`; return its type expression."""
        kind = type(node)
        category = _CATEGORIES.get(kind)
        if category is None:
            category = _CATEGORIES[kind] = _categorize(kind)
        if category is _COLUMN:
            return self.column(node, sid, lambdas, visible)
        if category is _LITERAL:
            return ("s", node.this) if node.is_string else ("t", "numeric")
        if category is _LEAF:
            return None
        if category is _NULL:
            return ("t", "null")
        if category is _BOOLEAN:
            return ("t", "boolean")
        if category is _LAMBDA:
            params = frozenset(p.name.lower() for p in node.expressions)
            self.expr(node.this, sid, ctes, lambdas | params, visible)
            return None
        if category is _QUERY:
            self.query(node, ctes, sid)
            return None
        if category.function:
            self.call_name(node)
        if category is _CAST:
            self.expr(node.this, sid, ctes, lambdas, visible)
            to = node.args.get("to")
            family = _TYPE_FAMILIES.get(to.this.name) if isinstance(to, exp.DataType) else None
            return ("t", family) if family else None
        if category.branches:
            return self.branches(node, sid, ctes, lambdas, visible)
        for value in node.args.values():
            if value is None:
                continue
            if type(value) is list:
                for item in value:
                    if isinstance(item, exp.Expression):
                        self.expr(item, sid, ctes, lambdas, visible)
            elif isinstance(value, exp.Expression):
                self.expr(value, sid, ctes, lambdas, visible)
        return category.result

    def branches(self, node: exp.Expression, sid: int, ctes: dict[str, tuple[int, tuple[str, ...]]],
                 lambdas: frozenset[str], visible: int) -> TypeExpr:
        """COALESCE(a, b), CASE ... THEN a ELSE b, max(a)...: the family their values agree on."""
        values: list[TypeExpr] = []
        for key, value in node.args.items():
            items = value if isinstance(value, list) else (value,)
            for item in items:
                if not isinstance(item, exp.Expression):
                    continue
                type_ = self.expr(item, sid, ctes, lambdas, visible)
                if key in _VALUE_ARGUMENTS.get(type(node), ("this", "expressions")):
                    values.append(type_)
        return ("any", tuple(values)) if values else None

    def column(self, node: exp.Column, sid: int, lambdas: frozenset[str], visible: int) -> TypeExpr:
        args = node.args
        this = args["this"]
        if type(this) is exp.Star:
            return None
        if args.get("table") is None:  # the common case, a bare name: no list of parts to build
            written = this.this
            lowered: tuple[str, ...] = (written.lower(),)
            offset = _identifier_offset(this)
        else:
            parts = node.parts
            names = [part.name for part in parts]
            written, lowered, offset = ".".join(names), tuple(name.lower() for name in names), _first_located(parts)
        if lowered[0] in lambdas:
            return None
        refs = self.scopes[sid]["refs"]
        refs.append((lowered, written, offset, visible))
        return ("r", len(refs) - 1)

    def call_name(self, node: exp.Func) -> None:
        """Record `name(` for the function check, as written (sqlglot may map it to a class of its own)."""
        meta = node._meta  # noqa: SLF001 - `.meta` would create a dict on every node without one
        if not meta:
            return
        start, end = meta.get("start"), meta.get("end")
        if start is None or end is None:
            return
        name = self.text[start:end + 1]
        if _IDENTIFIER.match(name) and self.text[end + 1:end + 65].lstrip().startswith("("):
            self.functions.append((name, start))

    # ------------------------------------------------------------------------------------ helpers

    def _walk_loose(self, node: exp.Expression, keys: Iterable[str], ctes: dict[str, tuple[int, tuple[str, ...]]],
                    parent: int) -> None:
        """Calls and subqueries inside parts whose columns we do not resolve (they go to an opaque scope)."""
        sink = self._add(_new_scope("opaque", parent))
        self.scopes[sink]["sources"].append(("", "opaque", None, (), True))
        for key in keys:
            value = node.args.get(key)
            for item in value if isinstance(value, list) else (value,):
                if isinstance(item, exp.Expression) and key != "alias":
                    self.expr(item, sink, ctes, _NO_LAMBDAS, ALL_ALIASES)

    def _add(self, scope: dict[str, Any]) -> int:
        self.scopes.append(scope)
        return len(self.scopes) - 1

    def first_offset(self, node: exp.Expression) -> int:
        """Where an expression starts in the text (its first located token), or -1."""
        best = -1
        for child in node.walk():
            start = child.meta.get("start") if child._meta else None  # noqa: SLF001 - avoids creating a dict per node
            if start is not None and (best < 0 or start < best):
                best = start
        return best

    def source_text(self, node: exp.Expression) -> str:
        """The expression as written (for messages): from its first to its last located token, with the
        closing parentheses that follow; sqlglot's rendering when nothing is located."""
        starts, ends = [], []
        for child in node.walk():
            meta = child._meta  # noqa: SLF001
            if meta and meta.get("start") is not None:
                starts.append(meta["start"])
                ends.append(meta["end"])
        if not starts:
            return node.sql("spark")
        start, end = min(starts), max(ends) + 1
        depth = self.text.count("(", start, end) - self.text.count(")", start, end)
        while depth > 0 and end < len(self.text) and (self.text[end].isspace() or self.text[end] == ")"):
            depth -= self.text[end] == ")"
            end += 1
        return " ".join(self.text[start:end].split())

    def select_offset(self, tree: exp.Expression) -> int:
        """Offset of the SELECT keyword that starts the output rows (after any CTEs)."""
        node = tree
        while isinstance(node, (exp.Subquery, exp.Paren, exp.SetOperation)):
            node = node.this
        if not isinstance(node, exp.Select):
            return -1
        first = -1
        for part in (*node.expressions, node.args.get("from_")):  # the first one located will do
            if part is not None and (first := self.first_offset(part)) >= 0:
                break
        if first < 0:
            return -1
        starts = [m.start() for m in _SELECT_WORD.finditer(self.text, 0, first)]
        return starts[-1] if starts else -1


_NO_LAMBDAS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class _Category:
    """How `_Builder.expr` treats a node class (worked out once per class, not once per node)."""

    name: str
    function: bool = False
    branches: bool = False
    result: TypeExpr = None


_COLUMN, _LITERAL, _LEAF, _NULL, _BOOLEAN, _LAMBDA, _QUERY = (
    _Category(name) for name in ("column", "literal", "leaf", "null", "boolean", "lambda", "query"))
_CAST = _Category("cast", function=True)
_CATEGORIES: dict[type, _Category] = {exp.Column: _COLUMN, exp.Literal: _LITERAL, exp.Null: _NULL,
                                      exp.Boolean: _BOOLEAN, exp.Lambda: _LAMBDA, exp.Identifier: _LEAF}


def _categorize(kind: type) -> _Category:
    if issubclass(kind, _SKIP):
        return _LEAF
    if issubclass(kind, _QUERIES):
        return _QUERY
    if issubclass(kind, (exp.Cast, exp.TryCast)):
        return _CAST
    function = issubclass(kind, exp.Func)
    if issubclass(kind, _SAME_AS_ARGUMENTS):
        return _Category(kind.__name__, function=function, branches=True)
    if issubclass(kind, _STRING_FUNCTIONS):
        result: TypeExpr = ("t", "string")
    elif issubclass(kind, _ARITHMETIC) or issubclass(kind, _NUMERIC_FUNCTIONS):
        result = ("t", "numeric")
    elif issubclass(kind, _PREDICATES):
        result = ("t", "boolean")
    else:
        result = None
    return _Category(kind.__name__, function=function, result=result)
_SELECT_HANDLED = frozenset({"expressions", "from_", "joins", "laterals", "with_", "kind", "hint",
                             "operation_modifiers"})
_VALUE_ARGUMENTS: dict[type, tuple[str, ...]] = {exp.If: ("true", "false"), exp.Case: ("ifs", "default")}
"""Which arguments carry the values of the result (a CASE's conditions do not)."""


def _renames(alias: exp.Expression | None) -> tuple[str, ...]:
    """Column names given with an alias: `x(a, b) AS (...)`, `(...) AS q(a, b)`, `LATERAL VIEW ... t AS a`."""
    if alias is None:
        return ()
    return tuple(column.name for column in alias.args.get("columns") or ())


def _excepted(star: exp.Expression) -> tuple[str, ...]:
    return tuple(c.name.lower() for c in star.args.get("except_") or () if isinstance(c, exp.Expression))


def _identifier_offset(node: exp.Expression | None) -> int:
    """Where a located token (an identifier) starts, or -1. Reads `_meta`: `.meta` creates a dict."""
    meta = node._meta if node is not None else None  # noqa: SLF001
    return meta.get("start", -1) if meta else -1


def _offset(column: exp.Column) -> int:
    """Where a column reference starts: at its first part (`s` in `s.customer_id`)."""
    return _first_located(column.parts)


def _first_located(parts: list[exp.Expression]) -> int:
    for part in parts:
        offset = _identifier_offset(part)
        if offset >= 0:
            return offset
    return -1


def _called_by_name(node: exp.Expression) -> bool:
    """True when a Cast node was written as a function (`to_timestamp(x)`), not as CAST syntax."""
    return bool(node._meta and node.meta.get("start") is not None)  # noqa: SLF001


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
