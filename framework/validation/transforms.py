"""Transforms and SQL sources checked against their upstreams, offline, located in the YAML.

What Spark's analyzer and the pipeline's `conform` step would reject 15-30 s into `medallion run`,
reported by `medallion validate` at the line and column inside the `sql:` block:

* unknown columns (with "did you mean") and ambiguous ones, resolved against the declared columns of
  the upstreams (plus the framework's file columns), through CTEs, subqueries, joins and lambdas;
* functions Spark does not have, or that the Spark line of an environment's target runtime lacks
  (framework.validation.functions, one list per line);
* the output against the declared columns: a declared column never produced, a produced column
  never declared (allowed for tables whose schema evolves, as `conform` allows it), a name produced
  twice, a name differing only in case (`conform` matches names exactly);
* a string selected into a numeric, date, timestamp or boolean column: the run would stop at the first
  value that does not parse (conform never writes the NULL a cast would make), so say it before the run.

It also holds the lint that a streaming table with keys but no `dedupe` lets duplicates through.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Iterator

from framework.findings import Finding, did_you_mean
from framework.naming import FILE_COLUMNS
from framework.spec.model import FilesSource, SqlSource, TablesSource, TableSpec
from framework.validation.functions import FunctionTarget, check_function, function_targets
from framework.validation.resolve import Base, Output, Resolution, resolve, tables_read
from framework.validation.sql import check_select

if TYPE_CHECKING:
    from framework.spec.project import Project

SOURCE_VIEW = "source"
CHECKED_FAMILIES = ("numeric", "date", "timestamp", "boolean")
"""Declared types a string does not silently become (a string becomes anything else as is)."""
_A_VALUE = {"numeric": "a number", "date": "a date", "timestamp": "a timestamp", "boolean": "a boolean"}
SEQUENCE_COLUMN = "_ingested_at"
"""The column de-duplication orders by when nothing better is known: when the row was ingested."""

DocPath = tuple


# --------------------------------------------------------------------------------------------- types

_LEADING_WORD = re.compile(r"\s*([A-Za-z_]+)")
_FAMILIES = {
    **{name: "numeric" for name in ("TINYINT", "BYTE", "SMALLINT", "SHORT", "INT", "INTEGER", "BIGINT", "LONG",
                                    "FLOAT", "REAL", "DOUBLE", "DECIMAL", "DEC", "NUMERIC")},
    **{name: "string" for name in ("STRING", "VARCHAR", "CHAR")},
    "DATE": "date", "TIMESTAMP": "timestamp", "TIMESTAMP_NTZ": "timestamp", "TIMESTAMP_LTZ": "timestamp",
    "BOOLEAN": "boolean", "BOOL": "boolean",
}
_INTEGRAL = {"TINYINT", "BYTE", "SMALLINT", "SHORT", "INT", "INTEGER", "BIGINT", "LONG"}


@lru_cache(maxsize=1024)
def declared_family(type_text: str) -> str | None:
    """The family of a declared Spark type (`DECIMAL(18,2)` -> numeric), None for complex types."""
    match = _LEADING_WORD.match(type_text)
    return _FAMILIES.get(match.group(1).upper()) if match else None


_CASTS = {
    "integral": re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)\s*"),
    "numeric": re.compile(r"\s*([+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[dDfF]?|[+-]?(inf|infinity)|nan)\s*", re.I),
    "boolean": re.compile(r"\s*(t|true|y|yes|1|f|false|n|no|0)\s*", re.I),
    "date": re.compile(r"\s*[+-]?\d{4,}(-\d{1,2}(-\d{1,2})?)?([ T].*)?\s*", re.S),
    "timestamp": re.compile(r"\s*[+-]?\d{4,}(-\d{1,2}(-\d{1,2})?)?([ T].*)?\s*", re.S),
}
"""String texts Spark casts to each family (anything else is NULL without ANSI, an error with it)."""


def literal_casts(text: str, type_text: str) -> bool:
    family = declared_family(type_text)
    if family == "numeric":
        match = _LEADING_WORD.match(type_text)
        family = "integral" if match and match.group(1).upper() in _INTEGRAL else "numeric"
    pattern = _CASTS.get(family or "")
    return pattern is None or pattern.fullmatch(text) is not None


# ------------------------------------------------------------------------------------ the checks

def check_transform_columns(spec: TableSpec, project: Project,
                            targets: tuple[FunctionTarget, ...] | None = None) -> Iterator[Finding]:
    """Resolve `source.sql` and `transform.sql` against the upstreams; check the output against `columns`.

    `targets`: the Spark lines the SQL runs on (`function_targets` of the environments validated);
    default: every environment of the project.
    """
    if targets is None:
        targets = function_targets(project.environments.values())
    findings, rows, source_sql = _read_source(spec, project, targets)
    final: Resolution | None = None
    where: DocPath = ("source",)
    if spec.transform is not None and spec.transform.sql:
        where = ("transform", "sql")
        evolving = _evolving_upstreams(spec, project)
        more, final = _resolve_sql(spec, where, spec.transform.sql, {SOURCE_VIEW: rows} if rows else {}, evolving,
                                   targets)
        findings += more
    elif spec.transform is not None:
        pass  # a Python transform: its output is only known when it runs
    elif source_sql is not None:
        final, where = source_sql, ("source", "sql")
    elif isinstance(spec.source, TablesSource) and rows is not None:
        outputs = tuple(Output(name, family, None, name, -1, "", True) for name, family in rows[0])
        final, where = Resolution((), outputs, rows[1]), ("source", "tables")
    yield from findings
    if final is not None:
        yield from check_output(spec, final, where)


def _read_source(spec: TableSpec, project: Project,
                 targets: tuple[FunctionTarget, ...]) -> tuple[list[Finding], Base | None, Resolution | None]:
    """Findings about how the spec reads its source, the rows a transform sees as `source` (None when
    unknown) and, for a SQL source, its resolution."""
    source = spec.source
    if isinstance(source, FilesSource):
        return [], _table_rows(spec), None
    if isinstance(source, TablesSource):
        rows, findings = _union_rows(spec, project)
        return findings, rows, None
    upstreams = _upstreams_read(source.sql, project)
    findings, resolution = _resolve_sql(spec, ("source", "sql"), source.sql,
                                        {name: _table_rows(u) for name, u in upstreams.items()},
                                        sorted(u.name for u in upstreams.values() if _evolves(u)), targets)
    if resolution is None:
        return findings, None, None
    columns = tuple((o.name, o.family) for o in resolution.outputs if o.name)
    return findings, (columns, resolution.open), resolution


_ROWS: dict[int, tuple[TableSpec, Base]] = {}


def _table_rows(spec: TableSpec) -> Base:
    """A table's rows as a reader sees them: its declared columns plus the file columns.

    A table whose schema evolves (`add_new_columns`) may hold more, but only declared columns are a
    contract: a reader that uses an undeclared one is reported (declaring it upstream fixes that).
    Memoized per spec object (each upstream is read by many specs).
    """
    known = _ROWS.get(id(spec))
    if known is not None and known[0] is spec:
        return known[1]
    if len(_ROWS) > 20_000:
        _ROWS.clear()
    rows = _ROWS[id(spec)] = (spec, _rows_of(spec))
    return rows[1]


def _rows_of(spec: TableSpec) -> Base:
    columns = [(c.name, declared_family(c.type)) for c in spec.columns]
    if isinstance(spec.source, FilesSource):
        declared = {c.name for c in spec.columns}
        columns += [(name, declared_family(type_)) for name, type_, _ in FILE_COLUMNS if name not in declared]
    return tuple(columns), False


def _evolves(spec: TableSpec) -> bool:
    return isinstance(spec.source, FilesSource) and spec.source.schema_evolution == "add_new_columns"


def _union_rows(spec: TableSpec, project: Project) -> tuple[Base | None, list[Finding]]:
    """`source.tables`: one upstream, or several read with unionByName (which needs the same columns)."""
    assert isinstance(spec.source, TablesSource)
    upstreams = [project.tables.get(name) for name in spec.source.tables]
    if not upstreams or any(u is None for u in upstreams):
        return None, []  # a missing upstream is reported by the source checks
    rows = [_table_rows(u) for u in upstreams if u is not None]
    if len(rows) == 1:
        return rows[0], []
    first_names = {name.lower() for name, _ in rows[0][0]}
    findings = []
    for index, (other, upstream) in enumerate(zip(rows[1:], upstreams[1:]), start=1):
        names = {name.lower() for name, _ in other[0]}
        if names != first_names and not (rows[0][1] or other[1]):
            only_first, only_other = sorted(first_names - names), sorted(names - first_names)
            detail = "; ".join(part for part in (
                f"only `{upstreams[0].name}` has {', '.join(only_first)}" if only_first else "",
                f"only `{upstream.name}` has {', '.join(only_other)}" if only_other else "") if part)
            findings.append(spec.document.finding(
                ("source", "tables", index), f"the upstreams are combined by name (unionByName), but `{upstream.name}` "
                f"and `{upstreams[0].name}` have different columns: {detail}",
                hint="read one table per spec, or use `source: {sql: ...}` to select matching columns"))
    by_name = [{n.lower(): f for n, f in r[0]} for r in rows]
    columns = tuple((name, family if all(b.get(name.lower()) == family for b in by_name) else None)
                    for name, family in rows[0][0])
    return (columns, any(r[1] for r in rows)), findings


def _upstreams_read(sql: str, project: Project) -> dict[str, TableSpec]:
    """The specs of the tables a SQL source names (those that exist), by lower-case name."""
    result = check_select(sql)
    names = tables_read(result.shape) if result.shape else set()
    return {name: project.tables[name] for name in names if name in project.tables}  # spec names are lower case


def _evolving_upstreams(spec: TableSpec, project: Project) -> list[str]:
    """The tables behind a transform's `source` whose schema evolves (they may gain undeclared columns)."""
    if isinstance(spec.source, TablesSource):
        return [u.name for u in (project.tables.get(n) for n in spec.source.tables) if u is not None and _evolves(u)]
    return [spec.name] if _evolves(spec) else []


def _resolve_sql(spec: TableSpec, path: DocPath, sql: str, bases: dict[str, Base], evolving: list[str],
                 targets: tuple[FunctionTarget, ...]) -> tuple[list[Finding], Resolution | None]:
    """Findings about one SQL text (functions unknown or missing in a target line, columns) and its
    resolution (None when it does not parse: syntax errors are reported by the SQL checks).
    `evolving`: tables whose schema evolves."""
    result = check_select(sql)
    if result.error or result.shape is None:
        return [], None
    doc = spec.document
    findings = [doc.finding(path, message, hint=hint, at=_position(sql, offset))
                for name, offset in result.shape["functions"] for message, hint in check_function(name, targets)]
    resolution = resolve(sql, result.shape, bases)
    note = ""
    if evolving:
        tables = ", ".join(f"`{name}`" for name in evolving)
        note = f" ({tables} evolves its schema: a column it gains must be declared there before it is used)"
    for problem in resolution.problems:
        hint = problem.hint + (note if problem.kind == "unknown-column" else "")
        findings.append(doc.finding(path, problem.message, hint=hint.strip(), at=_position(sql, problem.offset)))
    return findings, resolution


def _position(text: str, offset: int) -> tuple[int, int] | None:
    """1-based (line, column) of a character offset inside a SQL text; None when unknown."""
    if offset < 0:
        return None
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _select_at(spec: TableSpec, where: DocPath) -> tuple[int, int] | None:
    if where == ("transform", "sql") and spec.transform and spec.transform.sql:
        sql = spec.transform.sql
    elif where == ("source", "sql") and isinstance(spec.source, SqlSource):
        sql = spec.source.sql
    else:
        return None
    shape = check_select(sql).shape
    return _position(sql, shape["select_at"]) if shape else None


# ----------------------------------------------------------------------------- output vs declared

def check_output(spec: TableSpec, result: Resolution, where: DocPath) -> Iterator[Finding]:
    """The statement's output columns against the declared ones (as `conform` will compare them)."""
    declared = [(c.name, c.type) for c in spec.columns]
    if isinstance(spec.source, FilesSource):
        names = {c.name for c in spec.columns}
        declared += [(name, type_) for name, type_, _ in FILE_COLUMNS if name not in names]
    expected = dict(declared)
    if _matches(result, expected):
        return
    doc = spec.document
    sql = _sql_at(spec, where)
    select_at = _select_at(spec, where)
    named = [o for o in result.outputs if o.name]
    produced = {o.name: o for o in named}
    evolving = _evolves(spec)
    upstream = " or ".join(f"`{n}`" for n in getattr(spec.source, "tables", ())) or "the source"

    def at(output: Output | None) -> tuple[int, int] | None:
        return _position(sql, output.offset) if output is not None and sql is not None else select_at

    seen: dict[str, Output] = {}
    for output in named:
        key = output.name.lower()
        if key in seen and not (output.star and seen[key].star and where == ("source", "tables")):
            yield doc.finding(where, f"the SELECT outputs `{output.name}` twice",
                              hint="give one of them another name with AS, or drop it", at=at(output))
        seen.setdefault(key, output)
    case_only: set[str] = set()
    framework_columns = [name for name, _ in declared[len(spec.columns):] if name not in produced]
    if framework_columns and not result.open:
        listed = ", ".join(framework_columns)
        yield doc.finding(where, f"the SELECT drops the columns the framework adds to tables read from files: {listed}",
                          hint=f"keep them: add `{listed}` to the SELECT", at=select_at)
    for name, _ in declared[:len(spec.columns)]:
        if name in produced or result.open:
            continue
        variant = seen.get(name.lower())
        if variant is not None:
            case_only.add(variant.name)
            yield doc.finding(where, f"the SELECT outputs `{variant.name}`, but the declared column is `{name}` "
                              "(names must match exactly, case included)", hint=f"write `AS {name}`", at=at(variant))
            continue
        yield doc.finding(where, _missing_message(name, where, upstream),
                          hint=_missing_hint(name, result, expected), at=select_at)
    if not evolving:
        yield from _extra_findings(spec, result, where, expected, case_only, at, upstream)
    for name, type_ in declared:
        output = produced.get(name)
        if output is not None:
            yield from _type_findings(spec, where, name, type_, output, at(output))


def _matches(result: Resolution, expected: dict[str, str]) -> bool:
    """The common case, checked first and cheaply: exactly the declared names, once each, and no string
    output where a declared type does not take strings."""
    names = [o.name for o in result.outputs]
    if None in names or len(names) != len(expected) or len({n.lower() for n in names}) != len(names) \
            or not expected.keys() == set(names):
        return False
    return not any(o.family == "string" and declared_family(expected[o.name]) in CHECKED_FAMILIES
                   for o in result.outputs)


def _sql_at(spec: TableSpec, where: DocPath) -> str | None:
    if where == ("transform", "sql") and spec.transform:
        return spec.transform.sql
    if where == ("source", "sql") and isinstance(spec.source, SqlSource):
        return spec.source.sql
    return None


def _missing_message(name: str, where: DocPath, upstream: str) -> str:
    if where == ("source", "tables"):
        return f"declared column `{name}` is not a column of {upstream}, and there is no transform to compute it"
    return f"declared column `{name}` is never produced: no output of the SELECT has that name"


def _missing_hint(name: str, result: Resolution, expected: dict[str, str]) -> str:
    unnamed = [o.text for o in result.outputs if not o.name and o.text]
    if unnamed:
        return f"name the expression that computes it, e.g. `{unnamed[0]} AS {name}`"
    undeclared = [o.name for o in result.outputs if o.name and o.name not in expected]
    if close := did_you_mean(name, undeclared):
        return f"{close[:-1]} (rename it with AS {name})?"
    return f"add `<expression> AS {name}` to the SELECT, or remove `{name}` from columns"


def _extra_findings(spec: TableSpec, result: Resolution, where: DocPath, expected: dict[str, str],
                    case_only: set[str], at, upstream: str) -> Iterator[Finding]:
    doc = spec.document
    produced = {o.name for o in result.outputs}
    missing = [name for name in expected if name not in produced]
    by_star: dict[tuple[int, str], list[str]] = {}
    for output in result.outputs:
        if output.name in expected or output.name in case_only:
            continue
        if output.name is None:
            yield doc.finding(where, f"the expression `{output.text or '?'}` has no name, so Spark makes one up "
                              "and it matches no declared column", hint="name it with `AS <column>`", at=at(output))
        elif output.star:
            by_star.setdefault((output.offset, output.text), []).append(output.name)
        else:
            yield doc.finding(where, f"the SELECT outputs `{output.name}`, which is not a declared column",
                              hint=did_you_mean(output.name, missing) or
                              f"declare `{output.name}` under columns, or leave it out of the SELECT", at=at(output))
    for (offset, text), names in by_star.items():
        shown = ", ".join(f"`{n}`" for n in names)
        if where == ("source", "tables"):
            message = f"{upstream} has column(s) {shown} that are not declared here"
            hint = "declare them, or add a transform that selects the columns you want"
        else:
            message = f"`{text}` brings column(s) {shown} that are not declared"
            hint = f"declare them, list the columns you want instead of `{text}`, or use `{text} EXCEPT ({names[0]})`"
        first = next(o for o in result.outputs if o.star and o.offset == offset and o.text == text)
        yield doc.finding(where, message, hint=hint, at=at(first) if offset >= 0 else None)


def _type_findings(spec: TableSpec, where: DocPath, name: str, type_: str, output: Output,
                   at: tuple[int, int] | None) -> Iterator[Finding]:
    """A string into a numeric / date / timestamp / boolean column: a silent NULL for every bad value."""
    family = declared_family(type_)
    if family not in CHECKED_FAMILIES or output.family != "string":
        return
    doc = spec.document
    column = next((c for c in spec.columns if c.name == name), None)
    if output.literal is None and column is not None and spec.type_error_action(column) == "quarantine":
        return  # the spec expects values that do not cast: the run quarantines them (`on_type_error`)
    if output.literal is not None:
        if not literal_casts(output.literal, type_):
            yield doc.finding(where, f"`{name}` is {type_}, but the SELECT puts the text '{output.literal}' in it: "
                              f"it does not convert, so every row would get NULL",
                              hint=f"write a {type_} value, or declare `{name}` as STRING", at=at)
        return
    what = f"`{output.origin}` (a STRING column)" if output.origin else "a STRING expression"
    yield doc.finding(where, f"`{name}` is declared {type_}, but the SELECT puts {what} in it: the run would stop "
                      f"at the first value that is not {_A_VALUE[family]} (it converts to no {type_})",
                      hint=lenient_conversion_hint(name, type_, family, output.origin or "..."), at=at)


def lenient_conversion_hint(name: str, type_: str, family: str, origin: str) -> str:
    """How to convert a STRING on purpose, without a silent NULL.

    Never `CAST(...)`: under ANSI semantics (every target runtime's, framework/spec/runtimes.py) it fails
    the flow at the first value that does not convert, and without ANSI it writes NULL. The lenient
    conversion is `try_cast` (`try_to_timestamp` for timestamps, as in silver.orders), written on purpose,
    with what a bad value then becomes said in the spec: `nullable: false` makes its NULL fail the write,
    an expectation `IS NOT NULL` with `action: quarantine` puts the row in quarantine.
    """
    example = f"try_to_timestamp({origin})" if family == "timestamp" else f"try_cast({origin} AS {type_})"
    return (f"convert it on purpose with `{example} AS {name}` (NULL where a value is not {_A_VALUE[family]}) and "
            f"say what that NULL does: `nullable: false` fails the flow, an expectation `{name} IS NOT NULL` with "
            f"`action: quarantine` quarantines the row; or select the column you meant, or declare `{name}` as STRING")


# -------------------------------------------------------------------------------------------- lint

def check_dedupe(spec: TableSpec, project: Project) -> Iterator[Finding]:
    """Warn when a streaming silver/gold table declares keys without `dedupe`.

    A streaming table appends every row its source delivers; a landing file sent twice, or a source
    re-sending a record, puts the same key in the table twice, and `medallion check` then fails on it.
    `dedupe` (DLT AUTO CDC, SCD type 1) keeps the latest row per key instead.
    """
    if spec.layer == "bronze" or not spec.is_streaming or not spec.keys or spec.dedupe_sequence_by:
        return
    column, extra = sequence_column(spec, project)
    hint = f"add `dedupe: {{sequence_by: {column}}}` to keep the latest row per key{extra}" if column else \
        "add `dedupe: {sequence_by: <column>}` with a column that orders the versions of a row (e.g. an ingestion time)"
    upstreams = ", ".join(f"`{n}`" for n in spec.upstreams) or "its source"
    yield spec.document.finding(("keys",), f"keys {', '.join(spec.keys)} without `dedupe`: this streaming table "
                                f"appends every row {upstreams} delivers, so a key that arrives twice is stored "
                                "twice (and `medallion check` fails on duplicate keys)",
                                hint=hint, key=True, code="lint", severity="warning")


def sequence_column(spec: TableSpec, project: Project) -> tuple[str | None, str]:
    """The column `dedupe` should order by, and what else the spec needs for it (a sentence tail, or '').

    `_ingested_at` when the spec has it or can read it from its upstream (the framework adds it to every
    table read from files); else a timestamp column of the spec that is not a key.
    """
    if SEQUENCE_COLUMN in spec.column_names or spec.reads_files:
        return SEQUENCE_COLUMN, ""
    upstreams = [project.tables.get(name) for name in spec.upstreams]
    if upstreams and all(u is not None and (u.reads_files or SEQUENCE_COLUMN in u.column_names) for u in upstreams):
        return SEQUENCE_COLUMN, f" (and declare `{SEQUENCE_COLUMN}` TIMESTAMP and select it: the upstream has it)"
    for column in spec.columns:
        if declared_family(column.type) == "timestamp" and column.name not in spec.keys:
            return column.name, ""
    return None, ""
