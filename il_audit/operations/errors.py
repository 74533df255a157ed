"""Errors of the operator jobs: the function bundle and the dead-letter tools."""

from __future__ import annotations

from il_audit.errors import AuditError


class BundleError(AuditError, RuntimeError):
    """The bundle could not be built (the directory is left as it was)."""


class DlqError(AuditError, RuntimeError):
    """A dead-letter operation could not proceed."""
