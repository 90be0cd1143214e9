"""What the bundle templates render: plain values computed from environments/, tables/ and pyproject.toml.

The templates in templates/bundle/ own the layout of the YAML; this module owns every decision about
values (names, defaults, which environments become targets, how grants and dependencies are derived),
so both stay small. Every Databricks environment (`runtime: databricks`) becomes one bundle target.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from framework.deploy import names
from framework.jobs.dag import JobTask, job_tasks
from framework.naming import OPS_LAYER, TableRef
from framework.spec.environment import Environment
from framework.spec.model import LAYERS

if TYPE_CHECKING:
    from framework.spec.project import Project

DEFAULT_TARGET = "dev"
"""The target `databricks bundle deploy` uses without `-t` (falls back to the first target)."""
RUNTIME_PROVIDED = frozenset({"pyspark", "delta-spark", "pandas", "pyarrow", "databricks-sdk"})
"""Dependencies the Databricks Runtime already ships; installing our pins over them would break it."""
LAYER_SCHEMAS = (*LAYERS, OPS_LAYER)
VARIABLE_REF = re.compile(r"^\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)\}$")
VOLUME_PATH = re.compile(r"^/Volumes/(?P<catalog>[^/]+)/(?P<schema>[^/]+)/(?P<volume>[^/]+)(/.*)?$")
VARIABLE_DESCRIPTIONS = {
    "service_principal": "Application id of the service principal a production target runs as "
                         "(set BUNDLE_VAR_service_principal or --var).",
}


@dataclass
class Target:
    """Everything one bundle target (one Databricks environment) renders."""

    env: Environment
    sources: list[str]
    default: bool
    mode: str
    root_path: str | None
    run_as: str | None
    tags: dict[str, str]
    schemas: list[dict[str, Any]]
    volume: dict[str, str] | None
    pipeline: dict[str, Any]
    job: dict[str, Any]
    tasks: list[JobTask]
    unused_variables: list[str]

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


def dependencies(root: Path) -> list[str]:
    """pyproject.toml's dependencies minus what the Databricks Runtime provides, for the cluster and pipeline."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return []
    declared = tomllib.loads(path.read_text("utf-8")).get("project", {}).get("dependencies", [])
    keep = []
    for requirement in declared:
        name = re.match(r"[A-Za-z0-9._-]+", requirement)
        if name and name.group(0).lower().replace("_", "-") not in RUNTIME_PROVIDED:
            keep.append(requirement.replace(" ", ""))
    return keep


def table_grants(project: Project, env: Environment) -> list[dict[str, Any]]:
    """Grants declared in table specs, with the table's Unity Catalog name in this environment."""
    out = []
    for name, spec in sorted(project.tables.items()):
        for grant in spec.grants:
            out.append({"table": TableRef.of(spec, env).unity_catalog_name, "principal": grant["principal"],
                        "privileges": list(grant["privileges"])})
    return out


def used_variables(project: Project, env: Environment) -> list[str]:
    """Bundle variables a target references: principals of grants and run_as."""
    values = [g.get("principal") for g in env.get("grants", [])]
    values += [g["principal"] for g in table_grants(project, env)]
    values.append(env.databricks.run_as_service_principal)
    return sorted({v for v in map(variable_name, values) if v})


def _schemas(env: Environment) -> list[dict[str, Any]]:
    grants = env.get("grants", [])
    out = []
    for layer in LAYER_SCHEMAS:
        # A grant without `schema` applies to every layer schema.
        mine = [g for g in grants if g.get("schema", layer) == layer]
        out.append({"key": layer, "name": env.schema_for(layer),
                    "comment": f"Medallion {layer} layer ({env.name}); managed by the asset bundle.",
                    "grants": [{"principal": g["principal"], "privileges": list(g["privileges"])} for g in mine]})
    return out


def _volume(env: Environment) -> dict[str, str] | None:
    """The landing volume, when landing_path is a /Volumes path in one of the layer schemas."""
    match = VOLUME_PATH.match(str(env.get("landing_path", "")))
    if not match:
        return None
    layer = next((l for l in LAYER_SCHEMAS if env.schema_for(l) == match["schema"]), None)
    if layer is None:
        return None
    return {"key": match["volume"], "schema_key": layer, "name": match["volume"]}


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


def _pipeline(env: Environment, requirements: list[str]) -> dict[str, Any]:
    s = env.settings
    email = (s.get("notifications") or {}).get("email") or {}
    configuration = {**_strings(s.get("spark_conf") or {}),
                     "medallion.env": env.name, "medallion.project_root": "${workspace.file_path}"}
    return {
        "name": names.pipeline_name(env.name),
        "catalog": env.catalog,
        "continuous": bool(s["continuous"]),
        "development": bool(s["development"]),
        "serverless": bool(s.get("serverless")),
        "photon": bool(s["photon"]),
        "channel": s["channel"],
        "edition": s["edition"],
        "clusters": _clusters(env),
        "configuration": configuration,
        "notebook": f"../{names.NOTEBOOK}",
        "dependencies": requirements,
        "notifications": [{"email_recipients": list(email["recipients"]), "alerts": list(email.get("alerts", []))}]
        if email.get("recipients") else [],
        "event_log": {"catalog": env.catalog, "schema_key": OPS_LAYER, "name": TableRef.event_log(env).name},
    }


def _job(env: Environment, requirements: list[str]) -> dict[str, Any]:
    s = env.settings
    job = s.get("job") or {}
    email = (s.get("notifications") or {}).get("email") or {}
    default_cluster = next(iter(s.get("clusters") or []), {})
    return {
        "name": names.job_name(env.name),
        "description": f"Market data: collect bars, update the {names.pipeline_name(env.name)} pipeline, "
                       f"run the quality checks ({env.name}).",
        "max_concurrent_runs": env.job.max_concurrent_runs,
        "timeout_seconds": env.timeouts.job_seconds,
        "schedule": s.get("schedule"),
        "on_failure": list(email.get("recipients", [])),
        "max_retries": job.get("max_retries"),
        "min_retry_interval_millis": job.get("min_retry_interval_millis"),
        "spark_version": env.databricks.spark_version,
        "node_type_id": default_cluster.get("node_type_id"),
        "libraries": requirements,
        "entrypoint": f"../{names.ENTRYPOINT}",
    }


def _tasks(project: Project, env: Environment) -> list[JobTask]:
    """The job's tasks (framework/jobs/dag.py); table_grants when specs declare grants."""
    principals = sorted({g["principal"] for g in table_grants(project, env)})
    return job_tasks(env, grant_principals=tuple(f"{variable_name(p) or p}={p}" for p in principals))


def build_targets(project: Project) -> list[Target]:
    envs = databricks_environments(project)
    default = DEFAULT_TARGET if any(e.name == DEFAULT_TARGET for e in envs) else (envs[0].name if envs else "")
    all_variables = variables(project)
    requirements = dependencies(project.root)
    targets = []
    for env in envs:
        used = used_variables(project, env)
        targets.append(Target(
            env=env,
            sources=env_sources(env),
            default=env.name == default,
            mode="development" if env.get("development") else "production",
            root_path=env.databricks.root_path,
            run_as=env.databricks.run_as_service_principal,
            tags=_strings(env.get("tags") or {}),
            schemas=_schemas(env),
            volume=_volume(env),
            pipeline=_pipeline(env, requirements),
            job=_job(env, requirements),
            tasks=_tasks(project, env),
            unused_variables=[v for v in all_variables if v not in used],
        ))
    return targets


def variables(project: Project) -> dict[str, str]:
    """Every bundle variable the targets reference, with a description for databricks.yml."""
    out: dict[str, str] = {}
    for env in databricks_environments(project):
        for name in used_variables(project, env):
            out[name] = VARIABLE_DESCRIPTIONS.get(
                name, f"Unity Catalog principal granted access in environments/ or tables/ "
                      f"(set BUNDLE_VAR_{name} or --var {name}=...).")
    return dict(sorted(out.items()))
