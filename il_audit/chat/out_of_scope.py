"""``emit_out_of_scope_query``: a question the chat could not answer from its sources.

One ``chat.out_of_scope`` event per signal (``quality_gate_block``,
``empty_retrieval``, ``soft_refusal``...), read back by the
``out_of_scope_queries`` view in 1.0.35's 33 columns. The turn is the event's
``correlation_id`` (type ``chat_turn``), the conversation its ``session_id``.

The question follows the question rule (``IL_AUDIT_STORE_QUERY_TEXT``: with it
off only its hash and length are sent), and so does ``answer_excerpt``, which
is dropped with it: an answer quotes the question, and the sources.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from il_audit.config.cost_catalog import CORRELATION_CHAT_TURN
from il_audit.publisher import emit, new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.schemas import taxonomy as T


def emit_out_of_scope_query(
    *,
    context: AuditContext | None = None,
    turn_id: str,
    signal: str,
    question: str | None = None,
    conversation_id: str | None = None,
    session_id: str | None = None,
    visit_session_id: str | None = None,
    metadata: dict[str, Any] | None = None,
    **fields: Any,
) -> str | None:
    """Record that a turn's question was out of scope; returns the event id.

    Raises ``ValueError`` on the caller's thread when ``signal`` is empty or
    blank: the one emitter that raises, as in 1.0.35 (``signal`` is the
    view's required column). Otherwise as ``emit()``: microseconds, never raises.

    - ``turn_id`` blank: a fresh id; ``conversation_id`` / ``session_id``: the
      first non-blank is the conversation (the event's ``session_id``).
    - ``answer_excerpt``: stripped, blank is null; dropped when query text is off.
    - ``metadata``: ``turn_metadata``, else ``metadata_json`` (a JSON object,
      as text or a dict), else ``metadata``.
    - ``logged_at`` (ISO text) sets when it happened; any other keyword not
      None (``category``, ``reason``, ``detection_method``, ``workflow``,
      ``context_mode``, ``search_scope``, counts, flags...) goes into the payload.
    """
    if signal is None or not str(signal).strip():
        raise ValueError("emit_out_of_scope_query needs a signal (e.g. 'empty_retrieval')")
    turn = (turn_id or "").strip() or new_event_id(time.time_ns())
    conversation = (conversation_id or "").strip() or (session_id or "").strip() or None
    chosen, text = _metadata(fields.pop("turn_metadata", None),
                             fields.pop("metadata_json", None), metadata)  # fmt: skip
    excerpt = fields.pop("answer_excerpt", None)
    if isinstance(excerpt, str):
        excerpt = excerpt.strip() or None
    envelope: dict[str, Any] = {"occurred_at": fields.pop("logged_at", None)}
    payload = {key: value for key, value in fields.items() if value is not None}
    payload.update(question=question or None, answer_excerpt=excerpt, signal=str(signal),
                   visit_session_id=visit_session_id or None, metadata_json=text)  # fmt: skip
    envelope.update(session_id=conversation, metadata=chosen, correlation_id=turn,
                    correlation_type=CORRELATION_CHAT_TURN)  # fmt: skip
    payload.update(envelope)
    return emit(
        T.CHAT_OUT_OF_SCOPE,
        context=context,
        **{key: value for key, value in payload.items() if value is not None},
    )


def _metadata(
    turn_metadata: Any, metadata_json: Any, metadata: Mapping[str, Any] | None
) -> tuple[dict[str, Any] | None, str | None]:
    """1.0.35's order: ``turn_metadata``, else ``metadata_json``, else ``metadata``, as the
    event's metadata; text that is not a JSON object is kept as it is, beside it."""
    for candidate in (turn_metadata, metadata_json):
        value = candidate
        if isinstance(candidate, str) and candidate.strip():
            try:
                value = json.loads(candidate)
            except ValueError:
                return None, candidate
            if not isinstance(value, Mapping):
                return None, candidate
        if isinstance(value, Mapping) and value:
            return dict(value), None
    return (dict(metadata) if metadata else None), None
