"""Errors of the report: one query that failed, or a warehouse that cannot be read at all."""

from __future__ import annotations

from il_audit.errors import AuditError


class ReportError(AuditError):
    """Base class of the report's errors."""


class QueryFailedError(ReportError):
    """One query failed; its section says so and the others go on."""


class WarehouseUnavailableError(ReportError):
    """The warehouse cannot be read at all; no report."""
