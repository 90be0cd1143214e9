"""The SparkSession the quality checks read through, chosen by the environment's runtime.

* `runtime: local`: the local engine's session (`framework.engine.spark.spark_session`): Delta jars,
  the environment's storage registered as `<schema>.<table>`.
* `runtime: databricks`: the cluster's own session, untouched. Unity Catalog already knows every table
  by its three-part name, and the cluster's configuration belongs to the platform: no Java check, no
  jars, no storage registration, no `CREATE SCHEMA` (which would land in whatever catalog the cluster
  defaults to). Outside a Databricks cluster there is no such session, so the command stops with one
  line saying where it runs, instead of starting a local JVM that would check nothing real.

`lazy_checks_session` is what `medallion check` holds: on the local runtime the session starts only when
a check first needs Spark semantics (a reconciliation not in the memo, a project kind using `ctx.spark`);
the rest is read without a JVM (framework/checks/arrow_reader.py). On Databricks it is the cluster's
session, asked for at once (off a cluster, the one-line error comes before any check runs).
"""

from __future__ import annotations

import os
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Callable, Iterator

from framework.errors import UsageError
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

RUNTIME_VARIABLE = "DATABRICKS_RUNTIME_VERSION"
"""Set by Databricks on every cluster (job and all-purpose) and serverless compute."""


def on_databricks_cluster() -> bool:
    return RUNTIME_VARIABLE in os.environ


@contextmanager
def checks_session(env: Environment, command: str = "check") -> Iterator["SparkSession"]:
    """The session for reading `env`'s tables for the duration of a `with` block."""
    if env.runtime == "local":
        from framework.engine.spark import spark_session

        with spark_session(env) as spark:
            yield spark
        return
    yield cluster_session(env, command)


@contextmanager
def lazy_checks_session(env: Environment, command: str = "check") -> Iterator[Callable[[], "SparkSession"]]:
    """A function returning `checks_session(env)`'s session, started on its first call and stopped when
    the `with` block ends (if it was started)."""
    with ExitStack() as stack:
        started: list["SparkSession"] = []

        def session() -> "SparkSession":
            if not started:
                started.append(stack.enter_context(checks_session(env, command)))
            return started[0]

        if env.runtime != "local":
            session()
        yield session


def cluster_session(env: Environment, command: str = "check") -> "SparkSession":
    """The Databricks cluster's active session as it is (a UsageError anywhere else).

    `command` names the `medallion` command in the message, e.g. `check`.
    """
    if not on_databricks_cluster():
        raise UsageError(
            f"environment `{env.name}` runs on Databricks (runtime: {env.runtime}): run `medallion {command} "
            f"--env {env.name}` on a Databricks cluster (the job's tasks do; {RUNTIME_VARIABLE} is not set "
            "here), or use a local environment on this machine (--env local)")
    from pyspark.sql import SparkSession

    return SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
