"""Visit and conversation beacons into their tables (1.0.35's server-side handlers).

The beacon router runs both after it has emitted a batch's items (each item
also lands in ``ui_interaction_events``), only when at least one was accepted,
before ``on_events_scheduled``; a host may call them itself with the same
``(context, events)``.

=====================================  =========================================================
beacon types                           what is emitted
=====================================  =========================================================
``ui.visit.started``,                  ``emit_chat_visit_session(started=True)``: the visit's
``ui.chat.visit.started``              start in ``chat_visit_sessions``
``ui.visit.ended``,                    its end, with ``duration_seconds`` (float),
``ui.chat.visit.ended``                ``turn_count`` and ``conversation_count`` (int), and
                                       ``ended_reason``: ``metadata.ended_reason``, else the
                                       event's ``interaction``, else ``"unknown"``
``ui.chat.conversation.started``,      ``emit_chat_session(started=True)``: the conversation's
``ui.chat.session.started``            start in ``chat_sessions``; ``started_at`` from
                                       ``metadata.conversation_started_at``, ``turn_count``
``ui.chat.conversation.ended``,        its end: ``ended_reason`` as for a visit; ``turn_count``
``ui.chat.session.ended``              (also ``user_message_count``), ``message_count`` and
                                       ``started_at`` when present
=====================================  =========================================================

A visit's id is ``metadata.visit_session_id`` (a top-level ``visit_session_id``
also works for a host passing its own dicts); a conversation's is
``metadata.conversation_id``, else the event's ``resource_id``, else
``metadata.resource_id``, and it takes ``metadata.visit_session_id`` too. An
event without its id is skipped. Numbers that are not numbers are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final

from il_audit.chat.turns import emit_chat_session
from il_audit.chat.visits import emit_chat_visit_session
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import INT64_MAX

VISIT_STARTED: Final = frozenset({T.UI_VISIT_STARTED, T.UI_CHAT_VISIT_STARTED})
VISIT_ENDED: Final = frozenset({T.UI_VISIT_ENDED, T.UI_CHAT_VISIT_ENDED})
CONVERSATION_STARTED: Final = frozenset({T.UI_CHAT_CONVERSATION_STARTED, T.UI_CHAT_SESSION_STARTED})
CONVERSATION_ENDED: Final = frozenset({T.UI_CHAT_CONVERSATION_ENDED, T.UI_CHAT_SESSION_ENDED})
UNKNOWN_REASON: Final = "unknown"


def handle_visit_session_beacon_events(context: AuditContext, events: list[dict[str, Any]]) -> None:
    """A ``chat.visit.started`` / ``chat.visit.ended`` event per visit beacon of ``events``."""
    for event, metadata in _of_types(events, VISIT_STARTED | VISIT_ENDED):
        visit = _text(metadata.get("visit_session_id")) or _text(event.get("visit_session_id"))
        if visit is None:
            continue
        if event.get("event_type") in VISIT_STARTED:
            emit_chat_visit_session(context=context, visit_session_id=visit, started=True)
            continue
        emit_chat_visit_session(
            context=context,
            visit_session_id=visit,
            started=False,
            duration_seconds=_number(metadata.get("duration_seconds")),
            turn_count=_count(metadata.get("turn_count")),
            conversation_count=_count(metadata.get("conversation_count")),
            ended_reason=_ended_reason(event, metadata),
        )


def handle_conversation_beacon_events(context: AuditContext, events: list[dict[str, Any]]) -> None:
    """A ``chat.session.started`` / ``chat.session.ended`` event per conversation beacon."""
    for event, metadata in _of_types(events, CONVERSATION_STARTED | CONVERSATION_ENDED):
        conversation = (
            _text(metadata.get("conversation_id"))
            or _text(event.get("resource_id"))
            or _text(metadata.get("resource_id"))
        )
        if conversation is None:
            continue
        turns = _count(metadata.get("turn_count"))
        shared: dict[str, Any] = {
            "context": context,
            "conversation_session_id": conversation,
            "turn_count": turns,
            "visit_session_id": _text(metadata.get("visit_session_id")),
        }
        if event.get("event_type") in CONVERSATION_STARTED:
            started_at = _text(metadata.get("conversation_started_at"))
            emit_chat_session(started=True, started_at=started_at, **shared)
            continue
        emit_chat_session(
            started=False,
            ended_reason=_ended_reason(event, metadata),
            user_message_count=turns,
            message_count=_count(metadata.get("message_count")),
            started_at=_text(metadata.get("started_at"))
            or _text(metadata.get("conversation_started_at")),
            **shared,
        )


def _of_types(
    events: Iterable[Any], types: frozenset[str]
) -> Iterable[tuple[Mapping[str, Any], Mapping[str, Any]]]:
    """(event, its metadata) of each mapping in ``events`` whose type is in ``types``."""
    for event in events:
        if isinstance(event, Mapping) and event.get("event_type") in types:
            metadata = event.get("metadata")
            yield event, metadata if isinstance(metadata, Mapping) else {}


def _ended_reason(event: Mapping[str, Any], metadata: Mapping[str, Any]) -> str:
    return _text(metadata.get("ended_reason")) or _text(event.get("interaction")) or UNKNOWN_REASON


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    return None


def _number(value: Any) -> float | None:
    """A finite, non-negative float from a number or numeric text; else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _count(value: Any) -> int | None:
    """A non-negative whole count from a number or numeric text; else None."""
    number = _number(value)
    return int(number) if number is not None and number <= INT64_MAX else None
