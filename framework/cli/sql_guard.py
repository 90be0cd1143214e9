"""What `medallion sql` checks before it starts a JVM: syntax, the tables named, and read-only use.

A typo in a table name or a missing parenthesis should cost milliseconds, not a Spark start; and a
query tool should not change tables by accident (`DELETE FROM gold.symbol_summary` with a forgotten
WHERE). So the query is parsed with sqlglot (Spark dialect) first:

* syntax errors are reported with their line and column and the offending line marked;
* every table it reads or writes must be one of the project's tables (incl. `<table>_quarantine`
  and `ops.event_log`) in the environment — unknown names get "did you mean", tables not built yet
  say so; `delta.`/path`` references and table-valued functions are left to Spark;
* only SELECT / WITH, SHOW, DESCRIBE and EXPLAIN run without `--write`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable

from framework.errors import UsageError
from framework.findings import did_you_mean

READ_COMMANDS = ("SHOW", "EXPLAIN")
"""Statements sqlglot keeps as a raw command that only read."""
EXPLAIN_OPTIONS = ("EXTENDED", "FORMATTED", "CODEGEN", "COST")
PATH_SCHEMAS = ("delta", "parquet", "json", "csv", "text", "orc")
"""`delta.`/some/path``: a table by path, not by name."""


@dataclass(frozen=True)
class CheckedQuery:
    kind: str
    """The statement, upper case: SELECT, DESCRIBE, SHOW, EXPLAIN, DELETE, INSERT..."""
    writes: bool
    tables: tuple[str, ...]
    """Project tables it names (published, lower case)."""


class SqlCheckError(UsageError):
    """The query cannot run as given (syntax, unknown table, a write without --write)."""


def check_query(query: str, known: Iterable[str], built: Iterable[str], *, write: bool) -> CheckedQuery:
    """Parse `query` and check it; raises SqlCheckError with a message for people.

    known: the published names of the project's tables (`silver.orders`, `silver.orders_quarantine`,
    `ops.event_log`); built: those that exist on disk.
    """
    from sqlglot import exp

    statements = _parse(query)
    if len(statements) != 1:
        raise SqlCheckError(f"give one SQL statement at a time (found {len(statements)})")
    statement = statements[0]
    kind, writes = _classify(statement)
    if writes and not write:
        raise SqlCheckError(f"{kind} changes data; `medallion sql` is read-only unless you add --write "
                            "(read-only: SELECT, WITH, SHOW, DESCRIBE, EXPLAIN)")
    if isinstance(statement, exp.Command) and kind == "EXPLAIN":
        inner = _explained(statement)
        statement = _parse(inner)[0] if inner else statement
    tables = _tables(statement, {k.lower(): k for k in known}, set(built), creating=_created(statement))
    return CheckedQuery(kind, writes, tuple(tables))


def _parse(query: str) -> list:
    """The statements of `query`, parsed as `validate` parses spec SQL (Spark dialect, trailing commas rejected)."""
    from sqlglot.errors import ParseError, TokenError

    from framework.validation.sql import parse_statements

    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)  # "contains unsupported syntax. Falling back to parsing as a 'Command'"
    try:
        return parse_statements(query)
    except ParseError as exc:
        raise SqlCheckError(_syntax_message(query, exc.errors[0] if exc.errors else {}, str(exc))) from None
    except TokenError as exc:
        raise SqlCheckError(f"syntax error: {exc}") from None
    finally:
        logger.setLevel(level)


def _syntax_message(query: str, error: dict, fallback: str) -> str:
    line, column = error.get("line"), error.get("col")
    what = (error.get("description") or fallback.splitlines()[0]).rstrip(".")
    if not line:
        return f"syntax error: {what}"
    lines = query.splitlines() or [query]
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    marker = " " * max(column - 1, 0) + "^"
    where = f"line {line}, column {column}" if len(lines) > 1 else f"column {column}"
    return f"syntax error at {where}: {what}\n  {text}\n  {marker}"


def _classify(statement) -> tuple[str, bool]:  # type: ignore[no-untyped-def]
    """(statement kind, whether it changes anything)."""
    from sqlglot import exp

    if isinstance(statement, exp.Query):
        return "SELECT", False
    if isinstance(statement, exp.Describe):
        return "DESCRIBE", False
    if isinstance(statement, exp.Command):
        kind = str(statement.this).upper()
        return kind, kind not in READ_COMMANDS
    kind = statement.key.upper().replace("TRUNCATETABLE", "TRUNCATE")
    return kind, True


def _explained(command) -> str:  # type: ignore[no-untyped-def]
    """The statement an EXPLAIN command explains (its options dropped)."""
    text = str(command.expression.this if hasattr(command.expression, "this") else command.expression or "").strip()
    words = text.split(None, 1)
    while words and words[0].upper() in EXPLAIN_OPTIONS:
        text = words[1] if len(words) > 1 else ""
        words = text.split(None, 1)
    return text


def _created(statement) -> str | None:  # type: ignore[no-untyped-def]
    """The table a CREATE makes (it cannot exist yet)."""
    from sqlglot import exp

    if isinstance(statement, exp.Create):
        target = statement.this.this if isinstance(statement.this, exp.Schema) else statement.this
        if isinstance(target, exp.Table):
            return _table_name(target)
    return None


def _table_name(table) -> str:  # type: ignore[no-untyped-def]
    return ".".join(part for part in (table.catalog, table.db, table.name) if part).lower()


def _tables(statement, known: dict[str, str], built: set[str], *, creating: str | None) -> list[str]:  # type: ignore[no-untyped-def]
    """The project tables the statement names; an unknown or unbuilt one is an error."""
    from sqlglot import exp

    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    found: list[str] = []
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier) or table.db.lower() in PATH_SCHEMAS:
            continue  # a table-valued function (range(10)) or a path
        name = _table_name(table)
        if (not table.db and name in ctes) or name == creating:
            continue
        if name not in known:
            hint = _bare_hint(name, known) or did_you_mean(name, known)
            raise SqlCheckError(f"unknown table `{name}`" + (f"; {hint}" if hint else
                                f" (tables: {', '.join(sorted(set(known.values())))})"))
        published = known[name]
        if published not in built:
            raise SqlCheckError(f"table {published} has not been created yet; run `medallion run` first")
        if published not in found:
            found.append(published)
    return found


def _bare_hint(name: str, known: dict[str, str]) -> str:
    """`orders` -> did you mean `silver.orders` (a spec name without its schema)."""
    matches = sorted({published for published in known.values() if published.split(".")[-1] == name.split(".")[-1]})
    return f"did you mean `{matches[0]}`?" if matches else ""
