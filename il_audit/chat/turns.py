"""Chat turns and sessions: ``emit_chat_turn`` and ``emit_chat_session``.

A turn is one event, ``chat.turn.succeeded`` or ``chat.turn.failed``, whose
``event_id`` is the turn's id and whose ``session_id`` is the conversation's.
Its payload carries the totals its :class:`~il_audit.chat.usage.ChatTurnUsage`
rolled up; the calls themselves were published as they were recorded, each as
its own usage event correlated to the turn, so the turn carries no usage items
for them (a call is priced once, even when its turn is never emitted).
``chat_turns`` and ``chat_sessions`` (views) read them back in the seed's
columns, with the costs of the calls correlated to each turn.

The question is handed to the publisher as given; the publisher applies
``IL_AUDIT_STORE_QUERY_TEXT`` before encoding (:mod:`il_audit.publisher.privacy`),
so with the setting off the text is never in a message, a spool file or a
dead letter; only its length and hash are.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, Final

from il_audit.chat.usage import ChatTurnUsage, active_turn_usage
from il_audit.publisher import emit, new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T

SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
_SEED_ALIASES: Final = {"latency_ms_total": "latency_ms", "turn_metadata": "metadata"}
"""The seed's 1.0 keyword names, accepted for ours."""


def emit_chat_turn(
    *,
    context: AuditContext | None = None,
    question: str | None = None,
    conversation_session_id: str | None = None,
    turn_index: int | None = None,
    response_type: str | None = None,
    status: str | None = None,
    latency_ms: float | None = None,
    time_to_first_token_ms: float | None = None,
    llm_model: str | None = None,
    sources_returned_count: int | None = None,
    error_class: str | None = None,
    turn_id: str | None = None,
    usage: ChatTurnUsage | None = None,
    sources: Sequence[Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    succeeded: bool | None = None,
    conversation_id: str | None = None,
    session_id: str | None = None,
    **fields: Any,
) -> str | None:
    """Record one chat turn; returns its id (the event id), or None when auditing is off.

    - ``status`` is ``succeeded`` (the default) or ``failed``; ``succeeded=``
      (the seed's 1.0 spelling) and an ``error_class`` alone also say failed.
    - The totals come from ``usage``, else from the tracker bound with
      ``chat_turn_usage()``; the turn's id is ``turn_id``, else that tracker's.
      The tracker's calls are already their own usage events, correlated to
      the turn.
    - ``conversation_session_id`` is the conversation's id from the client
      (``conversation_id`` / ``session_id`` are accepted for it too).
    - Other keywords (``workflow``, ``summary_scope``, ``history_turn_count``,
      ``user_message_count``...) go into the payload as they are.

    Costs microseconds and never raises (unless the publisher is strict).
    """
    tracker = usage if usage is not None else active_turn_usage()
    if tracker is not None and turn_id is not None and tracker.turn_id != turn_id and usage is None:
        tracker = None  # the bound tracker belongs to another turn
    for seed_name, name in _SEED_ALIASES.items():
        if seed_name in fields and name not in fields:
            fields[name] = fields.pop(seed_name)
    if metadata is None and isinstance(fields.get("metadata"), Mapping):
        metadata = fields.pop("metadata")
    seed_latency = fields.pop("latency_ms", None)  # latency_ms_total: ours wins when both
    latency_ms = latency_ms if latency_ms is not None else seed_latency
    status = _status(status, succeeded, error_class)
    event_fields: dict[str, Any] = tracker.totals() if tracker is not None else {}
    event_fields.update(
        {key: value for key, value in fields.items() if value is not None},
    )
    explicit = {
        "event_id": turn_id or (tracker.turn_id if tracker is not None else None),
        "session_id": conversation_session_id
        or session_id
        or conversation_id
        or (tracker.conversation_session_id if tracker is not None else None),
        "status": status,
        "question": question,
        "turn_index": turn_index,
        "response_type": response_type,
        "latency_ms": _whole(latency_ms),
        "time_to_first_token_ms": _whole(time_to_first_token_ms),
        "llm_model": llm_model,
        "error_class": error_class,
        "metadata": dict(metadata) if metadata else None,
    }
    event_fields.update({key: value for key, value in explicit.items() if value is not None})
    if sources:
        event_fields["sources"] = list(sources)
    count = sources_returned_count if sources_returned_count is not None else (
        len(sources) if sources is not None else None
    )  # fmt: skip
    if count is not None:
        event_fields["sources_returned_count"] = count
    if conversation_id and conversation_id != event_fields.get("session_id"):
        event_fields["conversation_id"] = conversation_id
    if tracker is not None and context is None:
        context = tracker.context
    event_type = T.CHAT_TURN_FAILED if status == FAILED else T.CHAT_TURN_SUCCEEDED
    return emit(event_type, context=context, **event_fields)


def _status(status: str | None, succeeded: bool | None, error_class: str | None) -> str:
    if succeeded is not None:
        return SUCCEEDED if succeeded else FAILED
    if status:
        return FAILED if status.strip().lower() == FAILED else SUCCEEDED
    return FAILED if error_class else SUCCEEDED


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def emit_chat_session(
    *,
    context: AuditContext | None = None,
    conversation_session_id: str | None = None,
    started: bool = True,
    ended_reason: str | None = None,
    turn_count: int | None = None,
    conversation_id: str | None = None,
    session_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Record that a conversation started (``chat.session.started``) or ended
    (``chat.session.ended``, with ``ended_reason`` and ``turn_count``).

    The conversation's id is ``conversation_session_id`` (or the seed's
    ``conversation_id`` / ``session_id``); a fresh one is made when none is
    given. Other keywords (``user_message_count``, ``visit_session_id``...)
    go into the payload. Returns the event id.
    """
    conversation = (
        conversation_session_id or session_id or conversation_id or new_event_id(time.time_ns())
    )
    payload = {key: value for key, value in fields.items() if value is not None}
    if ended_reason is not None:
        payload["ended_reason"] = ended_reason
    if turn_count is not None:
        payload["turn_count"] = max(0, turn_count)
    if metadata:
        payload["metadata"] = dict(metadata)
    event_type = T.CHAT_SESSION_STARTED if started else T.CHAT_SESSION_ENDED
    return emit(event_type, context=context, session_id=conversation, **payload)


def message_counts_from_history(
    history: Sequence[Mapping[str, Any]],
    *,
    include_current_user: bool,
    include_current_assistant: bool,
) -> tuple[int, int, int]:
    """(user, assistant, total) messages of a conversation (the seed's 1.0 helper).

    ``history`` holds the earlier messages (``{"role": "user" | "assistant", ...}``);
    the flags add the current question and answer.
    """
    user = sum(1 for message in history if message.get("role") == "user")
    assistant = sum(1 for message in history if message.get("role") == "assistant")
    user += int(include_current_user)
    assistant += int(include_current_assistant)
    return user, assistant, user + assistant
