"""Every environment's resolved settings, flattened and laid side by side (local | dev | prod).

Nested settings become dotted keys (`schedule.pause_status`, `clusters[0].autoscale.max_workers`) so
that one row compares one value across environments, and rows whose values differ are flagged. The
sections put what a reviewer of a promotion cares about first: how the pipeline runs, its compute, its
schedule and who is notified.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Iterable

from framework.spec.environment import Environment

MISSING = "—"
SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pipeline", ("description", "runtime", "catalog", "continuous", "development", "photon", "serverless",
                  "databricks_runtime", "edition", "trigger_interval", "optimize_interval")),
    ("Compute", ("clusters", "spark_conf")),
    ("Schedule and job", ("schedule", "job", "timeouts", "retries")),
    ("Notifications", ("notifications",)),
    ("Storage and schemas", ("landing_path", "storage_root", "schemas")),
)
"""Top-level keys per section, in display order; every other key goes to "Other settings", sorted."""


@dataclass(frozen=True)
class Row:
    key: str
    values: tuple[str, ...]

    @property
    def differs(self) -> bool:
        return len(set(self.values)) > 1


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[Row, ...]


def scalar(value: Any) -> str:
    """YAML-like text for one value: true/false, plain strings, lists of scalars joined with commas."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return ", ".join(scalar(v) for v in value) if value else "[]"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True) if value else "{}"
    return str(value)


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Dotted key -> display value; lists of mappings are indexed (`clusters[0].label`)."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for key in sorted(value, key=str):
            out.update(flatten(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(value, list) and any(isinstance(v, dict) for v in value):
        out = {}
        for i, item in enumerate(value):
            out.update(flatten(item, f"{prefix}[{i}]"))
        return out
    return {prefix: scalar(value)}


def parent(env: Environment) -> str | None:
    """The environment this one `extends` (its documents are its own file first, then its ancestors)."""
    return str(env.documents[1].data["name"]) if len(env.documents) > 1 else None


def _top(key: str) -> str:
    return key.split(".")[0].split("[")[0]


def settings_sections(environments: Iterable[Environment]) -> list[Section]:
    environments = list(environments)
    flat = [flatten({k: v for k, v in env.settings.items() if k != "name"}) for env in environments]
    keys = sorted({key for values in flat for key in values})
    placed: set[str] = set()
    sections = []
    for title, tops in SECTIONS:
        chosen = [k for top in tops for k in keys if _top(k) == top]
        placed.update(chosen)
        sections.append(Section(title, tuple(Row(k, tuple(f.get(k, MISSING) for f in flat)) for k in chosen)))
    rest = [k for k in keys if k not in placed]
    sections.append(Section("Other settings", tuple(Row(k, tuple(f.get(k, MISSING) for f in flat)) for k in rest)))
    return [s for s in sections if s.rows]
