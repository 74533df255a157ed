"""Stand-ins: a small, always-encodable line for an event the publisher cannot send as given.

Two cases reach here: an envelope over the 1 MiB limit (a 16 MiB payload would
make a message Pub/Sub refuses, retried for ever while it holds up everything
behind it), and an event whose fields could not be encoded at all (a context
of the wrong type, an argument whose ``__str__`` raises). Either way the event
is not dropped: its stand-in keeps the id, type, time and the context's own
fields, says why in ``build_error`` (``envelope_too_large: ...`` or
``unencodable: ...``), and is published like any invalid event, so the
subscriber dead-letters it with that reason and the count of published events
still adds up.

Building one never raises: every value is checked for its type and cut to a
bounded length here, and only strings that encode as UTF-8 are kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final

from il_audit.publisher._fast_encode import timestamp_text
from il_audit.publisher._ids import new_event_id
from il_audit.publisher.context import CONTEXT_FIELDS, AuditContext
from il_audit.publisher.privacy import EmailPseudonyms
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES
from il_audit.schemas.taxonomy import MAX_EVENT_TYPE_LENGTH
from il_audit.schemas.wire import SCHEMA_VERSION

MAX_VALUE_CHARS: Final = 1024
"""Longest string a stand-in keeps (the envelope's limits are lower: nothing valid is cut)."""
MAX_REASON_CHARS: Final = 256
"""``build_error`` is a 256-character label."""


def _text(value: Any, limit: int = MAX_VALUE_CHARS) -> str | None:
    """``value`` when it is a string that encodes as UTF-8, cut to ``limit``; else None."""
    if type(value) is not str or not value:
        return None
    text = value[:limit]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: no JSON reader would take it
        return None
    return text


def too_large_reason(size: int) -> str:
    """``build_error`` of a stand-in for an envelope of ``size`` bytes."""
    return f"envelope_too_large: {size} bytes is over the {MAX_ENVELOPE_BYTES}-byte envelope limit"


def unencodable_reason(error: BaseException) -> str:
    """``build_error`` of a stand-in for an event whose encoding raised ``error``."""
    return f"unencodable: {type(error).__name__} while encoding the event's fields"


def stand_in_line(
    event_id: object,
    time_ns: int,
    event_type: object,
    context: object,
    fallbacks: Mapping[str, str | int | None],
    reason: str,
    *,
    emails: EmailPseudonyms | None = None,
) -> tuple[bytes, str, str | None, str | None]:
    """The stand-in's NDJSON line, and its event id, app and event type; never raises.

    It keeps the id, type and time, the context's string fields (its e-mail
    pseudonymised by ``emails`` when given), ``fallbacks`` (app, environment, ...)
    for what the context lacks, and ``reason`` as ``build_error``.
    """
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": _text(event_id, 128) or new_event_id(time_ns),
        "occurred_at": timestamp_text(time_ns),
    }
    kind = _text(event_type, MAX_EVENT_TYPE_LENGTH)
    if kind is not None:
        data["event_type"] = kind
        data["module"] = kind.split(".", 1)[0]
    if isinstance(context, AuditContext):
        for name in CONTEXT_FIELDS:
            value = _text(getattr(context, name, None))
            if value is not None:
                data[name] = value
    if emails is not None:
        emails.apply(data)  # _text kept only UTF-8-encodable text: hashing it cannot raise
    for name, fallback in fallbacks.items():
        if name not in data and fallback:
            data[name] = fallback
    data["build_error"] = reason[:MAX_REASON_CHARS]
    line = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return line, data["event_id"], data.get("app"), kind
