"""Seed path (1.0.35): ``chat_question_fields`` lives in :mod:`il_audit.chat.questions`.

1.0.35's ``build_*_row`` functions are not kept: their rows are what the views compute from
events (``chat_turns``, ``chat_sessions``...), and apps emit events, not rows.
"""

from il_audit.chat.questions import chat_question_fields

__all__ = ["chat_question_fields"]
