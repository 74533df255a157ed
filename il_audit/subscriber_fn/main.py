"""Cloud Function entry point: ``handle_pubsub``, a CloudEvent function for Pub/Sub.

Deploy (gen2, Eventarc Pub/Sub trigger) with ``--entry-point=handle_pubsub``,
or run locally::

    functions-framework --source il_audit/subscriber_fn/main.py \\
        --target handle_pubsub --signature-type cloudevent

functions-framework turns an emulator's raw push request into the same
CloudEvent. Imports are absolute, so this file works as ``--source`` on its
own as long as the ``il-audit[subscriber]`` package is installed.

Returning acknowledges the message; raising makes Pub/Sub retry it. Push
treats every non-2xx answer as a nack, so poison of every shape (a missing or
malformed message, attributes that are not strings, data that is not base64)
is dead-lettered with its own error class and acknowledged; only a
:class:`~il_audit.subscriber_fn.errors.TransientError` answers 5xx. A request
that is not a CloudEvent at all (Pub/Sub never sends one) gets a 400.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import functions_framework
from cloudevents.http import CloudEvent
from werkzeug.exceptions import HTTPException

from il_audit.schemas.wire import ascii_int
from il_audit.subscriber_fn import cloud_logging
from il_audit.subscriber_fn.core import ErrorClass, MessageMeta, Reject
from il_audit.subscriber_fn.errors import TransientError
from il_audit.subscriber_fn.pipeline import default_pipeline

cloud_logging.install()
logger = logging.getLogger("il_audit.subscriber_fn")

MAX_DELIVERY_ATTEMPT: Final = 1_000_000
"""Pub/Sub stops at ``max_delivery_attempts`` (at most 100); a larger count is not one."""


@dataclass(frozen=True, slots=True)
class PushedMessage:
    """What a CloudEvent's data says about one Pub/Sub message.

    ``reject`` is set when the message itself is malformed: then the whole
    message is dead-lettered and ``data`` is not processed.
    """

    data: bytes
    attributes: dict[str, str]
    meta: MessageMeta
    reject: Reject | None = None


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _as_bytes(value: Any) -> bytes:
    """Any JSON value as bytes, to keep it in a dead letter."""
    try:
        text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=repr)
    except (TypeError, ValueError):
        text = repr(value)
    return text.encode("utf-8", "backslashreplace")


def _identifier(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value) or None


def _delivery_attempt(value: Any) -> int | None:
    """A delivery attempt from 1 to :data:`MAX_DELIVERY_ATTEMPT`, or None for anything else.

    Strings must be ASCII digits: ``str.isdigit()`` accepts ``"²"``, which ``int()``
    refuses, and ``int()`` refuses 5,000 digits; either escaped as a 400.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value <= MAX_DELIVERY_ATTEMPT else None
    if isinstance(value, str):
        attempt = ascii_int(value, MAX_DELIVERY_ATTEMPT)
        return attempt if attempt else None
    return None


def _meta(body: dict[str, Any], message: dict[str, Any], event_id: str | None) -> MessageMeta:
    attempt = body.get("deliveryAttempt", message.get("deliveryAttempt"))
    subscription = body.get("subscription")
    return MessageMeta(
        # Eventarc sets the CloudEvent id to the Pub/Sub message id.
        message_id=_identifier(message.get("messageId"))
        or _identifier(message.get("message_id"))
        or event_id,
        publish_time=_parse_time(message.get("publishTime") or message.get("publish_time")),
        delivery_attempt=_delivery_attempt(attempt),
        subscription=subscription if isinstance(subscription, str) else None,
    )


def _attributes(raw: Any) -> tuple[dict[str, str], str | None]:
    """The attributes, and what is wrong with them (strings are kept either way)."""
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        return {}, f"attributes are a JSON {type(raw).__name__}, not an object"
    kept = {key: value for key, value in raw.items() if isinstance(value, str)}
    if len(kept) != len(raw):
        bad = sorted(str(key) for key in raw if key not in kept)[:5]
        return kept, f"attribute values are not strings: {', '.join(bad)}"
    return kept, None


def _data(message: dict[str, Any]) -> tuple[bytes, str | None]:
    """The decoded data, and what is wrong with it."""
    if "data" not in message:
        return b"", None  # attributes-only message: the core rejects it as empty
    encoded = message["data"]
    if encoded is None:
        return b"", "data is null"
    if not isinstance(encoded, str):
        return _as_bytes(encoded), f"data is a JSON {type(encoded).__name__}, not a string"
    try:
        return base64.b64decode(encoded, validate=True), None
    except (binascii.Error, ValueError):
        return encoded.encode("utf-8", "backslashreplace"), "data is not base64"


def decode_event(event_data: Any, event_id: str | None = None) -> PushedMessage:
    """The Pub/Sub message inside a CloudEvent's data; never raises, whatever the shape."""
    body = event_data if isinstance(event_data, dict) else None
    message = body.get("message") if body is not None else None
    if body is None or not isinstance(message, dict):
        detail = (
            "the event data is not a JSON object"
            if body is None
            else "the event data has no message"
            if message is None
            else f"the message is a JSON {type(message).__name__}, not an object"
        )
        reject = Reject(ErrorClass.MALFORMED_MESSAGE, detail, _as_bytes(event_data), None)
        return PushedMessage(b"", {}, MessageMeta(message_id=event_id), reject)
    meta = _meta(body, message, event_id)
    attributes, attributes_problem = _attributes(message.get("attributes"))
    data, data_problem = _data(message)
    if data_problem is not None:
        reject = Reject(ErrorClass.MALFORMED_DATA, data_problem, data or _as_bytes(None), None)
        return PushedMessage(data, attributes, meta, reject)
    if attributes_problem is not None:
        raw = data or _as_bytes(message.get("attributes"))
        reject = Reject(ErrorClass.MALFORMED_ATTRIBUTES, attributes_problem, raw, None)
        return PushedMessage(data, attributes, meta, reject)
    return PushedMessage(data, attributes, meta)


@functions_framework.cloud_event
def handle_pubsub(cloud_event: CloudEvent) -> None:
    """Validate, price and store one Pub/Sub message; raise to have it redelivered.

    Returns (acknowledges) or raises :class:`TransientError`, whatever the data.
    """
    event_id = cloud_event.get("id")
    pushed = decode_event(cloud_event.data, event_id if isinstance(event_id, str) else None)
    try:
        pipeline = default_pipeline()
        if pushed.reject is not None:
            outcome = pipeline.dead_letter_message(pushed.reject, pushed.attributes, pushed.meta)
        else:
            outcome = pipeline.handle(pushed.data, pushed.attributes, pushed.meta)
    except TransientError:
        raise
    except Exception as exc:
        # A bug, not poison: fail so Pub/Sub retries and finally dead-letters the message
        # whole, ready for replay once fixed. Acknowledging here would lose it.
        logger.exception("il-audit: unexpected failure on message %s", pushed.meta.message_id)
        raise TransientError(f"unexpected failure: {type(exc).__name__}") from exc
    logger.info(
        "il-audit: message %s: %d accepted, %d dead-lettered",
        pushed.meta.message_id,
        outcome.accepted,
        outcome.rejected,
    )


def _answer_errors(error: Exception) -> Any:
    """5xx only for transient failures; a request that is no CloudEvent at all gets a 400."""
    if isinstance(error, HTTPException):
        return error
    if isinstance(error, TransientError):
        # Logged here (Flask stays quiet once a handler takes the error): one ERROR line
        # per failed delivery attempt, with the cause, never the payload.
        logger.error("il-audit: transient failure, Pub/Sub will retry: %s", error, exc_info=error)
        return "transient failure; retry later", 500
    # functions-framework's conversion of a non-CloudEvent body failed (our function
    # never lets anything else escape). The body is not echoed back.
    logger.warning(
        "il-audit: refused a request that is not a CloudEvent (%s)", type(error).__name__
    )
    return "not a Pub/Sub CloudEvent", 400


def install_error_handler() -> None:
    """Register :func:`_answer_errors` on the app functions-framework is building.

    functions-framework points ``errorhandler`` at the app it creates before it
    loads the function's source, so this runs when this module is first
    imported there. An app that already served requests (a test process that
    created several) cannot take new handlers; it keeps Flask's defaults.
    """
    try:
        functions_framework.errorhandler(Exception)(_answer_errors)
    except AssertionError:
        logger.debug("il-audit: the Flask app already started; error handler not installed")


install_error_handler()
