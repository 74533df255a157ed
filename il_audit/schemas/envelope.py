"""The wire envelope: one flat JSON object per event, one per NDJSON line.

:class:`Envelope` is what publishers send: strict (unknown top-level fields
are errors, sizes are bounded), which is what the publisher's strict mode and
``capture_events()`` check. The subscriber reads :class:`IncomingEnvelope`,
the tolerant variant the wire contract's evolution rule asks for
(``il_audit.schemas.wire``): unknown top-level fields are kept, not refused;
everything else (types, sizes, required fields) is as strict. The
subscriber's additions (pricing, delivery metadata) live in ``rows.py``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from il_audit.schemas.errors import EnvelopeTooLargeError
from il_audit.schemas.taxonomy import EVENT_TYPE_PATTERN, MAX_EVENT_TYPE_LENGTH
from il_audit.schemas.wire import SCHEMA_VERSION

MAX_ENVELOPE_BYTES: Final = 1_048_576
"""A serialized envelope (one NDJSON line) larger than 1 MiB is invalid."""
MAX_USAGE_ITEMS: Final = 100
INT64_MAX: Final = 2**63 - 1
"""Largest value of an INT64 column."""
_NO_OFFSET: Final = timedelta(0)

Name = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Label = Annotated[str, StringConstraints(max_length=256)]
Identifier = Annotated[str, StringConstraints(max_length=1024)]
EventId = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]
Email = Annotated[str, StringConstraints(max_length=320)]
EmailPseudonym = Annotated[
    str, StringConstraints(max_length=97, pattern=r"^[A-Za-z0-9_.-]{1,32}:[0-9a-f]{64}$")
]
"""``<key id>:<HMAC-SHA-256 hex>`` of an e-mail (``IL_AUDIT_PSEUDONYMIZE_EMAIL``)."""
InstanceId = Annotated[
    str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$")
]
"""A publisher instance id: 32 hex digits from the publisher, any such token accepted."""
JsonObject = dict[str, Any]
"""A JSON object. Not ``JsonValue``: that validates every nested value through a
Python callback, which tripled the cost of an envelope; values that are not
JSON fail at serialization instead (publisher) or cannot occur (JSON input)."""
EventType = Annotated[
    str,
    StringConstraints(max_length=MAX_EVENT_TYPE_LENGTH, pattern=EVENT_TYPE_PATTERN.pattern),
]

ENVELOPE_STRICT = ConfigDict(
    extra="forbid",
    strict=True,
    frozen=True,
)


class Source(StrEnum):
    """The recommended values of ``source`` (any lowercase token is accepted)."""

    API = "api"
    BEACON = "beacon"
    JOB = "job"
    SCHEDULED_TASK = "scheduled_task"


SourceName = Annotated[str, StringConstraints(max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]
"""A lowercase token, e.g. ``api`` or the seed's ``pipeline``."""

STANDARD_TIER: Final = "standard"
"""The pricing tier of a usage item that names none, and the one every tier falls back to."""
BATCH_TIER: Final = "batch"
PricingTier = Annotated[str, StringConstraints(max_length=32, pattern=r"^[a-z][a-z0-9_]*$")]
"""A pricing tier: ``standard``, ``batch``, or another lowercase token the catalog uses."""


class UsageItem(BaseModel):
    """One metered item of an event: tokens of a model call, or a quantity of a unit.

    Publishers never price; the subscriber looks ``(service, model_id, pricing_tier)``
    up in the cost catalog at ``occurred_at`` (a tier the catalog lacks falls back to
    ``standard``).
    """

    model_config = ENVELOPE_STRICT

    service: Name = Field(description="Billable service, e.g. vertex_gemini, cloud_run.")
    operation: Label | None = Field(
        default=None, description="API operation, e.g. generate_content."
    )
    model_id: Label | None = Field(
        default=None, description="Model id or resource rate key (cost_rates.model_id)."
    )
    category: Label | None = Field(default=None, description="Caller's category, e.g. vision.")
    input_tokens: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="Prompt tokens at the input rate; excludes cached_input_tokens and "
        "cache_write_input_tokens when those are given.",
    )
    output_tokens: int | None = Field(
        default=None, ge=0, le=INT64_MAX, description="Completion tokens."
    )
    quantity: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Units consumed."
    )
    unit: Label | None = Field(default=None, description="Unit of quantity, e.g. vCPU_second.")
    tokens_estimated: bool = Field(default=False, description="Token counts are estimates.")
    latency_ms: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Call latency in ms."
    )
    pricing_tier: PricingTier | None = Field(
        default=None,
        description="Pricing tier of the call, e.g. standard or batch; null means standard.",
    )
    cached_input_tokens: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="Prompt tokens read from a cache, not in input_tokens; priced at the "
        "catalog's cached input price (the input price where it has none).",
    )
    cache_write_input_tokens: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="Prompt tokens written to a cache, not in input_tokens; priced at the "
        "catalog's cache write price (the input price where it has none).",
    )
    reasoning_tokens: int | None = Field(
        default=None,
        ge=0,
        le=INT64_MAX,
        description="Reasoning / thinking tokens, already part of output_tokens (noted only).",
    )


class Envelope(BaseModel):
    """One audit event as published: a flat JSON object with ``schema_version``."""

    model_config = ENVELOPE_STRICT

    schema_version: Literal[1] = Field(default=SCHEMA_VERSION, description="Envelope version.")
    event_id: EventId = Field(description="Unique, time-ordered id (UUIDv7); the insertId.")
    event_type: EventType = Field(description="Taxonomy value, lowercase dotted.")
    occurred_at: AwareDatetime = Field(description="When it happened (UTC).")
    app: Name = Field(description="Emitting application, e.g. ingest, chat.")
    environment: Label | None = Field(default=None, description="Deployment environment.")
    app_version: Label | None = Field(default=None, description="Version of the emitting app.")
    module: Label | None = Field(default=None, description="Module within the app.")
    actor_uid: Label | None = Field(default=None, description="Stable user id.")
    actor_email: Email | None = Field(default=None, description="User email when known.")
    trace_id: Label | None = Field(default=None, description="Distributed trace id.")
    request_id: Label | None = Field(default=None, description="Per-request id.")
    session_id: Label | None = Field(
        default=None, description="Session id, e.g. the chat conversation_session_id."
    )
    batch_id: Label | None = Field(default=None, description="Batch or job id.")
    correlation_id: Label | None = Field(default=None, description="Id of the correlated entity.")
    correlation_type: Label | None = Field(default=None, description="Kind of correlated entity.")
    action: Label | None = Field(default=None, description="Verb, e.g. login.")
    status: Label | None = Field(default=None, description="Outcome, e.g. succeeded.")
    resource_type: Label | None = Field(default=None, description="Kind of resource acted on.")
    resource_id: Identifier | None = Field(default=None, description="Id of the resource.")
    before: JsonObject | None = Field(default=None, description="State before a change.")
    after: JsonObject | None = Field(default=None, description="State after a change.")
    metadata: JsonObject | None = Field(default=None, description="Free-form context.")
    source: SourceName = Field(
        default="api",
        description="Origin, a lowercase token: api, beacon, job, scheduled_task recommended.",
    )
    payload: JsonObject | None = Field(default=None, description="Event-type-specific fields.")
    usage: list[UsageItem] = Field(
        default_factory=list, max_length=MAX_USAGE_ITEMS, description="Metered items."
    )
    build_error: Label | None = Field(
        default=None,
        description="Set by the publisher when it could not send the event as given: the "
        "class name of the exception its registered builder raised (the raw fields are kept); "
        "'invalid: ...' when it found the event invalid; on a stand-in for an event it could "
        "not send at all, 'envelope_too_large: ...' or 'unencodable: ...'. The subscriber "
        "dead-letters every such event.",
    )
    actor_email_hmac: EmailPseudonym | None = Field(
        default=None,
        description="With IL_AUDIT_PSEUDONYMIZE_EMAIL, instead of actor_email: '<key id>:' and "
        "the HMAC-SHA-256 under IL_AUDIT_HASH_KEY of the trimmed, lowercased e-mail.",
    )
    publisher_instance_id: InstanceId | None = Field(
        default=None,
        description="Random id of the publisher instance (one per process, new after fork) "
        "that numbered the event; with publisher_sequence it shows loss before ingestion.",
    )
    publisher_sequence: int | None = Field(
        default=None,
        ge=1,
        le=INT64_MAX,
        description="The event's number within its publisher instance, from 1, given when "
        "emit() took it (the pipeline_completeness view counts the numbers missing).",
    )

    @field_validator("occurred_at")
    @classmethod
    def _occurred_at_in_utc(cls, value: datetime) -> datetime:
        # Envelopes may carry any offset; tables and golden files always see UTC.
        if value.tzinfo is UTC:
            return value
        if value.utcoffset() == _NO_OFFSET:  # pydantic's own UTC tzinfo: same instant
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class IncomingEnvelope(Envelope):
    """The subscriber's tolerant reading of an envelope: unknown top-level fields are kept.

    They are available as ``model_extra``; the core moves them into ``payload``.
    """

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)


PUBLISHER_TOO_LARGE: Final = "envelope_too_large"
"""``build_error`` code of a stand-in for an event whose envelope was over the limit."""
PUBLISHER_UNENCODABLE: Final = "unencodable"
"""``build_error`` code of a stand-in for an event whose fields could not be encoded at all."""
PUBLISHER_INVALID: Final = "invalid"
"""``build_error`` code of an event the publisher found invalid and sent as best it could."""
PUBLISHER_CODES: Final = frozenset({PUBLISHER_TOO_LARGE, PUBLISHER_UNENCODABLE, PUBLISHER_INVALID})


def publisher_code(build_error: str) -> str | None:
    """The publisher's code ``build_error`` starts with (``code: detail``), or None for a
    builder's exception name."""
    code = build_error.split(":", 1)[0]
    return code if code in PUBLISHER_CODES else None


ENVELOPE_FIELDS: Final = frozenset(Envelope.model_fields)
"""Top-level keys an envelope may carry; other ``emit()`` keywords go into ``payload``."""


def envelope_json(envelope: Envelope) -> bytes:
    """Serialize ``envelope`` to its compact wire form (nulls left out), without a newline."""
    return envelope.__pydantic_serializer__.to_json(envelope, exclude_none=True)


def parse_envelope(line: bytes | str) -> Envelope:
    """Validate one NDJSON line into an :class:`Envelope`.

    Raises :class:`EnvelopeTooLargeError` for a line over 1 MiB and
    ``pydantic.ValidationError`` for anything else wrong with it.
    """
    size = len(line) if isinstance(line, bytes) else len(line.encode("utf-8", "surrogatepass"))
    if size > MAX_ENVELOPE_BYTES:
        raise EnvelopeTooLargeError(
            f"envelope: {size} bytes is over the {MAX_ENVELOPE_BYTES}-byte limit"
        )
    return Envelope.model_validate_json(line)


def describe_validation_error(error: ValidationError, *, limit: int = 5) -> str:
    """A one-line summary of what is wrong, naming fields but never echoing their values.

    Values may carry personal data, and this text ends up in logs and in the
    ``dead_letters.error_detail`` column.
    """
    problems = []
    for item in error.errors(include_url=False, include_input=False)[:limit]:
        location = ".".join(str(part) for part in item["loc"]) or "(envelope)"
        problems.append(f"{location}: {item['msg']}")
    more = error.error_count() - limit
    if more > 0:
        problems.append(f"and {more} more")
    return "; ".join(problems)
