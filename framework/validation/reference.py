"""Render the spec reference (docs/spec-reference.md) from the JSON Schemas.

The schemas are the single source of truth for the format, so the reference is generated from them and
a test fails when the committed file is stale. Regenerate with:

    python -m framework.validation.reference            # writes docs/spec-reference.md
    python -m framework.validation.reference --check    # exit 1 when the file is out of date
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.validation.schema import SCHEMA_FILES, load_schema

DEFAULT_OUTPUT = Path(__file__).resolve().parents[2] / "docs" / "spec-reference.md"

INTRO = """\
# Spec reference

<!-- Generated from framework/spec/schemas/*.schema.json by `python -m framework.validation.reference`.
     Do not edit by hand: change the schema, then regenerate (a test checks this file is current). -->

Every table is one YAML file, `tables/<layer>/<name>.yaml`; every environment is one YAML file,
`environments/<name>.yaml`. Their format is defined by two JSON Schemas (Draft 2020-12) shipped in the
package, [`table.schema.json`](../framework/spec/schemas/table.schema.json) and
[`environment.schema.json`](../framework/spec/schemas/environment.schema.json). `medallion validate`
checks files against them, then runs the checks a schema cannot express (listed at the end).

## Validating and scaffolding

```console
$ medallion validate                      # every spec in tables/ and every environment
$ medallion validate tables/gold          # report on some files (checked against the whole project)
$ medallion validate --env prod           # check ${variables} against one environment only
$ medallion validate --strict --format github   # CI: annotations on the PR's lines, fail on warnings too
$ medallion validate --format sarif > medallion.sarif   # SARIF 2.1.0 for code scanning (junit: CI test reports)
$ medallion validate --format json        # {"valid": false, "findings": [{file, line, column, ...}]}
$ medallion new table trades --layer silver --from trades_raw   # a valid spec to edit
```

Every finding names the file, line and column, the path inside the document (`expectations[2].rule`),
what is wrong and, when it can guess, a hint (``did you mean `expectations`?``). All findings of all files
come in one run, sorted by file and line. Exit codes: `0` valid, `1` invalid specs, `2` usage error
(unknown `--env`, missing path, bad option). Validation never starts a JVM and never imports the
Python modules a spec names. In CI, `--strict` also fails on warnings; the workflow `medallion init`
writes, code scanning with SARIF and JUnit reports for GitLab or Jenkins are in [ci.md](ci.md).

`medallion new table NAME --layer LAYER [--from UPSTREAM] [--force]` renders the table template
(`table.yaml.j2`, shipped in the package; a project's own `templates/table.yaml.j2` overrides it) into
`tables/LAYER/NAME.yaml`: with `--from`, the table reads UPSTREAM and starts from its columns and
keys (a streaming silver table also gets `dedupe: {sequence_by: _ingested_at}`, so a key that arrives
twice is stored once); the command validates the result and refuses to overwrite an existing file
without `--force`.

## Editor support (VS Code)

Install the *YAML* extension (`redhat.vscode-yaml`) and start each file with a `$schema` comment that
points at the schema, relative to the file. You get completion, hover documentation and errors as you
type:

```yaml
# in tables/<layer>/<name>.yaml
# yaml-language-server: $schema=../../framework/spec/schemas/table.schema.json

# in environments/<name>.yaml
# yaml-language-server: $schema=../framework/spec/schemas/environment.schema.json
```

`medallion new table NAME --layer LAYER` writes this line for you. To cover every file without the
comment, map the schemas in `.vscode/settings.json` instead:

```json
{
  "yaml.schemas": {
    "./framework/spec/schemas/table.schema.json": "tables/**/*.yaml",
    "./framework/spec/schemas/environment.schema.json": "environments/*.yaml"
  }
}
```
"""

PROJECT_INTRO = """\
## The project file and its job

`medallion.yaml` at the project root (optional, like dbt's `dbt_project.yml`) names the project and
declares its job and its own check kinds
([`project.schema.json`](../framework/spec/schemas/project.schema.json); editors:
`# yaml-language-server: $schema=framework/spec/schemas/project.schema.json`). Without it the project's
name is its folder's name and the job is `pipeline` -> `quality_checks`.

```yaml
name: orders                      # bundle name; pipeline `orders_<env>`, job `orders_<env>_job`
job:
  description: "Orders: update {pipeline}, check, export ({env})."
  tasks:
    - key: export                 # a project task
      run: jobs.export:main       # jobs/export.py, under the project root
      args: ["--format", "parquet"]
      depends_on: [quality_checks]
      config_schema: jobs/export.schema.json   # checks environments' `tasks.export`
      secrets: [token_env]        # tasks.export.token_env names a secret (databricks.secret_scope)
    - key: pipeline               # a built-in task, listed only to say what it waits for
      depends_on: []
check_kinds:
  business_days: jobs.checks:business_days
```

The built-in tasks are `pipeline` (the pipeline update), `quality_checks` (`medallion check`, after
`pipeline`) and, on Databricks when specs declare grants, `table_grants`. `medallion job` runs the tasks
locally, in dependency order, and `medallion bundle render` renders the same list as the Databricks
job's tasks. A project task runs as `medallion task <key> --env <env> [args]` in both places (on
Databricks a `python_wheel_task` of the `medallion` entry point, with `--project ${workspace.file_path}`):
the command imports `run` from the project root and calls `function(context, args)`, where `context` is a
`framework.jobs.tasks.TaskContext` (`key`, `env`, `config`: the environment's `tasks.<key>` section,
`root`) and `args` the declared `args` (`{env}` replaced) followed by the command's own; the function's
return value is the exit code. Its timeout is the environment's `timeouts.<key>_seconds`, else
`timeout_seconds`. This repository's `medallion.yaml` declares its `collect` task ([collect.md](collect.md)).
"""

SEMANTIC_CHECKS = """\
## Checks beyond the schema

`medallion validate` also reports, each with file, line, column, the path in the document and a hint:

- table names are unique across layers; `name` equals the file name and `layer` the folder;
- every upstream table exists (with a "did you mean" for typos); the tables form no cycle (the cycle
  is named: `a -> b -> a`);
- layer rules: bronze reads only files, silver reads bronze/silver, gold reads silver/gold; an
  environment's `layer_rules` changes them;
- columns named in `keys`, `expectations`, `zorder_by`, `cluster_by`, `partition_by` and
  `dedupe.sequence_by` are declared in `columns` (tables read from files also have `_source_file`,
  `_ingested_at` and `_rescued_data`); column types are Spark SQL types;
- `zorder_by` and `cluster_by` are not both set (nor `partition_by` and `cluster_by`), `cluster_by: auto`
  included (automatic liquid clustering names no columns, so none are checked);
- expectation rules parse as one SQL boolean expression (Spark dialect): no subqueries, DDL, DML or
  several statements; expectation names are unique in a table;
- transforms and SQL sources parse as a single SELECT (a trailing comma is an error, as in Spark); a
  transform reads only `source`;
- transforms and SQL sources are resolved against the declared columns of what they read (`source` is
  the upstream's columns, plus `_rescued_data`, `_source_file` and `_ingested_at` when it reads files;
  a SQL source reads upstreams by name), through CTEs, subqueries, joins, aliases, lateral views and
  lambdas: an unknown column (with "did you mean"), an ambiguous one, or a function that is not one of
  Spark's built-ins is reported at its line and column inside the `sql:` block — checked against the
  Spark line of every environment's target runtime (`databricks_runtime`: 16.4 is Spark 3.5, 17.3 is
  4.0, 18.1 is 4.1) and, for a local environment, the local engine's 4.2, so a function a target lacks is
  an error naming the line, the runtime and the environment (one list per line ships with the package;
  regenerate one with `python -m framework.validation.functions --refresh --python <a Python with that
  pyspark>`);
- the output matches `columns`, as the pipeline will require: every declared column is produced,
  nothing undeclared is (unless the table reads files with `schema_evolution: add_new_columns`), no
  name twice, names match exactly (case included); order does not matter;
- a string is not selected into a numeric, date, timestamp or boolean column (`customer_id AS quantity`): Spark
  would convert it silently and write NULL wherever a value does not parse; convert it on purpose with
  `try_cast` / `try_to_timestamp` and say what its NULL does (`nullable: false`, or an expectation that
  quarantines), never with `CAST`, which fails the flow under ANSI semantics;
- an environment's settings agree with its runtime: a Databricks environment targets a runtime a pipeline
  channel runs (no channel runs 16.4), `serverless: true` goes with `databricks_runtime: serverless`,
  and no `spark_conf` turns `spark.sql.ansi.enabled` off;
- warning: a streaming silver or gold table with `keys` but no `dedupe` stores a key that arrives twice
  twice (the hint shows the `dedupe` block to add);
- declared quality checks (`checks:`): freshness reads a TIMESTAMP or DATE column the table has (default
  `_ingested_at`) and `max_age` is a duration (`26 hours`, `2 days`); `volume.max_drop` only on a
  streaming table (Databricks has no time travel on materialized views); `unique` names columns the
  table has (or the table has `keys`); `reconciliation` only on a table streamed from one upstream; no
  checks on a view; every `custom` kind, and every kind an environment's `checks:` names, is built in
  or declared in the project's `check_kinds:` (with "did you mean");
- every `${variable}` is defined in each environment (or the one given with `--env`);
- a `transform.python` reference `module:function` names a top-level function of a module found in the
  project or on the Python path (found by reading the source, without importing it);
- environments: `extends` names an existing environment and forms no cycle;
- medallion.yaml: task keys are unique; a project task has `run` and does not take a built-in task's
  key; `depends_on` names known tasks and the tasks form no cycle (named: `a -> b -> a`); `run` and
  every `check_kinds` reference name a top-level function of a module under the project root (read,
  not imported); a `config_schema` is a readable JSON Schema;
- an environment's `tasks.<key>` section belongs to a declared project task and matches its
  `config_schema`, each error at its line and column.

## Limits

A spec is a page of YAML; the validator refuses what no real spec needs, so that a broken or hostile
file ends in a located error instead of a crash or a hang:

- files are UTF-8 text of at most 1 MB, one YAML document each;
- nesting is at most 64 levels deep and a document expands to at most 200,000 values (no alias bombs);
- no YAML merge keys (`<<`), no tags other than the standard ones (no `!!python/...`, no `!custom`),
  no duplicate keys;
- expectation rules are at most 10,000 characters, SQL texts at most 100,000, column types at most
  2,000;
- at most 50 schema errors are listed per file.
"""


LINK = "\x00"
"""Marks a link target (a path) in row text until the heading anchors are known."""


@dataclass
class Section:
    """One object in a schema: a heading and a table of its keys."""

    title: str
    path: str
    description: str
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Renderer:
    """Walks one schema and collects a section per object, nested objects after their parent."""

    def __init__(self, schema: dict[str, Any]):
        self.schema = schema
        self.sections: list[Section] = []

    def resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in node and seen < 20:
            target: Any = self.schema
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
            seen += 1
        return node

    def type_text(self, node: dict[str, Any], path: str) -> str:
        node = self.resolve(node)
        if "enum" in node:
            return "one of " + ", ".join(f"`{json.dumps(v) if not isinstance(v, str) else v}`" for v in node["enum"])
        if "const" in node:
            value = node["const"]
            return f"`{json.dumps(value) if not isinstance(value, str) else value}`"
        choices = node.get("oneOf") or node.get("anyOf")
        if choices and "type" not in node and "properties" not in node:  # e.g. cluster_by: a list, or `auto`
            return " or ".join(self.type_text(choice, path) for choice in choices)
        kind = node.get("type")
        if kind == "array":
            items = self.resolve(node.get("items", {}))
            inner = f"[{path}[]]({LINK}{path}[]{LINK})" if _is_object(items) else self.type_text(items, path + "[]")
            return f"list of {inner}"
        if kind == "object" or "properties" in node:
            if "properties" in node:
                return f"mapping, see [{path}]({LINK}{path}{LINK})"
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                names = node.get("propertyNames", {}).get("pattern")
                key = f"name matching `{names}`" if names else "name"
                return f"mapping of {key} to {self.type_text(extra, path + '.*')}"
            return "mapping"
        if isinstance(kind, list):
            return " or ".join(kind)
        return kind or "any"

    def constraints(self, node: dict[str, Any]) -> str:
        node = self.resolve(node)
        parts = []
        for key, label in (("pattern", "pattern"), ("minLength", "min length"), ("minItems", "min items"),
                           ("maxItems", "max items"), ("minimum", "min"), ("maximum", "max"), ("default", "default")):
            if key in node:
                value = node[key]
                parts.append(f"{label} `{value}`" if key != "default" else f"default `{json.dumps(value)}`")
        if node.get("uniqueItems"):
            parts.append("unique items")
        for choice in node.get("oneOf", []) + node.get("anyOf", []):
            if extra := self.constraints(choice):
                parts.append(extra)
        return "; ".join(parts)

    def walk(self, node: dict[str, Any], path: str, title: str | None = None) -> None:
        node = self.resolve(node)
        section = Section(title or f"`{path}`", path, node.get("description", ""))
        self.sections.append(section)
        required = set(node.get("required", []))
        nested: list[tuple[dict[str, Any], str]] = []
        for key, child in node.get("properties", {}).items():
            child = self.resolve(child)
            child_path = f"{path}.{key}" if path else key
            description = child.get("description", "")
            if extra := self.constraints(child):
                description = f"{description} ({extra})" if description else extra
            section.rows.append((f"`{key}`", self.type_text(child, child_path), "yes" if key in required else "",
                                 _cell(description)))
            if _is_object(child):
                nested.append((child, child_path))
            elif child.get("type") == "array" and _is_object(self.resolve(child.get("items", {}))):
                nested.append((self.resolve(child["items"]), child_path + "[]"))
        for choice_key in ("oneOf", "anyOf"):
            choices = node.get(choice_key, [])
            if choices and all(set(c) == {"required"} for c in choices):
                names = ", ".join(f"`{c['required'][0]}`" for c in choices)
                section.notes.append(f"Exactly one of {names}." if choice_key == "oneOf" else f"At least one of {names}.")
        if "not" in node and set(node["not"]) == {"required"}:
            section.notes.append("Not both " + " and ".join(f"`{k}`" for k in node["not"]["required"]) + ".")
        for child, child_path in nested:
            self.walk(child, child_path)


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: no pipes, no newlines, no `<name>` read as an HTML tag."""
    return text.replace("|", "\\|").replace("\n", " ").replace("<", "&lt;").replace(">", "&gt;")


def _is_object(node: dict[str, Any]) -> bool:
    return isinstance(node, dict) and "properties" in node


def anchor(title: str, taken: dict[str, int]) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes, -1/-2 on repeats."""
    base = "".join(ch for ch in title.lower() if ch.isalnum() or ch in "-_ ").replace(" ", "-")
    count = taken.get(base, 0)
    taken[base] = count + 1
    return base if count == 0 else f"{base}-{count}"


def _link(text: str, anchors: dict[str, str]) -> str:
    parts = text.split(LINK)
    return "".join(f"#{anchors.get(p, '')}" if i % 2 else p for i, p in enumerate(parts))


def render_section(section: Section, level: int, anchors: dict[str, str]) -> str:
    lines = [f"{'#' * level} {section.title}", ""]
    if section.description:
        lines += [section.description.replace("<", "&lt;").replace(">", "&gt;"), ""]
    if section.rows:
        lines += ["| key | type | required | description |", "| --- | --- | --- | --- |"]
        lines += [f"| {k} | {_link(t, anchors)} | {r} | {d} |" for k, t, r, d in section.rows]
        lines.append("")
    lines += [*section.notes, ""] if section.notes else []
    return "\n".join(lines)


def render_schema(kind: str, heading: str, taken: dict[str, int]) -> str:
    schema = load_schema(kind)
    renderer = Renderer(schema)
    renderer.walk(schema, "", title=heading)
    anchors = {s.path: anchor(s.title, taken) for s in renderer.sections}
    out = [render_section(renderer.sections[0], 2, anchors)]
    out += [render_section(s, 3, anchors) for s in renderer.sections[1:]]
    return "\n".join(out)


def render() -> str:
    """The whole reference document."""
    taken: dict[str, int] = {}
    for title in ("Spec reference", "Validating and scaffolding", "Editor support (VS Code)",
                  "The project file and its job"):
        anchor(title, taken)
    parts = [INTRO,
             render_schema("table", f"Table spec (`{SCHEMA_FILES['table']}`)", taken),
             render_schema("environment", f"Environment (`{SCHEMA_FILES['environment']}`)", taken),
             PROJECT_INTRO,
             render_schema("project", f"Project file (`{SCHEMA_FILES['project']}`)", taken),
             SEMANTIC_CHECKS]
    return "\n".join(p.rstrip("\n") + "\n" for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Render docs/spec-reference.md from the JSON Schemas.")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--check", action="store_true", help="exit 1 if the file differs from the schemas")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date; run: python -m framework.validation.reference", file=sys.stderr)
            return 1
        print(f"{args.output} is up to date")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
