"""il-audit: cross-app audit and analytics logging on Google Cloud, as a Pub/Sub pipeline.

The stable API (compatible with il-audit 0.1)::

    from il_audit import AuditContext, emit, flush_audit_writer, taxonomy
    from il_audit import taxonomy as T

    emit(T.AUTH_LOGIN_SUCCEEDED, context=AuditContext(app="ingest", actor_uid=uid),
         status="succeeded", action="login")
"""

from il_audit._version import __version__
from il_audit.config.settings import AuditSettings, get_audit_settings, reset_audit_settings_cache
from il_audit.errors import AuditError
from il_audit.publisher import (
    AuditContext,
    audit_context,
    emit,
    emit_api_usage,
    emit_batch,
    emit_resource_usage,
    flush_audit_writer,
    shutdown,
    stats,
)
from il_audit.schemas import taxonomy

__all__ = [
    "AuditContext",
    "AuditError",
    "AuditSettings",
    "__version__",
    "audit_context",
    "emit",
    "emit_api_usage",
    "emit_batch",
    "emit_resource_usage",
    "flush_audit_writer",
    "get_audit_settings",
    "reset_audit_settings_cache",
    "shutdown",
    "stats",
    "taxonomy",
]
