"""Prompt and completion of a model call (``chat.model_call.text``): opt-in, bounded.

Off unless ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` is true: a prompt usually
contains the user's question, the retrieved documents and the answer, so
turning it on stores exactly what ``IL_AUDIT_STORE_QUERY_TEXT=false`` keeps
out of the turn events.

Each text is cut so that its JSON form is at most
:data:`MODEL_CALL_TEXT_MAX_BYTES`, which keeps the envelope under the 1 MiB
limit with both texts full; a cut text ends with :data:`TRUNCATION_MARKER`
and sets ``prompt_truncated`` / ``completion_truncated``.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Final

from il_audit.publisher import emit, get_publisher
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import PublisherError
from il_audit.schemas import taxonomy as T

logger = logging.getLogger(__name__)

MODEL_CALL_TEXT_MAX_BYTES: Final = 500_000
"""Bytes of JSON per text: two of them and the other fields stay under 1 MiB."""
TRUNCATION_MARKER: Final = "\n…[truncated]"
_WORST_CASE_BYTES_PER_CHAR: Final = 6
"""A character is at most 6 bytes in JSON (``\\u001f``): shorter texts need no measuring."""


def cap_text(text: str, max_bytes: int = MODEL_CALL_TEXT_MAX_BYTES) -> tuple[str, bool]:
    """``text`` cut so that its JSON string (quotes excluded) is at most ``max_bytes``
    bytes, with the marker appended when cut; and whether it was cut."""
    if len(text) * _WORST_CASE_BYTES_PER_CHAR <= max_bytes:
        return text, False
    escaped = json.dumps(text, ensure_ascii=False)[1:-1].encode("utf-8", "surrogatepass")
    if len(escaped) <= max_bytes:
        return text, False
    marker = len(json.dumps(TRUNCATION_MARKER, ensure_ascii=False)[1:-1].encode("utf-8"))
    head = escaped[: max(0, max_bytes - marker)].decode("utf-8", "ignore")
    # The cut may fall inside an escape (``\n``, ``\u00e9``): drop its partial start.
    for _ in range(7):
        try:
            kept = json.loads(f'"{head}"')
            break
        except ValueError:
            head = head[:-1]
    else:  # pragma: no cover - seven characters always reach a whole escape
        kept = ""
    return kept + TRUNCATION_MARKER, True


def emit_model_call_text(
    *,
    context: AuditContext | None = None,
    conversation_id: str | None = None,
    correlation_id: str | None = None,
    correlation_type: str | None = "chat_turn",
    sequence: int = 1,
    category: str,
    operation: str,
    model_id: str | None,
    prompt: str,
    completion: str = "",
    call_id: str | None = None,
    attempt: int = 1,
    succeeded: bool = True,
    error_type: str | None = None,
    prompt_source: str | None = None,
    temperature: float | None = None,
    thinking_level: str | None = None,
    thought_tokens: int | None = None,
    cached_tokens: int | None = None,
    finish_reason: str | None = None,
) -> str | None:
    """Record a call's prompt and completion; returns the event id (the ``call_id``).

    Does nothing (returns None) unless ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` is
    on, or when both texts are blank. ``correlation_id`` is the turn's id.
    Never raises.
    """
    try:
        if not get_publisher().settings.store_model_call_text:
            return None
        if not (prompt or "").strip() and not (completion or "").strip():
            return None
        prompt_kept, prompt_cut = cap_text(prompt or "")
        completion_kept, completion_cut = cap_text(completion or "")
        fields: dict[str, Any] = {
            "event_id": call_id or None,
            "session_id": conversation_id or None,
            "correlation_id": correlation_id or None,
            "correlation_type": correlation_type or None,
            "sequence": max(1, sequence),
            "category": category,
            "operation": operation,
            "model_id": model_id or None,
            "attempt": max(1, attempt),
            "succeeded": succeeded,
            "error_type": error_type or None,
            "prompt_source": prompt_source or None,
            "temperature": temperature,
            "thinking_level": thinking_level or None,
            "thought_tokens": thought_tokens,
            "cached_tokens": cached_tokens,
            "finish_reason": finish_reason or None,
            "prompt": prompt_kept,
            "completion": completion_kept,
            "prompt_truncated": prompt_cut,
            "completion_truncated": completion_cut,
        }
        return emit(T.CHAT_MODEL_CALL_TEXT, context=context, **fields)
    except PublisherError:
        raise  # strict mode: the developer asked to hear about bad events
    except Exception:  # the host's model call must not fail because of its audit
        logger.warning("il-audit: could not record model call text", exc_info=True)
        return None
