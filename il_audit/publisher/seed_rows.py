"""Rows in 0.1.3's shape (``logged_at``, ``before_json``...): the seed's envelope helpers.

A builder registered with ``register_builder`` returns such a row, and
``emit()`` maps it onto the envelope (:mod:`il_audit.publisher.builders`); these
helpers build one. Hosts reach them at the seed's paths, ``il_audit.envelope``
(0.1.3, and 1.0.35's ``actor_fields``) and ``il_audit.builders.envelope_builder``.
New code calls ``emit()`` with keywords instead.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from il_audit.publisher.context import AuditContext

__all__ = ["actor_fields", "build_envelope", "build_envelope_row", "utc_now_iso"]


def utc_now_iso() -> str:
    """The current UTC time in ISO 8601 with an offset, as 0.1.3 wrote ``logged_at``."""
    return datetime.now(UTC).isoformat()


def _json_text(value: dict[str, Any] | None) -> str | None:
    return json.dumps(value, ensure_ascii=False) if value else None


def build_envelope(
    *,
    context: AuditContext,
    module: str,
    event_type: str,
    action: str | None = None,
    status: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    batch_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    metadata: dict[str, Any] | None = None,
    event_id: str | None = None,
) -> dict[str, Any]:
    """0.1.3's envelope row: the 18 shared columns, JSON as text, a fresh id and time."""
    return {
        "event_id": event_id or str(uuid.uuid4()),
        "batch_id": batch_id,
        "logged_at": utc_now_iso(),
        "app": context.app,
        "module": module,
        "event_type": event_type,
        "actor_uid": context.actor_uid,
        "actor_email": context.actor_email,
        "action": action,
        "status": status,
        "resource_type": resource_type,
        "resource_id": resource_id,
        "before_json": _json_text(before),
        "after_json": _json_text(after),
        "metadata_json": _json_text(metadata),
        "trace_id": context.trace_id,
        "request_id": context.request_id,
        "source": context.source,
    }


def build_envelope_row(
    *,
    context: AuditContext,
    event_type: str,
    metadata: dict[str, Any] | None = None,
    module: str | None = None,
    action: str | None = None,
    status: str | None = None,
    resource_type: str | None = None,
    resource_id: str | None = None,
    batch_id: str | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    **extra_fields: Any,
) -> dict[str, Any]:
    """0.1.3's row builder: the envelope row plus every non-None extra field as a column."""
    row = build_envelope(
        context=context,
        module=module or event_type.split(".", 1)[0],
        event_type=event_type,
        action=action,
        status=status,
        resource_type=resource_type,
        resource_id=resource_id,
        batch_id=batch_id,
        before=before,
        after=after,
        metadata=metadata,
    )
    row.update({key: value for key, value in extra_fields.items() if value is not None})
    return row


def actor_fields(context: AuditContext, *, include_logged_at: bool = False) -> dict[str, Any]:
    """1.0.35's helper: app, environment, actor_uid, actor_email (+ app_version, logged_at)."""
    fields: dict[str, Any] = {
        "app": context.app,
        "environment": context.environment,
        "actor_uid": context.actor_uid,
        "actor_email": context.actor_email,
    }
    if context.app_version and context.app_version.strip():
        fields["app_version"] = context.app_version
    if include_logged_at:
        fields["logged_at"] = utc_now_iso()
    return fields
