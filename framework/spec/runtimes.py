"""The Databricks runtimes an environment may target: one table, the one home of runtime facts.

An environment declares its target once (`databricks_runtime: "17.3"` in environments/*.yaml). Everything
that depends on the runtime is derived from the row below, never written a second time:

* the Spark line `medallion validate` checks function names against (framework/validation/functions.py,
  one shipped list per line);
* the job cluster's `spark_version` and the pipeline's `channel` in the rendered bundle
  (framework/deploy/context.py);
* the SQL semantics of the local session and of the pipeline (`spark.sql.ansi.enabled`).

Sources (Databricks documentation, page titles):

* "Databricks Runtime release notes versions and compatibility": 16.4 LTS is Apache Spark 3.5.2,
  17.3 LTS is Spark 4.0.0, 18 is Spark 4.1.0.
* "Databricks Runtime 16.4 LTS": two images, Scala 2.12 and 2.13; "starting with Databricks Runtime 17
  (Spark 4), only Scala 2.13 will be supported" (so 17.x keys end in `-scala2.13`).
* "Lakeflow Spark Declarative Pipelines release notes and the release upgrade process": a pipeline is
  versionless; it runs the Databricks Runtime of its `channel` — CURRENT (default): 17.3, PREVIEW: 18.1.
  A pipeline cannot pin a runtime, so a runtime no channel runs (16.4) cannot be a pipeline's target.
* "Serverless compute release notes": serverless compute always runs the latest serverless version
  (17.3 at the time of writing); it has no `spark_version` (jobs use an environment version instead).
* "ANSI compliance in Databricks Runtime": `spark.sql.ansi.enabled` is on by default in Apache Spark 4.0
  and Databricks Runtime 17.0 and above; off before.
"""

from __future__ import annotations

from dataclasses import dataclass

ANSI_CONF = "spark.sql.ansi.enabled"


@dataclass(frozen=True)
class Runtime:
    """One Databricks runtime an environment can target."""

    name: str
    """As written in `databricks_runtime`: `17.3`, or `serverless`."""
    spark_line: str
    """The Apache Spark line (`major.minor`) it runs: the function list validation checks against."""
    spark_version: str | None
    """The job cluster's `spark_version` key; None for serverless (no cluster to name)."""
    channel: str | None
    """The pipeline channel that runs this runtime; None when no channel does (a pipeline cannot pin one)."""
    ansi_by_default: bool
    """What the runtime does when not told (documented); the project sets its semantics explicitly anyway."""
    ansi: bool = True
    """The SQL semantics the project runs it with: ANSI (a value that does not fit is an error, never a
    silent NULL; lenient conversions are written as `try_cast` / `try_to_timestamp` on purpose)."""

    @property
    def label(self) -> str:
        return "serverless compute" if self.name == SERVERLESS else f"Databricks Runtime {self.name}"

    @property
    def sql_conf(self) -> dict[str, str]:
        """The Spark settings that give sessions of this runtime its SQL semantics.

        Set explicitly, not left to the runtime's default: 16.4 defaults to off, and a cluster policy or a
        workspace setting could change a default without anything in this project showing it.
        """
        return {ANSI_CONF: "true" if self.ansi else "false"}


SERVERLESS = "serverless"

RUNTIMES: dict[str, Runtime] = {runtime.name: runtime for runtime in (
    Runtime("16.4", "3.5", "16.4.x-scala2.12", None, ansi_by_default=False),
    Runtime("17.3", "4.0", "17.3.x-scala2.13", "CURRENT", ansi_by_default=True),
    Runtime("18.1", "4.1", "18.1.x-scala2.13", "PREVIEW", ansi_by_default=True),
    Runtime(SERVERLESS, "4.0", None, "CURRENT", ansi_by_default=True),
)}
"""The one table: runtime -> Spark line -> job cluster `spark_version` -> pipeline channel -> ANSI default."""

DEFAULT_RUNTIME = "17.3"
"""What the pipeline's default channel (CURRENT) runs: the one runtime job cluster and pipeline share."""

CHANNEL_RUNTIMES: dict[str, str] = {r.channel: r.name for r in RUNTIMES.values()
                                    if r.channel and r.name != SERVERLESS}
"""The runtime each pipeline channel runs today (CURRENT: 17.3, PREVIEW: 18.1)."""

LOCAL_ENGINE_LINE = "4.2"
"""The Spark line the local engine itself runs (the pinned pyspark, 4.2.x): local code must run there too."""


def runtime(name: str) -> Runtime:
    """The table's row for `name` (the JSON Schema allows only the table's names)."""
    return RUNTIMES[name]


__all__ = ["ANSI_CONF", "CHANNEL_RUNTIMES", "DEFAULT_RUNTIME", "LOCAL_ENGINE_LINE", "RUNTIMES", "Runtime",
           "SERVERLESS", "runtime"]
