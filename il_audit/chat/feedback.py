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
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any, Final

from il_audit.config.cost_catalog import CORRELATION_CHAT_TURN
from il_audit.publisher import emit, get_publisher, new_event_id
from il_audit.publisher.context import AuditContext
from il_audit.publisher.errors import InvalidEventError
from il_audit.schemas import taxonomy as T

logger = logging.getLogger(__name__)

__all__ = ["FEEDBACK_COMMENT_MAX_CHARS", "emit_chat_feedback", "feedback_fields",
           "feedback_refusals"]  # fmt: skip

FEEDBACK_NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
FEEDBACK_LABEL_MAX_CHARS: Final = 64
FEEDBACK_COMMENT_MAX_CHARS: Final = 8000
"""A comment is a sentence or a paragraph; a longer one is refused, not cut (a cut
comment's hash would match nothing)."""
TURN_ID_MAX_CHARS: Final = 256
NEGATIVE_LABELS: Final = frozenset(
    {"down", "thumbs_down", "negative", "bad", "no", "wrong", "incorrect", "unhelpful",
     "not_helpful", "false"}
)  # fmt: skip
POSITIVE_LABELS: Final = frozenset(
    {"up", "thumbs_up", "positive", "good", "yes", "right", "correct", "helpful", "true"}
)

_refusals: Counter[str] = Counter()
_refusals_lock = threading.Lock()


class FeedbackError(ValueError):
    """Why a feedback call is refused; the message names the rule, never the value."""


def feedback_refusals() -> dict[str, int]:
    """Feedback calls refused in this process so far, by reason (e.g. ``value_type``)."""
    with _refusals_lock:
        return dict(_refusals)


def feedback_fields(
    *, turn_id: Any, name: Any, value: Any, comment: Any = None, conversation_id: Any = None
) -> dict[str, Any]:
    """The event fields of one verdict (payload and correlation); raises :class:`FeedbackError`.

    Shared by :func:`emit_chat_feedback` and the beacon router's ``ui.chat.feedback``
    mapping, so both write the same payload. ``FeedbackError.args[1]`` is the
    reason's short code, counted by :func:`feedback_refusals`.
    """
    turn = turn_id.strip() if isinstance(turn_id, str) else ""
    if not turn or len(turn) > TURN_ID_MAX_CHARS:
        raise FeedbackError(
            f"turn_id must be a non-blank string of at most {TURN_ID_MAX_CHARS} characters",
            "turn_id",
        )
    if not isinstance(name, str) or not FEEDBACK_NAME_PATTERN.match(name.strip()):
        raise FeedbackError(
            "name must be 1 to 64 characters of letters, digits and _ . : - (e.g. 'thumbs')",
            "name",
        )
    fields: dict[str, Any] = {"name": name.strip(), **_value_fields(value)}
    if comment is not None:
        if not isinstance(comment, str):
            raise FeedbackError("comment must be a string or None", "comment_type")
        if len(comment) > FEEDBACK_COMMENT_MAX_CHARS:
            raise FeedbackError(
                f"comment is over {FEEDBACK_COMMENT_MAX_CHARS} characters", "comment_length"
            )
        if comment.strip():
            fields["feedback_comment"] = comment.strip()
    conversation = conversation_id.strip() if isinstance(conversation_id, str) else ""
    if conversation:
        fields["session_id"] = conversation
    fields.update(correlation_id=turn, correlation_type=CORRELATION_CHAT_TURN)
    return fields


def _value_fields(value: Any) -> dict[str, Any]:
    """``value_type`` and the typed value, ``score`` and ``negative``."""
    if isinstance(value, bool):
        return {"value_type": "boolean", "value_bool": value, "score": float(value),
                "negative": not value}  # fmt: skip
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise FeedbackError("value must be a finite number", "value_number")
        return {"value_type": "number", "value_number": number, "score": number,
                "negative": number < 0}  # fmt: skip
    if isinstance(value, str):
        label = value.strip()
        if not label or len(label) > FEEDBACK_LABEL_MAX_CHARS:
            raise FeedbackError(
                f"a label value must be 1 to {FEEDBACK_LABEL_MAX_CHARS} characters", "value_label"
            )
        key = label.lower().replace(" ", "_").replace("-", "_")
        fields: dict[str, Any] = {"value_type": "label", "value_label": label}
        if key in NEGATIVE_LABELS or key in POSITIVE_LABELS:
            fields["negative"] = key in NEGATIVE_LABELS
        return fields
    raise FeedbackError("value must be a boolean, a number or a short label", "value_type")


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
