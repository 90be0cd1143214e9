"""The SparkSession the quality checks read through, chosen by the environment's runtime.

* `runtime: local`: the local engine's session (`framework.engine.spark.spark_session`): Delta jars,
  the environment's storage registered as `<schema>.<table>`.
* `runtime: databricks`: the cluster's own session, untouched. Unity Catalog already knows every table
  by its three-part name, and the cluster's configuration belongs to the platform: no Java check, no
  jars, no storage registration, no `CREATE SCHEMA` (which would land in whatever catalog the cluster
  defaults to). Outside a Databricks cluster there is no such session, so the command stops with one
  line saying where it runs, instead of starting a local JVM that would check nothing real.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

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
