"""What every section builder shares: limits and the period's query parameters."""

from __future__ import annotations

from datetime import date
from typing import Final

from il_audit.report._model import Period

MAX_SERIES: Final = 8
"""Series per chart; the smallest of the rest are folded into ``(other)``."""
TOP_ROWS: Final = 10
"""Rows of the top-N tables (actors with failed logins, dead-letter reasons)."""


def period_params(period: Period) -> dict[str, date]:
    return {"since": period.since, "until": period.until}
