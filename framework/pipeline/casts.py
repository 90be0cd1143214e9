"""Explicit casts in a SQL transform never turn a value into NULL, and a failing one says where it is.

Under ANSI SQL semantics (Databricks' and the local engine's: see `docs/databricks-fidelity.md`) a
`CAST(x AS T)` that cannot hold its value stops the query, but Spark's message names neither the spec
nor the column, and without ANSI it writes NULL. Either way the declared-type protection of the
conform step (`framework.pipeline.conform`) is bypassed: the value already has the declared type when
it gets there. So before a transform runs, every explicit `CAST(x AS T)` and `x::T` in its text is
rewritten — on Databricks and locally alike, since both build the query here — into a guard:

* `on_type_error: fail` (the default): `raise_error` naming the spec file, line and column of the
  CAST in the YAML, the table, the output column and the value, when `x` is not NULL and
  `try_cast(x AS T)` is;
* `on_type_error: quarantine` on the table or the output column, for a CAST in the main SELECT's list
  (where a row can still be carried): the value becomes NULL and an internal column
  `_medallion_cast_error_<n>` carries the reason; conform folds it into the row's type errors, so the
  row goes to `<table>_quarantine` with the reason in `_failed_rules`. A CAST elsewhere (a CTE, a
  WHERE, a subquery) fails as above: no row exists yet to quarantine.

Lenient conversions are written `try_cast` on purpose and are left alone. The rewrite splices text
(sqlglot's tokenizer finds the CASTs; nothing else of the SQL is regenerated), so the query Spark
sees is the user's own but for the guarded casts.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from framework.pipeline.conform import CAST_ERROR_PREFIX, CAST_ERROR_TEXT, SAMPLE_VALUE_CHARS
from framework.spec.model import TableSpec

Locator = Callable[[int, int], tuple[int, int]]
"""(line, column) inside the SQL text, 1-based -> (line, column) in the spec file."""

_CLAUSE_ENDS = frozenset({"FROM", "WHERE", "GROUP_BY", "HAVING", "ORDER_BY", "LIMIT", "WINDOW", "UNION", "EXCEPT",
                          "INTERSECT", "CLUSTER_BY", "DISTRIBUTE_BY", "SORT_BY", "QUALIFY", "LATERAL", "SEMICOLON"})


@dataclass(frozen=True)
class CastSite:
    """One explicit cast in the SQL text: `CAST(<operand> AS <type>)` or `<operand>::<type>`."""

    start: int
    """Offset of the first character of the whole cast expression."""
    end: int
    """Offset just past its last character."""
    operand: tuple[int, int]
    type_text: str
    text: str


@dataclass(frozen=True)
class GuardedSql:
    sql: str
    reason_columns: tuple[str, ...] = ()
    """Internal columns the main SELECT gained (quarantine mode), one per quarantinable cast."""


def _tokens(sql: str) -> list[Any]:
    from sqlglot.dialects.spark import Spark

    return list(Spark().tokenize(sql))


def _kind(token: Any) -> str:
    return token.token_type.name


def _matching_paren(tokens: list[Any], open_index: int) -> int:
    depth = 0
    for i in range(open_index, len(tokens)):
        kind = _kind(tokens[i])
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            depth -= 1
            if depth == 0:
                return i
    return -1


def find_casts(sql: str, tokens: list[Any] | None = None) -> list[CastSite]:
    """Every explicit cast in `sql` (outermost and nested), in text order."""
    tokens = tokens if tokens is not None else _tokens(sql)
    sites = []
    for i, token in enumerate(tokens):
        if token.text.upper() == "CAST" and i + 1 < len(tokens) and _kind(tokens[i + 1]) == "L_PAREN" \
                and _kind(token) != "STRING":
            close = _matching_paren(tokens, i + 1)
            alias = _top_level_alias(tokens, i + 1, close)
            if close < 0 or alias < 0:
                continue
            start, end = token.start, tokens[close].end + 1
            sites.append(CastSite(start, end, (tokens[i + 1].end + 1, tokens[alias].start),
                                  sql[tokens[alias].end + 1:tokens[close].start].strip(), sql[start:end]))
        elif _kind(token) == "DCOLON" and i > 0:
            site = _colon_cast(sql, tokens, i)
            if site is not None:
                sites.append(site)
    return sorted(sites, key=lambda s: (s.start, -s.end))


def _top_level_alias(tokens: list[Any], open_index: int, close: int) -> int:
    depth = 0
    for i in range(open_index, close):
        kind = _kind(tokens[i])
        depth += kind == "L_PAREN"
        depth -= kind == "R_PAREN"
        if depth == 1 and kind == "ALIAS":
            return i
    return -1


def _colon_cast(sql: str, tokens: list[Any], colon: int) -> CastSite | None:
    """`operand::type` where the operand is a name (maybe dotted), a literal or a parenthesised call."""
    first = colon - 1
    if _kind(tokens[first]) == "R_PAREN":
        depth = 0
        while first >= 0:
            depth += _kind(tokens[first]) == "R_PAREN"
            depth -= _kind(tokens[first]) == "L_PAREN"
            if depth == 0:
                break
            first -= 1
        if first > 0 and _kind(tokens[first - 1]) in ("VAR", "IDENTIFIER"):
            first -= 1  # a function call: name(...)
    while first >= 2 and _kind(tokens[first - 1]) == "DOT":
        first -= 2  # a.b.c
    if first < 0 or colon + 1 >= len(tokens):
        return None
    last = colon + 1
    if last + 1 < len(tokens) and _kind(tokens[last + 1]) == "L_PAREN":
        last = _matching_paren(tokens, last + 1)
        if last < 0:
            return None
    start, end = tokens[first].start, tokens[last].end + 1
    return CastSite(start, end, (start, tokens[colon].start), sql[tokens[colon].end + 1:end].strip(), sql[start:end])


def main_select_list(tokens: list[Any]) -> tuple[int, int, list[tuple[int, int]]] | None:
    """(start, end, items) offsets of the outermost SELECT's list — None for set operations or no SELECT.

    Items are (start, end) offsets of each comma-separated projection at depth 0.
    """
    depth, select, items, item_start, end = 0, -1, [], -1, -1
    for i, token in enumerate(tokens):
        kind = _kind(token)
        if kind == "L_PAREN":
            depth += 1
        elif kind == "R_PAREN":
            depth -= 1
        elif depth == 0 and kind == "SELECT":
            if select >= 0:
                return None  # a second SELECT at depth 0: UNION and friends
            select = i
            item_start = tokens[i + 1].start if i + 1 < len(tokens) else -1
            if i + 1 < len(tokens) and _kind(tokens[i + 1]) in ("DISTINCT", "ALL"):
                item_start = tokens[i + 2].start if i + 2 < len(tokens) else -1
        elif depth == 0 and select >= 0 and end < 0 and kind == "COMMA":
            items.append((item_start, tokens[i - 1].end + 1))
            item_start = tokens[i + 1].start if i + 1 < len(tokens) else -1
        elif depth == 0 and select >= 0 and end < 0 and kind in _CLAUSE_ENDS:
            end = tokens[i - 1].end + 1
            items.append((item_start, end))
    if select < 0:
        return None
    if end < 0:
        last = len(tokens) - 1
        while last > select and _kind(tokens[last]) == "SEMICOLON":
            last -= 1
        end = tokens[last].end + 1
        items.append((item_start, end))
    return items[0][0], end, items


@lru_cache(maxsize=1024)
def _item_name(item: str) -> str | None:
    from sqlglot import exp, parse_one

    try:
        node = parse_one(item, read="spark")
    except Exception:  # noqa: BLE001 - a name is only for the message; the query itself is Spark's to judge
        return None
    return node.alias_or_name if isinstance(node, (exp.Alias, exp.Column)) or node.alias else None


def guard_casts(sql: str, spec: TableSpec, locate: Locator | None = None) -> GuardedSql:
    """The transform with every explicit cast guarded (see the module docstring).

    `locate` maps a position in `sql` to the spec file (`Document.within`); without it, messages
    name the spec file only.
    """
    if "cast" not in sql.lower() and "::" not in sql:
        return GuardedSql(sql)
    tokens = _tokens(sql)
    sites = find_casts(sql, tokens)
    if not sites:
        return GuardedSql(sql)
    select = main_select_list(tokens)
    reasons: list[str] = []

    def column_of(site: CastSite) -> tuple[str | None, bool]:
        """(output column, quarantinable) of a cast in the main SELECT's list."""
        if select is None or not (select[0] <= site.start < select[1]):
            return None, False
        for start, end in select[2]:
            if start <= site.start < end:
                name = _item_name(sql[start:end])
                return name, name is not None and _quarantines(spec, name)
        return None, False

    def render(lo: int, hi: int) -> str:
        out, at = [], lo
        for site in sites:
            if site.start < at or site.end > hi or site.start < lo:
                continue  # nested inside a site already rendered, or outside this range
            out.append(sql[at:site.start])
            operand = f"({render(*site.operand).strip()})"
            column, quarantinable = column_of(site)
            where = _where(spec, sql, site.start, locate)
            out.append(_guard(site, operand, column, quarantinable, where, spec, reasons))
            at = site.end
        out.append(sql[at:hi])
        return "".join(out)

    if select is None:
        return GuardedSql(render(0, len(sql)))
    head = render(0, select[1])  # everything up to the end of the main SELECT's list
    extra = "".join(f", {reason} AS `{CAST_ERROR_PREFIX}{n}`" for n, reason in enumerate(reasons))
    return GuardedSql(head + extra + render(select[1], len(sql)),
                      tuple(f"{CAST_ERROR_PREFIX}{n}" for n in range(len(reasons))))


def _quarantines(spec: TableSpec, column: str) -> bool:
    declared = next((c for c in spec.columns if c.name == column), None)
    return declared is not None and spec.type_error_action(declared) == "quarantine"


def _guard(site: CastSite, operand: str, column: str | None, quarantinable: bool, where: str, spec: TableSpec,
           reasons: list[str]) -> str:
    """The guarded text of one cast; a quarantinable one appends its reason expression to `reasons`."""
    tried = f"try_cast({operand} AS {site.type_text})"
    bad = f"({operand} IS NOT NULL AND {tried} IS NULL)"
    shown = f"substring(string({operand}), 1, {SAMPLE_VALUE_CHARS})"
    written = " ".join(site.text.split())
    failure = f"' ({written}), which {CAST_ERROR_TEXT} {site.type_text}"
    if quarantinable:
        reasons.append(f"CASE WHEN {bad} THEN concat({_sql_string(f'{column}: ' + chr(39))}, {shown}, "
                       f"{_sql_string(failure)}) END")
        return tried
    target = f"column `{column}`" if column else "the transform"
    lead = f"{where}: table `{spec.name}`: {target} is given '"
    advice = ("; use try_cast where NULL is meant, fix the value, or set `on_type_error: quarantine` on the "
              "column or the table to quarantine such rows")
    message = f"concat({_sql_string(lead)}, {shown}, {_sql_string(failure + advice)})"
    return f"CASE WHEN {bad} THEN raise_error({message}) ELSE {tried} END"


def _sql_string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _where(spec: TableSpec, sql: str, offset: int, locate: Locator | None) -> str:
    """`file:line:column` of a position in the SQL text (the file alone when it cannot be located)."""
    if locate is None:
        return spec.file
    line = sql.count("\n", 0, offset) + 1
    column = offset - (sql.rfind("\n", 0, offset) + 1) + 1
    file_line, file_column = locate(line, column)
    return f"{spec.file}:{file_line}:{file_column}"
