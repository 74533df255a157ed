"""Which Google API errors are retried: the list docs/publisher.md and docs/operations.md give."""

from __future__ import annotations

import pytest
from google.api_core import exceptions as core_exceptions

from il_audit.retrying import is_retryable


def _http(code: int, reason: str | None = None) -> core_exceptions.GoogleAPICallError:
    errors = [{"reason": reason}] if reason else []
    return core_exceptions.from_http_status(code, "answer", errors=errors)


@pytest.mark.parametrize("code", [500, 502, 503, 504, 408, 409, 429, 499])
def test_server_errors_timeouts_throttling_aborted_and_cancelled_retry(code: int) -> None:
    """5xx, 408, 429, and 409 / 499 (gRPC ABORTED / CANCELLED as api_core maps them) retry."""
    assert is_retryable(_http(code))


@pytest.mark.parametrize("reason", ["quotaExceeded", "rateLimitExceeded", "backendError"])
def test_a_403_retries_only_for_bigquerys_throttling_reasons(reason: str) -> None:
    """BigQuery says "slow down" with a 403 and a reason: that 403 retries, a plain one not."""
    assert is_retryable(_http(403, reason))
    assert not is_retryable(_http(403, "accessDenied"))


@pytest.mark.parametrize("code", [400, 401, 403, 404, 412])
def test_every_other_4xx_is_permanent(code: int) -> None:
    """Bad request, unauthenticated, denied, missing topic, failed precondition: no retry."""
    assert not is_retryable(_http(code))


def test_network_failures_retry_and_a_bug_does_not() -> None:
    """OSError-family failures (refused, reset, timed out) retry; a programming error does not."""
    assert is_retryable(ConnectionRefusedError())
    assert is_retryable(TimeoutError())
    assert not is_retryable(ValueError("bug"))
