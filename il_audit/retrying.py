"""Which errors are worth retrying, and how long to wait before the next try.

One place decides for every Google API call il-audit makes (Pub/Sub publish,
BigQuery inserts, dead-letter publishes): server errors (5xx), timeouts
(408), throttling (429) and network failures retry; any other client error
(4xx: bad request, permission, missing topic) is permanent.
"""

from __future__ import annotations

import random
from typing import Final

from google.api_core import exceptions as core_exceptions

# 408 timeout, 429 throttled; 409 and 499 are how api_core maps gRPC ABORTED and
# CANCELLED, which the Pub/Sub client itself treats as transient.
_RETRYABLE_HTTP: Final = frozenset({408, 409, 429, 499})
# BigQuery answers throttling and quota with 403 and these reasons.
_RETRYABLE_REASONS: Final = frozenset({"quotaExceeded", "rateLimitExceeded", "backendError"})


def is_retryable(error: BaseException) -> bool:
    """True when trying again later may succeed.

    Errors of il-audit's own may say so with a ``retryable`` class attribute
    (the subscriber's TransientError does), so that the embedded transport's
    failures are retried like Pub/Sub's.
    """
    marked = getattr(error, "retryable", None)
    if isinstance(marked, bool):
        return marked
    if isinstance(error, core_exceptions.GoogleAPICallError):
        code = error.code
        if code is None:
            return True
        code = int(code)
        if code >= 500 or code in _RETRYABLE_HTTP:
            return True
        return any(
            isinstance(detail, dict) and detail.get("reason") in _RETRYABLE_REASONS
            for detail in (error.errors or ())
        )
    if isinstance(error, core_exceptions.RetryError):
        return True  # the client's own retry deadline ran out on a retryable error
    # Network-level failures surface as OSError/TimeoutError/ConnectionError.
    return isinstance(error, (OSError, TimeoutError, ConnectionError))


def backoff_seconds(attempt: int, initial: float, maximum: float) -> float:
    """Exponential backoff with full jitter: up to ``initial * 2**(attempt-1)``, capped."""
    ceiling = min(maximum, initial * (2 ** max(0, attempt - 1)))
    return random.uniform(ceiling / 2, ceiling)
