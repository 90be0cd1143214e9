"""The market project's collection errors, under the framework's one base (`MedallionError`): the
`medallion` command reports them as one `error:` line with their exit code, like the framework's own.

    CollectError (exit code 2)   a collection problem the user must fix
    FetchError                   one symbol (or batch) could not be fetched
    ├── RetryableError           429, 5xx, timeout, connection, invalid JSON: worth another try
    └── HttpStatusError          the server refused the request itself
        └── AuthError            401/403: credentials missing or wrong
"""

from __future__ import annotations

from framework.errors import MedallionError


class CollectError(MedallionError):
    """A collection problem the user must fix (bad option, missing credentials, unreadable CSV)."""

    exit_code = 2


class FetchError(MedallionError):
    """Getting one symbol (or batch) failed for good; the message says why, without secrets."""


class RetryableError(FetchError):
    """A failure worth another try (429, 5xx, timeout, connection, invalid JSON)."""

    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class HttpStatusError(FetchError):
    """The server refused the request itself (4xx other than 408/429): retrying will not help."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class AuthError(HttpStatusError):
    """401/403: the credentials are missing or wrong; no symbol can succeed."""
