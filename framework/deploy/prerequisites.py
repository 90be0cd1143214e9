"""What must hold in Unity Catalog before `databricks bundle deploy` can succeed, checked through databricks-sdk.

The bundle creates the layer schemas, the landing volume, their grants, the pipeline and the job. It
does not manage the catalog: creating one needs CREATE CATALOG on the metastore (a platform decision,
often with its own storage), and a bundle that owned the catalog would drop it, tables and all, on
`databricks bundle destroy`. So before a deploy, `medallion deploy` checks (read-only):

1. the catalog exists;
2. the deploying identity may use it (USE CATALOG, or it owns the catalog);
3. it can create the layer schemas that do not exist yet (CREATE SCHEMA), and owns (or MANAGEs)
   those that do, since the bundle sets their grants and creates the volume in them;
4. the run-as principal's bundle variable is set and the service principal exists in the workspace;
5. the run-as principal has USE CATALOG: the bundle grants it everything below the catalog
   (framework.deploy.privileges), but only the catalog's owner can grant this;
6. so does every other principal the bundle or the table_grants task grants to (environments/ `grants:`,
   table specs' `grants:`): USE SCHEMA and SELECT are useless without USE CATALOG on the catalog;
7. the secret scope the project's tasks read (`databricks.secret_scope`) exists, holds the keys their
   configuration names (medallion.yaml `secrets`), and whoever runs the job (the run-as principal, else
   you) may READ it. The scope is checked,
   not managed by the bundle: a bundle-owned scope would be created empty on the first deploy, fail
   on a scope that already holds the keys, and be deleted with its secrets by `bundle destroy`.

Privileges come from the effective-permissions API (inheritance included) for the identity and each
of its groups; owners hold every privilege. Each missing thing becomes one `Missing` with the statement
that fixes it; what the caller may not read is `unverified`, reported but not blocking.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from framework.deploy.context import variable_name
from framework.deploy.privileges import LAYER_SCHEMAS, grant_statement, quote
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

EVERYONE = "account users"
"""The group every account user and service principal belongs to (SCIM does not list it)."""
OWNER_PRIVILEGES = frozenset({"ALL_PRIVILEGES"})


@dataclass(frozen=True)
class Missing:
    """One prerequisite that does not hold, and how to make it hold."""

    what: str
    fix: str

    def render(self) -> str:
        return f"{self.what}; fix: {self.fix}"


@dataclass(frozen=True)
class Identity:
    """A user or service principal, as Unity Catalog names it, with the groups it is in."""

    name: str
    groups: frozenset[str] = frozenset()

    def principals(self) -> list[str]:
        return [self.name, *sorted(self.groups - {self.name}), EVERYONE]

    def owns(self, owner: str | None) -> bool:
        return owner is not None and owner in {self.name, *self.groups}


@dataclass
class Report:
    missing: list[Missing] = field(default_factory=list)
    unverified: list[str] = field(default_factory=list)
    """Checks the deploying identity may not run (e.g. reading another principal's permissions)."""

    @property
    def ok(self) -> bool:
        return not self.missing


class Unverifiable(Exception):
    """The caller may not read what a check needs (HTTP 403)."""


def check_prerequisites(w: WorkspaceClient, env: Environment, variables: dict[str, str] | None = None,
                        granted: list[dict[str, Any]] | None = None,
                        secrets: list[SecretUse] | None = None) -> Report:
    """Every deploy prerequisite of `env`'s target that does not hold (read-only API calls).

    `granted`: the grants the deploy makes besides the run-as principal's ({principal, privileges,
    on}), e.g. from `granted_principals(project, env)`; `secrets`: the secret keys the job's tasks read,
    from `secret_uses(project, env)`.
    """
    from databricks.sdk.errors import NotFound

    report = Report()
    me = w.current_user.me()
    deployer = Identity(me.user_name or "", frozenset(g.display for g in me.groups or [] if g.display))
    run_as = _run_as_principal(w, env, variables or {}, report)
    _check_secret_scope(w, env, secrets or [], run_as or deployer, report)
    catalog = env.catalog
    try:
        info = w.catalogs.get(catalog)
    except NotFound:
        report.missing.append(Missing(f"catalog `{catalog}` does not exist",
                                      f"a metastore admin runs: CREATE CATALOG IF NOT EXISTS {quote(catalog)}"))
        return report
    owner = info.owner
    mine = _privileges_or_note(w, "catalog", catalog, deployer, owner, report)
    if mine is not None and not _has(mine, "USE_CATALOG"):
        report.missing.append(Missing(
            f"you (`{deployer.name}`) have no USE CATALOG on catalog `{catalog}`",
            f"{_owner_runs(owner)}: {grant_statement(['USE_CATALOG'], 'catalog', catalog, deployer.name)}"))
    _check_schemas(w, env, deployer, owner, mine, report)
    if run_as is not None:
        theirs = _privileges_or_note(w, "catalog", catalog, run_as, owner, report)
        if theirs is not None and not _has(theirs, "USE_CATALOG"):
            can_grant = deployer.owns(owner) or (mine is not None and _has(mine, "MANAGE"))
            who = "you can run it (you manage the catalog)" if can_grant else _owner_runs(owner)
            report.missing.append(Missing(
                f"the run-as service principal `{run_as.name}` has no USE CATALOG on catalog `{catalog}` (the bundle "
                "grants it everything below the catalog, but cannot grant this)",
                f"{who}: {grant_statement(['USE_CATALOG'], 'catalog', catalog, run_as.name)}"))
    _check_granted_principals(w, env, granted or [], variables or {}, deployer, owner, mine, report)
    return report


def granted_principals(project: Any, env: Environment) -> list[dict[str, Any]]:
    """Who the deploy grants to besides the run-as principal: environments/ schema grants and table specs' grants."""
    from framework.deploy.context import table_grants

    out = [{"principal": g["principal"], "privileges": list(g["privileges"]),
            "on": f"schema `{env.catalog}.{env.schema_for(g['schema'])}`" if g.get("schema") else "every layer schema"}
           for g in env.get("grants") or []]
    out += [{"principal": g["principal"], "privileges": g["privileges"], "on": f"table `{g['table']}`"}
            for g in table_grants(project, env)]
    return out


def _check_granted_principals(w: WorkspaceClient, env: Environment, granted: list[dict[str, Any]],
                              variables: dict[str, str], deployer: Identity, owner: str | None,
                              on_catalog: set[str] | None, report: Report) -> None:
    """Each principal granted something below the catalog also needs USE CATALOG, which the bundle cannot grant."""
    seen: set[str] = set()
    for grant in granted:
        configured = str(grant["principal"])
        name = variable_name(configured)
        value = (variables.get(name) or os.environ.get(f"BUNDLE_VAR_{name}")) if name else configured
        if not value:
            if name not in seen:
                report.missing.append(Missing(
                    f"bundle variable `{name}` is not set (granted {', '.join(grant['privileges'])} on {grant['on']})",
                    f"export BUNDLE_VAR_{name}=<principal> or pass --var {name}=<principal>"))
            seen.add(str(name))
            continue
        if value in seen:
            continue
        seen.add(value)
        theirs = _privileges_or_note(w, "catalog", env.catalog, Identity(value), owner, report)
        if theirs is not None and not _has(theirs, "USE_CATALOG"):
            can_grant = deployer.owns(owner) or (on_catalog is not None and _has(on_catalog, "MANAGE"))
            who = "you can run it (you manage the catalog)" if can_grant else _owner_runs(owner)
            report.missing.append(Missing(
                f"`{value}` is granted {', '.join(grant['privileges'])} on {grant['on']} but has no USE CATALOG on "
                f"catalog `{env.catalog}`, so it cannot reach them",
                f"{who}: {grant_statement(['USE_CATALOG'], 'catalog', env.catalog, value)}"))


SECRET_READERS = frozenset({"READ", "WRITE", "MANAGE"})
ALL_WORKSPACE_USERS = "users"
"""The secret ACL principal every workspace user (service principals included) belongs to."""
WORKSPACE_ADMINS = "admins"
"""Workspace admins hold MANAGE on every secret scope."""


@dataclass(frozen=True)
class SecretUse:
    """A secret a project task reads: the task, the setting of its configuration naming it, the key."""

    task: str
    setting: str
    key: str


def secret_uses(project: Any, env: Environment) -> list[SecretUse]:
    """The secret keys the project's tasks read in `env`: medallion.yaml `secrets` settings, as set in the
    environment's `tasks.<key>` section (a setting left unset names nothing to check)."""
    return [SecretUse(task.key, setting, str(value))
            for task in project.settings.project_tasks for setting in task.secrets
            if (value := env.task_config(task.key).get(setting))]


def _check_secret_scope(w: WorkspaceClient, env: Environment, uses: list[SecretUse], reader: Identity,
                        report: Report) -> None:
    """The scope the tasks read exists, holds the keys they name, and `reader` may READ it."""
    from databricks.sdk.errors import NotFound, PermissionDenied

    scope = env.databricks.secret_scope
    if not scope or not uses:
        return
    keys = list(dict.fromkeys(u.key for u in uses))
    readers = ", ".join(f"`{t}`" for t in dict.fromkeys(u.task for u in uses))
    put = "; ".join(f"databricks secrets put-secret {scope} {k}" for k in keys)
    if scope not in {s.name for s in w.secrets.list_scopes()}:
        report.missing.append(Missing(
            f"secret scope `{scope}` (databricks.secret_scope, read by {readers}) does not exist",
            f"databricks secrets create-scope {scope}; {put}; "
            f"databricks secrets put-acl {scope} {reader.name} READ"))
        return
    try:
        acls = {a.principal: _value(a.permission) for a in w.secrets.list_acls(scope) if a.principal}
    except (PermissionDenied, NotFound) as exc:
        report.unverified.append(f"cannot read the ACLs of secret scope `{scope}` ({_first_line(exc)})")
    else:
        principals = {reader.name, *reader.groups, ALL_WORKSPACE_USERS}
        if WORKSPACE_ADMINS not in reader.groups and not any(acls.get(p) in SECRET_READERS for p in principals):
            report.missing.append(Missing(
                f"`{reader.name}` (runs {readers}) cannot READ secret scope `{scope}`",
                f"a MANAGE holder of the scope runs: databricks secrets put-acl {scope} {reader.name} READ"))
    try:
        present = {s.key for s in w.secrets.list_secrets(scope)}
    except (PermissionDenied, NotFound) as exc:
        report.unverified.append(f"cannot list the keys of secret scope `{scope}` ({_first_line(exc)})")
        return
    for use in uses:
        if use.key not in present:
            report.missing.append(Missing(f"secret scope `{scope}` has no key `{use.key}` (tasks.{use.task}.{use.setting})",
                                          f"databricks secrets put-secret {scope} {use.key}"))


def _run_as_principal(w: WorkspaceClient, env: Environment, variables: dict[str, str],
                      report: Report) -> Identity | None:
    """The run-as service principal (its application id and groups), or None when unset or unknown."""
    configured = env.databricks.run_as_service_principal
    if not configured:
        return None
    name = variable_name(configured)
    value = (variables.get(name) or os.environ.get(f"BUNDLE_VAR_{name}")) if name else configured
    if not value:
        report.missing.append(Missing(f"the run-as service principal (bundle variable `{name}`) is not set",
                                      f"export BUNDLE_VAR_{name}=<application id> or pass --var {name}=<application id>"))
        return None
    found = list(w.service_principals.list(filter=f'applicationId eq "{value}"'))
    if not found:
        report.missing.append(Missing(
            f"service principal `{value}` (run_as) does not exist in this workspace",
            "an account admin creates it and a workspace admin adds it to the workspace (Settings > Identity and "
            "access > Service principals); `service_principal` is its application id"))
        return None
    return Identity(value, frozenset(g.display for g in found[0].groups or [] if g.display))


def _check_schemas(w: WorkspaceClient, env: Environment, deployer: Identity, catalog_owner: str | None,
                   on_catalog: set[str] | None, report: Report) -> None:
    """Missing layer schemas need CREATE SCHEMA; existing ones must be the deployer's (it sets their grants)."""
    from databricks.sdk.errors import NotFound

    to_create = []
    if env.databricks.per_user_schemas:
        # Each developer's deploy creates schemas of their own (<short name>_<schema>, named by the CLI at
        # deploy time): what matters is CREATE SCHEMA, not who owns the schemas as written.
        to_create = [f"${{workspace.current_user.short_name}}_{env.declared_schema(layer)}" for layer in LAYER_SCHEMAS]
    for layer in LAYER_SCHEMAS if not to_create else ():
        full_name = f"{env.catalog}.{env.schema_for(layer)}"
        try:
            schema = w.schemas.get(full_name)
        except NotFound:
            to_create.append(env.schema_for(layer))
            continue
        if deployer.owns(schema.owner):
            continue
        privileges = _privileges_or_note(w, "schema", full_name, deployer, schema.owner, report)
        if privileges is not None and not _has(privileges, "MANAGE"):
            report.missing.append(Missing(
                f"schema `{full_name}` exists and belongs to `{schema.owner}`: the bundle, deployed by you "
                f"(`{deployer.name}`), cannot set its grants or create the landing volume in it",
                f"`{schema.owner}` or a metastore admin runs: ALTER SCHEMA {quote(env.catalog)}."
                f"{quote(env.schema_for(layer))} OWNER TO {quote(deployer.name)}"))
    if to_create and on_catalog is not None and not _has(on_catalog, "CREATE_SCHEMA"):
        report.missing.append(Missing(
            f"you (`{deployer.name}`) cannot create schema(s) {', '.join(f'`{s}`' for s in to_create)} in catalog "
            f"`{env.catalog}` (no CREATE SCHEMA)",
            f"{_owner_runs(catalog_owner)}: "
            f"{grant_statement(['CREATE_SCHEMA'], 'catalog', env.catalog, deployer.name)}"))


def _privileges_or_note(w: WorkspaceClient, securable: str, full_name: str, who: Identity, owner: str | None,
                        report: Report) -> set[str] | None:
    """`who`'s effective privileges on a securable (everything if it owns it), or None when unreadable."""
    if who.owns(owner):
        return set(OWNER_PRIVILEGES)
    try:
        return effective_privileges(w, securable, full_name, who)
    except Unverifiable as exc:
        report.unverified.append(f"cannot read the privileges of `{who.name}` on {securable} `{full_name}` ({exc})")
        return None


def effective_privileges(w: WorkspaceClient, securable: str, full_name: str, who: Identity) -> set[str]:
    """Privileges granted to the identity or one of its groups, on the securable or inherited from its parents."""
    from databricks.sdk.errors import BadRequest, NotFound, PermissionDenied

    found: set[str] = set()
    for principal in who.principals():
        token: str | None = None
        while True:
            try:
                page = w.grants.get_effective(securable, full_name, principal=principal, max_results=0,
                                              page_token=token)
            except PermissionDenied as exc:
                if principal == who.name:
                    raise Unverifiable(f"HTTP 403: {_first_line(exc)}") from None
                break
            except (NotFound, BadRequest):
                break  # a group Unity Catalog does not know holds nothing
            for assignment in page.privilege_assignments or []:
                found.update(_value(p.privilege) for p in assignment.privileges or [] if p.privilege)
            token = page.next_page_token
            if not token:
                break
    return found


def _has(privileges: set[str], privilege: str) -> bool:
    return privilege in privileges or "ALL_PRIVILEGES" in privileges


def _owner_runs(owner: str | None) -> str:
    return f"the owner of the catalog (`{owner}`) runs" if owner else "the catalog's owner runs"


def _value(enum_or_str: Any) -> str:
    return str(getattr(enum_or_str, "value", enum_or_str))


def _first_line(exc: BaseException) -> str:
    text = str(exc).split(" Config: ")[0].splitlines()[0][:160].rstrip(".") if str(exc) else ""
    return text or type(exc).__name__
