"""Environments: where and how the pipeline runs (local, dev, prod), with inheritance and variables.

An environment file may `extends` another; the merge is deep for mappings and replaces lists and
scalars, so `prod.yaml` states only what differs from `dev.yaml`. Table specs reference environment
values as `${name}`; `substitute` resolves them, and `unknown_variables` lets validation reject typos.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from framework.spec.checks import check_defaults
from framework.spec.documents import Document
from framework.spec.model import LAYERS
from framework.spec.runtimes import DEFAULT_RUNTIME, Runtime, runtime
from framework.spec.settings import DatabricksSettings, JobSettings, Retries, Timeouts, interval_seconds, section

VARIABLE = re.compile(r"\$\{([^}]*)\}")
DEVELOPER_VARIABLE = "MEDALLION_DEVELOPER"
"""Whose schemas a `databricks.per_user_schemas` environment uses at run time. Set by `medallion --developer
NAME` (the dev bundle's tasks pass ${workspace.current_user.short_name}) and by the pipeline notebook from its
`medallion.developer` configuration; unset (validation, rendering, local runs), the declared names are used."""
VOLUME_IN_SCHEMA = re.compile(r"^/Volumes/(?P<catalog>[^/]+)/(?P<schema>[^/]+)(?P<rest>/.*)?$")

DEFAULT_LAYER_RULES: dict[str, tuple[str, ...]] = {
    "bronze": ("files",),
    "silver": ("bronze", "silver"),
    "gold": ("silver", "gold"),
}

DEFAULTS: dict[str, Any] = {
    # top-level defaults; nested sections (retries, timeouts, job, databricks) own theirs in settings.py
    "runtime": "local",
    "catalog": "main",
    "schemas": {"bronze": "bronze", "silver": "silver", "gold": "gold", "ops": "ops"},
    "landing_path": ".medallion/{env}/landing",
    "storage_root": ".medallion/{env}",
    "continuous": False,
    "development": True,
    "photon": False,
    "serverless": False,
    "databricks_runtime": DEFAULT_RUNTIME,
    "edition": "ADVANCED",
    "trigger_interval": "5 seconds",
    "optimize_interval": "10 minutes",
    "landing_settle_seconds": 10,
    "max_parallel_flows": 2,
    "optimize_min_files": 10,
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

    # -- typed settings (defaults in DEFAULTS and framework/spec/settings.py) ---------------------------

    @property
    def development(self) -> bool:
        """Development mode: fail fast, no retries (DLT's development flag)."""
        return bool(self.settings["development"])

    @property
    def continuous(self) -> bool:
        return bool(self.settings["continuous"])

    @property
    def serverless(self) -> bool:
        """Databricks serverless compute for the pipeline and the job's tasks."""
        return bool(self.settings["serverless"])

    @property
    def databricks_runtime(self) -> str:
        """The one runtime this environment targets, as written (`17.3`, `serverless`): see spec/runtimes.py."""
        return str(self.settings["databricks_runtime"])

    @property
    def target_runtime(self) -> Runtime:
        """The runtime table's row for `databricks_runtime`: Spark line, job cluster key, channel, SQL semantics.

        A local environment targets the runtime its engine emulates (its SQL semantics and function list).
        """
        return runtime(self.databricks_runtime)

    @property
    def trigger_interval(self) -> str:
        """Micro-batch interval of continuous streams, as written (`5 seconds`)."""
        return str(self.settings["trigger_interval"])

    @property
    def trigger_seconds(self) -> float:
        return interval_seconds(self.trigger_interval)

    @property
    def optimize_seconds(self) -> float:
        """How often continuous mode OPTIMIZEs the tables that changed."""
        return interval_seconds(str(self.settings["optimize_interval"]))

    @property
    def landing_settle_seconds(self) -> float:
        return float(self.settings["landing_settle_seconds"])

    @property
    def optimize_min_files(self) -> int:
        """OPTIMIZE a table once this many data files were written since its last OPTIMIZE."""
        return max(2, int(self.settings["optimize_min_files"]))

    @property
    def max_parallel_flows(self) -> int:
        return max(1, int(self.settings["max_parallel_flows"]))

    @cached_property
    def retries(self) -> Retries:
        return section(Retries, self.settings.get("retries"))

    @property
    def attempts(self) -> int:
        """Attempts a failing flow gets: one in development mode, `retries.max_attempts` in production."""
        return 1 if self.development else int(self.retries.max_attempts)

    @cached_property
    def timeouts(self) -> Timeouts:
        return section(Timeouts, self.settings.get("timeouts"))

    def task_timeout(self, key: str) -> int | None:
        """`timeouts.<key>_seconds`: the environment's timeout of the project task `key`, if it sets one."""
        value = (self.settings.get("timeouts") or {}).get(f"{key}_seconds")
        return int(value) if value is not None else None

    def task_config(self, key: str) -> dict[str, Any]:
        """The configuration of the project task `key` (`tasks.<key>`), opaque here: the task validates it
        with its own schema (medallion.yaml `config_schema`)."""
        return dict((self.settings.get("tasks") or {}).get(key) or {})

    @cached_property
    def job(self) -> JobSettings:
        return section(JobSettings, self.settings.get("job"))

    @cached_property
    def databricks(self) -> DatabricksSettings:
        return section(DatabricksSettings, self.settings.get("databricks"))

    @property
    def developer(self) -> str | None:
        """The developer whose own schemas this run uses (`databricks.per_user_schemas`), else None."""
        if not self.databricks.per_user_schemas:
            return None
        return os.environ.get(DEVELOPER_VARIABLE) or None

    def check_settings(self, kind: str) -> dict[str, Any]:
        """Defaults of a check kind here (`checks.<kind>` over the built-in ones; framework/spec/checks.py)."""
        return check_defaults(kind, self.settings.get("checks"))

    def declared_schema(self, layer: str) -> str:
        """The layer's schema as environments/ writes it (what the bundle renders, per developer or not)."""
        return self.settings["schemas"].get(layer, layer)

    def schema_for(self, layer: str) -> str:
        name = self.declared_schema(layer)
        developer = self.developer
        return f"{developer}_{name}" if developer else name

    def personal_path(self, raw: str) -> str:
        """A /Volumes path in a layer schema, in that layer's schema of this run's developer (if any)."""
        match = VOLUME_IN_SCHEMA.match(raw)
        declared = {self.declared_schema(layer): layer for layer in (*LAYERS, "ops")}
        if not self.developer or not match or match["schema"] not in declared:
            return raw
        return f"/Volumes/{match['catalog']}/{self.schema_for(declared[match['schema']])}{match['rest'] or ''}"

    def _path(self, key: str) -> Path:
        # str.replace, not str.format: a literal `{` in a path must not raise KeyError/ValueError.
        raw = self.personal_path(str(self.settings[key]).replace("{env}", self.name))
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
            "landing_path": str(self.landing_path) if self.runtime == "local"
            else self.personal_path(str(self.settings["landing_path"])),
            "storage_root": str(self.storage_root) if self.runtime == "local"
            else self.personal_path(str(self.settings["storage_root"])),
        }
        builtins.update({f"{layer}_schema": self.schema_for(layer) for layer in (*LAYERS, "ops")})
        builtins.update({k: str(v) for k, v in self.settings.get("variables", {}).items()})
        return builtins



def unknown_variables(text: str, known: dict[str, str]) -> list[str]:
    return [name for name in VARIABLE.findall(text) if name not in known]


def substitute(text: str, variables: dict[str, str]) -> str:
    """Replace `${name}` with its value; unknown names are left for validation to report."""
    return VARIABLE.sub(lambda m: variables.get(m.group(1), m.group(0)), text)
