"""SQL checks without Spark: expectation rules and transforms are parsed with sqlglot (Spark dialect).

DLT only accepts expectation constraints that are plain boolean expressions (no subqueries, no UDFs),
and a transform must be one SELECT. Checking this at validate time, without a JVM, turns a pipeline
that would fail minutes into a Databricks update into an error on the exact line of the spec.
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from framework.validation.scopes import analyze

from framework.sql import DIALECT

MAX_RULE_CHARS = 10_000
MAX_SELECT_CHARS = 100_000
"""Parsing is linear but not free (~3 s per megabyte): cap texts far above anything real so a hostile
spec cannot make validation crawl."""

_FORBIDDEN_STATEMENTS: tuple[type[exp.Expression], ...] = tuple(
    getattr(exp, name) for name in
    ("Create", "Drop", "Alter", "Insert", "Update", "Delete", "Merge", "Command", "TruncateTable", "Use", "Set",
     "Grant", "Revoke", "Copy", "LoadData", "Analyze", "Pragma", "Describe", "Cache", "Uncache", "Refresh")
    if hasattr(exp, name)
)
_NOT_BOOLEAN: tuple[type[exp.Expression], ...] = (exp.Literal, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Mod,
                                                   exp.Star, exp.Concat, exp.DPipe, exp.Neg)


@dataclass(frozen=True)
class SqlCheck:
    """The outcome of parsing one SQL text: an error, or what it references."""

    error: str | None = None
    columns: frozenset[str] = field(default_factory=frozenset)
    tables: tuple[str, ...] = ()
    position: tuple[int, int] | None = None
    """(line, column) of a syntax error inside the SQL text, 1-based, when sqlglot knows it."""
    shape: dict[str, Any] | None = field(default=None, compare=False)
    """For a valid SELECT: its scopes, outputs and references (framework.validation.scopes), for
    resolving it against the columns of its upstreams."""


def _error_position(exc: Exception) -> tuple[int, int] | None:
    if isinstance(exc, ParseError) and exc.errors and exc.errors[0].get("line"):
        return int(exc.errors[0]["line"]), max(int(exc.errors[0].get("col") or 1), 1)
    match = re.search(r"Line (\d+), Col: (\d+)", str(exc))
    return (int(match.group(1)), max(int(match.group(2)), 1)) if match else None


def _parse_error_text(exc: Exception) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        where = f" (SQL line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        description = re.sub(r"<class '(?:[\w.]+\.)?(\w+)'>", r"\1", first.get("description") or "invalid SQL")
        return f"{description}{where}"
    text = str(exc).strip()
    first = text.splitlines()[0] if text else "invalid SQL"
    return first if len(first) <= 200 else first[:199] + "…"


class _Parsers(threading.local):
    """One tokenizer and parser per thread, reused: `sqlglot.parse` builds a dialect, a tokenizer and a
    parser for every call, which costs a third of the parse of a short rule."""

    def __init__(self) -> None:
        dialect = Dialect.get_or_raise(DIALECT)
        self.tokenizer = dialect.tokenizer()
        self.parser = dialect.parser()


_parsers = _Parsers()


def parse_statements(text: str) -> list[exp.Expression]:
    """Every statement of `text` (Spark dialect), parsed with this thread's reused tokenizer and parser."""
    tokens = _parsers.tokenizer.tokenize(text)
    _reject_trailing_comma(text, tokens)
    with _type_names_memoized():
        trees = _parsers.parser.parse(tokens, text)
    return [e for e in trees if e is not None]


_AFTER_LAST_ITEM = frozenset(getattr(TokenType, name) for name in (
    "FROM", "WHERE", "GROUP_BY", "ORDER_BY", "HAVING", "LIMIT", "R_PAREN", "UNION", "EXCEPT", "INTERSECT",
    "WINDOW", "QUALIFY", "SEMICOLON", "SORT_BY", "CLUSTER_BY", "DISTRIBUTE_BY") if hasattr(TokenType, name))
"""Tokens that end a list: a comma right before one is a trailing comma."""


_MAYBE_TRAILING = re.compile(r",\s*(?:--[^\n]*\n\s*|/\*.*?\*/\s*)*(?:[);]|$|(?:from|where|group|order|having|limit|"
                             r"union|except|intersect|window|qualify|sort|cluster|distribute)\b)", re.I | re.S)
"""A quick look at the text first: most SQL has no comma before a clause keyword, and walking the
tokens of every transform costs more than this search."""


def _reject_trailing_comma(text: str, tokens: list[Any]) -> None:
    """`SELECT a, b, FROM source`: sqlglot drops the comma, Spark rejects the statement
    (TRAILING_COMMA_IN_SELECT / PARSE_SYNTAX_ERROR), so we reject it here, at the comma."""
    if _MAYBE_TRAILING.search(text) is None:
        return
    comma = TokenType.COMMA
    for index, token in enumerate(tokens):
        if token.token_type is comma:
            following = tokens[index + 1] if index + 1 < len(tokens) else None
            if following is not None and following.token_type is TokenType.WINDOW and index + 2 < len(tokens) \
                    and tokens[index + 2].token_type is TokenType.L_PAREN:
                continue  # `, window(ts, '5 minutes')`: the time-window function, not a WINDOW clause
            if following is None or following.token_type in _AFTER_LAST_ITEM:
                after = f"before {following.text.upper()}" if following is not None else "at the end"
                raise ParseError.new(f"trailing comma {after}", description=f"trailing comma {after}; remove it",
                                     line=token.line, col=token.col)


_TYPE_NAMES: dict[tuple[str, tuple], exp.DataType] = {}


@contextmanager
def _type_names_memoized() -> Iterator[None]:
    """Parse each type *name* once instead of twice per CAST.

    The Spark parser normalises every CAST type by asking `is_type("char", "varchar")`, and sqlglot
    answers by parsing "char" and "varchar" from scratch (a new dialect, tokenizer and parser each
    time): a quarter of the time spent parsing a transform full of CASTs. While we parse, calls of
    `sqlglot.parse_one` for a bare type name are served from a memo, as fresh copies, so nothing that
    sqlglot or anyone else receives differs from a real parse.
    """
    original = sqlglot.parse_one

    def parse_one(sql: Any, read: Any = None, dialect: Any = None, into: Any = None, **opts: Any) -> Any:
        if into is exp.DataType and read is None and dialect is None and isinstance(sql, str):
            key = (sql, tuple(sorted(opts.items(), key=lambda kv: kv[0])))
            cached = _TYPE_NAMES.get(key)
            if cached is None:
                cached = _TYPE_NAMES[key] = original(sql, into=into, **opts)
            return cached.copy()
        return original(sql, read=read, dialect=dialect, into=into, **opts)

    sqlglot.parse_one = parse_one
    try:
        yield
    finally:
        sqlglot.parse_one = original


def _parse(text: str, what: str, limit: int, invalid: str) -> list[exp.Expression] | SqlCheck:
    """Parse `text`, or say why not. sqlglot raises more than ParseError on odd input; none may escape."""
    if len(text) > limit:
        return SqlCheck(error=f"{what} is {len(text):,} characters long; the limit is {limit:,}")
    try:
        return parse_statements(text)
    except (ParseError, TokenError) as exc:
        return SqlCheck(error=f"{invalid}: {_parse_error_text(exc)}", position=_error_position(exc))
    except RecursionError:
        return SqlCheck(error=f"{what} is nested too deeply to parse")
    except Exception as exc:  # noqa: BLE001 - any parser failure is a finding, never a traceback
        return SqlCheck(error=f"{invalid}: {type(exc).__name__}: {_parse_error_text(exc)}")


@dataclass
class _Inventory:
    """What one walk over a syntax tree finds (one walk, not one per question: trees can be large)."""

    forbidden: exp.Expression | None = None
    has_subquery: bool = False
    ctes: set[str] = field(default_factory=set)
    tables: list[str] = field(default_factory=list)
    columns: list[exp.Column] = field(default_factory=list)
    lambda_params: set[str] = field(default_factory=set)


def _inventory(tree: exp.Expression) -> _Inventory:
    found = _Inventory()
    columns, tables = found.columns, found.tables
    for node in tree.walk(bfs=False):  # depth-first: tables come out in the order the SQL names them
        kind = type(node)  # exact types first: this loop sees every node of every transform
        if kind is exp.Column:
            columns.append(node)
        elif kind is exp.Table:
            tables.append(node.name)
        elif kind in _PLAIN_NODES:
            continue
        elif kind is exp.CTE:
            found.ctes.add(node.alias_or_name)
        elif kind is exp.Lambda:
            found.lambda_params.update(p.name for p in node.expressions)
        elif isinstance(node, (exp.Subquery, exp.Select, exp.Exists)):
            found.has_subquery = True
        elif found.forbidden is None and isinstance(node, _FORBIDDEN_STATEMENTS):
            found.forbidden = node
    return found


_PLAIN_NODES = frozenset({exp.Identifier, exp.Literal, exp.Alias, exp.Anonymous, exp.Paren, exp.And, exp.Or,
                          exp.Not, exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Is, exp.Null,
                          exp.Boolean, exp.Cast, exp.DataType, exp.Add, exp.Sub, exp.Mul, exp.Div, exp.Star,
                          exp.In, exp.Between, exp.Case, exp.If, exp.Coalesce, exp.Order, exp.Ordered, exp.Group,
                          exp.Where, exp.From, exp.Join, exp.Window, exp.Count, exp.Sum, exp.Avg, exp.Max, exp.Min})
"""Node types that are neither columns, tables nor anything forbidden: skipped without isinstance checks."""


def _forbidden_text(node: exp.Expression) -> str:
    return f"{node.key.upper()} statements are not allowed here"


def _column_names(found: _Inventory) -> frozenset[str]:
    return frozenset(c.name for c in found.columns if c.name and c.name not in found.lambda_params
                     and not isinstance(c.this, exp.Star))


def _root_columns(found: _Inventory) -> frozenset[str]:
    """Columns a rule reads, by their root: in `payload.price > 0` that is the struct column `payload`.

    A rule has no FROM clause, so a qualifier can only be a struct column, never a table alias.
    """
    roots = (c.parts[0].name for c in found.columns if not isinstance(c.this, exp.Star))
    return frozenset(name for name in roots if name and name not in found.lambda_params)


_RULES: dict[str, SqlCheck] = {}
_SELECTS: dict[str, SqlCheck] = {}
_CACHE_LIMIT = 50_000


def _cached(cache: dict[str, SqlCheck], text: str, check: Callable[[str], SqlCheck]) -> SqlCheck:
    """Results by text: projects repeat rules, and loading and checking a spec ask about the same SQL."""
    result = cache.get(text)
    if result is None:
        if len(cache) >= _CACHE_LIMIT:
            cache.clear()
        result = cache[text] = check(text)
    return result


def cached_select(text: str) -> SqlCheck | None:
    """The check of a SELECT text if it was computed already (here or by the validation worker)."""
    return _SELECTS.get(text)


def clear_caches() -> None:
    """Forget every rule and SELECT checked so far (tests compare cold and warm runs)."""
    _RULES.clear()
    _SELECTS.clear()


def warm(rules: dict[str, SqlCheck], selects: dict[str, SqlCheck]) -> None:
    """Adopt results computed elsewhere (by the validation worker process, see prefetch.py)."""
    _RULES.update(rules)
    _SELECTS.update(selects)


def check_boolean_expression(text: str) -> SqlCheck:
    """An expectation rule: one boolean expression, no subqueries, no statements."""
    return _cached(_RULES, text, _check_rule)


def check_select(text: str) -> SqlCheck:
    """A transform or SQL source: exactly one SELECT (CTEs and set operations allowed)."""
    return _cached(_SELECTS, text, _check_select)


def _check_rule(text: str) -> SqlCheck:
    trees = _parse(text, "rule", MAX_RULE_CHARS, "rule is not valid SQL")
    if isinstance(trees, SqlCheck):
        return trees
    if not trees:
        return SqlCheck(error="rule has no expression (only whitespace or comments)")
    if len(trees) != 1:
        return SqlCheck(error=f"rule must be a single expression, found {len(trees)} statements")
    tree = trees[0]
    found = _inventory(tree)
    if found.forbidden is not None or isinstance(tree, (exp.Select, exp.Union)):
        what = _forbidden_text(found.forbidden) if found.forbidden is not None else "SELECT"
        return SqlCheck(error=f"rule must be a boolean expression, not a statement ({what})")
    if found.has_subquery:
        return SqlCheck(error="subqueries are not allowed in expectation rules (DLT rejects them)")
    if isinstance(tree, _NOT_BOOLEAN):
        shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:59] + "…"
        return SqlCheck(error=f"rule must be a boolean expression; `{shown}` is a value, not a condition")
    return SqlCheck(columns=_root_columns(found))


def _check_select(text: str) -> SqlCheck:
    trees = _parse(text, "SQL", MAX_SELECT_CHARS, "SQL does not parse")
    if isinstance(trees, SqlCheck):
        return trees
    if not trees:
        return SqlCheck(error="SQL has no statement (only whitespace or comments)")
    if len(trees) != 1:
        return SqlCheck(error=f"SQL must be a single SELECT statement, found {len(trees)} statements")
    tree = trees[0]
    found = _inventory(tree)
    if found.forbidden is not None:
        return SqlCheck(error=f"SQL must be a SELECT: {_forbidden_text(found.forbidden)}")
    if not isinstance(tree, exp.Query):
        return SqlCheck(error=f"SQL must be a SELECT, not {tree.key.upper()}")
    tables = tuple(dict.fromkeys(name for name in found.tables if name and name not in found.ctes))
    return SqlCheck(columns=_column_names(found), tables=tables, shape=_shape(tree, text))


def _shape(tree: exp.Expression, text: str) -> dict[str, Any] | None:
    """The scopes of a valid SELECT; None (no column checks) if the tree is beyond what we can follow."""
    try:
        return analyze(tree, text)
    except RecursionError:
        return None
    except Exception:  # noqa: BLE001 - a construct we do not know must not turn into a traceback
        return None
