"""Turn what ``emit()`` captured into one NDJSON line, off the caller's thread.

A valid event becomes its compact envelope JSON. An invalid one (a bad field,
an unknown event type, too large) is still encoded, as leniently as possible,
and published: the subscriber then dead-letters it with its reason, so a bug
in a host app loses nothing and shows up where operators look.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any, Final, NamedTuple

from pydantic import ValidationError

from il_audit.config.settings import AuditSettings
from il_audit.publisher._capture import Captured
from il_audit.publisher._fast_encode import fast_line, fast_payload, timestamp_text
from il_audit.publisher._standin import stand_in_line, too_large_reason, unencodable_reason
from il_audit.publisher.context import AuditContext
from il_audit.publisher.privacy import EmailPseudonyms, QuestionPolicy
from il_audit.schemas.envelope import (
    ENVELOPE_FIELDS,
    MAX_ENVELOPE_BYTES,
    PUBLISHER_INVALID,
    Envelope,
    describe_validation_error,
    envelope_json,
)
from il_audit.schemas.taxonomy import is_known
from il_audit.schemas.wire import SCHEMA_VERSION

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
UNKNOWN_APP: Final = "unknown"
DEFAULT_SOURCE: Final = "api"


@dataclass(frozen=True, slots=True)
class ContextDefaults:
    """Values used when neither the context nor the call gives them."""

    app: str | None
    environment: str | None
    app_version: str | None = None
    questions: QuestionPolicy = field(default_factory=lambda: QuestionPolicy(store_text=True))
    """How a payload's ``question`` is kept (IL_AUDIT_STORE_QUERY_TEXT, IL_AUDIT_HASH_KEY)."""
    emails: EmailPseudonyms | None = None
    """IL_AUDIT_PSEUDONYMIZE_EMAIL: how ``actor_email`` is replaced; None keeps it as given."""
    instance_id: str | None = None
    """``publisher_instance_id`` of the events this publisher numbers (None: not numbered)."""

    @classmethod
    def from_settings(
        cls,
        settings: AuditSettings,
        *,
        project: str | None = None,
        instance_id: str | None = None,
    ) -> ContextDefaults:
        """The defaults the settings give (IL_AUDIT_APP, the environment label, ...);
        ``project``: the one events go to, when no project variable names it;
        ``instance_id``: the publisher instance that numbers the events."""
        key = settings.hash_key.get_secret_value() if settings.hash_key else None
        emails = None
        if settings.pseudonymize_email:
            emails = EmailPseudonyms(key or None, settings.hash_key_id)
        return cls(
            settings.app,
            settings.environment_for(project),
            settings.app_version,
            QuestionPolicy(store_text=settings.store_query_text, hash_key=key or None),
            emails,
            instance_id,
        )


class Encoded(NamedTuple):
    """One encoded event: its NDJSON line and what the message attributes need.

    A NamedTuple because one is built per event on the hot path.
    """

    line: bytes
    event_id: str
    app: str | None
    event_type: str | None
    problem: str | None = None
    """Why the event is invalid (``None`` when valid); never contains field values."""


def occurred_at_from_ns(time_ns: int) -> datetime:
    """Exact UTC datetime (microsecond precision) for Unix nanoseconds."""
    return _EPOCH + timedelta(microseconds=time_ns // 1000)


def envelope_fields(
    captured: Captured, defaults: ContextDefaults, sequence: int | None = None
) -> dict[str, Any]:
    """The envelope's fields as a dict: context, then the call's keywords, then defaults.

    Keywords that are not envelope fields go into ``payload`` (as the seed
    library's domain fields did); ``None`` keywords are left out. A payload
    ``question`` is kept, hashed or dropped by the question policy, and the actor's
    e-mail pseudonymised when asked: here, because every path (the cached head, the
    fast line, pydantic, the lenient line) starts from this dict, whichever way the
    e-mail came in (keyword, context, beacon actor, chat helpers).
    ``occurred_at`` is its wire text (the full path turns it into a datetime).
    The publisher's numbering (``defaults.instance_id``, ``sequence``) comes last,
    so a caller's keyword of the same name never replaces it.
    """
    event_id, time_ns, event_type, context, fields = captured
    data: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "event_id": event_id,
        "event_type": event_type,
        "occurred_at": timestamp_text(time_ns),
    }
    if context is not None:
        data.update(context.envelope_fields)
    extras = _split_keywords(fields, data)
    if extras:
        payload = data.get("payload", {})
        if isinstance(payload, dict):
            data["payload"] = {**payload, **extras}
        else:
            # payload= that is not an object, with other payload keywords: the event is
            # invalid (payload must be an object) and both are kept, side by side, for the
            # dead letter; the model names the payload as the problem.
            data.update(extras)
    payload = data.get("payload")
    if isinstance(payload, dict) and payload:
        data["payload"] = defaults.questions.apply(payload)
    if defaults.emails is not None:  # off: one attribute read on this path
        defaults.emails.apply(data)
    _apply_defaults(data, event_type, defaults)
    if defaults.instance_id is not None:
        data["publisher_instance_id"] = defaults.instance_id
    if sequence is not None:
        data["publisher_sequence"] = sequence
    return data


def _apply_defaults(data: dict[str, Any], event_type: Any, defaults: ContextDefaults) -> None:
    """The head fields neither the context nor the call gave, from the settings."""
    if "app" not in data:
        data["app"] = defaults.app or UNKNOWN_APP
    if "environment" not in data and defaults.environment:
        data["environment"] = defaults.environment
    if "app_version" not in data and defaults.app_version:
        data["app_version"] = defaults.app_version
    if "module" not in data and isinstance(event_type, str):
        data["module"] = event_type.split(".", 1)[0]
    if "source" not in data:
        data["source"] = DEFAULT_SOURCE


def _payload_only(fields: dict[str, Any]) -> bool:
    """Whether every keyword belongs in ``payload`` as it is (no envelope field, no None)."""
    try:
        return ENVELOPE_FIELDS.isdisjoint(fields) and None not in fields.values()
    except Exception:  # noqa: BLE001 - a value whose == raises (an array): the slow path
        return False


def _split_keywords(fields: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Move envelope keywords into ``data``; return the others (the payload's), Nones dropped."""
    if fields and _payload_only(fields):
        return fields  # the usual call: payload keywords only; the publisher owns this dict
    extras: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if key in ENVELOPE_FIELDS:
            data[key] = value
        else:
            extras[key] = value
    return extras


_HEADS_MAX: Final = 1024
_heads: dict[tuple[int, str], tuple[AuditContext | None, ContextDefaults, bytes, str]] = {}
"""Per (context, event type): everything but the id, time and payload, checked and written once.

Keyed by the context's ``id`` and checked by identity (a context is immutable),
so a hit costs one dict lookup.
"""
_seen: dict[tuple[int, str], object] = {}
"""Keys seen once, with their context: the second sighting builds the head."""
_refused: set[tuple[int, str]] = set()
"""Keys whose head the fast path does not take (a stale one only costs the slower path)."""


def _head(
    context: AuditContext | None, event_type: str, defaults: ContextDefaults
) -> tuple[bytes, str] | None:
    """The line's opening (``{...,`` without id, time, payload) and the app, or None."""
    key = (id(context), event_type)
    entry = _heads.get(key)
    if entry is not None and entry[0] is context and entry[1] is defaults:
        return entry[2], entry[3]
    if key in _refused:
        return None
    if _seen.get(key, _seen) is not context:
        # First sighting: a context made for one request may never come back, so the
        # head is built only when it does (the slower path is no slower than before).
        if len(_seen) >= _HEADS_MAX:
            _seen.clear()
        _seen[key] = context
        return None
    data = envelope_fields(("", 0, event_type, context, {}), defaults)
    del data["event_id"], data["occurred_at"]
    line = fast_line(data) if isinstance(data.get("app"), str) else None
    if len(_heads) >= _HEADS_MAX or len(_refused) >= _HEADS_MAX:
        _heads.clear()
        _refused.clear()
    if line is None or "payload" in data:
        _refused.add(key)
        return None
    opening, app = line[:-1] + b",", data["app"]
    _heads[key] = (context, defaults, opening, app)
    return opening, app


def _fast_event(
    captured: Captured, defaults: ContextDefaults, sequence: int | None
) -> Encoded | None:
    """The usual event (payload keywords only, our id and time) from its cached head.

    The head may hold the instance id (one per ``defaults``), never the sequence.
    """
    event_id, time_ns, event_type, context, fields = captured
    if fields and not _payload_only(fields):
        return None
    if type(event_type) is not str or not is_known(event_type):
        return None
    head = _head(context, event_type, defaults)
    if head is None:
        return None
    opening, app = head
    stamp = f'"event_id":"{event_id}","occurred_at":"{timestamp_text(time_ns)}"'.encode()
    if sequence is not None:
        stamp += b',"publisher_sequence":%d' % sequence
    if fields:
        payload = fast_payload(defaults.questions.apply(fields))
        if payload is None:
            return None
        line = b"".join((opening, stamp, b',"payload":', payload, b"}"))
    else:
        line = b"".join((opening, stamp, b"}"))
    return Encoded(line, event_id, app, event_type)  # encode() checks the size


def encode(
    captured: Captured,
    defaults: ContextDefaults,
    *,
    full: bool = False,
    sequence: int | None = None,
) -> Encoded:
    """Check and serialize one captured event; never raises, whatever the caller passed.

    ``sequence``: the number ``emit()`` gave the event (``publisher_sequence``), on
    every path, stand-ins included, so that a dead-lettered event is accounted for.

    See :func:`_encode_event` for the paths. An event whose encoding raises (a
    context of the wrong type, a value whose ``__str__`` raises) or whose line
    is over :data:`MAX_ENVELOPE_BYTES` is replaced by a small invalid stand-in
    that keeps its id, type, time and context (:mod:`._standin`), so no message
    ever exceeds what Pub/Sub accepts and the event is still dead-lettered.
    """
    try:
        encoded = _encode_event(captured, defaults, full=full, sequence=sequence)
    except Exception as exc:  # noqa: BLE001 - a careless argument must not wedge the worker
        return _stand_in(captured, defaults, unencodable_reason(exc), sequence)
    if len(encoded.line) > MAX_ENVELOPE_BYTES:
        return _stand_in(captured, defaults, too_large_reason(len(encoded.line)), sequence)
    return encoded


def _stand_in(
    captured: Captured, defaults: ContextDefaults, reason: str, sequence: int | None
) -> Encoded:
    event_id, time_ns, event_type, context, _fields = captured
    fallbacks = {
        "app": defaults.app or UNKNOWN_APP,
        "environment": defaults.environment,
        "app_version": defaults.app_version,
        "source": DEFAULT_SOURCE,
        "publisher_instance_id": defaults.instance_id,
        "publisher_sequence": sequence,
    }
    line, stand_in_id, app, kind = stand_in_line(
        event_id, time_ns, event_type, context, fallbacks, reason, emails=defaults.emails
    )
    return Encoded(line, stand_in_id, app, kind, f"envelope: {reason}; sent as a stand-in")


def _encode_event(
    captured: Captured, defaults: ContextDefaults, *, full: bool, sequence: int | None
) -> Encoded:
    """Check and serialize one captured event; raises only for what cannot be encoded at all.

    The usual event (payload keywords, the publisher's own id and time) is its
    context's cached head plus orjson of the payload (:func:`_fast_event`);
    other common events take the fast check of
    :mod:`~il_audit.publisher._fast_encode`; anything neither accepts, and
    every event when ``full`` (strict mode, ``capture_events()``), is validated
    as an :class:`Envelope` model, which names what is wrong.
    """
    if not full and "event_id" not in captured[4]:
        fast = _fast_event(captured, defaults, sequence)
        if fast is not None:
            return fast
    data = envelope_fields(captured, defaults, sequence)
    fields = captured[4]
    own_time = "occurred_at" not in fields  # a caller's (a builder's) is checked in full
    if own_time and not full:
        line = fast_line(data, own_id="event_id" not in fields)
        if line is not None:
            return _checked(line, data)
    if own_time:
        data["occurred_at"] = occurred_at_from_ns(captured[1])
    try:
        envelope = Envelope.model_validate(data)
    except ValidationError as exc:
        return _lenient(data, describe_validation_error(exc))
    if envelope.build_error is not None:
        return _encoded(
            envelope_json(envelope),
            data,
            f"builder: the builder registered for {envelope.event_type!r} raised "
            f"{envelope.build_error}",
        )
    if not is_known(envelope.event_type):
        return _lenient(data, _unknown_type(envelope.event_type), refused=False)
    try:
        line = envelope_json(envelope)
    except ValueError as exc:  # e.g. a lone surrogate in a string
        return _lenient(data, f"envelope: cannot be serialized ({type(exc).__name__})")
    return Encoded(line, envelope.event_id, envelope.app, envelope.event_type)


def _checked(line: bytes, data: dict[str, Any]) -> Encoded:
    """A fast-path line, with what the model would not decide: the type (size: see encode)."""
    event_type = data["event_type"]
    if not is_known(event_type):
        return _encoded(line, data, _unknown_type(event_type))
    return Encoded(line, data["event_id"], data["app"], event_type)


def _unknown_type(event_type: str) -> str:
    return (
        f"event_type: unknown event type {event_type!r} "
        "(register it with il_audit.taxonomy.register and IL_AUDIT_EXTRA_EVENT_TYPES)"
    )


def _encoded(line: bytes, data: dict[str, Any], problem: str) -> Encoded:
    app = data.get("app")
    event_type = data.get("event_type")
    return Encoded(
        line,
        data["event_id"],
        app if isinstance(app, str) else None,
        event_type if isinstance(event_type, str) else None,
        problem,
    )


def _lenient(data: dict[str, Any], problem: str, *, refused: bool = True) -> Encoded:
    """Encode whatever we can, so the subscriber can dead-letter it with its reason.

    ``refused``: the model refused the event, so ``build_error`` carries that verdict
    (``invalid: ...``), unless a builder's error is there already. Without it the
    fallbacks below could write a refused value as a valid one (``Decimal`` as a
    string) and the subscriber would store what was counted invalid here. An unknown
    event type is not refused: the subscriber's own list of host types decides it.
    """
    if refused and not isinstance(data.get("build_error"), str):
        data = {**data, "build_error": f"{PUBLISHER_INVALID}: {problem}"[:256]}
    try:
        text = _dumps(data)
    except (TypeError, ValueError):  # non-string keys, circular references
        text = _dumps(_sanitized(data, depth=0))
    return _encoded(text.encode("utf-8", "backslashreplace"), data, problem)


def _dumps(value: Any) -> str:
    return json.dumps(
        value, default=_json_fallback, ensure_ascii=False, separators=(",", ":"), allow_nan=True
    )


def _sanitized(value: Any, depth: int) -> Any:
    if depth > 32:
        return "<too deep>"
    if isinstance(value, dict):
        return {str(key): _sanitized(item, depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_sanitized(item, depth + 1) for item in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return _json_fallback(value)


def _json_fallback(value: Any) -> Any:
    """Best-effort JSON for what the strict model refused, so the line can be dead-lettered."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.isoformat()
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, AuditContext):
        return value.as_fields()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return repr(value)[:1024]
