"""The root of every exception il-audit raises on purpose.

Each part subclasses :class:`AuditError` so that callers can catch one type;
wrapping always uses ``raise ... from exc`` so the cause survives.
"""

from __future__ import annotations


class AuditError(Exception):
    """Base class of every error raised by il-audit."""


class SettingsError(AuditError, ValueError):
    """An environment variable or bundled default has a value il-audit cannot use."""
