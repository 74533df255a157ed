"""Cloud Function entry point: ``handle_pubsub``, a CloudEvent function for Pub/Sub.

Deploy (gen2, Eventarc Pub/Sub trigger) with ``--entry-point=handle_pubsub``,
or run locally::

    functions-framework --source il_audit/subscriber_fn/main.py \\
        --target handle_pubsub --signature-type cloudevent

functions-framework turns an emulator's raw push request into the same
CloudEvent. Imports are absolute, so this file works as ``--source`` on its
own as long as the ``il-audit[subscriber]`` package is installed.

Returning acknowledges the message; raising makes Pub/Sub retry it (only
transient failures raise: poison is dead-lettered and acknowledged).
"""

from __future__ import annotations

import base64
import binascii
import logging
from datetime import datetime
from typing import Any

import functions_framework
from cloudevents.http import CloudEvent

from il_audit.subscriber_fn import cloud_logging
from il_audit.subscriber_fn.core import MessageMeta
from il_audit.subscriber_fn.pipeline import default_pipeline

cloud_logging.install()
logger = logging.getLogger("il_audit.subscriber_fn")


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def decode_event(event_data: Any) -> tuple[bytes, dict[str, str], MessageMeta]:
    """Data, attributes and metadata of the Pub/Sub message inside a CloudEvent's data."""
    body = event_data if isinstance(event_data, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), dict) else {}
    assert isinstance(message, dict)
    encoded = message.get("data") or ""
    try:
        data = base64.b64decode(encoded, validate=True) if encoded else b""
    except (binascii.Error, ValueError, TypeError):
        # Not base64: keep what arrived, so the core dead-letters it as undecodable.
        data = encoded.encode("utf-8", "backslashreplace") if isinstance(encoded, str) else b""
    raw_attributes = message.get("attributes") or {}
    attributes = {str(key): str(value) for key, value in dict(raw_attributes).items()}
    attempt = str(body.get("deliveryAttempt", message.get("deliveryAttempt")) or "")
    subscription = body.get("subscription")
    meta = MessageMeta(
        message_id=str(message.get("messageId") or message.get("message_id") or "") or None,
        publish_time=_parse_time(message.get("publishTime") or message.get("publish_time")),
        delivery_attempt=int(attempt) if attempt.isdigit() else None,
        subscription=subscription if isinstance(subscription, str) else None,
    )
    return data, attributes, meta


@functions_framework.cloud_event
def handle_pubsub(cloud_event: CloudEvent) -> None:
    """Validate, price and store one Pub/Sub message; raise to have it redelivered."""
    data, attributes, meta = decode_event(cloud_event.data)
    outcome = default_pipeline().handle(data, attributes, meta)
    logger.info(
        "il-audit: message %s: %d accepted, %d dead-lettered",
        meta.message_id,
        outcome.accepted,
        outcome.rejected,
    )
