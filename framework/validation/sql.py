"""SQL checks without Spark: expectation rules and transforms are parsed with sqlglot (Spark dialect).

DLT only accepts expectation constraints that are plain boolean expressions (no subqueries, no UDFs),
and a transform must be one SELECT. Checking this at validate time, without a JVM, turns a pipeline
that would fail minutes into a Databricks update into an error on the exact line of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

DIALECT = "spark"

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


def _parse_error_text(exc: Exception) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        first = exc.errors[0]
        where = f" (SQL line {first.get('line')}, column {first.get('col')})" if first.get("line") else ""
        return f"{first.get('description', 'invalid SQL')}{where}"
    return str(exc).splitlines()[0] if str(exc) else "invalid SQL"


def _parse_all(text: str) -> list[exp.Expression]:
    return [e for e in sqlglot.parse(text, read=DIALECT) if e is not None]


def _forbidden(tree: exp.Expression) -> str | None:
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_STATEMENTS):
            return f"{node.key.upper()} statements are not allowed here"
    return None


def _column_names(tree: exp.Expression) -> frozenset[str]:
    lambda_params = {p.name for lam in tree.find_all(exp.Lambda) for p in lam.expressions}
    return frozenset(c.name for c in tree.find_all(exp.Column) if c.name and c.name not in lambda_params
                     and not isinstance(c.this, exp.Star))


@lru_cache(maxsize=4096)
def check_boolean_expression(text: str) -> SqlCheck:
    """An expectation rule: one boolean expression, no subqueries, no statements."""
    try:
        trees = _parse_all(text)
    except (ParseError, TokenError) as exc:
        return SqlCheck(error=f"rule is not valid SQL: {_parse_error_text(exc)}")
    except RecursionError:
        return SqlCheck(error="rule is nested too deeply to parse")
    if len(trees) != 1:
        return SqlCheck(error=f"rule must be a single expression, found {len(trees)} statements")
    tree = trees[0]
    if (problem := _forbidden(tree)) or isinstance(tree, (exp.Select, exp.Union)):
        return SqlCheck(error=f"rule must be a boolean expression, not a statement ({problem or 'SELECT'})")
    if tree.find(exp.Subquery, exp.Select, exp.Exists):
        return SqlCheck(error="subqueries are not allowed in expectation rules (DLT rejects them)")
    if isinstance(tree, _NOT_BOOLEAN):
        return SqlCheck(error=f"rule must be a boolean expression; `{tree.sql(DIALECT)}` is a {tree.key}")
    return SqlCheck(columns=_column_names(tree))


@lru_cache(maxsize=4096)
def check_select(text: str) -> SqlCheck:
    """A transform or SQL source: exactly one SELECT (CTEs and set operations allowed)."""
    try:
        trees = _parse_all(text)
    except (ParseError, TokenError) as exc:
        return SqlCheck(error=f"SQL does not parse: {_parse_error_text(exc)}")
    except RecursionError:
        return SqlCheck(error="SQL is nested too deeply to parse")
    if len(trees) != 1:
        return SqlCheck(error=f"SQL must be a single SELECT statement, found {len(trees)} statements")
    tree = trees[0]
    if problem := _forbidden(tree):
        return SqlCheck(error=f"SQL must be a SELECT: {problem}")
    if not isinstance(tree, exp.Query):
        return SqlCheck(error=f"SQL must be a SELECT, not {tree.key.upper()}")
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables = tuple(dict.fromkeys(t.name for t in tree.find_all(exp.Table)
                                 if t.name and t.name not in cte_names))
    return SqlCheck(columns=_column_names(tree), tables=tables)


def qualify_tables(text: str, names: dict[str, str]) -> str:
    """Rewrite table references that name specs (`bars`) into their published names (`silver.bars`)."""
    tree = sqlglot.parse_one(text, read=DIALECT)
    cte_names = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}

    def rewrite(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.Table) and not node.args.get("db") and node.name in names \
                and node.name not in cte_names:
            parts = names[node.name].split(".")
            replacement = exp.table_(parts[-1], db=parts[-2] if len(parts) > 1 else None,
                                     catalog=parts[-3] if len(parts) > 2 else None,
                                     alias=node.alias or None)
            return replacement
        return node

    return tree.transform(rewrite).sql(DIALECT)
