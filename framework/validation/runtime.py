"""An environment's target runtime, checked against what Databricks can run and what the project promises.

The runtime table (framework/spec/runtimes.py) says what each runtime is; these checks say when an
environment's other settings contradict its `databricks_runtime`:

* a Databricks environment targets a runtime no pipeline channel runs (a pipeline is versionless: it
  runs its channel's runtime, so its job cluster and its pipeline would run different Spark lines);
* `serverless: true` with a classic runtime, or `databricks_runtime: serverless` on classic compute;
* `spark_conf` (or a cluster's) setting `spark.sql.ansi.enabled` against the runtime's SQL semantics:
  turning ANSI off makes a value that does not fit its type a silent NULL.
"""

from __future__ import annotations

from typing import Any, Iterator

from framework.findings import Finding
from framework.spec.documents import Document
from framework.spec.environment import Environment
from framework.spec.runtimes import ANSI_CONF, CHANNEL_RUNTIMES, SERVERLESS

RUNTIME_KEY = "databricks_runtime"


def check_environment_runtime(env: Environment) -> Iterator[Finding]:
    target = env.target_runtime
    if env.runtime == "databricks":
        doc = _declaring(env, RUNTIME_KEY)
        if doc is not None and target.channel is None:
            channels = ", ".join(f"{channel} runs {name}" for channel, name in sorted(CHANNEL_RUNTIMES.items()))
            yield doc.finding((RUNTIME_KEY,), f"no pipeline channel runs {target.label}: a pipeline runs the runtime "
                              f"of its channel ({channels}), so the job cluster ({target.name}) and the pipeline "
                              "would run different Spark lines",
                              hint=f"target a runtime a channel runs: {', '.join(sorted(CHANNEL_RUNTIMES.values()))}")
        if doc is not None and env.serverless != (target.name == SERVERLESS):
            yield doc.finding((RUNTIME_KEY,), f"`serverless: {str(env.serverless).lower()}` but `{RUNTIME_KEY}: "
                              f"{target.name}`: the environment would name one runtime and run another",
                              hint=f"write `{RUNTIME_KEY}: serverless` with `serverless: true`, or a Databricks "
                              "Runtime version with `serverless: false`")
    wanted = target.sql_conf
    for path, conf in _spark_confs(env):
        for key, value in conf.items():
            if key in wanted and str(value).lower() != wanted[key]:
                doc = _declaring(env, path[0]) or env.document
                if doc is not None:
                    yield doc.finding((*path, key), f"`{key}: {value}` contradicts the SQL semantics of {target.label} "
                                      f"({key} = {wanted[key]}): a value that does not fit its type would become a "
                                      "silent NULL", hint=f"remove `{key}`: `{RUNTIME_KEY}` sets it; write "
                                      "`try_cast(...)` where a value may not convert (the row is then quarantined)")


def _spark_confs(env: Environment) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, mapping) of every Spark conf the environment sets: `spark_conf` and each cluster's."""
    yield ("spark_conf",), dict(env.get("spark_conf") or {})
    for index, cluster in enumerate(env.get("clusters") or []):
        if isinstance(cluster, dict) and isinstance(cluster.get("spark_conf"), dict):
            yield ("clusters", index, "spark_conf"), cluster["spark_conf"]


def _declaring(env: Environment, key: str) -> Document | None:
    """The file of the chain (the environment's own first) that writes `key`, else the environment's own."""
    return next((doc for doc in env.documents if isinstance(doc.data, dict) and key in doc.data), env.document)


__all__ = ["check_environment_runtime"]
