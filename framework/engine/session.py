"""Convenience entry points for jobs that need the local runtime's SparkSession and event log name.

`with spark_session(project, env) as spark:` (or `spark_session(env)`) gives the environment's
session with every Delta table registered as `<schema>.<name>`; `event_log_name(env)` is the event
log table (`ops.event_log`). Thin re-exports of `framework.engine.spark` / `.event_log`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Iterator

from framework.engine.event_log import event_log_name, table_metrics
from framework.engine.spark import build_session
from framework.engine.spark import spark_session as _env_session
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession


@contextmanager
def spark_session(project_or_env: Any, env: Environment | str | None = None) -> Iterator["SparkSession"]:
    """`spark_session(env)` or `spark_session(project, env_or_name)`."""
    if env is None:
        resolved = project_or_env
    elif isinstance(env, str):
        resolved = project_or_env.environment(env)
    else:
        resolved = env
    with _env_session(resolved) as spark:
        yield spark


__all__ = ["build_session", "event_log_name", "spark_session", "table_metrics"]
