"""What the JSON Schema cannot say about declared quality checks (a spec's and an environment's `checks:`):
the columns they name exist and have a type the check can read, durations parse, a check applies to the
table it is declared on, and every custom kind is one the project declares (`check_kinds:`).

Each finding is located at the key it is about (file:line:column) and says how to fix it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterator

from framework.findings import Finding, did_you_mean
from framework.naming import FILE_COLUMNS
from framework.spec.checks import BUILTIN_KINDS, DEFAULT_FRESHNESS_COLUMN, parse_duration
from framework.spec.environment import Environment
from framework.spec.model import TablesSource, TableSpec

if TYPE_CHECKING:
    from framework.spec.project import Project

FRESHNESS_TYPES = ("TIMESTAMP", "TIMESTAMP_LTZ", "DATE")
"""Column types freshness reads (an instant, or a day counted from its midnight UTC)."""


def column_types(spec: TableSpec) -> dict[str, str]:
    """Declared columns and their types (upper case), plus the columns every table read from files has."""
    types = {c.name: c.type.strip().upper() for c in spec.columns}
    if spec.reads_files:
        types.update({name: kind for name, kind, _ in FILE_COLUMNS if name not in types})
    return types


def _kinds_hint(kind: str, project: "Project") -> str:
    known = sorted(project.check_kinds)
    if kind in BUILTIN_KINDS:
        return f"`{kind}` is built in: declare it as `checks.{kind}`, not under `custom`"
    return (did_you_mean(kind, known) or (f"project check kinds: {', '.join(known)}" if known else
            "the project declares no check kinds: add `check_kinds: {" + kind + ": module:function}` to medallion.yaml"))


def check_table_checks(spec: TableSpec, project: "Project") -> Iterator[Finding]:
    """Findings about one spec's `checks:`."""
    doc, checks = spec.document, spec.checks
    if doc is None or not checks.declared:
        return
    if spec.kind == "view":
        yield doc.finding(("checks",), "a view is not published, so no check can read it", key=True,
                          hint="declare the checks on a table that reads this view")
        return
    types = column_types(spec)
    if (freshness := checks.freshness) is not None:
        where = ("checks", "freshness", "column") if "column" in doc.data["checks"]["freshness"] else (
            "checks", "freshness")
        kind = types.get(freshness.column)
        if kind is None:
            default = " (the default)" if freshness.column == DEFAULT_FRESHNESS_COLUMN else ""
            yield doc.finding(where, f"freshness reads column `{freshness.column}`{default}, which this table does "
                              "not have", key=where[-1] == "freshness",
                              hint=did_you_mean(freshness.column, types) or
                              f"name a TIMESTAMP or DATE column with `column:` ({', '.join(types)})")
        elif kind not in FRESHNESS_TYPES:
            yield doc.finding(where, f"freshness reads column `{freshness.column}` of type {kind}: it needs a "
                              "TIMESTAMP or DATE", key=where[-1] == "freshness",
                              hint="name a TIMESTAMP or DATE column, or convert this one in the transform")
        try:
            freshness.age
        except ValueError as exc:
            yield doc.finding(("checks", "freshness", "max_age"), str(exc),
                              hint="e.g. max_age: 26 hours (units: seconds, minutes, hours, days, weeks)")
    if (volume := checks.volume) is not None and volume.max_drop is not None and not spec.is_streaming:
        yield doc.finding(("checks", "volume", "max_drop"), f"`max_drop` compares with the table's version before "
                          f"the update, and a {spec.kind} has no time travel on Databricks (streaming tables only)",
                          key=True, hint="use `min_rows` here, or declare `max_drop` on the streaming table it reads")
    if (unique := checks.unique) is not None:
        for i, name in enumerate(unique.columns):
            if name not in types:
                yield doc.finding(("checks", "unique", "columns", i), f"unique names column `{name}`, which this "
                                  "table does not have", hint=did_you_mean(name, types) or
                                  f"declared columns: {', '.join(types)}")
        if not unique.columns and not spec.keys and unique.enabled:
            yield doc.finding(("checks", "unique"), "unique checks the table's `keys` by default, and it has none",
                              key=True, hint="name the columns: unique: {columns: [order_id]}")
    if checks.reconciliation is not None and not _reconcilable(spec):
        yield doc.finding(("checks", "reconciliation"), "reconciliation applies to a table streamed from one "
                          "upstream table (source.tables with one table, read as a stream)", key=True,
                          hint="remove it here: this table is not reconciled")
    for entry in checks.custom:
        if entry.kind not in project.check_kinds:
            yield doc.finding(("checks", "custom", entry.index, "kind"), f"unknown check kind `{entry.kind}`",
                              hint=_kinds_hint(entry.kind, project))


def _reconcilable(spec: TableSpec) -> bool:
    return (isinstance(spec.source, TablesSource) and spec.source.mode == "stream"
            and len(spec.source.tables) == 1)


def check_environment_checks(env: Environment, project: "Project") -> Iterator[Finding]:
    """An environment's `checks:` names built-in kinds or project kinds only."""
    doc = env.document
    if doc is None:
        return
    for name in (doc.data.get("checks") or {}):
        if name not in BUILTIN_KINDS and name not in project.check_kinds:
            known = [*BUILTIN_KINDS, *sorted(project.check_kinds)]
            yield doc.finding(("checks", name), f"unknown check kind `{name}`", key=True,
                              hint=did_you_mean(name, known) or f"known kinds: {', '.join(known)}")
