"""`medallion new table NAME --layer LAYER [--from UPSTREAM]`: scaffold a valid spec from a template.

The spec is rendered from `table.yaml.j2` (the project's own `templates/table.yaml.j2`, else the one
shipped in the package: `framework.templates`). With `--from`, the new table reads UPSTREAM and starts from its columns and keys, so the
file is valid the moment it is written; the command validates it to prove it. A streaming silver table
with keys also gets `dedupe` (the latest ingestion per key wins), so duplicates from its source never
reach it.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import click

from framework import templates
from framework.cli.common import EXIT_INVALID, EXIT_OK, EXIT_USAGE, project_option
from framework.findings import did_you_mean
from framework.project import TABLES_DIR, Project, find_project_root, load_project
from framework.spec.environment import DEFAULT_LAYER_RULES
from framework.spec.model import LAYERS, Column, TableSpec

TEMPLATE = "table.yaml.j2"
NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
"""Same rule as `name` in table.schema.json (kept in sync by tests/cli/test_new.py)."""
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .()/\-]*$")
_YAML_WORDS = {"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"}


@dataclass(frozen=True)
class Plan:
    """Everything the template needs, worked out before anything is written."""

    name: str
    layer: str
    path: Path
    upstream: TableSpec | None


def yaml_scalar(value: Any) -> str:
    """A YAML scalar safe in block and flow context: plain when unambiguous, else double-quoted (JSON)."""
    text = str(value)
    if _PLAIN.match(text) and not text.endswith(" ") and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)


def template_dir(root: Path) -> Path:
    """The folder holding the table template: the project's templates/ when it overrides it, else the package's."""
    return templates.path(root, TEMPLATE).parent


def schema_reference(target_dir: Path) -> str:
    """Relative path from the new file's folder to table.schema.json, for the yaml-language-server line."""
    schema = Path(str(resources.files("framework.spec.schemas").joinpath("table.schema.json")))
    return Path(os.path.relpath(schema.resolve(), target_dir.resolve())).as_posix()


def _columns(upstream: TableSpec | None, layer: str) -> list[Column]:
    if upstream is not None:
        return list(upstream.columns)
    return [Column("id", "STRING", True, "Identifier of the record in the source system."),
            Column("event_ts", "STRING", True, "When the event happened (RFC 3339, UTC)."),
            Column("payload", "STRING", True, "The rest of the record, as sent.")]


SEQUENCE_COLUMN = "_ingested_at"


def _dedupe(upstream: TableSpec | None, layer: str, keys: list[str],
            columns: list[Column]) -> tuple[str | None, list[Column], list[str]]:
    """`dedupe.sequence_by` for a streaming silver table with keys, with the columns and SELECT items it needs.

    A streaming table appends what its source delivers, so a key sent twice is stored twice unless the
    table de-duplicates (`medallion validate` warns about keys without `dedupe`). The latest ingestion
    should win: `_ingested_at`, which the framework adds to every table read from files (a silver
    upstream may carry it along); else a timestamp column that is not a key; else the time the row is
    processed. Returns (sequence column, columns to add, SELECT items to add).
    """
    if upstream is None or layer != "silver" or not keys:
        return None, [], []
    names = {c.name for c in columns}
    if SEQUENCE_COLUMN in names:
        return SEQUENCE_COLUMN, [], []
    added = Column(SEQUENCE_COLUMN, "TIMESTAMP", True,
                   "When the row was ingested; de-duplication keeps the latest per key.")
    if upstream.reads_files:
        return SEQUENCE_COLUMN, [added], [SEQUENCE_COLUMN]
    for column in columns:
        if column.type.strip().upper().startswith("TIMESTAMP") and column.name not in keys:
            return column.name, [], []
    return SEQUENCE_COLUMN, [added], [f"current_timestamp() AS {SEQUENCE_COLUMN}"]


def context(plan: Plan, root: Path) -> dict[str, Any]:
    upstream, layer = plan.upstream, plan.layer
    columns = _columns(upstream, layer)
    names = {c.name for c in columns}
    keys = [k for k in (upstream.keys if upstream else ()) if k in names] or [columns[0].name]
    sequence_by, added_columns, added_items = _dedupe(upstream, layer, keys, columns)
    columns += added_columns
    key_rule = " AND ".join(f"{k} IS NOT NULL" for k in keys)
    action = "warn" if layer == "bronze" else "quarantine" if layer == "silver" else "fail"
    return {
        "name": plan.name,
        "layer": layer,
        "upstream": upstream.name if upstream else None,
        "mode": "batch" if layer == "gold" else "stream",
        "description": (f"TODO: what one row of {plan.name} means"
                        + (f" (built from {upstream.name})." if upstream else ".")),
        "owner": upstream.owner if upstream and upstream.owner else "TODO-team",
        "tags": [layer],
        "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable or c.name not in keys,
                     "description": c.description or f"The {c.name.replace('_', ' ')}."} for c in columns],
        "keys": keys,
        "dedupe": sequence_by,
        "select_list": [c.name for c in columns[:len(columns) - len(added_columns)]] + added_items if upstream else [],
        "expectations": [{"name": "keys_present", "rule": key_rule, "action": action,
                          "description": "Every row has its key."}],
        "zorder_by": keys[:2],
        "schema_path": schema_reference(plan.path.parent),
    }


def render(plan: Plan, root: Path) -> str:
    import jinja2

    environment = jinja2.Environment(loader=jinja2.FileSystemLoader(template_dir(root)),
                                     undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                                     autoescape=False)
    environment.filters["yaml"] = yaml_scalar
    return environment.get_template(TEMPLATE).render(**context(plan, root))


def _usage(message: str, hint: str = "") -> None:
    click.echo(f"error: {message}" + (f"\n  hint: {hint}" if hint else ""), err=True)
    sys.exit(EXIT_USAGE)


def _readable_layers(project: Project, layer: str) -> tuple[str, ...]:
    """The layers `layer` may read, by the rules of every environment (a table must suit them all)."""
    rule_sets = [env.layer_rules for env in project.environments.values()] or [DEFAULT_LAYER_RULES]
    return tuple(l for l in ("files", *LAYERS) if all(l in rules.get(layer, ()) for rules in rule_sets))


def _default_upstream(project: Project, layer: str) -> TableSpec | None:
    """Without --from, a silver/gold table reads the last table (in dependency order) of a layer it may read."""
    allowed = _readable_layers(project, layer)
    candidates = [project.tables[n] for n in project.graph().order() if project.tables[n].layer in allowed]
    return candidates[-1] if candidates else None


def plan_table(project: Project, name: str, layer: str, upstream_name: str | None, force: bool) -> Plan:
    """Check the request against the project; exit with a clear message when it cannot be done."""
    if not NAME.match(name):
        _usage(f"invalid table name `{name}`",
               "use lower case letters, digits and underscores, starting with a letter (at most 63 characters)")
    path = project.root / TABLES_DIR / layer / f"{name}.yaml"
    existing = project.tables.get(name)
    if existing is not None and existing.file != project.relative(path):
        _usage(f"table `{name}` already exists in {existing.file}", "table names are unique across layers")
    if path.exists() and not force:
        click.echo(f"error: {project.relative(path)} already exists; pass --force to overwrite it", err=True)
        sys.exit(EXIT_INVALID)
    upstream = None
    if upstream_name is not None:
        if layer == "bronze":
            _usage("bronze tables read landing files, not tables; drop --from")
        upstream = project.tables.get(upstream_name)
        if upstream is None:
            _usage(f"unknown upstream table `{upstream_name}`",
                   did_you_mean(upstream_name, project.tables) or
                   f"known tables: {', '.join(sorted(project.tables)) or 'none'}")
        if upstream_name == name:
            _usage("a table cannot read itself")
        allowed = _readable_layers(project, layer)
        if upstream.layer not in allowed:
            _usage(f"{layer} tables may read only {', '.join(allowed) or 'nothing'}; `{upstream_name}` is {upstream.layer}",
                   "pick an upstream in an allowed layer, or change `layer_rules` in the environments")
    elif layer != "bronze":
        upstream = _default_upstream(project, layer)
        if upstream is None:
            _usage(f"a {layer} table reads other tables, and this project has none it may read",
                   "create a bronze table first, or pass --from NAME")
    return Plan(name, layer, path, upstream)


@click.group()
def new() -> None:
    """Scaffold new specs from the table template (a project's templates/table.yaml.j2 overrides it)."""


@new.command("table")
@click.argument("name")
@click.option("--layer", type=click.Choice(LAYERS), required=True, help="Medallion layer of the new table.")
@click.option("--from", "upstream_name", metavar="UPSTREAM", default=None,
              help="Table to read (silver/gold); its columns and keys are copied as a start.")
@click.option("--force", is_flag=True, help="Overwrite the spec if the file exists.")
@project_option()
def table(name: str, layer: str, upstream_name: str | None, force: bool, project_dir: Path | None) -> None:
    """Write tables/LAYER/NAME.yaml: a valid spec to edit."""
    root = (project_dir or find_project_root()).resolve()
    project = load_project(root)
    plan = plan_table(project, name, layer, upstream_name, force)
    plan.path.parent.mkdir(parents=True, exist_ok=True)
    plan.path.write_text(render(plan, root), encoding="utf-8")
    relative = project.relative(plan.path)
    after = load_project(root)
    own = [f for f in after.errors if f.file == relative]
    if own:
        for finding in own:
            click.echo(finding.render(), err=True)
        click.echo(f"wrote {relative}, but it does not validate (see above)", err=True)
        sys.exit(EXIT_INVALID)
    upstream = f", reading {plan.upstream.name}" if plan.upstream else ""
    click.echo(f"created {relative} ({layer}{upstream}); it validates. Edit it, then run `medallion validate`.")
    sys.exit(EXIT_OK)
