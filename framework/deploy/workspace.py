"""A databricks-sdk `WorkspaceClient` for an environment, and one-line messages for everything that fails.

Credentials come only from the SDK's usual sources (DATABRICKS_HOST / DATABRICKS_TOKEN, OAuth
variables, ~/.databrickscfg profiles, or the runtime's own identity on a Databricks cluster). An
environment may name another variable for its host (`databricks.host_env: DATABRICKS_HOST_PROD`), so
prod commands never fall back to a dev workspace by accident. Tokens are never printed: messages name
variables, not values.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Iterator

from framework.errors import WorkspaceError
from framework.spec.environment import Environment

if TYPE_CHECKING:
    from databricks.sdk import WorkspaceClient

DEFAULT_HOST_ENV = "DATABRICKS_HOST"
DEFAULT_TIMEOUT = 30.0
CREDENTIAL_HINT = ("set DATABRICKS_HOST and DATABRICKS_TOKEN (or DATABRICKS_CONFIG_PROFILE for a ~/.databrickscfg "
                   "profile)")


def host_variable(env: Environment) -> str:
    return (env.get("databricks") or {}).get("host_env") or DEFAULT_HOST_ENV


def on_databricks() -> bool:
    """True on a Databricks cluster, where the SDK authenticates as the job's identity."""
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def workspace_client(env: Environment, timeout: float = DEFAULT_TIMEOUT) -> tuple[WorkspaceClient, str]:
    """The client and the host it talks to. `timeout` bounds each request and all its retries."""
    _quiet_sdk_logging()
    from databricks.sdk import WorkspaceClient
    from databricks.sdk.config import Config

    kwargs: dict[str, object] = {"http_timeout_seconds": timeout, "retry_timeout_seconds": max(1, int(timeout))}
    variable = host_variable(env)
    if variable != DEFAULT_HOST_ENV and not on_databricks():
        if os.environ.get(variable):
            kwargs["host"] = os.environ[variable]
        elif not os.environ.get("DATABRICKS_CONFIG_PROFILE"):
            raise WorkspaceError(f"{variable} is not set: environment `{env.name}` reads its workspace URL from it "
                                 f"(or set DATABRICKS_CONFIG_PROFILE to a profile for that workspace)")
    try:
        client = WorkspaceClient(config=Config(**kwargs))
    except ValueError as exc:
        raise WorkspaceError(f"cannot configure Databricks credentials: {_first_clause(str(exc))}; "
                             f"{CREDENTIAL_HINT}") from None
    return client, client.config.host or "?"


@contextmanager
def one_line_errors(host: str, timeout: float) -> Iterator[None]:
    """Turn SDK, HTTP and timeout failures into a WorkspaceError with one clear line."""
    import requests
    from databricks.sdk.errors import DatabricksError, NotFound, PermissionDenied, Unauthenticated

    try:
        yield
    except Unauthenticated as exc:
        raise WorkspaceError(f"authentication failed at {host} (HTTP 401: {_short(exc)}); check DATABRICKS_TOKEN "
                             "or your profile") from None
    except PermissionDenied as exc:
        raise WorkspaceError(f"permission denied at {host} (HTTP 403: {_short(exc)})") from None
    except NotFound as exc:
        raise WorkspaceError(f"not found at {host} (HTTP 404: {_short(exc)})") from None
    except DatabricksError as exc:
        code = getattr(exc, "error_code", None)
        raise WorkspaceError(f"Databricks API error at {host}{f' ({code})' if code else ''}: {_short(exc)}") from None
    except TimeoutError:
        raise WorkspaceError(f"no answer from {host} within {timeout:g}s (unreachable host or network timeout); "
                             "check the workspace URL and your network") from None
    except requests.RequestException as exc:
        raise WorkspaceError(f"cannot reach {host}: {_short(exc)}") from None
    except ValueError as exc:  # the SDK raises ValueError when credentials cannot be resolved lazily
        raise WorkspaceError(f"cannot authenticate to {host}: {_first_clause(str(exc))}; {CREDENTIAL_HINT}") from None


def _quiet_sdk_logging() -> None:
    """The SDK logs warnings (e.g. a failed host-metadata probe) that would break the one-line promise."""
    logging.getLogger("databricks.sdk").setLevel(logging.CRITICAL)


def _short(exc: BaseException | str, limit: int = 200) -> str:
    """The message without the SDK's appended config dump (`. Config: host=..., token=***`)."""
    text = " ".join(str(exc).split(" Config: ")[0].split()).rstrip(".") or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_clause(text: str) -> str:
    """The SDK's config errors also append a link; keep the first clause."""
    return _short(text.split(", please check")[0])
