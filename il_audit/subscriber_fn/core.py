"""The pure core: one Pub/Sub message in, rows for ``events`` and rejects out. No I/O.

``process_message(data, meta, catalog, now)`` splits the NDJSON body into
lines (``il_audit.schemas.wire``) and treats each on its own: a line becomes exactly one event
row or exactly one reject, so one bad line never blocks its neighbours.
Blank lines carry nothing and are skipped; a message with no non-blank line at
all is one reject (``empty_message``).

What one message can cost is bounded. A body over ``MAX_LINES_PER_MESSAGE``
lines is not read: it is one reject (``too_many_lines``) and nothing of it is
stored. A message with more rejected lines than ``max_rejects`` keeps its
accepted rows, and its rejects become one reject of the whole message as
received (``too_many_rejects``, with the counts); rejects past the cap are only
counted, never kept.

Envelopes are read tolerantly (the wire contract's evolution rule): a
top-level field this version does not know is kept in ``payload`` under its
own name and listed in the row's ``unknown_fields``, never rejected.

Rejects are poison: retrying cannot fix them. The edges (Cloud Function,
embedded mode) record them in ``dead_letters`` and on the dead-letter topic.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final

from pydantic import ValidationError

from il_audit.schemas.envelope import (
    MAX_ENVELOPE_BYTES,
    PUBLISHER_TOO_LARGE,
    IncomingEnvelope,
    describe_validation_error,
    publisher_code,
)
from il_audit.schemas.errors import MalformedBodyError
from il_audit.schemas.rows import MAX_ERROR_DETAIL_CHARS, MAX_RAW_LINE_CHARS
from il_audit.schemas.taxonomy import is_known
from il_audit.schemas.wire import MAX_LINES_PER_MESSAGE, line_total, message_body, split_lines
from il_audit.subscriber_fn.pricing import PricingCatalog, price_usage

logger = logging.getLogger(__name__)


class ErrorClass(StrEnum):
    """Why a line was rejected; stable values stored in ``dead_letters.error_class``."""

    UNDECODABLE = "undecodable"
    """Not UTF-8."""
    INVALID_JSON = "invalid_json"
    """Not JSON, or not a JSON object."""
    SCHEMA_VIOLATION = "schema_violation"
    """JSON, but not a valid envelope (missing or unknown fields, wrong types...), or the
    publisher's stand-in for an event whose fields it could not encode."""
    UNKNOWN_EVENT_TYPE = "unknown_event_type"
    """A well-formed envelope whose event_type is not in the taxonomy."""
    OVERSIZE = "oversize"
    """A line over the 1 MiB envelope limit, or the publisher's stand-in for one."""
    EMPTY_MESSAGE = "empty_message"
    """A message without a single non-blank line."""
    SINK_REJECTED = "sink_rejected"
    """The warehouse refused the row permanently (set by the edges, not the core)."""
    INTERNAL_ERROR = "internal_error"
    """The core itself failed on the line (a bug): isolated so its neighbours still pass."""
    MALFORMED_MESSAGE = "malformed_message"
    """The push carried no Pub/Sub message, or one that is not a JSON object."""
    MALFORMED_ATTRIBUTES = "malformed_attributes"
    """The message's attributes are not an object of strings."""
    MALFORMED_DATA = "malformed_data"
    """The message's data is null, not a string, not base64, or gzip that does not inflate."""
    BUILDER_FAILED = "builder_failed"
    """The app's registered builder raised; the publisher sent the raw fields to keep them."""
    TOO_MANY_REJECTS = "too_many_rejects"
    """More lines of the message were rejected than the cap: the whole message, once."""
    TOO_MANY_LINES = "too_many_lines"
    """The body has more lines than a message may hold: the whole message, unread."""


DEFAULT_MAX_REJECTS: Final = 500
"""Rejects kept per message unless told otherwise (``IL_AUDIT_MAX_REJECTS_PER_MESSAGE``): the
events the publisher packs per message by default, so that a message of ours whose every
line is refused (a type the subscriber does not know yet) is still dead-lettered line by line."""
_CLASSES_IN_DETAIL: Final = 5


@dataclass(frozen=True, slots=True)
class MessageMeta:
    """What Pub/Sub says about a message besides its data and attributes."""

    message_id: str | None = None
    publish_time: datetime | None = None
    delivery_attempt: int | None = None
    subscription: str | None = None


@dataclass(frozen=True, slots=True)
class Reject:
    """A line (or whole message, ``line_index`` None) that cannot be accepted."""

    error_class: ErrorClass
    error_detail: str
    raw: bytes
    line_index: int | None
    event_id: str | None = None
    app: str | None = None
    event_type: str | None = None


@dataclass(slots=True)
class ProcessResult:
    """Rows for the events table and rejects, in line order."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    row_lines: list[int] = field(default_factory=list)
    """``row_lines[i]`` is the line index that produced ``rows[i]``."""
    raw_lines: list[bytes] = field(default_factory=list)
    """``raw_lines[i]`` is the raw line behind ``rows[i]`` (for sink rejections)."""
    lines: int = 0
    """Non-blank lines read."""
    rejected: int = 0
    """Lines rejected, past the cap too (``rejects`` then holds the one whole-message reject)."""
    reject_classes: Counter[str] = field(default_factory=Counter)
    """Error classes of the first rejected lines (up to the cap)."""


UNKNOWN_FIELDS_KEY: Final = "_unknown_fields"
"""Where an unknown top-level field goes when ``payload`` already has its name."""

_UNKNOWN_TYPE_HINT: Final = (
    " (host types must be listed in IL_AUDIT_EXTRA_EVENT_TYPES where the subscriber runs)"
)


def process_message(
    data: bytes,
    meta: MessageMeta,
    catalog: PricingCatalog,
    now: datetime,
    *,
    max_rejects: int = DEFAULT_MAX_REJECTS,
) -> ProcessResult:
    """Validate, price and shape every line of one message. Never raises for bad input."""
    result = ProcessResult()
    try:
        body = message_body(data)  # gzip bodies are inflated; NDJSON passes through
    except MalformedBodyError as exc:
        result.rejects.append(_reject(ErrorClass.MALFORMED_DATA, str(exc), data, None))
        return result
    total = line_total(body)
    if total > MAX_LINES_PER_MESSAGE:
        detail = f"{total} lines, over the limit of {MAX_LINES_PER_MESSAGE} per message"
        result.rejects.append(_reject(ErrorClass.TOO_MANY_LINES, detail, data, None))
        return result
    classes = result.reject_classes
    for index, line in split_lines(body):
        result.lines += 1
        try:
            outcome = process_line(line, index, meta, catalog, now)
        except Exception as exc:  # a bug must not block the good lines of the message
            logger.exception("il-audit: the core failed on line %d of %s", index, meta.message_id)
            outcome = _reject(
                ErrorClass.INTERNAL_ERROR,
                f"the subscriber failed: {type(exc).__name__}",
                line,
                index,
            )
        if isinstance(outcome, Reject):
            result.rejected += 1
            if result.rejected <= max_rejects:  # past the cap a reject is only counted
                result.rejects.append(outcome)
                classes[outcome.error_class.value] += 1
        else:
            result.rows.append(outcome)
            result.row_lines.append(index)
            result.raw_lines.append(line)
    if result.rejected > max_rejects:
        result.rejects = [
            too_many_rejects(data, result.rejected, result.lines, classes, max_rejects)
        ]
    elif not result.lines:
        result.rejects.append(
            Reject(ErrorClass.EMPTY_MESSAGE, "the message has no envelope lines", body, None)
        )
    return result


def too_many_rejects(
    data: bytes, rejected: int, lines: int, classes: Mapping[str, int], cap: int
) -> Reject:
    """The one reject of a message with more rejected lines than ``cap``: data as received.

    ``classes`` counts the error classes of the first rejects (up to ``cap`` of them).
    """
    ranked = sorted(classes.items(), key=lambda item: (-item[1], item[0]))
    first = ", ".join(f"{name} {count}" for name, count in ranked[:_CLASSES_IN_DETAIL])
    detail = (
        f"{rejected} of {lines} lines rejected, over the limit of {cap} per message; "
        f"the first {sum(classes.values())}: {first}"
    )
    return _reject(ErrorClass.TOO_MANY_REJECTS, detail, data, None)


def process_line(
    line: bytes,
    index: int,
    meta: MessageMeta,
    catalog: PricingCatalog,
    now: datetime,
) -> dict[str, Any] | Reject:
    """One NDJSON line to an events row, or a :class:`Reject` saying why not."""
    if len(line) > MAX_ENVELOPE_BYTES:
        return _reject(
            ErrorClass.OVERSIZE,
            f"{len(line)} bytes is over the {MAX_ENVELOPE_BYTES}-byte envelope limit",
            line,
            index,
        )
    try:
        envelope = IncomingEnvelope.model_validate_json(line)
    except ValidationError as exc:
        return _classify(exc, line, index)
    if envelope.build_error is not None:
        return _publisher_reject(
            envelope.build_error, line, index, envelope.event_id, envelope.app, envelope.event_type
        )
    if not is_known(envelope.event_type):
        return _reject(
            ErrorClass.UNKNOWN_EVENT_TYPE,
            f"event_type {envelope.event_type!r} is not in the taxonomy" + _UNKNOWN_TYPE_HINT,
            line,
            index,
            envelope.event_id,
            envelope.app,
            envelope.event_type,
        )
    # The validated fields as they are: model_dump would deep-copy payload and metadata,
    # and the envelope is dropped after this (pricing dumps the usage items itself).
    row = dict(envelope.__dict__)
    del row["usage"]
    extras = envelope.model_extra
    if extras:
        _keep_unknown_fields(row, extras)
    else:
        row["unknown_fields"] = []
    priced = price_usage(envelope.usage, envelope.occurred_at, catalog)
    row["usage"] = priced.usage
    row["cost_usd"] = priced.cost_usd
    row["pricing_source"] = priced.pricing_source
    row["rate_version"] = priced.rate_version
    row["pricing_status"] = priced.pricing_status
    row["ingested_at"] = now
    row["publish_time"] = meta.publish_time
    row["message_id"] = meta.message_id
    row["delivery_attempt"] = meta.delivery_attempt
    return row


def _keep_unknown_fields(row: dict[str, Any], extras: Mapping[str, Any]) -> None:
    """Move fields this version does not know into ``payload`` and list their names.

    ``model_dump`` put them at the top level of the row; a name already used in
    the payload keeps the payload's value, and the unknown one goes under
    ``payload["_unknown_fields"]`` instead, so nothing is lost.
    """
    payload = dict(row.get("payload") or {})
    for name, value in extras.items():
        row.pop(name, None)
        if name in payload:
            payload.setdefault(UNKNOWN_FIELDS_KEY, {})[name] = value
        else:
            payload[name] = value
    row["payload"] = payload
    row["unknown_fields"] = sorted(extras)


def _classify(error: ValidationError, line: bytes, index: int) -> Reject:
    first = error.errors(include_url=False, include_input=False)[0]
    if first["type"] == "json_invalid":
        try:
            line.decode("utf-8")
        except UnicodeDecodeError as exc:
            return _reject(
                ErrorClass.UNDECODABLE, f"not UTF-8: {exc.reason} at byte {exc.start}", line, index
            )
        return _reject(ErrorClass.INVALID_JSON, f"not JSON: {first['msg']}", line, index)
    if first["type"] == "model_type" and not first["loc"]:
        return _reject(ErrorClass.INVALID_JSON, "not a JSON object", line, index)
    event_id, app, event_type = readable_identity(line)
    build_error = _readable_build_error(line)
    if build_error is not None and publisher_code(build_error) is not None:
        # The publisher's verdict on an event it found invalid (or a stand-in whose own fields
        # are invalid too): its reason names the caller's mistake.
        return _publisher_reject(build_error, line, index, event_id, app, event_type)
    return _reject(
        ErrorClass.SCHEMA_VIOLATION,
        describe_validation_error(error),
        line,
        index,
        event_id,
        app,
        event_type,
    )


def _publisher_reject(
    build_error: str,
    line: bytes,
    index: int,
    event_id: str | None,
    app: str | None,
    event_type: str | None,
) -> Reject:
    """The reject for an event the publisher flagged: a builder's error, or its own verdict.

    A stand-in for an envelope over the limit is ``oversize``, as the same envelope
    would be here; an event the publisher found invalid, or a stand-in for one whose
    fields it could not encode, is a ``schema_violation``.
    """
    code = publisher_code(build_error)
    if code == PUBLISHER_TOO_LARGE:
        error_class, detail = ErrorClass.OVERSIZE, f"the publisher sent a stand-in: {build_error}"
    elif code is not None:
        error_class = ErrorClass.SCHEMA_VIOLATION
        detail = f"the publisher refused it: {build_error}"
    else:
        error_class = ErrorClass.BUILDER_FAILED
        detail = f"the builder registered for {event_type!r} raised {build_error}"
    return _reject(error_class, detail, line, index, event_id, app, event_type)


def _readable_build_error(line: bytes) -> str | None:
    """``build_error`` of a line that is a JSON object with it as a string (else None)."""
    if b'"build_error"' not in line:
        return None
    try:
        data = json.loads(line)
    except ValueError:
        return None
    value = data.get("build_error") if isinstance(data, dict) else None
    return value[:256] if isinstance(value, str) else None


def readable_identity(line: bytes) -> tuple[str | None, str | None, str | None]:
    """``event_id``, ``app`` and ``event_type`` of a line, where they are readable strings."""
    try:
        data = json.loads(line)
    except ValueError:
        return None, None, None
    if not isinstance(data, dict):
        return None, None, None
    values = []
    for key in ("event_id", "app", "event_type"):
        value = data.get(key)
        values.append(value[:256] if isinstance(value, str) else None)
    return values[0], values[1], values[2]


def _reject(
    error_class: ErrorClass,
    detail: str,
    line: bytes,
    index: int | None,
    event_id: str | None = None,
    app: str | None = None,
    event_type: str | None = None,
) -> Reject:
    return Reject(
        error_class, detail[:MAX_ERROR_DETAIL_CHARS], line, index, event_id, app, event_type
    )


def dead_letter_row(
    reject: Reject,
    attributes: Mapping[str, str],
    meta: MessageMeta,
    now: datetime,
) -> dict[str, Any]:
    """The ``dead_letters`` row for a reject.

    The raw bytes are kept as text (invalid UTF-8 escaped), cut to their first
    ``MAX_RAW_LINE_CHARS`` like a dead-letter message's data (``raw_truncated``);
    ``raw_bytes`` and ``raw_sha256`` describe the bytes before any cut.
    """
    text = reject.raw[:MAX_RAW_LINE_CHARS].decode("utf-8", "backslashreplace")
    truncated = len(reject.raw) > MAX_RAW_LINE_CHARS or len(text) > MAX_RAW_LINE_CHARS
    return {
        "dead_letter_id": dead_letter_id(reject, meta),
        "received_at": now,
        "error_class": reject.error_class.value,
        "error_detail": reject.error_detail,
        "message_id": meta.message_id,
        "publish_time": meta.publish_time,
        "delivery_attempt": meta.delivery_attempt,
        "line_index": reject.line_index,
        "event_id": reject.event_id,
        "app": reject.app,
        "event_type": reject.event_type,
        "raw_line": text[:MAX_RAW_LINE_CHARS],
        "raw_truncated": truncated,
        "raw_bytes": len(reject.raw),
        "raw_sha256": hashlib.sha256(reject.raw).hexdigest(),
        "attributes": dict(attributes) or None,
    }


def dead_letter_id(reject: Reject, meta: MessageMeta) -> str:
    """A stable id for a reject, so a redelivered message does not dead-letter twice."""
    if meta.message_id:
        return f"{meta.message_id}:{'m' if reject.line_index is None else reject.line_index}"
    return f"sha256:{hashlib.sha256(reject.raw).hexdigest()[:32]}:{reject.line_index}"
