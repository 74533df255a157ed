"""``record_chat_query_turn``: 1.0.35's one call that records a chat turn and its session.

It turns what a chat endpoint has at the end of a request (the history, the
sources, the tracker) into the turn event, and on a conversation's first
successful turn into its ``chat.session.started`` event. It never raises: each
emit goes through :func:`~il_audit.chat.helpers.safe_call`.

Later turns add no session event: the ``chat_sessions`` view rolls the turn
count, message counts, tokens and costs up from the turns themselves, and a
``chat.session.ended`` per turn (1.0.35's ``started=False`` row) would end the
session there after its second turn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Final

from il_audit.chat.helpers import safe_call
from il_audit.chat.turns import emit_chat_session, emit_chat_turn, message_counts_from_history
from il_audit.chat.usage import ChatTurnUsage, active_turn_usage
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import PublisherError

logger = logging.getLogger(__name__)

_ESTIMATES: Final = ("api_cost_usd", "total_cost_usd")
"""Rollup keys not sent: the warehouse prices the turn's calls (``chat_turns``)."""
_SET_HERE: Final = ("context", "turn_id", "question", "succeeded", "usage", "metadata")


def record_chat_query_turn(
    *,
    context: AuditContext,
    turn_id: str,
    question: str,
    history: list[dict[str, Any]] | list[Mapping[str, Any]],
    succeeded: bool,
    conversation_id: str | None = None,
    visit_session_id: str | None = None,
    conversation_started_at: str | None = None,
    sources: list[dict[str, Any]] | None = None,
    latency_ms_total: int | None = None,
    workflow: str | None = None,
    response_type: str | None = None,
    summary_scope: str | None = None,
    comparison_focus: str | None = None,
    include_hidden_slides: bool | None = None,
    has_format_preference: bool | None = None,
    format_preference_source: str | None = None,
    format_instructions: str | None = None,
    attached_source_count: int = 0,
    turn_metadata: dict[str, Any] | None = None,
    usage_tracker: ChatTurnUsage | None = None,
    **audit_fields: Any,
) -> None:
    """Record one chat turn from a request's outcome (1.0.35's API); never raises.

    - ``turn_index`` and ``history_turn_count`` are the user messages of
      ``history`` (the earlier messages); the message counts add this
      question, and its answer when ``succeeded``.
    - ``sources`` are stored as the turn's sources, ``sources_returned_count``
      is their number.
    - The tracker's rollup (``usage_tracker``, else the one bound for this
      ``turn_id``) comes first, then ``audit_fields`` (those not None), which
      win. Its cost estimate is not sent: ``chat_turns`` has the warehouse's
      price of the turn's calls.
    - ``metadata`` is ``turn_metadata`` with ``summary_scope``,
      ``include_hidden_slides``, ``comparison_focus``, ``has_format_preference``,
      ``format_preference_source`` and ``format_instructions`` added when absent.
    - A successful first turn (``turn_index`` 0) of ``conversation_id`` also
      records ``chat.session.started``.
    """
    try:
        tracker = usage_tracker
        if tracker is None and (bound := active_turn_usage()) is not None:
            tracker = bound if bound.turn_id == turn_id else None  # not another turn's
        asked_before = sum(1 for message in history if message.get("role") == "user")
        users, assistants, messages = message_counts_from_history(
            history, include_current_user=True, include_current_assistant=succeeded
        )
        row: dict[str, Any] = {
            "conversation_id": conversation_id, "visit_session_id": visit_session_id,
            "sources": sources, "latency_ms": latency_ms_total, "workflow": workflow,
            "response_type": response_type, "summary_scope": summary_scope,
            "include_hidden_slides": include_hidden_slides,
            "attached_source_count": attached_source_count, "turn_index": asked_before,
            "history_turn_count": asked_before, "user_message_count": users,
            "assistant_message_count": assistants, "message_count": messages,
        }  # fmt: skip
        if tracker is not None:
            rollup = tracker.rollup_for_chat_turn()
            row.update({k: v for k, v in rollup.items() if k not in _ESTIMATES})
        row.update({k: v for k, v in audit_fields.items() if v is not None})
        row = {k: v for k, v in row.items() if v is not None and k not in _SET_HERE}
        metadata = dict(turn_metadata or {})
        for key, value in (("summary_scope", summary_scope),
                           ("include_hidden_slides", include_hidden_slides),
                           ("comparison_focus", comparison_focus),
                           ("has_format_preference", has_format_preference),
                           ("format_preference_source", format_preference_source),
                           ("format_instructions", format_instructions)):  # fmt: skip
            if value is not None:
                metadata.setdefault(key, value)
    except PublisherError:
        raise
    except Exception as exc:  # noqa: BLE001 - a malformed history must not fail the request
        logger.warning("il-audit: record_chat_query_turn failed (%s)", type(exc).__name__)
        return
    safe_call(emit_chat_turn, log_label="record_chat_query_turn (turn)", context=context,
              turn_id=turn_id, question=question, succeeded=succeeded, usage=tracker,
              metadata=metadata or None, **row)  # fmt: skip
    if succeeded and conversation_id and asked_before == 0:
        session = {"started_at": conversation_started_at, "visit_session_id": visit_session_id,
                   "turn_count": users, "user_message_count": users,
                   "assistant_message_count": assistants, "message_count": messages}  # fmt: skip
        safe_call(emit_chat_session, log_label="record_chat_query_turn (session)",
                  context=context, conversation_id=conversation_id, started=True,
                  **{k: v for k, v in session.items() if v is not None})  # fmt: skip
