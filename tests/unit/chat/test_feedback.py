"""emit_chat_feedback (issue 22 §3, our own design): values, the comment rule, refusals."""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any

import pytest

from il_audit import emit_chat_feedback
from il_audit.chat.feedback import FEEDBACK_COMMENT_MAX_CHARS, feedback_refusals
from il_audit.publisher import AuditContext
from il_audit.publisher.errors import InvalidEventError
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")
COMMENT = "Es zitierte die Regel von 2025, nicht die von 2026."


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, {"value_type": "boolean", "value_bool": True, "score": 1.0, "negative": False}),
        (False, {"value_type": "boolean", "value_bool": False, "score": 0.0, "negative": True}),
        (-1, {"value_type": "number", "value_number": -1.0, "score": -1.0, "negative": True}),
        (4.5, {"value_type": "number", "value_number": 4.5, "score": 4.5, "negative": False}),
        (0, {"value_type": "number", "value_number": 0.0, "score": 0.0, "negative": False}),
        (" Thumbs-Down ", {"value_type": "label", "value_label": "Thumbs-Down",
                           "negative": True}),
        ("correct", {"value_type": "label", "value_label": "correct", "negative": False}),
        ("partly", {"value_type": "label", "value_label": "partly"}),
    ],
)  # fmt: skip
def test_each_kind_of_value(value: Any, expected: dict[str, Any]) -> None:
    """A boolean, a number or a label, each in its own field; score and negative derived."""
    with capture_events() as events:
        event_id = emit_chat_feedback(context=CTX, turn_id=" turn-1 ", name=" thumbs ",
                                      value=value)  # fmt: skip
    [event] = events
    assert (event.event_id, event.event_type, event.correlation_id, event.correlation_type) == (
        event_id, T.CHAT_FEEDBACK, "turn-1", "chat_turn"
    )  # fmt: skip
    assert event.session_id is None
    assert event.payload == {"name": "thumbs", **expected}


def test_comment_conversation_and_metadata() -> None:
    """The comment's text (query text on by default), length and hash; the conversation is
    the session; metadata is the event's."""
    with capture_events() as events:
        emit_chat_feedback(context=CTX, turn_id="t-1", name="correct", value=False,
                           comment=f"  {COMMENT}\n", conversation_id="conv-1",
                           metadata={"widget": "inline"})  # fmt: skip
    [event] = events
    assert (event.session_id, event.metadata) == ("conv-1", {"widget": "inline"})
    assert event.payload["conversation_id"] == "conv-1"
    assert event.payload["feedback_comment"] == COMMENT
    assert event.payload["feedback_comment_length"] == len(COMMENT)
    assert event.payload["feedback_comment_sha256"] == sha(COMMENT)


def test_with_query_text_off_only_length_and_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_STORE_QUERY_TEXT=false: the comment's text never leaves the process."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    with capture_events() as events:
        emit_chat_feedback(context=CTX, turn_id="t-1", name="helpful", value="no",
                           comment=COMMENT)  # fmt: skip
    [event] = events
    assert event.payload == {
        "name": "helpful", "value_type": "label", "value_label": "no", "negative": True,
        "feedback_comment_length": len(COMMENT), "feedback_comment_sha256": sha(COMMENT),
    }  # fmt: skip


def test_with_a_hash_key_the_comment_is_keyed(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_HASH_KEY: an HMAC instead of the plain hash (short comments are guessable)."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    monkeypatch.setenv("IL_AUDIT_HASH_KEY", "k")
    with capture_events() as events:
        emit_chat_feedback(context=CTX, turn_id="t-1", name="thumbs", value=1, comment="ok")
    [event] = events
    expected = hmac.new(b"k", b"ok", hashlib.sha256).hexdigest()
    assert event.payload["feedback_comment_hmac"] == expected
    assert "feedback_comment_sha256" not in event.payload
    assert "feedback_comment" not in event.payload


def test_a_blank_comment_is_no_comment() -> None:
    with capture_events() as events:
        emit_chat_feedback(context=CTX, turn_id="t-1", name="thumbs", value=1, comment="  ")
    [event] = events
    assert not any(key.startswith("feedback_comment") for key in event.payload)


BAD_CALLS = [
    ({"turn_id": " "}, "turn_id", "turn_id"),
    ({"turn_id": None}, "turn_id", "turn_id"),
    ({"name": ""}, "name", "name must"),
    ({"name": "thumbs up"}, "name", "name must"),
    ({"value": None}, "value_type", "value must be a boolean"),
    ({"value": [1]}, "value_type", "value must be a boolean"),
    ({"value": float("nan")}, "value_number", "finite"),
    ({"value": "x" * 65}, "value_label", "label value"),
    ({"value": "  "}, "value_label", "label value"),
    ({"comment": 3}, "comment_type", "comment must"),
    ({"comment": "x" * (FEEDBACK_COMMENT_MAX_CHARS + 1)}, "comment_length", "comment is over"),
    ({"metadata": ["a"]}, "metadata", "metadata must"),
]


@pytest.mark.parametrize(("change", "reason", "message"), BAD_CALLS)
def test_a_bad_call_is_refused_and_counted(
    change: dict[str, Any], reason: str, message: str, caplog: pytest.LogCaptureFixture
) -> None:
    """Default mode: nothing emitted, None returned, a warning with the rule (never the
    value), and the refusal counted by reason."""
    call: dict[str, Any] = {"context": CTX, "turn_id": "t-1", "name": "thumbs", "value": True}
    before = feedback_refusals().get(reason, 0)
    with capture_events(strict=False) as events, caplog.at_level(logging.WARNING):
        assert emit_chat_feedback(**{**call, **change}) is None
    assert events == []
    assert feedback_refusals()[reason] == before + 1
    [record] = [r for r in caplog.records if "chat.feedback" in r.getMessage()]
    assert message in record.getMessage()
    assert "xxxx" not in record.getMessage()


@pytest.mark.parametrize(("change", "message"), [(c, m) for c, _r, m in BAD_CALLS[:3]])
def test_a_strict_publisher_raises(change: dict[str, Any], message: str) -> None:
    """Strict (a test asking to hear about bad events): InvalidEventError, a ValueError."""
    call: dict[str, Any] = {"context": CTX, "turn_id": "t-1", "name": "thumbs", "value": True}
    with capture_events() as events, pytest.raises(InvalidEventError, match=message):
        emit_chat_feedback(**{**call, **change})
    assert events == []
