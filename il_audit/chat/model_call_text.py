"""Prompt and completion of a model call (``chat.model_call.text``): opt-in, up to 10 MiB each.

Off unless ``IL_AUDIT_STORE_MODEL_CALL_TEXT`` is true: a prompt usually
contains the user's question, the retrieved documents and the answer, so
turning it on stores exactly what ``IL_AUDIT_STORE_QUERY_TEXT=false`` keeps
out of the turn events. (1.0.35 stored it by default; we do not.)

Each text is capped at :data:`MODEL_CALL_TEXT_MAX_BYTES` of UTF-8 (10 MiB,
1.0.35's cap); a cut text ends with :data:`TRUNCATION_MARKER` and sets
``prompt_truncated`` / ``completion_truncated``. An envelope is at most 1 MiB,
so texts that do not fit one travel as parts:

- the call's event, ``chat.model_call.text`` (its id is the ``call_id``),
  carries every field but the texts, plus ``text_id`` (new for each call
  recorded), ``prompt_parts`` and ``completion_parts`` (how many parts each
  text has; 0 for an empty text);
- one ``chat.model_call.text.part`` event per part, in order: ``text_id``,
  ``text_field`` (``prompt`` or ``completion``), ``part_index`` (from 0),
  ``part_count`` and ``text``, at most :data:`PART_TEXT_BYTES` of JSON.

The ``model_call_text`` view joins the parts back in order; a part that never
arrived shows as a truncated text (what came before it, then the marker),
never as wrong text. Short texts (the usual call) stay in the call's event as
before, and cost the caller no measuring (see :mod:`il_audit.chat.text_parts`).
"""

from __future__ import annotations

import logging
import time
from typing import Any, Final

from il_audit.chat.text_parts import (
    MAX_JSON_BYTES_PER_CHAR,
    MODEL_CALL_TEXT_MAX_BYTES,
    TRUNCATION_MARKER,
    cap_text,
    split_by_json_bytes,
    text_json_size,
)
from il_audit.publisher import emit, get_publisher, new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import PublisherError
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES

__all__ = [
    "MODEL_CALL_TEXT_MAX_BYTES",
    "PART_TEXT_BYTES",
    "TRUNCATION_MARKER",
    "cap_text",
    "emit_model_call_text",
]

logger = logging.getLogger(__name__)

ENVELOPE_ROOM: Final = 32 * 1024
"""JSON bytes kept for everything but the texts: the envelope and context fields are at most
256 characters each (a few 1,024 or fewer), about 3,000 characters in all, 18 KB even if each
character took 6 bytes. The call's own free-text fields are counted on top (see ``_room``)."""
PART_TEXT_BYTES: Final = MAX_ENVELOPE_BYTES - ENVELOPE_ROOM
"""JSON bytes of text in one ``chat.model_call.text.part`` event (1,015,808)."""
_CALL_STRINGS: Final = (
    "category", "operation", "model_id", "error_type", "prompt_source", "thinking_level",
    "finish_reason",
)  # fmt: skip


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
    on, or when both texts are blank. ``correlation_id`` is the turn's id; a
    blank ``call_id`` gets a fresh id, other blank strings are left out, and
    ``sequence`` and ``attempt`` are at least 1 (1.0.35's rules). Each text
    keeps up to 10 MiB of UTF-8; past about 1 MB in all they travel as parts
    (module docstring). Never raises (unless the publisher is strict).
    """
    try:
        if not get_publisher().settings.store_model_call_text:
            return None
        prompt_kept, prompt_cut = cap_text(prompt or "")
        completion_kept, completion_cut = cap_text(completion or "")
        if _blank(prompt_kept) and _blank(completion_kept):
            return None
        fields: dict[str, Any] = {
            "event_id": _text_or_none(call_id),
            "session_id": _text_or_none(conversation_id),
            "correlation_id": _text_or_none(correlation_id),
            "correlation_type": _text_or_none(correlation_type),
            "sequence": max(1, sequence),
            "category": category,
            "operation": operation,
            "model_id": _text_or_none(model_id),
            "attempt": max(1, attempt),
            "succeeded": succeeded,
            "error_type": _text_or_none(error_type),
            "prompt_source": _text_or_none(prompt_source),
            "temperature": temperature,
            "thinking_level": _text_or_none(thinking_level),
            "thought_tokens": thought_tokens,
            "cached_tokens": cached_tokens,
            "finish_reason": _text_or_none(finish_reason),
            "prompt_truncated": prompt_cut,
            "completion_truncated": completion_cut,
        }
        budget = MAX_ENVELOPE_BYTES - _room(fields)
        if _fits(prompt_kept, completion_kept, budget):
            return emit(
                T.CHAT_MODEL_CALL_TEXT,
                context=context,
                **fields,
                prompt=prompt_kept,
                completion=completion_kept,
            )
        return _emit_in_parts(context, fields, prompt_kept, completion_kept)
    except PublisherError:
        raise  # strict mode: the developer asked to hear about bad events
    except Exception:  # the host's model call must not fail because of its audit
        logger.warning("il-audit: could not record model call text", exc_info=True)
        return None


def _blank(text: str) -> bool:
    return not text or text.isspace()  # isspace stops at the first other character


def _text_or_none(value: str | None) -> str | None:
    """None for a blank string (empty or whitespace), as 1.0.35 stores it."""
    # A value of another type is kept: the event is then invalid and dead-lettered with it.
    return None if isinstance(value, str) and _blank(value) else value


def _room(fields: dict[str, Any]) -> int:
    """JSON bytes the call's event needs besides its texts, counted generously."""
    strings = sum(len(value) for key in _CALL_STRINGS if isinstance(value := fields[key], str))
    return ENVELOPE_ROOM + MAX_JSON_BYTES_PER_CHAR * strings


def _fits(prompt: str, completion: str, budget: int) -> bool:
    """Whether both texts fit one envelope's ``budget`` of JSON bytes.

    Measured only when six bytes per character might not fit: the usual call is decided
    from the lengths alone.
    """
    if (len(prompt) + len(completion)) * MAX_JSON_BYTES_PER_CHAR <= budget:
        return True
    if len(prompt) + len(completion) > budget:  # a character is at least one byte
        return False
    return text_json_size(prompt) + text_json_size(completion) <= budget


def _emit_in_parts(
    context: AuditContext | None, fields: dict[str, Any], prompt: str, completion: str
) -> str | None:
    """The call's event without its texts, then the texts' parts in order."""
    texts = {
        "prompt": split_by_json_bytes(prompt, PART_TEXT_BYTES),
        "completion": split_by_json_bytes(completion, PART_TEXT_BYTES),
    }
    text_id = new_event_id(time.time_ns())
    call_id = emit(
        T.CHAT_MODEL_CALL_TEXT,
        context=context,
        **fields,
        text_id=text_id,
        prompt_parts=len(texts["prompt"]),
        completion_parts=len(texts["completion"]),
    )
    if call_id is None:  # auditing is off
        return None
    for text_field, parts in texts.items():
        for index, part in enumerate(parts):
            emit(
                T.CHAT_MODEL_CALL_TEXT_PART,
                context=context,
                text_id=text_id,
                text_field=text_field,
                part_index=index,
                part_count=len(parts),
                text=part,
            )
    return call_id
