"""Checks the JSON Schema cannot express: references between tables, cycles, layers, columns, SQL,
variables and Python references. Each check is a small function yielding located findings.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from sqlglot import exp
from sqlglot.errors import ParseError

from framework.findings import Finding, did_you_mean
from framework.spec.environment import DEFAULT_LAYER_RULES, Environment, substitute, unknown_variables
from framework.spec.model import LAYERS, FilesSource, SqlSource, TablesSource, TableSpec
from framework.validation.checks import check_environment_checks, check_table_checks
from framework.validation.python_ref import resolve_python_ref
from framework.validation.reader_options import check_reader_options
from framework.validation.sql import DIALECT, check_boolean_expression, check_select
from framework.validation.functions import function_targets
from framework.validation.runtime import check_environment_runtime
from framework.validation.transforms import check_dedupe, check_transform_columns

if TYPE_CHECKING:
    from framework.spec.project import Project

TABLES_FOLDER = "tables"
SOURCE_VIEW = "source"
"""The name under which a transform's SQL sees its source rows."""
MAX_TYPE_CHARS = 2_000
METADATA_COLUMNS = ("_source_file", "_ingested_at", "_rescued_data")
"""Columns the framework adds to every table read from files."""


def check_project(project: Project, env: str | None) -> list[Finding]:
    findings: list[Finding] = []
    environments = [project.environments[env]] if env in project.environments else list(project.environments.values())
    if env and env not in project.environments:
        findings.append(Finding("environments", 1, 1, f"unknown environment `{env}`", code="usage",
                                hint=did_you_mean(env, project.environments) or
                                f"known: {', '.join(sorted(project.environments)) or 'none'}"))
    variables = [(e.name, e.variables()) for e in environments]
    rule_sets = _layer_rule_sets(environments)
    targets = function_targets(environments)
    for spec in project.tables.values():
        for check in (check_location, check_source, check_columns, check_expectations, check_transform,
                      check_dedupe, check_refresh, check_reader_options, check_table_checks):
            findings.extend(check(spec, project))
        findings.extend(check_transform_columns(spec, project, targets))
        findings.extend(check_variables(spec, variables))
        findings.extend(check_layers(spec, project, rule_sets))
        findings.extend(check_source_path(spec, environments))
    findings.extend(check_cycles(project))
    for environment in environments:
        findings.extend(check_environment_paths(environment))
        findings.extend(check_environment_runtime(environment))
        findings.extend(check_environment_checks(environment, project))
    return findings


def _inside(path: Path, folder: Path) -> bool:
    """True when `path` (symlinks followed where they exist) lies in `folder`."""
    try:
        return os.path.join(os.path.realpath(path), "").startswith(_real_folder(str(folder)))
    except (OSError, RuntimeError, ValueError):  # unreadable or a symlink loop
        return False


@lru_cache(maxsize=64)
def _real_folder(folder: str) -> str:
    """`folder` with symlinks resolved and a trailing separator; every bronze spec asks for the same one or two."""
    return os.path.join(os.path.realpath(folder), "")


def check_source_path(spec: TableSpec, environments: list[Environment]) -> Iterator[Finding]:
    """A table reads files only from its environment's landing folder: no `..`, no absolute path
    elsewhere, no symlink out of it (a full refresh would re-ingest whatever it points at)."""
    if not isinstance(spec.source, FilesSource):
        return
    doc, raw = spec.document, spec.source.path
    where = ("source", "files", "path")
    if ".." in raw.replace("\\", "/").split("/"):
        yield doc.finding(where, f"path `{raw}` climbs out of its folder with `..`",
                          hint="name a folder under ${landing_path}, e.g. ${landing_path}/orders")
        return
    for env in environments:
        variables = env.variables()
        if unknown_variables(raw, variables):
            continue  # reported by check_variables
        resolved = substitute(raw, variables)
        landing = variables["landing_path"]
        if env.runtime != "local":
            if not (resolved == landing or resolved.startswith(landing.rstrip("/") + "/")):
                yield doc.finding(where, f"path resolves to `{resolved}` in `{env.name}`, outside its landing "
                                  f"folder `{landing}`", hint="start the path with ${landing_path}/")
            continue
        target, folder = Path(resolved), Path(landing)
        if not target.is_absolute():
            target = env.root / target
        if not _inside(target, folder):
            why = "a symlink out of" if target.absolute().is_relative_to(folder.absolute()) else "outside"
            yield doc.finding(where, f"path resolves to `{target}` in `{env.name}`: {why} its landing folder "
                              f"`{folder}`", hint="start the path with ${landing_path}/ and do not link elsewhere")


def check_environment_paths(env: Environment) -> Iterator[Finding]:
    """Relative `landing_path` / `storage_root` stay inside the project (absolute paths are explicit)."""
    if env.runtime != "local" or env.document is None:
        return
    for key in ("landing_path", "storage_root"):
        raw = str(env.settings.get(key, ""))
        if raw and not Path(raw).is_absolute() and not _inside(env.root / raw, env.root):
            yield env.document.finding((key,), f"`{key}: {raw}` climbs out of the project folder",
                                       hint="use a folder inside the project, or an explicit absolute path")


def _known_tables_hint(name: str, project: Project) -> str:
    """Did-you-mean over every table, including those whose spec has errors of its own."""
    broken = {Path(f.file).stem for f in project.findings if f.file.startswith(f"{TABLES_FOLDER}/")}
    return did_you_mean(name, set(project.tables) | broken) or f"known tables: {', '.join(sorted(project.tables))}"


def _failed_to_load(name: str, project: Project) -> bool:
    """True when tables/<layer>/<name>.yaml exists but has errors of its own (so it is not in the model).

    Reporting "upstream `orders` does not exist" for every reader of a spec with a typo would bury the one
    real error under consequences of it.
    """
    broken = {Path(f.file).stem for f in project.findings if f.severity == "error"}
    return name in broken and any((project.root / TABLES_FOLDER / layer / f"{name}{suffix}").is_file()
                                  for layer in LAYERS for suffix in (".yaml", ".yml"))


def _available_columns(spec: TableSpec) -> set[str]:
    """Declared columns, plus the metadata columns the framework adds when a table reads files."""
    return set(spec.column_names) | (set(METADATA_COLUMNS) if spec.reads_files else set())


def check_location(spec: TableSpec, project: Project) -> Iterator[Finding]:
    doc = spec.document
    path = project.root / doc.file
    if path.stem != spec.name:
        yield doc.finding(("name",), f"table name `{spec.name}` does not match its file name `{path.name}`",
                          hint=f"rename the file to {spec.name}.yaml or set name: {path.stem}")
    parent = path.parent.name
    if parent in ("bronze", "silver", "gold") and parent != spec.layer:
        yield doc.finding(("layer",), f"layer `{spec.layer}` does not match its folder tables/{parent}/",
                          hint=f"move the file to tables/{spec.layer}/ or set layer: {parent}")


def check_source(spec: TableSpec, project: Project) -> Iterator[Finding]:
    doc, source = spec.document, spec.source
    if isinstance(source, TablesSource):
        for i, name in enumerate(source.tables):
            if name not in project.tables:
                if _failed_to_load(name, project):
                    continue
                yield doc.finding(("source", "tables", i), f"upstream table `{name}` does not exist",
                                  hint=_known_tables_hint(name, project))
            elif name == spec.name:
                yield doc.finding(("source", "tables", i), "a table cannot read itself")
    elif "mode" in doc.data["source"]:
        yield doc.finding(("source", "mode"), "`mode` only applies to `source.tables`", key=True,
                          hint="remove it: files are always streamed, SQL sources are always batch")
    if isinstance(source, SqlSource):
        result = check_select(source.sql)
        if result.error:
            yield doc.finding(("source", "sql"), result.error, at=result.position)
        for name in result.tables:
            if name not in project.tables and not _failed_to_load(name, project):
                yield doc.finding(("source", "sql"), f"SQL source reads unknown table `{name}`",
                                  hint=_known_tables_hint(name, project))
    if spec.kind == "streaming_table" and (isinstance(source, SqlSource) or
                                           (isinstance(source, TablesSource) and source.mode == "batch")):
        yield doc.finding(("kind",), "a streaming_table needs an incremental source (files or tables read as stream)",
                          hint="use kind: materialized_view, or source.mode: stream")
    if isinstance(source, FilesSource) and spec.kind != "streaming_table":
        yield doc.finding(("kind",), "tables read from landing files must be streaming tables",
                          hint="remove `kind` or use kind: streaming_table")
    if spec.dedupe_sequence_by and not spec.keys:
        yield doc.finding(("dedupe",), "`dedupe` needs `keys` to know which rows are the same", key=True)


def check_columns(spec: TableSpec, project: Project) -> Iterator[Finding]:
    doc = spec.document
    declared = spec.column_names
    seen: set[str] = set()
    for i, column in enumerate(spec.columns):
        if column.name in seen:
            yield doc.finding(("columns", i, "name"), f"column `{column.name}` is declared twice")
        seen.add(column.name)
        if problem := _type_problem(column.type):
            yield doc.finding(("columns", i, "type"), f"`{column.type}` is not a Spark SQL type: {problem}",
                              hint="e.g. STRING, BIGINT, DOUBLE, DECIMAL(18,4), TIMESTAMP, DATE, ARRAY<STRING>")
    available = _available_columns(spec)
    for field in ("keys", "zorder_by", "cluster_by", "partition_by"):
        for i, name in enumerate(getattr(spec, field)):
            if name not in available:
                yield doc.finding((field, i), f"`{field}` names column `{name}`, which is not declared",
                                  hint=did_you_mean(name, declared) or f"declared columns: {', '.join(declared)}")
    if spec.dedupe_sequence_by and spec.dedupe_sequence_by not in available:
        name = spec.dedupe_sequence_by
        yield doc.finding(("dedupe", "sequence_by"), f"`sequence_by` names column `{name}`, which is not declared",
                          hint=did_you_mean(name, declared))
    clustered = bool(spec.cluster_by) or spec.cluster_by_auto
    if spec.zorder_by and clustered:
        yield doc.finding(("cluster_by",), "`zorder_by` and `cluster_by` cannot both be set", key=True,
                          hint="liquid clustering replaces Z-ordering; keep one of them")
    if spec.partition_by and clustered:
        yield doc.finding(("cluster_by",), "`partition_by` and `cluster_by` cannot both be set", key=True)


@lru_cache(maxsize=1024)
def _type_problem(type_text: str) -> str | None:
    """Why `type_text` is not a Spark SQL type, or None. Cached: a project repeats a few dozen types."""
    if len(type_text) > MAX_TYPE_CHARS:
        return f"it is {len(type_text):,} characters long (limit {MAX_TYPE_CHARS:,})"
    try:
        exp.DataType.build(type_text, dialect=DIALECT, udt=False)
    except (ParseError, ValueError, Exception) as exc:  # sqlglot raises several error types here
        return str(exc).splitlines()[0] if str(exc) else "unknown type"
    return None


def check_expectations(spec: TableSpec, project: Project) -> Iterator[Finding]:
    doc = spec.document
    available = _available_columns(spec)
    names: set[str] = set()
    for i, expectation in enumerate(spec.expectations):
        if expectation.name in names:
            yield doc.finding(("expectations", i, "name"), f"expectation name `{expectation.name}` is used twice",
                              hint="expectation names must be unique per table")
        names.add(expectation.name)
        result = check_boolean_expression(expectation.rule)
        if result.error:
            yield doc.finding(("expectations", i, "rule"), result.error, at=result.position)
            continue
        for column in sorted(result.columns - available):
            yield doc.finding(("expectations", i, "rule"), f"rule uses column `{column}`, which is not declared",
                              hint=did_you_mean(column, spec.column_names) or
                              f"declared columns: {', '.join(spec.column_names)}")


def check_transform(spec: TableSpec, project: Project) -> Iterator[Finding]:
    doc, transform = spec.document, spec.transform
    if transform is None:
        return
    if transform.python:
        if problem := resolve_python_ref(transform.python, project.root):
            yield doc.finding(("transform", "python"), problem,
                              hint="write it as `package.module:function`, importable from the project root")
        yield from _check_lineage_mapping(spec, project)
        return
    result = check_select(transform.sql)
    if result.error:
        yield doc.finding(("transform", "sql"), result.error, at=result.position)
        return
    for name in result.tables:
        if name != SOURCE_VIEW:
            yield doc.finding(("transform", "sql"), f"transform reads `{name}`; a transform reads only `{SOURCE_VIEW}`",
                              hint="to combine tables, use `source: {sql: ...}` instead")


def _check_lineage_mapping(spec: TableSpec, project: Project) -> Iterator[Finding]:
    """`transform.lineage` names declared columns, mapped to columns its upstreams declare (`column` of
    one of them, or `table.column` of an upstream): a typo would make lineage and `diff` silently wrong."""
    assert spec.transform is not None
    doc = spec.document
    declared = set(spec.column_names)
    upstreams = {name: project.tables[name] for name in spec.upstreams if name in project.tables}
    for output, inputs in spec.transform.lineage.items():
        if output not in declared:
            yield doc.finding(("transform", "lineage", output), f"`{output}` is not a declared column",
                              hint=did_you_mean(output, declared) or "map the columns listed under `columns`",
                              key=True)
        for index, text in enumerate(inputs):
            table, dot, column = text.rpartition(".")
            if dot and table not in upstreams:
                yield doc.finding(("transform", "lineage", output, index), f"`{table}` is not a table this one reads",
                                  hint=f"it reads: {', '.join(sorted(upstreams)) or 'no table'}")
                continue
            pool = [upstreams[table]] if dot else list(upstreams.values())
            if upstreams and not any(column in u.column_names for u in pool):
                known = sorted({c for u in pool for c in u.column_names})
                yield doc.finding(("transform", "lineage", output, index),
                                  f"no table this one reads declares column `{column}`",
                                  hint=did_you_mean(column, known) or f"known: {', '.join(known)}")


def check_variables(spec: TableSpec, environments: list[tuple[str, dict[str, str]]]) -> Iterator[Finding]:
    """Every `${name}` in paths, reader options and SQL must be defined in each environment checked."""
    doc = spec.document
    texts: list[tuple[tuple, str]] = []
    if isinstance(spec.source, FilesSource):
        texts.append((("source", "files", "path"), spec.source.path))
        texts.extend((("source", "files", "options", k), str(v)) for k, v in spec.source.options.items())
    if isinstance(spec.source, SqlSource):
        texts.append((("source", "sql"), spec.source.sql))
    if spec.transform and spec.transform.sql:
        texts.append((("transform", "sql"), spec.transform.sql))
    for path, text in texts:
        if "${" not in text:
            continue
        for env_name, known in environments:
            for name in unknown_variables(text, known):
                yield doc.finding(path, f"unknown variable `${{{name}}}` in environment `{env_name}`",
                                  hint=did_you_mean(name, known) or
                                  f"define it under `variables:` in environments/{env_name}.yaml")


def _layer_rule_sets(environments: list[Environment]) -> list[tuple[dict[str, tuple[str, ...]], str]]:
    """The distinct layer rules of the environments checked, each with a label for messages.

    Usually every environment has the same rules and messages need not name one; when they differ,
    each finding says which environment's rules it breaks.
    """
    if not environments:
        return [(dict(DEFAULT_LAYER_RULES), "")]
    groups: dict[tuple, list[str]] = {}
    for env in environments:
        groups.setdefault(tuple(sorted(env.layer_rules.items())), []).append(env.name)
    if len(groups) == 1:
        return [(dict(next(iter(groups))), "")]
    return [(dict(key), f" in environment {', '.join(f'`{n}`' for n in names)}") for key, names in groups.items()]


def check_layers(spec: TableSpec, project: Project,
                 rule_sets: list[tuple[dict[str, tuple[str, ...]], str]]) -> Iterator[Finding]:
    """Bronze reads only files, silver reads bronze/silver, gold reads silver/gold (unless `layer_rules` says otherwise)."""
    doc = spec.document
    for rules, where in rule_sets:
        allowed = rules.get(spec.layer, ())
        if spec.reads_files and "files" not in allowed:
            yield doc.finding(("source", "files"), f"{spec.layer} tables may not read landing files{where}",
                              hint=f"{spec.layer} reads from: {', '.join(allowed) or 'nothing'}")
        for name in spec.upstreams:
            upstream = project.tables.get(name)
            if upstream and upstream.layer not in allowed:
                yield doc.finding(_upstream_path(spec, name), f"{spec.layer} table reads {upstream.layer} table "
                                  f"`{name}`; {spec.layer} may read only from {', '.join(allowed) or 'nothing'}{where}",
                                  hint="change the source, or the environment's `layer_rules`")


def _upstream_path(spec: TableSpec, name: str) -> tuple:
    """Where in the document a table reads `name`: its item in source.tables, or the SQL."""
    if isinstance(spec.source, TablesSource) and name in spec.source.tables:
        return ("source", "tables", spec.source.tables.index(name))
    return ("source", "sql") if isinstance(spec.source, SqlSource) else ("source",)


def check_cycles(project: Project) -> Iterator[Finding]:
    cycle = project.graph().find_cycle()
    if cycle:
        first = project.tables[cycle[0]]
        yield first.document.finding(("source",), "tables depend on each other in a cycle: " + " -> ".join(cycle),
                                     hint="break the cycle by removing one of these sources", code="cycle", key=True)


CHANGE_DATA_FEED = "delta.enableChangeDataFeed"


def check_refresh(spec: TableSpec, project: Project) -> Iterator[Finding]:
    """`refresh:` needs a materialized view over one upstream table read as a batch, and columns both have."""
    refresh, doc = spec.refresh, spec.document
    if refresh is None:
        return
    if spec.kind != "materialized_view":
        yield doc.finding(("refresh",), f"`refresh` applies to materialized views; this table is a {spec.kind}",
                          key=True, hint="remove it: streaming tables are incremental already")
        return
    source = spec.source
    if not (isinstance(source, TablesSource) and len(source.tables) == 1 and source.mode == "batch"):
        yield doc.finding(("refresh",), "`refresh` needs exactly one upstream table read as a batch "
                          "(`source: {tables: [name], mode: batch}`)", key=True,
                          hint="without it, the view is recomputed in full when an input changes")
        return
    upstream = project.tables.get(source.tables[0])
    if upstream is None:
        return  # reported by check_source
    if spec.quarantine_table:
        yield doc.finding(("refresh",), "`refresh` cannot be combined with `quarantine` expectations", key=True,
                          hint="use drop or fail expectations on an incrementally refreshed view")
    upstream_columns = _available_columns(upstream)
    for i, column in enumerate(refresh.incremental_by):
        yield from _refresh_column(spec, ("refresh", "incremental_by", i), column, upstream, upstream_columns)
    if refresh.extends_by:
        yield from _refresh_column(spec, ("refresh", "extends_by"), refresh.extends_by, upstream, upstream_columns)
        if not (spec.transform and spec.transform.python):
            yield doc.finding(("refresh", "extends_by"), "`extends_by` needs a `transform.python` function that "
                              "continues each group from its previous rows", hint="def f(source, previous=None)")
    elif "context_rows" in (doc.data.get("refresh") or {}):
        yield doc.finding(("refresh", "context_rows"), "`context_rows` only applies with `extends_by`", key=True)
    if str(upstream.table_properties.get(CHANGE_DATA_FEED, "false")).lower() != "true":
        yield doc.finding(("refresh",), f"upstream `{upstream.name}` does not set `{CHANGE_DATA_FEED}: true`, so "
                          "every refresh recomputes the whole view", key=True, severity="warning",
                          hint=f"add `table_properties: {{{CHANGE_DATA_FEED}: true}}` to {upstream.file}")


def _refresh_column(spec: TableSpec, path: tuple, column: str, upstream: TableSpec,
                    upstream_columns: set[str]) -> Iterator[Finding]:
    if column not in spec.column_names:
        yield spec.document.finding(path, f"`{column}` is not a column of this table",
                                    hint=did_you_mean(column, spec.column_names))
    if column not in upstream_columns:
        yield spec.document.finding(path, f"`{column}` is not a column of upstream `{upstream.name}`",
                                    hint=did_you_mean(column, upstream_columns))
