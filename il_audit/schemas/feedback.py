"""What one chat feedback verdict is on the wire: the rules of ``chat.feedback``.

Shared by ``emit_chat_feedback`` (il_audit/chat/feedback.py) and the beacon
router's ``ui.chat.feedback`` items, so a verdict from Python and one from a
page are the same payload and read back by the same view
(``chat_feedback_scores``). The rules are documented in docs/chat-integration.md.
"""

from __future__ import annotations

import math
import re
from typing import Any, Final

from il_audit.schemas.errors import FeedbackError

__all__ = ["FEEDBACK_COMMENT_MAX_CHARS", "FeedbackError", "feedback_fields"]

CORRELATION_CHAT_TURN: Final = "chat_turn"
"""The feedback's ``correlation_type``: its ``correlation_id`` is the turn's id."""
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
        # In the payload too: a beacon event's session_id is the browser tab's session.
        fields.update(session_id=conversation, conversation_id=conversation)
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
