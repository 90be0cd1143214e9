"""The thin wrapper behind `medallion deploy`: run `databricks bundle deploy -t <env>` with the right host.

The Databricks CLI is a separate Go binary (not on PyPI; PyPI's old `databricks-cli` has no `bundle`
command). Bundles cannot interpolate the workspace host, and the CLI reads DATABRICKS_HOST when
`workspace.host` is unset, so for an environment whose host lives in another variable
(`databricks.host_env: DATABRICKS_HOST_PROD`) we pass DATABRICKS_HOST=$DATABRICKS_HOST_PROD to the child
process only. Values are never printed, only variable names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from framework.deploy.workspace import DEFAULT_HOST_ENV, WorkspaceError, host_variable
from framework.spec.environment import Environment

CLI = "databricks"
INSTALL_HINT = ("install the Databricks CLI (a standalone binary, not the PyPI package `databricks-cli`): "
                "`curl -fsSL https://raw.githubusercontent.com/databricks/setup-cli/main/install.sh | sh` "
                "or `brew tap databricks/tap && brew install databricks`; "
                "see https://docs.databricks.com/dev-tools/cli/install.html")


@dataclass
class DeployPlan:
    command: list[str]
    host_from: str | None = None
    """The variable DATABRICKS_HOST is taken from for the child process, when not DATABRICKS_HOST itself."""
    child_env: dict[str, str] = field(default_factory=dict, repr=False)

    def display(self) -> str:
        prefix = f"{DEFAULT_HOST_ENV}=${self.host_from} " if self.host_from else ""
        return prefix + " ".join(self.command)


def plan_deploy(env: Environment, variables: dict[str, str] | None = None) -> DeployPlan:
    """The command and child environment for deploying `env`'s target; WorkspaceError if the host is missing."""
    command = [CLI, "bundle", "deploy", "-t", env.name]
    for name, value in sorted((variables or {}).items()):
        command += ["--var", f"{name}={value}"]
    child = dict(os.environ)
    variable = host_variable(env)
    host_from = None
    if variable != DEFAULT_HOST_ENV:
        if os.environ.get(variable):
            child[DEFAULT_HOST_ENV] = os.environ[variable]
            host_from = variable
        elif not os.environ.get("DATABRICKS_CONFIG_PROFILE"):
            raise WorkspaceError(f"{variable} is not set: export the `{env.name}` workspace URL in it "
                                 "(or set DATABRICKS_CONFIG_PROFILE)")
    return DeployPlan(command, host_from, child)


def find_cli() -> tuple[str | None, str]:
    """(path of the Databricks CLI, problem) — problem is '' when the CLI is usable."""
    path = shutil.which(CLI)
    if path is None:
        return None, f"the `{CLI}` command is not on PATH; {INSTALL_HINT}"
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return path, f"`{path} --version` failed ({exc}); {INSTALL_HINT}"
    if "Databricks CLI" not in (out.stdout + out.stderr):
        return path, (f"`{path}` is not the Databricks CLI with bundle support (it printed "
                      f"{(out.stdout or out.stderr).strip()[:60]!r}; the legacy PyPI `databricks-cli` has no "
                      f"`bundle` command); {INSTALL_HINT}")
    return path, ""


def run_deploy(plan: DeployPlan, cli_path: str, project_root: Path) -> int:
    """Run the deploy from the bundle root, streaming the CLI's own output; returns its exit code.

    The CLI builds the wheel artifact with `python3 -m pip wheel`: this Python's folder goes first on
    the child's PATH, so it is the one that builds (a virtualenv's, not a system Python without pip).
    """
    child = dict(plan.child_env)
    child["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), child.get("PATH", "")])
    return subprocess.run([cli_path, *plan.command[1:]], env=child, cwd=project_root).returncode
