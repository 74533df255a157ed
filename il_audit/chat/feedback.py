"""``emit_chat_feedback``: a user's verdict on one chat turn (``chat.feedback``).

::

    emit_chat_feedback(context=ctx, turn_id=turn, name="thumbs", value=False,
                       comment="It quoted last year's policy")

Our own design (issue 22 §3), not 1.0.35's ``chat_feedback`` survey table. One
event per verdict, correlated to the turn (``correlation_id``, type
``chat_turn``) and in its conversation (``session_id``), read back by the
``chat_feedback_scores`` view, which joins ``chat_turns`` on ``turn_id``.

- ``name`` says what was asked: ``thumbs``, ``correct``, ``helpful``... (1 to
  64 of ``A-Z a-z 0-9 _ . : -``).
- ``value`` is a boolean, a finite number or a short label (1 to 64
  characters after stripping). ``score`` is the number (a boolean is 1 or 0);
  ``negative`` is true for ``False``, a number below 0, or a label such as
  ``down``/``bad``/``wrong``, false for ``True``, a number of 0 or more, or a
  label such as ``up``/``good``/``correct``, and null for any other label.
- ``comment`` follows the question rule (publisher/privacy.py): its length and
  hash always, its text only with ``IL_AUDIT_STORE_QUERY_TEXT`` on; at most
  8,000 characters.

A bad call never raises by default: it is refused on the caller's thread,
logged with its reason (never the values) and counted (:func:`feedback_refusals`);
a strict publisher raises ``InvalidEventError`` (a ``ValueError``) instead.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

from il_audit.publisher import emit, get_publisher, new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import InvalidEventError
from il_audit.schemas import taxonomy as T
from il_audit.schemas.feedback import FEEDBACK_COMMENT_MAX_CHARS, FeedbackError, feedback_fields

logger = logging.getLogger(__name__)

__all__ = ["FEEDBACK_COMMENT_MAX_CHARS", "FeedbackError", "emit_chat_feedback",
           "feedback_fields", "feedback_refusals"]  # fmt: skip

_refusals: Counter[str] = Counter()
_refusals_lock = threading.Lock()


def feedback_refusals() -> dict[str, int]:
    """Feedback calls refused in this process so far, by reason (e.g. ``value_type``)."""
    with _refusals_lock:
        return dict(_refusals)


def emit_chat_feedback(
    *,
    context: AuditContext | None,
    turn_id: str,
    name: str,
    value: bool | float | str,
    comment: str | None = None,
    conversation_id: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> str | None:
    """Record a user's verdict on turn ``turn_id``; returns the event id, None if refused.

    Never raises unless the publisher is strict: a bad call (blank turn or name,
    a value that is not a boolean, finite number or short label, a comment that
    is not text or too long, metadata that is not a mapping) is refused, logged
    with its reason and counted by :func:`feedback_refusals`.
    """
    try:
        fields = feedback_fields(turn_id=turn_id, name=name, value=value, comment=comment,
                                 conversation_id=conversation_id)  # fmt: skip
        if metadata is not None and not isinstance(metadata, Mapping):
            raise FeedbackError("metadata must be a mapping or None", "metadata")
    except FeedbackError as error:
        reason = error.args[1]
        with _refusals_lock:
            _refusals[reason] += 1
        if get_publisher().strict:
            raise InvalidEventError(
                error.args[0], event_id=new_event_id(time.time_ns()), event_type=T.CHAT_FEEDBACK
            ) from error
        logger.warning("il-audit refused a chat.feedback call (%s): %s", reason, error.args[0])
        return None
    if metadata:
        fields["metadata"] = dict(metadata)
    return emit(T.CHAT_FEEDBACK, context=context, **fields)
