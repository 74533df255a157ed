"""The publisher library apps import: ``emit()`` in microseconds, Pub/Sub in the background.

``publisher.emit(...)`` and ``il_audit.emit(...)`` are the same function.
"""

from il_audit.publisher._default import (
    configure,
    emit,
    emit_api_usage,
    emit_batch,
    emit_resource_usage,
    flush_audit_writer,
    get_publisher,
    set_publisher,
    shutdown,
    stats,
)
from il_audit.publisher._ids import new_event_id
from il_audit.publisher._transports.memory import MemoryTransport, PublishedMessage
from il_audit.publisher.client import (
    AuditPublisher,
    FlushResult,
    PublisherStats,
    last_publish_error,
)
from il_audit.publisher.context import (
    AuditContext,
    audit_context,
    bind_context,
    current_context,
    unbind_context,
)
from il_audit.publisher.errors import (
    InvalidEventError,
    PublisherError,
    PublishFailedError,
    QueueFullError,
    TransportUnavailableError,
)

flush = flush_audit_writer

__all__ = [
    "AuditContext",
    "AuditPublisher",
    "FlushResult",
    "InvalidEventError",
    "MemoryTransport",
    "PublishFailedError",
    "PublishedMessage",
    "PublisherError",
    "PublisherStats",
    "QueueFullError",
    "TransportUnavailableError",
    "audit_context",
    "bind_context",
    "configure",
    "current_context",
    "emit",
    "emit_api_usage",
    "emit_batch",
    "emit_resource_usage",
    "flush",
    "flush_audit_writer",
    "get_publisher",
    "last_publish_error",
    "new_event_id",
    "set_publisher",
    "shutdown",
    "stats",
    "unbind_context",
]
