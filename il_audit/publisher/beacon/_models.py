"""The beacon request body: ``{"events": [...], "session_id": ...}`` with the seed's item fields.

Limits come from :class:`~il_audit.publisher.beacon.BeaconSettings`: the router
passes its settings as the validation context (``context={"settings": ...}``);
models built without one use :func:`get_beacon_settings`. Extra keys in an
item are ignored, as in the seed.

Two limits are tighter than the string limit when that is above them, because
the values land in envelope fields that are bounded: ``resource_type`` and
``interaction`` (which becomes ``action``) at 256 characters, ``resource_id``
at 1024. A value that passed here therefore never makes an invalid envelope.

Error messages name the rule, never the value (they are sent back to clients
and may end up in logs).
"""

from __future__ import annotations

import json
import math
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from il_audit.publisher.beacon._settings import BeaconSettings, get_beacon_settings
from il_audit.schemas import taxonomy
from il_audit.schemas.envelope import INT64_MAX
from il_audit.schemas.feedback import FeedbackError, feedback_fields

DEFAULT_EVENT_TYPE: Final = taxonomy.UI_TAB_VIEWED
SESSION_ID_MAX_LENGTH: Final = 128
FEEDBACK_KEYS: Final = frozenset({"turn_id", "name", "value", "comment", "conversation_id"})
"""The keys of a ``ui.chat.feedback`` item's ``feedback`` (``emit_chat_feedback``'s)."""
_ENVELOPE_CAPS: Final = {"resource_type": 256, "interaction": 256, "resource_id": 1024}
"""Envelope field limits (``Label`` / ``Identifier`` in ``il_audit.schemas.envelope``)."""


def _settings(info: ValidationInfo) -> BeaconSettings:
    context = info.context
    if isinstance(context, dict):
        settings = context.get("settings")
        if isinstance(settings, BeaconSettings):
            return settings
    return get_beacon_settings()


def metadata_size(metadata: dict[str, Any]) -> int:
    """Bytes of ``metadata`` as compact UTF-8 JSON, the seed's measure; raises ValueError."""
    text = json.dumps(metadata, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return len(text.encode("utf-8", "surrogatepass"))


METADATA_MAX_DEPTH: Final = 64
"""Nesting of an item's metadata (the JSON parser itself stops at about 200)."""
_LOG10_2: Final = 0.30103
_SMALL_INT: Final = 10**12
_INFINITY: Final = math.inf
_BULK: Final = 16
"""Members of one level from which their charge is first tried in bulk."""
_MIXED: Final = -1


def metadata_problem(metadata: dict[str, Any], limit: int) -> str | None:
    """Why ``metadata`` is refused before it is measured, or ``None``; the work is bounded.

    One walk, level by level, charging each value the fewest bytes it can take
    as compact JSON (a container its brackets and commas, a string its
    characters and quotes, an integer its decimal digits, a key its quotes and
    colon). A container with more members than bytes are left is refused before
    it is iterated, and the walk stops once the charge passes ``limit``, so it
    visits at most about ``limit`` values whatever the size of the input. It
    also stops at a NaN or an infinity (JSON has neither) and at nesting deeper
    than :data:`METADATA_MAX_DEPTH`. What passes is then measured exactly
    (:func:`metadata_size`), at a cost bounded by ``limit``.
    """
    too_large = f"at most {limit} bytes as compact JSON"
    budget = limit
    level: list[Any] = [metadata]
    for _depth in range(METADATA_MAX_DEPTH):
        members: list[Any] = []
        for container in level:
            count = len(container)
            budget -= count + 1  # brackets and commas
            if count > budget:  # each member takes at least one more byte
                return too_large
            if isinstance(container, dict):
                for key in container:
                    budget -= len(key) + 3 if isinstance(key, str) else 1
                members.extend(container.values())
            else:
                members.extend(container)
        if budget < 0:
            return too_large
        level = []
        charge = _charge_members(members, level)
        if charge is None:
            return "must be JSON without NaN or Infinity"
        budget -= charge
        if budget < 0:
            return too_large
        if not level:
            return None
    return f"nested at most {METADATA_MAX_DEPTH} levels deep"


def _charge_members(values: list[Any], deeper: list[Any]) -> int | None:
    """The fewest bytes of the scalars in ``values``; containers go to ``deeper``; None for NaN."""
    if len(values) >= _BULK:
        bulk = _charge_in_bulk(values, deeper)
        if bulk != _MIXED:
            return bulk
    charge = 0
    for value in values:
        kind = type(value)
        if kind is str:
            charge += len(value) + 2
        elif kind is int:
            small = -_SMALL_INT < value < _SMALL_INT
            charge += 1 if small else int(value.bit_length() * _LOG10_2)
        elif kind is float:
            if not -_INFINITY < value < _INFINITY:
                return None
            charge += 1
        elif isinstance(value, dict | list):
            if value:
                deeper.append(value)
            else:
                charge += 2
        else:
            charge += 4 if value is None or kind is bool else 1
    return charge


def _charge_in_bulk(values: list[Any], deeper: list[Any]) -> int | None:
    """Members all of one type, the usual bulk, charged by C-level builtins; else ``_MIXED``."""
    kinds = set(map(type, values))
    if len(kinds) != 1:
        return _MIXED
    kind = next(iter(kinds))
    if kind is str:
        return sum(map(len, values)) + 2 * len(values)
    if kind is int and min(values) > -_SMALL_INT and max(values) < _SMALL_INT:
        return len(values)
    if kind is float:
        return len(values) if all(map(math.isfinite, values)) else None
    if kind is dict or kind is list:
        before = len(deeper)
        deeper.extend(filter(None, values))
        return 2 * (len(values) - (len(deeper) - before))  # the empty ones
    return _MIXED


class BeaconEventItem(BaseModel):
    """One UI interaction a browser reports; ``event_type`` must be a beacon type."""

    model_config = ConfigDict(extra="ignore")

    event_type: str = Field(default=DEFAULT_EVENT_TYPE, description="A beacon type (ui.*).")
    surface: str | None = Field(default=None, description="Screen area, e.g. main_nav.")
    element_id: str | None = Field(default=None, description="Id of the element used.")
    interaction: str | None = Field(default=None, description="What happened, e.g. click.")
    resource_type: str | None = Field(default=None, description="Kind of resource shown.")
    resource_id: str | None = Field(default=None, description="Id of that resource.")
    duration_ms: int | None = Field(default=None, ge=0, le=INT64_MAX, description="Duration.")
    result_count: int | None = Field(default=None, ge=0, le=INT64_MAX, description="Results.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Free-form JSON object.")
    client_ts: str | None = Field(
        default=None,
        description="Browser clock, ISO 8601; up to the string limit (512), as in 1.0.35 "
        "(0.1.3 allowed 64).",
    )
    path: str | None = Field(default=None, description="Page path (the query string is dropped).")
    feedback: dict[str, Any] | None = Field(
        default=None,
        description="ui.chat.feedback only: turn_id, name, value (boolean, number or short "
        "label), comment, conversation_id; the rules of emit_chat_feedback.",
    )

    @field_validator("event_type")
    @classmethod
    def _beacon_type(cls, value: str) -> str:
        if not taxonomy.is_beacon_type(value):
            raise ValueError(
                "not a beacon event type (built-in ui.* types, or host types registered "
                "with il_audit.taxonomy.register_beacon_types)"
            )
        return value

    @field_validator(
        "surface", "element_id", "interaction", "resource_type", "resource_id", "path", "client_ts"
    )
    @classmethod
    def _bounded(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        limit = _settings(info).string_max_length
        field = info.field_name or ""
        limit = min(limit, _ENVELOPE_CAPS.get(field, limit))
        if len(value) > limit:
            raise ValueError(f"at most {limit} characters")
        return value

    @model_validator(mode="after")
    def _feedback_fits(self) -> BeaconEventItem:
        """A ``ui.chat.feedback`` item must carry a valid verdict, as ``emit_chat_feedback``
        would accept it; any other item's ``feedback`` is ignored."""
        if self.event_type != taxonomy.UI_CHAT_FEEDBACK:
            return self
        if self.feedback is None:
            raise ValueError("a ui.chat.feedback item needs a feedback object")
        unknown = set(self.feedback) - FEEDBACK_KEYS
        if unknown:
            raise ValueError(f"feedback may only have the keys {sorted(FEEDBACK_KEYS)}")
        try:
            feedback_fields(**self.feedback)
        except (FeedbackError, TypeError) as error:
            raise ValueError(f"feedback: {error.args[0]}") from None
        return self

    @field_validator("metadata")
    @classmethod
    def _metadata_fits(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        limit = _settings(info).metadata_max_bytes
        problem = metadata_problem(value, limit)
        if problem is not None:
            raise ValueError(problem)
        try:
            size = metadata_size(value)
        except (TypeError, ValueError, RecursionError):
            raise ValueError("must be a JSON object") from None
        if size > limit:
            raise ValueError(f"at most {limit} bytes as compact JSON")
        return value


class BeaconRequest(BaseModel):
    """A batch of beacon items, plus the browser tab's session id when the script knows it."""

    model_config = ConfigDict(extra="ignore")

    events: list[BeaconEventItem] = Field(default_factory=list, description="The items.")
    session_id: str | None = Field(
        default=None,
        max_length=SESSION_ID_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9._:\-]+$",
        description="Browser tab session id (sessionStorage), e.g. a UUID.",
    )

    @field_validator("events", mode="before")
    @classmethod
    def _not_too_many(cls, value: Any, info: ValidationInfo) -> Any:
        # Checked before the items are validated, so a huge array costs nothing more.
        limit = _settings(info).max_events_per_request
        if isinstance(value, list) and len(value) > limit:
            raise ValueError(f"at most {limit} events per request")
        return value
