"""Bind the shape of a SELECT (framework.validation.scopes) to the columns of the tables it reads.

Given the declared columns of each table a transform or SQL source reads, this answers what Spark's
analyzer would answer minutes later: which column references do not exist (with a "did you mean"),
which are ambiguous, and which columns the statement outputs, with their type family when it is
cheap to know. It mirrors Spark's rules where they matter for errors: names are case-insensitive; a
table alias hides the table's name; a SELECT-list alias is visible to later items, GROUP BY, HAVING
and ORDER BY but not to WHERE; a reference not found in a subquery is looked up in the enclosing one.

Where a table's columns cannot be known offline (an upstream whose schema may evolve, a table
function, a table that failed to load) references into it are not reported: only certain errors are.
Results are cached by SQL text and the columns of the tables it reads.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, NamedTuple

from framework.validation.scopes import Shape, TypeExpr

Column = tuple[str, "str | None"]
"""(name, type family or None)."""
Base = tuple[tuple[Column, ...], bool]
"""The rows of a table as the SQL sees them: its columns, and whether it may have others (open)."""


class Problem(NamedTuple):
    message: str
    hint: str
    offset: int
    """0-based offset in the SQL text, -1 when unknown."""
    kind: str = "unknown-column"
    """unknown-column or ambiguous-column."""


class Output(NamedTuple):
    """One output column of the statement."""

    name: str | None
    """As Spark names it; None when Spark would make a name up (an unaliased expression)."""
    family: str | None
    literal: str | None
    """The text of a string literal output (whether it casts depends on it)."""
    origin: str | None
    """The column reference it passes through (its type is that column's), as written."""
    offset: int
    text: str
    """The expression of an unnamed output, or the `*` that brought a column."""
    star: bool = False


@dataclass(frozen=True)
class Resolution:
    problems: tuple[Problem, ...]
    outputs: tuple[Output, ...]
    open: bool
    """True when the output may hold columns nobody declared (a `*` over a table that may evolve)."""


_Col = tuple[Any, ...]
"""Internal: (name, family, literal, origin, offset, text, star)."""
_CACHE: dict[tuple, Resolution] = {}
_CACHE_LIMIT = 20_000


def clear_cache() -> None:
    """Forget every resolution computed so far."""
    _CACHE.clear()


def tables_read(shape: Shape) -> set[str]:
    """Lower-case names of the tables (not CTEs) a shape reads."""
    return {target for scope in shape["scopes"] for _, kind, target, _, _ in scope["sources"] if kind == "table"}


def resolve(text: str, shape: Shape, bases: dict[str, Base]) -> Resolution:
    """Bind `shape` (of the SQL `text`) to `bases`: lower-case table name -> its rows."""
    key = (text, tuple(sorted(bases.items())))
    result = _CACHE.get(key)
    if result is None:
        if len(_CACHE) >= _CACHE_LIMIT:
            _CACHE.clear()
        result = _CACHE[key] = _Binder(shape, bases).run()
    return result


class _Binder:
    def __init__(self, shape: Shape, bases: dict[str, Base]):
        self.scopes: list[dict[str, Any]] = shape["scopes"]
        self.root: int = shape["root"]
        self.bases = bases
        self.problems: list[Problem] = []
        self._columns: dict[int, tuple[list[_Col], bool]] = {}
        self._refs: dict[int, list[tuple[str | None, bool]]] = {}
        self._busy: set[int] = set()
        self._indexes: dict[int, tuple[dict[str, _Col], list[_Col], bool]] = {}

    def run(self) -> Resolution:
        for sid in range(len(self.scopes)):
            self.refs(sid)
        columns, open_ = self.columns(self.root)
        outputs = tuple(Output(*column) for column in columns)
        return Resolution(tuple(self.problems), outputs, open_)

    # ------------------------------------------------------------------------------- columns of scopes

    def columns(self, sid: int) -> tuple[list[_Col], bool]:
        """The output columns of a scope, and whether it may have others."""
        known = self._columns.get(sid)
        if known is not None:
            return known
        if sid in self._busy:  # a scope reading itself (recursive CTE): nothing is certain
            return [], True
        self._busy.add(sid)
        scope = self.scopes[sid]
        if scope["kind"] == "select":
            result = self._select_columns(sid, scope)
        elif scope["kind"] == "union":
            result = self._union_columns(scope)
        else:
            result = ([], True)
        self._busy.discard(sid)
        self._columns[sid] = result
        return result

    def _select_columns(self, sid: int, scope: dict[str, Any]) -> tuple[list[_Col], bool]:
        out: list[_Col] = []
        open_ = False
        refs = self.refs(sid)
        for kind, name, type_, offset, text in scope["projections"]:
            if kind == "star":
                columns, star_open = self._star(scope, name, type_, offset, text)
                out.extend(columns)
                open_ = open_ or star_open
                continue
            if isinstance(name, int):  # CAST(x.y AS T): named after y only when x.y is a table's column
                name = scope["refs"][name][1].split(".")[-1] if refs[name][1] else None
            family, literal = self.type_of(type_, refs)
            origin = scope["refs"][type_[1]][1] if type_ is not None and type_[0] == "r" else None
            out.append((name, family, literal, origin, offset, text, False))
        if scope["merged"]:  # USING / NATURAL join: shared columns appear once
            seen: set[str] = set()
            out = [c for c in out if c[0] is None or not (c[0].lower() in seen or seen.add(c[0].lower()))]
        return out, open_

    def _star(self, scope: dict[str, Any], qualifier: str | None, excepted: tuple[str, ...], offset: int,
              text: str) -> tuple[list[_Col], bool]:
        sources = [s for s in scope["sources"] if s[4]] if qualifier is None else \
            [s for s in scope["sources"] if s[0] == qualifier]
        if qualifier is not None and not sources:
            return [], True  # `st.*` of a struct column: its fields are not declared anywhere
        out: list[_Col] = []
        open_ = False
        for source in sources:
            columns, source_open = self.source_columns(source)
            open_ = open_ or source_open
            out.extend((name, family, None, name, offset, text, True) for name, family, *_ in columns
                       if name is not None and name.lower() not in excepted)
        return out, open_

    def _union_columns(self, scope: dict[str, Any]) -> tuple[list[_Col], bool]:
        branches = [self.columns(part) for part in scope["parts"]]
        first, open_ = branches[0]
        out = []
        for index, (name, family, *rest) in enumerate(first):
            families = {b[0][index][1] if index < len(b[0]) else None for b in branches}
            out.append((name, family if len(families) == 1 else None, *rest))
        return out, open_ or any(b[1] for b in branches)

    def source_columns(self, source: tuple) -> tuple[list[_Col], bool]:
        _, kind, target, renames, _ = source
        if kind == "table":
            base = self.bases.get(target)
            if base is None:
                return [], True
            columns, open_ = _base_columns(base), base[1]
        elif kind == "scope":
            columns, open_ = self.columns(target)
        elif kind == "columns":
            columns, open_ = [(name, None, None, name, -1, "", False) for name in target], False
        else:
            return [], True
        if renames and len(renames) == len(columns):
            columns = [(new, *rest) for new, (_, *rest) in zip(renames, columns)]
        return columns, open_

    def index(self, source: tuple) -> tuple[dict[str, _Col], list[_Col], bool]:
        """A source's columns by lower-case name (Spark resolves names case-insensitively), memoized."""
        known = self._indexes.get(id(source))
        if known is None:
            columns, open_ = self.source_columns(source)
            by_name: dict[str, _Col] = {}
            for column in columns:
                if column[0] is not None:
                    by_name.setdefault(column[0].lower(), column)
            known = self._indexes[id(source)] = (by_name, columns, open_)
        return known

    # ------------------------------------------------------------------------------------ references

    def refs(self, sid: int) -> list[tuple[str | None, bool]]:
        """(type family, resolved to a table column) of every reference in a scope; records problems."""
        known = self._refs.get(sid)
        if known is None:
            known = self._refs[sid] = [self._ref(sid, ref) for ref in self.scopes[sid]["refs"]]
        return known

    def _ref(self, sid: int, ref: tuple) -> tuple[str | None, bool]:
        parts, written, offset, visible = ref
        scope = self.scopes[sid]
        if len(parts) == 1 and len(scope["sources"]) == 1:  # the common case: a bare name, one source
            column = self.index(scope["sources"][0])[0].get(parts[0])
            if column is not None:
                return column[1], True
        missing: tuple | None = None
        if len(parts) >= 2:  # alias.column, or db.table.column; else struct.field (tried below)
            for start in (0, 1) if len(parts) >= 3 else (0,):
                found = self._qualified(sid, parts[start:])
                if found is None:
                    continue
                status, family, source, columns = found
                if status == "found":
                    is_column = len(parts) - start == 2
                    return (family if is_column else None), is_column
                if status == "open":
                    return None, False
                missing = (source, columns, written.split(".")[start + 1])
                break
        uncertain = False
        name = parts[0]
        current, own = sid, True
        while current >= 0:
            here = self.scopes[current]
            matches = []
            for source in here["sources"]:
                by_name, _, open_ = self.index(source)
                uncertain = uncertain or open_
                if name in by_name:
                    matches.append((source, by_name[name]))
            if matches:
                if len(matches) > 1 and own and len(parts) == 1 and not here["merged"] and not uncertain:
                    aliases = " and ".join(f"`{m[0][0]}`" for m in matches if m[0][0]) or "two of its sources"
                    self.problems.append(Problem(f"column `{written}` is ambiguous: {aliases} both have it",
                                                 f"qualify it, e.g. `{matches[0][0][0] or 'alias'}.{written}`", offset,
                                                 "ambiguous-column"))
                family = matches[0][1][1]
                return (family if len(parts) == 1 else None), len(parts) == 1
            if own and name in here["aliases"][:visible]:
                return None, False
            current, own = here["parent"], False
        if uncertain:
            return None, False
        self.problems.append(self._unknown(scope, parts, written, offset, visible, missing))
        return None, False

    def _qualified(self, sid: int, parts: tuple[str, ...]) -> tuple[str, str | None, tuple, list] | None:
        """Look `alias.column` up in this scope and the enclosing ones; None when no source has that alias."""
        current = sid
        while current >= 0:
            for source in self.scopes[current]["sources"]:
                if source[0] == parts[0]:
                    by_name, columns, open_ = self.index(source)
                    if parts[1] in by_name:
                        return "found", by_name[parts[1]][1], source, columns
                    return ("open" if open_ else "missing"), None, source, columns
            current = self.scopes[current]["parent"]
        return None

    def _unknown(self, scope: dict[str, Any], parts: tuple[str, ...], written: str, offset: int, visible: int,
                 missing: tuple | None) -> Problem:
        if missing is not None:
            source, columns, column = missing
            names = [c[0] for c in columns if c[0]]
            return Problem(f"`{source[0]}` has no column `{column}`", _hint(column, names), offset)
        names = [c[0] for source in scope["sources"] for c in self.source_columns(source)[0] if c[0]]
        names += [a for a in scope["aliases"][:visible]]
        where = " or ".join(f"`{s[0]}`" for s in scope["sources"] if s[0]) or "the query"
        if len(parts) >= 2:
            return Problem(f"unknown column `{written}`: `{written.split('.')[0]}` is neither a table alias "
                           f"nor a column of {where}", _hint(parts[0], names), offset)
        return Problem(f"unknown column `{written}`: not a column of {where}", _hint(parts[0], names), offset)

    # ----------------------------------------------------------------------------------------- types

    def type_of(self, type_: TypeExpr, refs: list[tuple[str | None, bool]]) -> tuple[str | None, str | None]:
        """(family, string literal text) of a type expression."""
        if type_ is None:
            return None, None
        tag = type_[0]
        if tag == "t":
            return type_[1], None
        if tag == "s":
            return "string", type_[1]
        if tag == "r":
            return refs[type_[1]][0], None
        families = {self.type_of(item, refs)[0] for item in type_[1]} - {"null"}
        if len(families) == 1:
            family = families.pop()
            literal = type_[1][0][1] if len(type_[1]) == 1 and type_[1][0] and type_[1][0][0] == "s" else None
            return family, literal
        return None, None


_BASE_COLUMNS: dict[int, tuple[Base, list[_Col]]] = {}


def _base_columns(base: Base) -> list[_Col]:
    """A table's columns in the binder's form, once per table (every reader of an upstream shares it)."""
    known = _BASE_COLUMNS.get(id(base))
    if known is None or known[0] is not base:
        if len(_BASE_COLUMNS) >= _CACHE_LIMIT:
            _BASE_COLUMNS.clear()
        known = _BASE_COLUMNS[id(base)] = (base, [(name, family, None, name, -1, "", False) for name, family in base[0]])
    return known[1]


def _hint(word: str, candidates: list[str]) -> str:
    lowered = {c.lower(): c for c in candidates}
    matches = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    if matches:
        return f"did you mean `{lowered[matches[0]]}`?"
    if not candidates:
        return ""
    shown = sorted(dict.fromkeys(candidates))
    listed = ", ".join(shown[:12]) + (f" and {len(shown) - 12} more" if len(shown) > 12 else "")
    return f"columns here: {listed}"
