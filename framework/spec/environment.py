"""Environments: where and how the pipeline runs (local, dev, prod), with inheritance and variables.

An environment file may `extends` another; the merge is deep for mappings and replaces lists and
scalars, so `prod.yaml` states only what differs from `dev.yaml`. Table specs reference environment
values as `${name}`; `substitute` resolves them, and `unknown_variables` lets validation reject typos.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from framework.spec.documents import Document
from framework.spec.model import LAYERS

VARIABLE = re.compile(r"\$\{([^}]*)\}")

DEFAULT_LAYER_RULES: dict[str, tuple[str, ...]] = {
    "bronze": ("files",),
    "silver": ("bronze", "silver"),
    "gold": ("silver", "gold"),
}

DEFAULTS: dict[str, Any] = {
    "runtime": "local",
    "catalog": "main",
    "schemas": {"bronze": "bronze", "silver": "silver", "gold": "gold", "ops": "ops"},
    "landing_path": ".medallion/{env}/landing",
    "storage_root": ".medallion/{env}",
    "continuous": False,
    "development": True,
    "photon": False,
    "serverless": False,
    "channel": "CURRENT",
    "edition": "ADVANCED",
    "trigger_interval": "5 seconds",
    "optimize_interval": "10 minutes",
    "landing_settle_seconds": 10,
    "max_parallel_flows": 2,
    "retries": {"max_attempts": 3, "initial_backoff_seconds": 2, "max_backoff_seconds": 60},
    "spark_conf": {},
    "tags": {},
    "variables": {},
}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Mappings merge key by key; anything else in `override` replaces the base value."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass
class Environment:
    """A resolved environment: its own file merged over its parents and the defaults."""

    name: str
    settings: dict[str, Any]
    root: Path
    documents: tuple[Document, ...] = field(default=(), repr=False)
    """This environment's file first, then its ancestors (to locate findings)."""
    _variables: dict[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __getitem__(self, key: str) -> Any:
        return self.settings[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.settings.get(key, default)

    @property
    def document(self) -> Document | None:
        return self.documents[0] if self.documents else None

    @property
    def runtime(self) -> str:
        return self.settings["runtime"]

    @property
    def catalog(self) -> str:
        return self.settings["catalog"]

    def schema_for(self, layer: str) -> str:
        return self.settings["schemas"].get(layer, layer)

    def _path(self, key: str) -> Path:
        # str.replace, not str.format: a literal `{` in a path must not raise KeyError/ValueError.
        raw = str(self.settings[key]).replace("{env}", self.name)
        path = Path(raw)
        return path if path.is_absolute() else (self.root / path)

    @property
    def landing_path(self) -> Path:
        return self._path("landing_path")

    @property
    def storage_root(self) -> Path:
        return self._path("storage_root")

    @property
    def layer_rules(self) -> dict[str, tuple[str, ...]]:
        rules = dict(DEFAULT_LAYER_RULES)
        rules.update({k: tuple(v) for k, v in (self.settings.get("layer_rules") or {}).items()})
        return rules

    def variables(self) -> dict[str, str]:
        """Every `${name}` a table spec may use in this environment (computed once: validation asks per text)."""
        if self._variables is None:
            self._variables = self._compute_variables()
        return dict(self._variables)

    def _compute_variables(self) -> dict[str, str]:
        builtins = {
            "env": self.name,
            "catalog": self.catalog,
            "landing_path": str(self.landing_path) if self.runtime == "local" else str(self.settings["landing_path"]),
            "storage_root": str(self.storage_root) if self.runtime == "local" else str(self.settings["storage_root"]),
        }
        builtins.update({f"{layer}_schema": self.schema_for(layer) for layer in (*LAYERS, "ops")})
        builtins.update({k: str(v) for k, v in self.settings.get("variables", {}).items()})
        return builtins

    def qualified_name(self, layer: str, table: str) -> str:
        """The Unity Catalog name of a table in this environment."""
        return f"{self.catalog}.{self.schema_for(layer)}.{table}"


def unknown_variables(text: str, known: dict[str, str]) -> list[str]:
    return [name for name in VARIABLE.findall(text) if name not in known]


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace `${name}` with its value; unknown names are left for validation to report."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
