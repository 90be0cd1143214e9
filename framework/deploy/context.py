"""What the bundle templates render: plain values computed from environments/, tables/ and pyproject.toml.

The templates in templates/bundle/ own the layout of the YAML; this module owns every decision about
values (names, defaults, which environments become targets, how grants and dependencies are derived:
`privileges.py` and `dependencies.py`),
so both stay small. Every Databricks environment (`runtime: databricks`) becomes one bundle target.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from framework.deploy import names
from framework.deploy.dependencies import installed_requirement, pipeline_dependencies, ships_framework
from framework.deploy.privileges import LAYER_SCHEMAS, VOLUME_PRIVILEGES, schema_privileges
from framework.jobs.dag import JobTask, job_tasks
from framework.naming import OPS_LAYER, TableRef
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from framework.spec.project import Project

DEFAULT_TARGET = "dev"
"""The target `databricks bundle deploy` uses without `-t` (falls back to the first target)."""
WHEEL_GLOB = "../dist/*.whl"
"""The wheel the `medallion` artifact builds, relative to resources/<env>.yml (the job tasks' one library)."""
WHEEL_BUILD = "rm -rf dist && python3 -m pip wheel --quiet --no-deps --wheel-dir dist ."
"""How the CLI builds it (in the bundle root); `medallion deploy` puts its own Python first on PATH."""
SERVERLESS_ENVIRONMENT_VERSION = "4"
"""Serverless environment of the job's tasks (Python 3.12, as Databricks' default bundle template uses)."""
PROJECT_ARGS = ("--project", "${workspace.file_path}")
"""Every task command reads tables/ and environments/ from the synced bundle files (the wheel holds framework/)."""
VARIABLE_REF = re.compile(r"^\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)\}$")
VOLUME_PATH = re.compile(r"^/Volumes/(?P<catalog>[^/]+)/(?P<schema>[^/]+)/(?P<volume>[^/]+)(/.*)?$")
VARIABLE_DESCRIPTIONS = {
    "service_principal": "Application id of the service principal a production target runs as "
                         "(set BUNDLE_VAR_service_principal or --var).",
}
PERMISSION_PRINCIPALS = ("group_name", "user_name", "service_principal_name")
SERVERLESS_SPARK_CONF = frozenset({"spark.sql.ansi.enabled", "spark.sql.session.timeZone",
                                   "spark.sql.shuffle.partitions", "spark.sql.legacy.timeParserPolicy",
                                   "spark.sql.files.maxPartitionBytes"})
"""The Spark properties serverless compute accepts (Databricks: "Configure Spark properties for serverless
notebooks and jobs"); every other `spark.*` key of `spark_conf` (spark.databricks.io.cache.*, Delta's
optimizeWrite/autoCompact, AQE, ...) is rejected or managed by the platform there, so serverless renders drop it."""
CLASSIC_TASK_ACCESS_MODE = "USER_ISOLATION"
"""Standard access mode for the job cluster of the Python tasks: reading materialized views and streaming
tables from dedicated (SINGLE_USER) compute goes through serverless data filtering, which fails where
serverless is not enabled (Databricks: "Use materialized views / streaming tables", access-mode limitations)."""
RESTART_WINDOW_HOURS = 5
"""A continuous pipeline's maintenance restart happens within five hours of `restart_window.start_hour`."""
DEVELOPER = "${workspace.current_user.short_name}"
"""Who deploys a development target: per-user schemas carry it, and the runtime gets it as `--developer`."""
CATCHUP_RETRIES = 0
"""The catch-up task is never retried: its `--since` is the run's start time and its wait uses the task's
whole timeout, so a retry could only time out again (framework/jobs/dag.py)."""


@dataclass
class Target:
    """Everything one bundle target (one Databricks environment) renders."""

    env: Environment
    sources: list[str]
    default: bool
    mode: str
    root_path: str | None
    run_as: str | None
    permissions: list[dict[str, str]]
    presets: dict[str, Any]
    tags: dict[str, str]
    schemas: list[dict[str, Any]]
    volume: dict[str, str] | None
    pipeline: dict[str, Any]
    job: dict[str, Any]
    tasks: list[JobTask]
    unused_variables: list[str]
    task_retries: dict[str, int | None]
    """max_retries per task key: the job's setting, except the catch-up task (never retried)."""

    @property
    def name(self) -> str:
        return self.env.name


def databricks_environments(project: Project) -> list[Environment]:
    return [env for name, env in sorted(project.environments.items()) if env.runtime == "databricks"]


def variable_name(value: Any) -> str | None:
    """`analysts_group` for "${var.analysts_group}", else None (a literal)."""
    match = VARIABLE_REF.match(value) if isinstance(value, str) else None
    return match.group(1) if match else None


def env_sources(env: Environment) -> list[str]:
    return [doc.file for doc in env.documents]


def table_grants(project: Project, env: Environment) -> list[dict[str, Any]]:
    """Grants declared in table specs, with the table's Unity Catalog name in this environment."""
    out = []
    for name, spec in sorted(project.tables.items()):
        for grant in spec.grants:
            out.append({"table": TableRef.of(spec, env).unity_catalog_name, "principal": grant["principal"],
                        "privileges": list(grant["privileges"])})
    return out


def permissions(env: Environment) -> list[dict[str, str]]:
    """Bundle `permissions` of the target (`databricks.permissions`), level first."""
    out = []
    for entry in env.databricks.permissions:
        principal = next((k for k in PERMISSION_PRINCIPALS if k in entry), None)
        if principal is not None and "level" in entry:
            out.append({"level": str(entry["level"]), principal: str(entry[principal])})
    return out


def used_variables(project: Project, env: Environment) -> list[str]:
    """Bundle variables a target references: principals of grants, permissions and run_as."""
    values = [g.get("principal") for g in env.get("grants", [])]
    values += [g["principal"] for g in table_grants(project, env)]
    values += [value for entry in permissions(env) for key, value in entry.items() if key != "level"]
    values.append(env.databricks.run_as_service_principal)
    return sorted({v for v in map(variable_name, values) if v})


def schema_name(env: Environment, layer: str) -> str:
    """The layer's schema as the bundle names it: per developer (`databricks.per_user_schemas`) or as written."""
    declared = env.declared_schema(layer)
    return f"{DEVELOPER}_{declared}" if env.databricks.per_user_schemas else declared


def developer_args(env: Environment) -> tuple[str, ...]:
    """`medallion` group options every task of the target passes: whose schemas a per-user target uses."""
    return ("--developer", DEVELOPER) if env.databricks.per_user_schemas else ()


def _schemas(project: Project, env: Environment) -> list[dict[str, Any]]:
    """The layer schemas with the environment's grants, then the run-as principal's (what its pipeline needs)."""
    grants = env.get("grants", [])
    run_as = env.databricks.run_as_service_principal
    needed = schema_privileges(project, env)
    out = []
    for layer in LAYER_SCHEMAS:
        # A grant without `schema` applies to every layer schema.
        mine = [{"principal": g["principal"], "privileges": list(g["privileges"])}
                for g in grants if g.get("schema", layer) == layer]
        if run_as:
            mine.append({"principal": run_as, "privileges": needed[layer]})
        out.append({"key": layer, "name": schema_name(env, layer),
                    "comment": f"Medallion {layer} layer ({env.name}); managed by the asset bundle.",
                    "grants": mine})
    return out


def _volume(env: Environment) -> dict[str, Any] | None:
    """The landing volume, when landing_path is a /Volumes path in one of the layer schemas."""
    match = VOLUME_PATH.match(str(env.get("landing_path", "")))
    if not match:
        return None
    layer = next((l for l in LAYER_SCHEMAS if env.declared_schema(l) == match["schema"]), None)
    if layer is None:
        return None
    run_as = env.databricks.run_as_service_principal
    grants = [{"principal": run_as, "privileges": list(VOLUME_PRIVILEGES)}] if run_as else []
    return {"key": match["volume"], "schema_key": layer, "name": match["volume"], "grants": grants}


def _clusters(env: Environment) -> list[dict[str, Any]]:
    out = []
    for cluster in env.get("clusters") or []:
        entry = {k: cluster[k] for k in ("label", "node_type_id", "driver_node_type_id", "num_workers", "autoscale")
                 if k in cluster}
        for key in ("spark_conf", "custom_tags"):
            if cluster.get(key):
                entry[key] = _strings(cluster[key])
        out.append(entry)
    return out


def _strings(mapping: dict[str, Any]) -> dict[str, str]:
    """Sorted, with values as strings (bundle maps of strings; YAML `true` would be a boolean)."""
    return {k: (str(v).lower() if isinstance(v, bool) else str(v)) for k, v in sorted(mapping.items())}


def spark_configuration(env: Environment) -> tuple[dict[str, str], list[str]]:
    """The pipeline's Spark settings from `spark_conf`, and the keys a serverless pipeline drops."""
    conf = _strings(env.get("spark_conf") or {})
    if not env.serverless:
        return conf, []
    dropped = [k for k in conf if k.startswith("spark.") and k not in SERVERLESS_SPARK_CONF]
    return {k: v for k, v in conf.items() if k not in dropped}, dropped


def restart_window(env: Environment) -> dict[str, Any] | None:
    """A continuous pipeline's maintenance window, starting when the daily job must be done.

    The job starts at the schedule's hour and may run `timeouts.job_seconds`; the five-hour window
    starts at the first whole hour after that (in the schedule's time zone), so a restart never hits a
    run. None for triggered pipelines (they restart with each update) or a schedule without a fixed hour.
    """
    schedule = env.get("schedule") or {}
    if not env.continuous or not schedule:
        return None
    fields = str(schedule.get("quartz_cron_expression", "")).split()
    if len(fields) < 3 or not fields[2].isdigit():
        return None
    start, busy = int(fields[2]), -(-(env.timeouts.job_seconds or 3600) // 3600)
    if busy + RESTART_WINDOW_HOURS > 24:
        return None
    return {"start_hour": (start + busy) % 24, "time_zone_id": schedule.get("timezone_id", "UTC")}


def _pipeline(project: Project, env: Environment, requirements: list[str]) -> dict[str, Any]:
    s = env.settings
    email = (s.get("notifications") or {}).get("email") or {}
    spark_conf, dropped = spark_configuration(env)
    # the runtime's SQL semantics (ANSI) win over spark_conf, as in the local session (engine/spark.py)
    configuration = {**spark_conf, **env.target_runtime.sql_conf,
                     "medallion.env": env.name, "medallion.project_root": "${workspace.file_path}"}
    if env.databricks.per_user_schemas:
        configuration["medallion.developer"] = DEVELOPER
    return {
        "name": names.pipeline_name(env.name, project.name),
        "catalog": env.catalog,
        "continuous": bool(s["continuous"]),
        "development": bool(s["development"]),
        "serverless": env.serverless,
        "photon": bool(s["photon"]),
        "channel": env.target_runtime.channel,
        "edition": s["edition"],
        "clusters": _clusters(env),
        "configuration": configuration,
        "dropped_conf": dropped,
        "restart_window": restart_window(env),
        "notebook": f"../{names.NOTEBOOK}",
        "dependencies": requirements,
        "notifications": [{"email_recipients": list(email["recipients"]), "alerts": list(email.get("alerts", []))}]
        if email.get("recipients") else [],
        "event_log": {"catalog": env.catalog, "schema_key": OPS_LAYER, "name": TableRef.event_log(env).name},
    }


def job_library(project: Project) -> dict[str, str | None]:
    """The job tasks' one library: the project's own wheel (`whl`, built by the bundle's artifact) when the
    project carries framework/, else the `medallion` package from the index at the rendering version (`pypi`)."""
    if ships_framework(project.root):
        return {"whl": WHEEL_GLOB, "pypi": None}
    return {"whl": None, "pypi": installed_requirement()}


def artifact(project: Project) -> dict[str, str] | None:
    """The bundle's `artifacts` entry: the project's wheel, or None when the project has no package to build."""
    return {"key": names.ARTIFACT_KEY, "build": WHEEL_BUILD} if ships_framework(project.root) else None


def _job(project: Project, env: Environment) -> dict[str, Any]:
    s = env.settings
    job = s.get("job") or {}
    email = (s.get("notifications") or {}).get("email") or {}
    default_cluster = next(iter(s.get("clusters") or []), {})
    return {
        "name": names.job_name(env.name, project.name),
        "description": project.settings.describe(env.name, names.pipeline_name(env.name, project.name)),
        "max_concurrent_runs": env.job.max_concurrent_runs,
        "timeout_seconds": env.timeouts.job_seconds,
        "schedule": s.get("schedule"),
        "on_failure": list(email.get("recipients", [])),
        "max_retries": job.get("max_retries"),
        "min_retry_interval_millis": job.get("min_retry_interval_millis"),
        "spark_version": env.target_runtime.spark_version,
        "node_type_id": default_cluster.get("node_type_id"),
        "data_security_mode": CLASSIC_TASK_ACCESS_MODE,
        "serverless": env.serverless,
        "environment_version": SERVERLESS_ENVIRONMENT_VERSION,
        "package_name": names.PACKAGE_NAME,
        "entry_point": names.ENTRY_POINT,
    }


def _tasks(project: Project, env: Environment) -> list[JobTask]:
    """The job's tasks (framework/jobs/dag.py, from medallion.yaml); table_grants when specs declare grants."""
    principals = sorted({g["principal"] for g in table_grants(project, env)})
    return job_tasks(project.settings, env, grant_principals=tuple(f"{variable_name(p) or p}={p}" for p in principals))


def task_retries(env: Environment, tasks: list[JobTask]) -> dict[str, int | None]:
    configured = (env.get("job") or {}).get("max_retries")
    return {t.key: CATCHUP_RETRIES if is_catchup(t) else configured for t in tasks}


def is_catchup(task: JobTask) -> bool:
    """The continuous pipeline's step: `medallion trigger --wait-for-catchup --since <run start>`."""
    return task.command[:1] == ("trigger",) and "--wait-for-catchup" in task.command


def task_parameters(task: JobTask, env: Environment) -> list[str]:
    """The `medallion` arguments of a python_wheel_task: whose schemas (per-user targets), the command, then
    where the project files are."""
    return [*developer_args(env), *task.command, *PROJECT_ARGS]


def _presets(env: Environment) -> dict[str, Any]:
    """Development targets on classic compute rename the wheel per deployment, as Databricks' template does,
    so clusters that cache libraries pick up the new code."""
    return {"artifacts_dynamic_version": True} if env.get("development") and not env.serverless else {}


def build_targets(project: Project) -> list[Target]:
    envs = databricks_environments(project)
    default = DEFAULT_TARGET if any(e.name == DEFAULT_TARGET for e in envs) else (envs[0].name if envs else "")
    all_variables = variables(project)
    requirements = pipeline_dependencies(project.root)
    targets = []
    for env in envs:
        used = used_variables(project, env)
        tasks = _tasks(project, env)
        targets.append(Target(
            env=env,
            sources=env_sources(env),
            default=env.name == default,
            mode="development" if env.get("development") else "production",
            root_path=env.databricks.root_path,
            run_as=env.databricks.run_as_service_principal,
            permissions=permissions(env),
            presets=_presets(env),
            tags=_strings(env.get("tags") or {}),
            schemas=_schemas(project, env),
            volume=_volume(env),
            pipeline=_pipeline(project, env, requirements),
            job={**_job(project, env), "library": job_library(project)},
            tasks=tasks,
            unused_variables=[v for v in all_variables if v not in used],
            task_retries=task_retries(env, tasks),
        ))
    return targets


def variables(project: Project) -> dict[str, str]:
    """Every bundle variable the targets reference, with a description for databricks.yml."""
    out: dict[str, str] = {}
    for env in databricks_environments(project):
        for name in used_variables(project, env):
            out[name] = VARIABLE_DESCRIPTIONS.get(
                name, f"Principal (group, user or service principal) granted access in environments/ or tables/ "
                      f"(set BUNDLE_VAR_{name} or --var {name}=...).")
    return dict(sorted(out.items()))
