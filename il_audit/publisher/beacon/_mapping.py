"""From beacon items to audit events: :func:`schedule_beacon_rows`.

Each accepted item becomes one ``emit(event_type, context=..., **fields)``
with the context's ``source="beacon"``. The seed wrote these items to the
``ui_interaction_events`` table; its columns are recoverable from the envelope:

=====================  ==========================================================
seed column            envelope
=====================  ==========================================================
event_type             ``event_type`` (missing or empty: ``ui.tab.viewed``)
module                 ``module`` = ``"ui"`` (the event type's first segment)
action                 ``action`` = the interaction
status                 ``status`` = ``"succeeded"``
resource_type          ``resource_type``
resource_id            ``resource_id`` (falls back to ``element_id``)
metadata_json          ``metadata`` (``client_ts`` added unless already set;
                       an empty object is left out)
source                 ``source`` = ``"beacon"`` (from the context)
actor_*, trace_id,     from the context (the router builds it from ``get_context``)
request_id
surface                ``payload.surface``
element_id             ``payload.element_id``
interaction            ``payload.interaction`` (default ``"view"``)
duration_ms            ``payload.duration_ms``
result_count           ``payload.result_count``
=====================  ==========================================================

Added by the router, also in ``payload``: ``page_path`` (the item's ``path``,
else ``X-IL-Audit-Path``, else the ``Referer`` path; never a query string),
``user_agent``, and ``client_address_hash`` (only when ``IL_AUDIT_HASH_KEY``
is set). Legacy tab beacons (no surface, ``resource_type == "tab"`` and a
``resource_id``) are rewritten as the seed did: ``surface="main_nav"``,
``element_id=<resource_id>``, ``resource_type="nav_tab"``.

A ``ui.chat.feedback`` item's ``feedback`` object (``turn_id``, ``name``,
``value``, ``comment``, ``conversation_id``) becomes the payload and correlation
``emit_chat_feedback`` writes (il_audit/schemas/feedback.py), so the
``chat_feedback_scores`` view reads both alike; an invalid one is skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from il_audit.publisher._default import emit
from il_audit.publisher.beacon._models import DEFAULT_EVENT_TYPE, BeaconEventItem
from il_audit.publisher.beacon._page import strip_path
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy
from il_audit.schemas.feedback import FeedbackError, feedback_fields

logger = logging.getLogger(__name__)

BEACON_SOURCE: Final = "beacon"
DEFAULT_INTERACTION: Final = "view"
SUCCEEDED: Final = "succeeded"
_PAGE_PATH_LIMIT: Final = 2048
_PASSED_THROUGH: Final = ("duration_ms", "result_count", "user_agent", "client_address_hash")


def _text(value: Any) -> str | None:
    """A non-empty string, else ``None`` (the seed treated empty strings as missing)."""
    return value if isinstance(value, str) and value else None


def beacon_fields(item: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """The event type and ``emit()`` keywords for one item (see the module's table)."""
    event_type = _text(item.get("event_type")) or DEFAULT_EVENT_TYPE
    surface = _text(item.get("surface"))
    element_id = _text(item.get("element_id"))
    resource_type = _text(item.get("resource_type"))
    resource_id = item.get("resource_id")
    resource_id = resource_id if isinstance(resource_id, (str, int)) and resource_id != "" else None
    if surface is None and resource_type == "tab" and resource_id is not None:
        surface, element_id, resource_type = "main_nav", str(resource_id), "nav_tab"
    interaction = _text(item.get("interaction")) or DEFAULT_INTERACTION

    raw_metadata = item.get("metadata")
    metadata = dict(raw_metadata) if isinstance(raw_metadata, Mapping) else {}
    client_ts = _text(item.get("client_ts"))
    if client_ts is not None:
        metadata.setdefault("client_ts", client_ts)

    fields: dict[str, Any] = {
        "action": interaction,
        "status": SUCCEEDED,
        "resource_type": resource_type,
        "resource_id": str(resource_id) if resource_id is not None else element_id,
        "metadata": metadata or None,
        "surface": surface,
        "element_id": element_id,
        "interaction": interaction,
        "page_path": strip_path(_text(item.get("path")), limit=_PAGE_PATH_LIMIT)
        or strip_path(_text(item.get("page_path")), limit=_PAGE_PATH_LIMIT),
    }
    for name in _PASSED_THROUGH:
        value = item.get(name)
        if value is not None:
            fields[name] = value
    if event_type == taxonomy.UI_CHAT_FEEDBACK:
        feedback = item.get("feedback")
        # The router validated it; a host calling schedule_beacon_rows with raw dicts may not.
        if not isinstance(feedback, Mapping):
            raise FeedbackError("a ui.chat.feedback item needs a feedback object", "feedback")
        fields.update(feedback_fields(**feedback))
        fields["resource_type"] = "chat_turn"
        fields["resource_id"] = fields.get("correlation_id")
    return event_type, fields


def schedule_beacon_rows(
    *, context: AuditContext, events: Iterable[Mapping[str, Any] | BeaconEventItem]
) -> int:
    """Emit one audit event per beacon item; returns how many were accepted.

    Items whose type is not a beacon type (built-in or registered with
    ``taxonomy.register_beacon_types``) are skipped and not counted; a missing
    or empty type counts as ``ui.tab.viewed``. ``context`` is used as given,
    except that its ``source`` becomes ``"beacon"``. Items are dicts shaped
    like :class:`BeaconEventItem` (or the model itself). Like ``emit()``, it
    never raises into the caller for a bad item.
    """
    beacon_context = (
        context if context.source == BEACON_SOURCE else context.replace(source=BEACON_SOURCE)
    )
    accepted = 0
    skipped = 0
    for event in events:
        item: Any = event.model_dump() if isinstance(event, BeaconEventItem) else event
        if not isinstance(item, Mapping):
            skipped += 1
            continue
        try:
            event_type, fields = beacon_fields(item)
        except (FeedbackError, TypeError):  # a ui.chat.feedback item without a valid verdict
            skipped += 1
            continue
        if not taxonomy.is_beacon_type(event_type):
            skipped += 1
            continue
        if emit(event_type, context=beacon_context, **fields) is not None:
            accepted += 1
    if skipped:
        logger.debug("il-audit: skipped %d beacon item(s) that were not beacon types", skipped)
    return accepted
