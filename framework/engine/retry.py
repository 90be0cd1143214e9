"""When a failed flow is tried again, and after how long: the one retry rule of the local runtime.

As in DLT: development mode fails fast (one attempt); production mode retries a failed flow with
exponential backoff up to `retries.max_attempts` — unless the failure cannot go away by running
again (a spec that cannot become datasets, a violated `fail` expectation, a refused schema change:
their error classes say `retryable = False`). Triggered and continuous updates both ask here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from framework.engine.views import VIEW_EXPECTATION_TEXT
from framework.errors import CastError, FlowError, MedallionError, ViewExpectationViolation, first_line
from framework.pipeline import CAST_ERROR_TEXT

if TYPE_CHECKING:
    from framework.spec.environment import Environment


_RAISED = re.compile(r"\[USER_RAISED_EXCEPTION\] (.+?)(?: SQLSTATE: P0001|\n|$)")


def as_flow_error(exc: BaseException, flow: str) -> MedallionError:
    """Our own errors as they are; anything else (a Spark exception) as a FlowError naming the flow.

    A value that cannot be cast to its declared type stops the query with `raise_error`
    (framework/pipeline/conform.py): its message is already for people, and running again cannot help.
    """
    if isinstance(exc, MedallionError):
        return exc
    if (raised := _RAISED.search(str(exc))) is not None:
        message = raised.group(1).strip()
        if CAST_ERROR_TEXT in message:
            return CastError(message)
        if VIEW_EXPECTATION_TEXT in message:
            return ViewExpectationViolation(f"{flow}: {message}")
        return FlowError(f"{flow}: {message}")
    return FlowError(f"{flow}: {first_line(exc)}")


@dataclass(frozen=True)
class RetryRule:
    attempts: int
    """Attempts in all (1: no retry)."""
    initial_backoff_seconds: float
    max_backoff_seconds: float

    @classmethod
    def of(cls, env: "Environment") -> "RetryRule":
        return cls(env.attempts, float(env.retries.initial_backoff_seconds), float(env.retries.max_backoff_seconds))

    def delay(self, failures: int, error: MedallionError) -> float | None:
        """Seconds to wait before the next attempt after `failures` failures, or None to give up."""
        if failures >= self.attempts or not error.retryable:
            return None
        return min(self.initial_backoff_seconds * 2 ** (failures - 1), self.max_backoff_seconds)
