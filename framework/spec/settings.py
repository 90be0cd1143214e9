"""Typed sections of an environment, each owning its defaults.

An environment file is merged over its parents and `framework.spec.environment.DEFAULTS`; the nested
sections below are read through these classes, so a default is written once, here, and code says
`env.retries.max_attempts` instead of `env["retries"].get("max_attempts", 3)` in several places.
The JSON Schema (framework/spec/schemas/environment.schema.json) checks the values before they get here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Mapping, TypeVar

T = TypeVar("T")

_INTERVAL = re.compile(r"\s*(\d+)\s+(second|minute|hour)s?\s*")
_UNIT_SECONDS = {"second": 1, "minute": 60, "hour": 3600}


def interval_seconds(text: str) -> float:
    """`"2 seconds"`, `"10 minutes"`, `"1 hour"` -> seconds (the schema allows only these forms)."""
    match = _INTERVAL.fullmatch(text)
    if match is None:
        raise ValueError(f"`{text}` is not an interval like `5 seconds` or `10 minutes`")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def section(cls: type[T], values: Mapping[str, Any] | None) -> T:
    """An instance of a settings class from a mapping: known keys taken, missing ones defaulted."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in (values or {}).items() if k in names})


@dataclass(frozen=True)
class Retries:
    """How a production-mode update retries a failed flow (`retries:`)."""

    max_attempts: int = 3
    initial_backoff_seconds: float = 2.0
    max_backoff_seconds: float = 60.0


@dataclass(frozen=True)
class Timeouts:
    """Job and task timeouts in seconds (`timeouts:`); None means no limit. A project task's timeout is
    `<key>_seconds` (read with `Environment.task_timeout`)."""

    job_seconds: int | None = None
    pipeline_seconds: int | None = None
    checks_seconds: int | None = None


@dataclass(frozen=True)
class JobSettings:
    """The daily job (`job:`): task retries and concurrency."""

    max_retries: int = 0
    min_retry_interval_millis: int = 0
    max_concurrent_runs: int = 1


@dataclass(frozen=True)
class DatabricksSettings:
    """Workspace-side settings of a Databricks environment (`databricks:`)."""

    host_env: str = "DATABRICKS_HOST"
    """The variable holding the workspace URL (prod uses its own, so it never falls back to dev)."""
    root_path: str | None = None
    run_as_service_principal: str | None = None
    warehouse_id_env: str = "DATABRICKS_WAREHOUSE_ID"
    secret_scope: str | None = None
    per_user_schemas: bool = False
    """Each developer's deployment uses schemas of their own, `<short name>_<schema>`: the bundle names them
    with `${workspace.current_user.short_name}` and passes the same value to the runtime (`medallion
    --developer`, the pipeline's `medallion.developer`), which reads it as `Environment.developer`."""
    landing_volume: str | None = None
    event_log_table: str = "event_log"
    """The pipeline's published event log, in the ops schema (pipeline setting `event_log`)."""
    profile: str | None = None
    permissions: tuple[dict[str, str], ...] = ()
    """Bundle `permissions`: {level, group_name | user_name | service_principal_name} (principals are ${var.x})."""
