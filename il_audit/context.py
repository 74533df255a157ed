"""0.1.3's and 1.0.35's module path of :class:`AuditContext` (``from il_audit.context import ...``).

A door: the class lives in :mod:`il_audit.publisher.context`, with its binding helpers.
"""

from il_audit.publisher.context import AuditContext, audit_context, current_context

__all__ = ["AuditContext", "audit_context", "current_context"]
