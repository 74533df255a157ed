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

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from il_audit.publisher.beacon._settings import BeaconSettings, get_beacon_settings
from il_audit.schemas import taxonomy
from il_audit.schemas.envelope import INT64_MAX

DEFAULT_EVENT_TYPE: Final = taxonomy.UI_TAB_VIEWED
CLIENT_TS_MAX_LENGTH: Final = 64
"""The seed's 0.1 limit; an ISO timestamp needs 24 characters."""
SESSION_ID_MAX_LENGTH: Final = 128
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


def _has_non_finite(value: Any, depth: int = 0) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if depth > 64:
        return False
    if isinstance(value, dict):
        return any(_has_non_finite(item, depth + 1) for item in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(item, depth + 1) for item in value)
    return False


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
        default=None, max_length=CLIENT_TS_MAX_LENGTH, description="Browser clock, ISO 8601."
    )
    path: str | None = Field(default=None, description="Page path (the query string is dropped).")

    @field_validator("event_type")
    @classmethod
    def _beacon_type(cls, value: str) -> str:
        if not taxonomy.is_beacon_type(value):
            raise ValueError(
                "not a beacon event type (built-in ui.* types, or host types registered "
                "with il_audit.taxonomy.register_beacon_types)"
            )
        return value

    @field_validator("surface", "element_id", "interaction", "resource_type", "resource_id", "path")
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

    @field_validator("metadata")
    @classmethod
    def _metadata_fits(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        limit = _settings(info).metadata_max_bytes
        if _has_non_finite(value):
            raise ValueError("must be JSON without NaN or Infinity")
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
