"""``emit_chat_visit_session``: one visit of a user to the chat, its start and its end.

A visit is a page's life in the browser (``visit_session.js`` gives it an id);
it holds any number of conversations. Its start is one ``chat.visit.started``
event and its end one ``chat.visit.ended`` event, both with the visit's id in
``payload.visit_session_id``; the ``chat_visit_sessions`` view combines them
into one row per visit, in il-audit 1.0.35's 11 columns. The beacon router
writes them from the page's ``ui.visit.*`` beacons
(:func:`il_audit.publisher.beacon.handle_visit_session_beacon_events`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, Final

from il_audit.publisher import emit
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T

VISIT_ENDED_REASONS: Final = ("page_unload", "logout", "unknown")
"""The ``ended_reason`` values 1.0.35 documents for a visit (others are stored as given)."""


def emit_chat_visit_session(
    *,
    context: AuditContext | None = None,
    visit_session_id: str,
    started: bool = True,
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Record that a visit started (``chat.visit.started``) or ended (``chat.visit.ended``).

    Returns the event id (None when auditing is off); microseconds, never
    raises, like ``emit()``. A blank ``visit_session_id`` gets a fresh uuid4,
    as in 1.0.35. The event's time is the start (or the end); ``started_at`` /
    ``ended_at`` (ISO text) given by the caller win. Other keywords not None
    (``duration_seconds``, ``turn_count``, ``conversation_count``,
    ``ended_reason``: ``page_unload``, ``logout`` or ``unknown``) go into the
    payload; ``metadata`` becomes the event's metadata (1.0.35 ignored it).
    """
    visit = visit_session_id.strip() if isinstance(visit_session_id, str) else ""
    payload = {key: value for key, value in fields.items() if value is not None}
    payload["visit_session_id"] = visit or str(uuid.uuid4())
    if metadata:
        payload["metadata"] = dict(metadata)
    event_type = T.CHAT_VISIT_STARTED if started else T.CHAT_VISIT_ENDED
    return emit(event_type, context=context, **payload)
