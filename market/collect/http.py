"""The HTTP client both web providers share: JSON GETs with retries, backoff, rate limiting, redaction.

Market-data APIs fail in a handful of ways that are worth retrying — 429 (too many requests, often
with a Retry-After), 5xx, timeouts, dropped connections, and bodies cut short (invalid JSON) — and a
few that are not (400/404/422: the request itself is wrong; 401/403: the credentials are). tenacity
retries the first kind with exponential backoff (with jitter, honouring Retry-After up to the backoff
cap); the second kind fails at once with the server's own message.

Every request first waits for the client-side `RateLimiter`, retries included, so a burst of retries
never exceeds the provider's quota. Messages never contain header values (credentials): anything that
echoes them is redacted.
"""

from __future__ import annotations

import email.utils
import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping

import httpx
import tenacity

from framework import __version__
from market.collect.errors import AuthError, FetchError, HttpStatusError, RetryableError

log = logging.getLogger("medallion.collect")

USER_AGENT = f"Mozilla/5.0 (compatible; medallion-collect/{__version__})"


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: attempts per request and the exponential backoff between them."""

    max_attempts: int = 5
    initial_backoff: float = 1.0
    max_backoff: float = 60.0

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any] | None) -> "RetryPolicy":
        """From an environment's `retries:` block (max_attempts, initial/max_backoff_seconds)."""
        settings = settings or {}
        return cls(int(settings.get("max_attempts", cls.max_attempts)),
                   float(settings.get("initial_backoff_seconds", cls.initial_backoff)),
                   float(settings.get("max_backoff_seconds", cls.max_backoff)))


class RateLimiter:
    """At most `requests_per_minute` requests, evenly spaced (no bursts): the simplest fair limiter."""

    def __init__(self, requests_per_minute: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.interval = 60.0 / requests_per_minute if requests_per_minute else 0.0
        self._clock, self._sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def acquire(self) -> None:
        with self._lock:
            now = self._clock()
            if now < self._next:
                self._sleep(self._next - now)
                now = self._next
            self._next = now + self.interval


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


class JsonClient:
    """GET JSON from one API with retries; `name` prefixes every message (e.g. `alpaca`)."""

    def __init__(self, name: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = 30.0, retry: RetryPolicy = RetryPolicy(),
                 limiter: RateLimiter | None = None) -> None:
        self.name = name
        self.retry = retry
        self.limiter = limiter or RateLimiter(None)
        self.requests = 0
        self.retries = 0
        self._secrets = [v for v in (headers or {}).values() if v]
        self._http = httpx.Client(base_url=base_url.rstrip("/"), timeout=httpx.Timeout(timeout),
                                  headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
                                  follow_redirects=True)
        self._backoff = tenacity.wait_exponential_jitter(multiplier=retry.initial_backoff, max=retry.max_backoff,
                                                         jitter=retry.initial_backoff / 2)

    def close(self) -> None:
        self._http.close()

    def get_json(self, path: str, params: Mapping[str, Any] | None = None, what: str = "") -> Any:
        """The decoded JSON body of a GET; raises FetchError (with the reason) once retries are spent."""
        label = f"{self.name} {what or path}"
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retry.max_attempts),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(RetryableError),
            before_sleep=lambda state: self._log_retry(label, state),
            reraise=True,
        )
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            return retrying(self._get_once, path, clean)
        except RetryableError as exc:
            raise FetchError(f"{exc} (gave up after {self.retry.max_attempts} attempts)") from None

    def _get_once(self, path: str, params: Mapping[str, Any]) -> Any:
        self.limiter.acquire()
        self.requests += 1
        try:
            response = self._http.get(path, params=params)
        except httpx.TimeoutException:
            raise RetryableError(f"timed out after {self._http.timeout.read}s") from None
        except httpx.TransportError as exc:
            raise RetryableError(f"connection failed: {self._redact(str(exc)) or type(exc).__name__}") from None
        return self._decode(response)

    def _decode(self, response: httpx.Response) -> Any:
        status = response.status_code
        if status == 429:
            raise RetryableError("rate limited (HTTP 429)", retry_after_seconds(response.headers.get("Retry-After")))
        if status == 408 or status >= 500:
            raise RetryableError(f"server error (HTTP {status}){self._snippet(response)}",
                                 retry_after_seconds(response.headers.get("Retry-After")))
        if status in (401, 403):
            raise AuthError(f"credentials rejected (HTTP {status}){self._snippet(response)}", status)
        if status >= 400:
            raise HttpStatusError(f"request refused (HTTP {status}){self._snippet(response)}", status)
        try:
            return json.loads(response.content)
        except ValueError as exc:
            raise RetryableError(f"invalid JSON in the response (truncated body?): {exc}") from None

    def _snippet(self, response: httpx.Response) -> str:
        """The server's own error message, shortened: `message`/`description` fields when JSON."""
        text = response.text.strip()
        try:
            body = json.loads(text)
            if isinstance(body, dict):
                error = body.get("chart", {}).get("error") if isinstance(body.get("chart"), dict) else None
                source = error if isinstance(error, dict) else body
                text = str(source.get("message") or source.get("description") or source.get("code") or text)
        except ValueError:
            pass
        text = " ".join(self._redact(text).split())[:200]
        return f": {text}" if text else ""

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _wait(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        hinted = getattr(exc, "retry_after", None) or 0.0
        return min(self.retry.max_backoff, max(self._backoff(state), hinted))

    def _log_retry(self, label: str, state: tenacity.RetryCallState) -> None:
        self.retries += 1
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0.0
        log.warning("%s: %s; retry %d/%d in %.1fs", label, exc, state.attempt_number,
                    self.retry.max_attempts - 1, delay)
