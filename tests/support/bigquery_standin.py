"""The BigQuery stand-in for tests: start it, or skip (outside CI) / fail (in CI) when missing."""

from __future__ import annotations

import os

import pytest

from il_audit.devtools.bigquery_standin import (
    DEFAULT_PROJECT,
    BigQueryStandIn,
    StandInNotFoundError,
    start,
)

__all__ = ["BigQueryStandIn", "start_for_tests"]


def required() -> bool:
    """Whether a missing stand-in must fail the run (CI) instead of skipping."""
    return bool(os.environ.get("CI") or os.environ.get("IL_AUDIT_REQUIRE_EMULATOR"))


def start_for_tests(project: str = DEFAULT_PROJECT) -> BigQueryStandIn:
    """:func:`start`, skipping the test when it is not installed (failing in CI)."""
    try:
        return start(project)
    except StandInNotFoundError as exc:
        if required():
            pytest.fail(f"CI needs the BigQuery stand-in: {exc}", pytrace=False)
        pytest.skip(str(exc))
