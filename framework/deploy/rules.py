"""Bundle rules the official schema cannot express, each a small function yielding located findings.

- production targets: `prod` is in production mode, its pipelines are not in development mode, it
  sets an explicit workspace.root_path outside /Workspace/Shared (which every workspace user can
  write, while the code there runs as the service principal) and a run_as identity;
- a production target grants its run-as principal what its pipeline and job touch (USE_SCHEMA and
  CREATE_TABLE / CREATE_MATERIALIZED_VIEW per layer schema, READ_VOLUME + WRITE_VOLUME on landing:
  framework.deploy.privileges), and its `permissions` let that principal read the deployed files and
  start updates of its pipelines (CAN_RUN or CAN_MANAGE; CAN_VIEW cannot);
- every table spec is reachable: the pipeline runs the generic notebook, which registers all of
  tables/ from `${workspace.file_path}` for the target's own environment, and sync does not drop specs;
- a continuous pipeline is never a job's pipeline_task (Databricks only runs triggered ones that way);
- principals are bundle variables (`${var.x}`), never literals, in environments/, tables/ and any
  hand-written bundle file; every `${var.x}` used is declared;
- the landing path is a /Volumes path inside the environment's catalog and landing volume.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Iterator

from framework.deploy import names
from framework.deploy.bundle import (Bundle, dig, effective_target, has_path, mapping, resource_items,
                                     resource_paths)
from framework.deploy.context import VOLUME_PATH, databricks_environments, variable_name
from framework.deploy.privileges import LAYER_SCHEMAS, VOLUME_PRIVILEGES, schema_privileges
from framework.deploy.render import is_generated
from framework.findings import Finding
from framework.spec.documents import DocPath
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from framework.spec.project import Project

PRODUCTION_TARGET = "prod"
MODES = ("development", "production")
PRINCIPAL_KEYS = frozenset({"principal", "service_principal_name", "user_name", "group_name"})
SHARED_ROOTS = ("/Workspace/Shared", "/Shared")
"""Workspace folders every user can write (the CLI warns about them too)."""
HOME_ROOT_HINT = ("set `databricks.root_path` in environments/ to the deploying identity's home, e.g. "
                  "/Workspace/Users/${workspace.current_user.userName}/.bundle/" + names.BUNDLE_NAME + "/<target>")
VAR_USE = re.compile(r"\$\{var\.([A-Za-z_][A-Za-z0-9_-]*)")
PIPELINE_REF = re.compile(r"^\$\{resources\.pipelines\.([^.}]+)\.id\}$")
RENDER_HINT = "change environments/ and run `medallion bundle render`"


def check_rules(project: Project, bundle: Bundle) -> list[Finding]:
    findings: list[Finding] = []
    for target in bundle.targets():
        effective = effective_target(bundle, target)
        findings.extend(check_target_mode(bundle, target, effective))
        findings.extend(check_reachability(project, bundle, target, effective))
        findings.extend(check_pipeline_tasks(bundle, target, effective))
        findings.extend(check_run_as_access(project, bundle, target, effective))
    findings.extend(check_sync(project, bundle))
    findings.extend(check_declared_variables(bundle))
    findings.extend(check_principals(project, bundle))
    findings.extend(check_landing_paths(project))
    return findings


def is_production(bundle: Bundle, target: str) -> bool:
    return target == PRODUCTION_TARGET or dig(bundle.config, "targets", target, "mode") == "production"


def check_target_mode(bundle: Bundle, target: str, effective: dict[str, Any]) -> Iterator[Finding]:
    overrides = mapping(dig(bundle.config, "targets", target))
    mode = overrides.get("mode")
    at_mode = [("targets", target, "mode"), ("targets", target)]
    if mode is not None and mode not in MODES:
        yield bundle.finding(at_mode, f"target `{target}` has mode `{mode}`; the CLI accepts development or production")
    if not is_production(bundle, target):
        return
    if mode != "production":
        yield bundle.finding(at_mode, f"target `{target}` must use `mode: production`, not "
                             f"{'development mode' if mode == 'development' else 'no mode'}",
                             hint=f"set `development: false` in environments/{target}.yaml, then run "
                                  "`medallion bundle render`")
    for key, pipeline in resource_items(effective, "pipelines"):
        if pipeline.get("development") is True and mode == "production":
            yield bundle.finding(resource_paths(target, "pipelines", key, "development"),
                                 f"pipeline `{key}` of production target `{target}` has `development: true`",
                                 hint=f"production pipelines retry failed flows; {RENDER_HINT}")
    root_path = dig(overrides, "workspace", "root_path")
    if not root_path:
        yield bundle.finding([("targets", target, "workspace"), ("targets", target)],
                             f"production target `{target}` must set an explicit workspace.root_path",
                             hint=f"{HOME_ROOT_HINT}, so only one copy is ever deployed", key=True)
    elif isinstance(root_path, str) and is_shared_path(root_path):
        yield bundle.finding([("targets", target, "workspace", "root_path")],
                             f"production target `{target}` deploys to {root_path}, which every workspace user can "
                             "write, while that code runs as the target's run_as identity", hint=HOME_ROOT_HINT)
    run_as = mapping(effective.get("run_as"))
    if not (run_as.get("service_principal_name") or run_as.get("user_name")):
        yield bundle.finding([("targets", target, "run_as"), ("targets", target)],
                             f"production target `{target}` must set run_as (a service principal)",
                             hint="set `databricks.run_as_service_principal: ${var.service_principal}` "
                                  "in environments/",
                             key=True)


def is_shared_path(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in SHARED_ROOTS)


def check_run_as_access(project: Project, bundle: Bundle, target: str, effective: dict[str, Any]) -> Iterator[Finding]:
    """A production target's run-as principal gets what its pipeline and job touch, and may read its files."""
    run_as = mapping(effective.get("run_as"))
    principal = run_as.get("service_principal_name") or run_as.get("user_name")
    env = project.environments.get(target)
    if not is_production(bundle, target) or not isinstance(principal, str) or env is None:
        return
    yield from _check_schema_grants(project, bundle, target, effective, env, principal)
    landing = VOLUME_PATH.match(str(env.get("landing_path", "")))
    if landing:
        for key, volume in resource_items(effective, "volumes"):
            if (volume.get("catalog_name"), volume.get("name")) == (landing["catalog"], landing["volume"]):
                missing = _missing(volume.get("grants"), principal, VOLUME_PRIVILEGES)
                if missing:
                    yield bundle.finding(resource_paths(target, "volumes", key, "grants")
                                         + resource_paths(target, "volumes", key),
                                         f"the landing volume `{key}` of production target `{target}` does not grant "
                                         f"its run-as principal {', '.join(missing)}: `collect` writes there and "
                                         "the bronze tables read it", hint=RENDER_HINT)
    yield from _check_run_as_levels(bundle, target, effective, principal)


RUN_LEVELS = frozenset({"CAN_RUN", "CAN_MANAGE"})
"""Top-level levels that let a principal start a pipeline update (CAN_VIEW does not)."""
PIPELINE_RUN_LEVELS = frozenset({"CAN_RUN", "CAN_MANAGE", "IS_OWNER"})
"""Pipeline-level levels that do (Databricks: "Pipeline updates can be run by any user or service principal
with CAN RUN, CAN MANAGE, or IS OWNER permissions" — Manage identities, permissions, and privileges for pipelines)."""


def _check_run_as_levels(bundle: Bundle, target: str, effective: dict[str, Any], principal: str) -> Iterator[Finding]:
    """The run-as principal reads the deployed files and starts updates of the target's pipelines."""
    def levels(entries: Any) -> set[str]:
        return {str(e.get("level")) for e in entries if isinstance(e, dict)
                and principal in (e.get("service_principal_name"), e.get("user_name"))} if isinstance(entries, list) \
            else set()

    top = levels(effective.get("permissions"))
    hint = (f"give it `{{level: CAN_RUN, service_principal_name: \"{principal}\"}}` in `databricks.permissions` "
            "in environments/ (top-level permissions and a resource's own cannot name the same principal)")
    if not top:
        yield bundle.finding([("targets", target, "permissions"), ("permissions",), ("targets", target)],
                             f"production target `{target}` runs as {principal}, but its `permissions` do not let "
                             "it read the deployed files (the job and pipeline run them as that principal)",
                             hint=hint, key=True)
        return
    for key, pipeline in resource_items(effective, "pipelines"):
        if not (top & RUN_LEVELS or levels(pipeline.get("permissions")) & PIPELINE_RUN_LEVELS):
            yield bundle.finding([("targets", target, "permissions"), ("permissions",)],
                                 f"the run-as principal {principal} of production target `{target}` has "
                                 f"{', '.join(sorted(top))} only, which cannot start an update of pipeline `{key}` "
                                 "(the job's catch-up task does): it needs CAN_RUN, CAN_MANAGE or IS_OWNER",
                                 hint=hint)


def _check_schema_grants(project: Project, bundle: Bundle, target: str, effective: dict[str, Any],
                         env: Environment, principal: str) -> Iterator[Finding]:
    needed = schema_privileges(project, env)
    schemas = {(s.get("catalog_name"), s.get("name")): key for key, s in resource_items(effective, "schemas")}
    for layer in LAYER_SCHEMAS:
        name = f"{env.catalog}.{env.schema_for(layer)}"
        key = schemas.get((env.catalog, env.schema_for(layer)))
        if key is None:
            yield bundle.finding([("targets", target, "resources"), ("targets", target)],
                                 f"production target `{target}` does not manage schema `{name}`, so its run-as "
                                 f"principal gets no {', '.join(needed[layer])} there", hint=RENDER_HINT, key=True)
            continue
        schema = dict(resource_items(effective, "schemas"))[key]
        missing = _missing(schema.get("grants"), principal, needed[layer])
        if missing:
            yield bundle.finding(resource_paths(target, "schemas", key, "grants") + resource_paths(target, "schemas", key),
                                 f"schema `{key}` of production target `{target}` does not grant its run-as "
                                 f"principal {', '.join(missing)}, which its pipeline needs there", hint=RENDER_HINT)


def _missing(grants: Any, principal: str, needed: tuple[str, ...] | list[str]) -> list[str]:
    have: set[str] = set()
    for grant in grants if isinstance(grants, list) else []:
        if isinstance(grant, dict) and grant.get("principal") == principal:
            have.update(p for p in grant.get("privileges") or [] if isinstance(p, str))
    return [] if "ALL_PRIVILEGES" in have else [p for p in needed if p not in have]


def check_reachability(project: Project, bundle: Bundle, target: str, effective: dict[str, Any]) -> Iterator[Finding]:
    """The target's Medallion pipeline must reach every spec: the generic notebook, run on the synced
    files for the target's own environment. (Other, hand-written pipelines are left alone.)"""
    key = names.PIPELINE_KEY
    pipeline = dict(resource_items(effective, "pipelines")).get(key)
    if pipeline is None:
        yield bundle.finding([("targets", target)], f"target `{target}` has no pipeline `{key}`, so none of the "
                             f"{len(project.tables)} table spec(s) is deployed", hint=RENDER_HINT, key=True)
        return
    libraries = pipeline.get("libraries")
    doc, _ = bundle.find(*resource_paths(target, "pipelines", key, "libraries"))
    notebooks = [dig(lib, "notebook", "path") for lib in (libraries if isinstance(libraries, list) else [])]
    if names.NOTEBOOK not in [_relative(Path(doc.file).parent, p) for p in notebooks if isinstance(p, str)]:
        yield bundle.finding(resource_paths(target, "pipelines", key, "libraries"),
                             f"pipeline `{key}` does not run {names.NOTEBOOK}, so none of the "
                             f"{len(project.tables)} table spec(s) under tables/ is registered",
                             hint=f"libraries: [{{notebook: {{path: ../{names.NOTEBOOK}}}}}]; {RENDER_HINT}")
    elif not (project.root / names.NOTEBOOK).is_file():
        yield bundle.finding(resource_paths(target, "pipelines", key, "libraries"), f"{names.NOTEBOOK} does not exist")
    yield from _check_configuration(project, bundle, target, key, mapping(pipeline.get("configuration")))


def _check_configuration(project: Project, bundle: Bundle, target: str, key: str,
                         configuration: dict[str, Any]) -> Iterator[Finding]:
    root_value = configuration.get("medallion.project_root")
    if root_value != "${workspace.file_path}":
        yield bundle.finding(resource_paths(target, "pipelines", key, "configuration", "medallion.project_root")
                             + resource_paths(target, "pipelines", key, "configuration"),
                             f"pipeline `{key}` must set configuration "
                             f"`medallion.project_root: ${{workspace.file_path}}` "
                             f"(found {root_value!r}): the notebook loads tables/ from the synced bundle files",
                             hint=RENDER_HINT)
    env_value = configuration.get("medallion.env")
    if target in project.environments and env_value != target:
        yield bundle.finding(resource_paths(target, "pipelines", key, "configuration", "medallion.env")
                             + resource_paths(target, "pipelines", key, "configuration"),
                             f"pipeline `{key}` of target `{target}` runs environment {env_value!r}, "
                             f"not `{target}`", hint=RENDER_HINT)


def check_sync(project: Project, bundle: Bundle) -> Iterator[Finding]:
    """sync.exclude must not keep the notebook or a table spec out of ${workspace.file_path}."""
    root_doc = bundle.root_document
    excludes = dig(bundle.config, "sync", "exclude")
    needed = [names.NOTEBOOK] + sorted(spec.document.file for spec in project.tables.values() if spec.document)
    for i, pattern in enumerate(excludes if isinstance(excludes, list) else []):
        dropped = [f for f in needed if isinstance(pattern, str) and fnmatch.fnmatch(f, pattern)]
        if dropped and root_doc is not None:
            yield root_doc.finding(("sync", "exclude", i), f"sync.exclude `{pattern}` keeps {', '.join(dropped[:3])}"
                                   f"{' ...' if len(dropped) > 3 else ''} out of the workspace; the pipeline "
                                   "would not see it", code="bundle")


def _relative(base: Path, path: str) -> str:
    """`path` as written in a bundle file under `base`, normalised relative to the project root."""
    joined = PurePosixPath(*(base.parts or (".",))) / path
    parts: list[str] = []
    for part in joined.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def check_pipeline_tasks(bundle: Bundle, target: str, effective: dict[str, Any]) -> Iterator[Finding]:
    pipelines = dict(resource_items(effective, "pipelines"))
    for job_key, job in resource_items(effective, "jobs"):
        tasks = job.get("tasks")
        for i, task in enumerate(tasks if isinstance(tasks, list) else []):
            ref = dig(task, "pipeline_task", "pipeline_id")
            match = PIPELINE_REF.match(ref) if isinstance(ref, str) else None
            if match and dig(pipelines, match.group(1), "continuous") is True:
                yield bundle.finding(resource_paths(target, "jobs", job_key, "tasks", i, "pipeline_task"),
                                     f"task `{dig(task, 'task_key')}` runs continuous pipeline `{match.group(1)}` as a "
                                     "pipeline_task; Databricks runs only triggered pipelines that way",
                                     hint="for continuous environments the job's pipeline step runs "
                                          "`medallion trigger --wait`; " + RENDER_HINT)


def check_declared_variables(bundle: Bundle) -> Iterator[Finding]:
    declared = set(mapping(bundle.config.get("variables")))
    for doc in bundle.documents:
        for path, value in _walk(doc.data):
            for name in VAR_USE.findall(value) if isinstance(value, str) else []:
                if name not in declared:
                    yield doc.finding(path, f"variable `{name}` is used but not declared under `variables:` in "
                                      f"{names.ROOT_FILE}", code="bundle",
                                      hint="declare it (without a default for principals) and set it with "
                                           f"BUNDLE_VAR_{name}")


def check_principals(project: Project, bundle: Bundle | None) -> Iterator[Finding]:
    """Principals must be `${var.x}`: in environments/, in table specs and in hand-written bundle files."""
    for env in databricks_environments(project):
        for i, grant in enumerate(env.get("grants") or []):
            yield from _principal(env_location(env, ("grants", i, "principal")), grant.get("principal"))
        run_as = (env.get("databricks") or {}).get("run_as_service_principal")
        if run_as is not None:
            yield from _principal(env_location(env, ("databricks", "run_as_service_principal")), run_as)
        for i, entry in enumerate((env.get("databricks") or {}).get("permissions") or []):
            for key in PRINCIPAL_KEYS & set(entry if isinstance(entry, dict) else ()):
                yield from _principal(env_location(env, ("databricks", "permissions", i, key)), entry[key])
    for spec in project.tables.values():
        for i, grant in enumerate(spec.grants):
            if spec.document:
                yield from _principal((spec.document, ("grants", i, "principal")), grant.get("principal"))
    for doc in bundle.documents if bundle else []:
        if is_generated(project.root / doc.file):
            continue  # rendered from the sources checked above; drift is reported separately
        for path, value in _walk(doc.data):
            if path and path[-1] in PRINCIPAL_KEYS:
                yield from _principal((doc, path), value)


def _principal(where: tuple[Any, DocPath], value: Any) -> Iterator[Finding]:
    doc, path = where
    if doc is not None and variable_name(value) is None:
        yield doc.finding(path, f"principal {value!r} is written literally; principals must be bundle variables",
                          code="principal", hint="write `${var.<name>}` and set BUNDLE_VAR_<name> when deploying")


def env_location(env: Environment, path: DocPath) -> tuple[Any, DocPath]:
    """The environment file (itself or an ancestor) that sets `path`."""
    for doc in env.documents:
        if has_path(doc.data, path):
            return doc, path
    return (env.documents[0] if env.documents else None), path


def check_landing_paths(project: Project) -> Iterator[Finding]:
    for env in databricks_environments(project):
        landing = str(env.get("landing_path", ""))
        doc, path = env_location(env, ("landing_path",))
        if doc is None:
            continue
        match = VOLUME_PATH.match(landing)
        volume = (env.get("databricks") or {}).get("landing_volume")
        if not match:
            yield doc.finding(path, f"landing_path {landing!r} of Databricks environment `{env.name}` is not a "
                              "Unity Catalog volume path", code="bundle",
                              hint=f"use /Volumes/{env.catalog}/{env.declared_schema('bronze')}/{volume or 'landing'}")
            continue
        if match["catalog"] != env.catalog:
            yield doc.finding(path, f"landing_path is in catalog `{match['catalog']}`, but environment `{env.name}` "
                              f"uses catalog `{env.catalog}`", code="bundle")
        if match["schema"] not in {env.declared_schema(layer) for layer in ("bronze", "silver", "gold", "ops")}:
            yield doc.finding(path, f"landing_path is in schema `{match['schema']}`, which is none of the layer "
                              "schemas the bundle creates", code="bundle")
        if volume and match["volume"] != volume:
            yield doc.finding(path, f"landing_path is in volume `{match['volume']}`, but databricks.landing_volume "
                              f"is `{volume}`", code="bundle")


def _walk(data: Any, path: DocPath = ()) -> Iterator[tuple[DocPath, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _walk(value, path + (key,))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _walk(value, path + (i,))
