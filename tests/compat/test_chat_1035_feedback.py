"""1.0.35's feedback names stay as they were; ours sit beside them (issue 22 §3).

Written from `reference-api-facts.md` §5.3 (``ui.chat.feedback.submitted``, a beacon
type routed to ``ui_interaction_events``) and §5.6 (``chat_feedback`` is a survey table
the library never writes). Our verdicts are ``chat.feedback`` / ``ui.chat.feedback``
and the ``chat_feedback_scores`` view; docs/migrating.md's migration table says so.
"""

from __future__ import annotations

import inspect
from pathlib import Path

import il_audit
from il_audit.schemas import taxonomy as T
from il_audit.sql import LEGACY_VIEW_NAMES, VIEW_NAMES, view

MIGRATING = Path(__file__).resolve().parents[2] / "docs" / "migrating.md"


def test_the_1_0_35_feedback_beacon_type_is_unchanged() -> None:
    """§5.3: UI_CHAT_FEEDBACK_SUBMITTED = 'ui.chat.feedback.submitted', a beacon type."""
    assert T.UI_CHAT_FEEDBACK_SUBMITTED == "ui.chat.feedback.submitted"
    assert T.is_beacon_type(T.UI_CHAT_FEEDBACK_SUBMITTED)
    assert T.is_beacon_type(T.UI_CHAT_FEEDBACK)
    assert T.UI_CHAT_FEEDBACK != T.UI_CHAT_FEEDBACK_SUBMITTED


def test_the_chat_feedback_name_keeps_its_legacy_schema() -> None:
    """§5.6: chat_feedback is 1.0.35's survey table, left to its legacy schema: its view is
    the typed, empty legacy view (issue 23), never our verdicts (chat_feedback_scores)."""
    assert "chat_feedback" in LEGACY_VIEW_NAMES
    assert "rating" in view("chat_feedback").sql
    assert "chat.feedback" not in view("chat_feedback").sql
    assert "chat_feedback_scores" in VIEW_NAMES


def test_emit_chat_feedback_is_keyword_only_at_the_root() -> None:
    """Issue 22's signature: (*, context, turn_id, name, value, comment=None,
    conversation_id=None, metadata=None)."""
    parameters = inspect.signature(il_audit.emit_chat_feedback).parameters
    assert list(parameters) == ["context", "turn_id", "name", "value", "comment",
                                "conversation_id", "metadata"]  # fmt: skip
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in parameters.values())
    assert {n: p.default for n, p in parameters.items() if p.default is not p.empty} == {
        "comment": None, "conversation_id": None, "metadata": None,
    }  # fmt: skip
    assert "emit_chat_feedback" in il_audit.__all__


def test_the_migration_table_names_the_differences() -> None:
    text = MIGRATING.read_text("utf-8")
    assert "| 1.0.35: the `chat_feedback` table (a conversation survey) |" in text
    assert "| 1.0.35: `BEACON_EVENT_TYPES` (28) | extended |" in text
