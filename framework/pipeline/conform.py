"""Conforming a query's output to the declared columns: declared order and type, never a silent NULL.

Every column is cast to its declared type with `try_cast`; a value that does not cast (NULL out of a
non-NULL value) is never written as a silent NULL: with `on_type_error: fail` (the default)
`raise_error` inside the query stops the flow naming the spec, the column, the value and the type; with
`on_type_error: quarantine` the query carries the reasons in an internal column (`TYPE_ERRORS_COLUMN`),
an internal drop expectation (`_column_types`) keeps those rows out of the table and the quarantine
table receives them with the reasons in `_failed_rules`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from framework.errors import PipelineDefinitionError
from framework.naming import INTERNAL_PREFIX
from framework.pipeline.ddl import output_columns
from framework.spec.model import FilesSource, TableSpec

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

TYPE_ERRORS_COLUMN = f"{INTERNAL_PREFIX}type_errors"
"""ARRAY<STRING>: why a row's values could not be cast to their declared types (empty when they all could)."""
TYPE_CHECK_EXPECTATION = "_column_types"
"""The internal drop expectation on TYPE_ERRORS_COLUMN (spec expectation names cannot start with `_`)."""
TYPE_CHECK_RULE = f"size({TYPE_ERRORS_COLUMN}) = 0"
CAST_ERROR_TEXT = "cannot be cast to"
"""In the message of a failed cast (raise_error); framework.engine.retry recognises it as a CastError."""
SAMPLE_VALUE_CHARS = 100
CAST_ERROR_PREFIX = f"{INTERNAL_PREFIX}cast_error_"
"""Internal columns carrying why an explicit CAST of a transform's main SELECT could not hold its value
(`framework.pipeline.casts`, quarantine mode); conform folds them into the row's type errors."""


@lru_cache(maxsize=512)
def _parse_type(type_text: str) -> Any:
    from pyspark.sql.types import _parse_datatype_string

    return _parse_datatype_string(type_text)


def conform(df: "DataFrame", spec: TableSpec) -> "DataFrame":
    """The declared columns, in declared order and type; a missing or undeclared column is an error.

    Tables that read files with `schema_evolution: add_new_columns` keep the extra columns (they are
    the evolved ones). Internal `_medallion_*` columns are passed through for the runtime. A column
    whose type differs from the declared one is cast with `typed_column`: never a silent NULL.
    """
    from pyspark.sql import functions as F

    expected = output_columns(spec)
    present = set(df.columns)
    missing = [name for name, *_ in expected if name not in present]
    if missing:
        raise PipelineDefinitionError(
            f"{spec.file}: table `{spec.name}`: the query does not produce declared column(s) "
            f"{', '.join(missing)} (it produces: {', '.join(c for c in df.columns if not c.startswith(INTERNAL_PREFIX))})")
    declared = {name for name, *_ in expected}
    extra = [c for c in df.columns if c not in declared and not c.startswith(INTERNAL_PREFIX)]
    evolving = isinstance(spec.source, FilesSource) and spec.source.schema_evolution == "add_new_columns"
    if extra and not evolving:
        raise PipelineDefinitionError(
            f"{spec.file}: table `{spec.name}`: the query produces column(s) not declared in `columns`: "
            f"{', '.join(extra)}")
    actual = {f.name: f.dataType for f in df.schema.fields}
    columns = {c.name: c for c in spec.columns}
    selected, type_errors = [], []
    for name, type_, _, _ in expected:
        wanted = _parse_type(type_)
        if actual[name] == wanted:
            selected.append(F.col(f"`{name}`"))
            continue
        action = spec.type_error_action(columns[name]) if name in columns else "fail"
        value, error = typed_column(spec, name, type_, actual[name], action)
        selected.append(value.alias(name))
        if error is not None:
            type_errors.append(error)
    selected += [F.col(f"`{c}`") for c in extra]
    cast_errors = [c for c in df.columns if c.startswith(CAST_ERROR_PREFIX)]  # the transform's guarded CASTs
    type_errors += [F.col(f"`{c}`") for c in cast_errors]
    selected += [F.col(f"`{c}`") for c in df.columns if c.startswith(INTERNAL_PREFIX) and c not in cast_errors]
    if spec.quarantines_type_errors:
        errors = F.array_compact(F.array(*type_errors)) if type_errors else F.array()
        selected.append(errors.cast("array<string>").alias(TYPE_ERRORS_COLUMN))
    try:
        return df.select(*selected)
    except Exception as exc:  # an impossible cast (e.g. an ARRAY into a DOUBLE) fails analysis
        if "DATATYPE_MISMATCH.CAST_WITH" in str(exc):
            raise PipelineDefinitionError(
                f"{spec.file}: table `{spec.name}`: {_first_sentence(exc)}; declare the type the query gives "
                f"({', '.join(f'{n} {actual[n].simpleString().upper()}' for n, *_ in expected if n in actual)}) "
                "or convert the value in the transform") from exc
        raise


def typed_column(spec: TableSpec, name: str, type_: str, actual: Any, action: str) -> tuple["Column", "Column | None"]:
    """The column cast to its declared type, and (for `quarantine`) the reason when a value did not cast.

    `try_cast` gives NULL for a value that cannot be cast, whatever `spark.sql.ansi.enabled` says; a
    NULL out of a non-NULL value is the failure. `fail`: `raise_error` inside the query (the same on
    Databricks) stops the flow with the spec file, the column, the value and the type. `quarantine`:
    the value becomes NULL and the returned reason sends the row to the quarantine table.
    """
    from pyspark.sql import functions as F
    from pyspark.sql.types import NullType, StringType

    raw = F.col(f"`{name}`")
    cast = F.expr(f"try_cast(`{name}` AS {type_})")
    if isinstance(actual, NullType) or isinstance(_parse_type(type_), StringType):
        return cast, None  # every value casts to STRING; a NULL literal is NULL in any type
    bad = raw.isNotNull() & cast.isNull()
    shown = F.substring(raw.cast("string"), 1, SAMPLE_VALUE_CHARS)
    given = actual.simpleString().upper()
    if action == "quarantine":
        reason = F.concat(F.lit(f"{name}: '"), shown, F.lit(f"' ({given}) {CAST_ERROR_TEXT} {type_}"))
        return cast, F.when(bad, reason)
    message = F.concat(
        F.lit(f"{_column_location(spec, name)}: table `{spec.name}`: column `{name}` is {type_}, but the query gives '"), shown,
        F.lit(f"' ({given}), which {CAST_ERROR_TEXT} {type_}; fix the transform (column order, a CAST), or set "
              f"`on_type_error: quarantine` on the column or the table to quarantine such rows"))
    return F.when(bad, F.raise_error(message)).otherwise(cast), None


def _column_location(spec: TableSpec, name: str) -> str:
    """`file:line:column` of the column's declared type (just the file for framework columns)."""
    if spec.document is None or name not in spec.column_names:
        return spec.file
    line, column = spec.document.where(("columns", spec.column_names.index(name), "type"))
    return f"{spec.file}:{line}:{column}"


def _first_sentence(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text.split(" SQLSTATE")[0]
