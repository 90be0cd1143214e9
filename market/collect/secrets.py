"""Provider credentials: from environment variables, or a Databricks secret scope when running there.

The environment file names the variables (`tasks.collect.key_env`, `tasks.collect.secret_env`), never the values.
Values are wrapped in `Secret`, whose repr/str hide them, so a stray log line or traceback cannot leak
them; only the HTTP header builder calls `.reveal()`.
"""

from __future__ import annotations

import base64
import os

from market.collect.errors import CollectError


class Secret:
    """A credential value that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def on_databricks() -> bool:
    """Databricks clusters and serverless set DATABRICKS_RUNTIME_VERSION."""
    return bool(os.environ.get("DATABRICKS_RUNTIME_VERSION"))


def resolve(variable: str, scope: str | None = None, what: str = "credential") -> Secret:
    """The value of environment variable `variable`; on Databricks, else the key of that name in `scope`."""
    value = os.environ.get(variable)
    if value:
        return Secret(value)
    if scope and on_databricks():
        found = _from_scope(scope, variable)
        if found:
            return Secret(found)
    where = f" or the key `{variable}` in secret scope `{scope}`" if scope and on_databricks() else ""
    raise CollectError(f"the {what} is not set: export {variable}{where} "
                       f"(the variable's name comes from the environment's `tasks.collect` section)")


def _from_scope(scope: str, key: str) -> str | None:
    """Read a secret with databricks-sdk (`w.secrets.get_secret` returns base64)."""
    try:
        from databricks.sdk import WorkspaceClient

        response = WorkspaceClient().secrets.get_secret(scope=scope, key=key)
    except Exception as exc:  # noqa: BLE001 - any SDK failure means "not available here"; say which
        raise CollectError(f"could not read `{key}` from secret scope `{scope}`: {type(exc).__name__}") from None
    return base64.b64decode(response.value).decode() if response.value else None
