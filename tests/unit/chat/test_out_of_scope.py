"""emit_out_of_scope_query (1.0.35): the one emitter that raises, and the question rule."""

from __future__ import annotations

import hashlib

import pytest

from il_audit import emit_out_of_scope_query
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")
QUESTION = "Wie hoch ist mein Gehalt?"


@pytest.mark.parametrize("signal", ["", "  ", None])
def test_an_empty_signal_raises_on_the_callers_thread(signal: str | None) -> None:
    """No signal: ValueError at once, nothing emitted."""
    with capture_events() as events, pytest.raises(ValueError, match="signal"):
        emit_out_of_scope_query(context=CTX, turn_id="t", signal=signal)  # type: ignore[arg-type]
    assert events == []


def test_an_out_of_scope_event_of_a_turn() -> None:
    """chat.out_of_scope, correlated to the turn, in its conversation; the question hashed,
    the excerpt stripped, the other fields in the payload, metadata_json as an object."""
    with capture_events() as events:
        event_id = emit_out_of_scope_query(
            context=CTX, turn_id="turn-1", signal="empty_retrieval", question=QUESTION,
            session_id="conv-1", visit_session_id="visit-1", answer_excerpt="  Sorry.  ",
            detection_method="answer_status", turn_index=2, no_docs=True, reason=None,
            metadata_json='{"k": 1}', metadata={"ignored": True},
        )  # fmt: skip
    [event] = events
    assert (event.event_id, event.event_type, event.correlation_id, event.correlation_type) == (
        event_id, T.CHAT_OUT_OF_SCOPE, "turn-1", "chat_turn"
    )  # fmt: skip
    assert (event.session_id, event.metadata) == ("conv-1", {"k": 1})
    assert event.payload == {
        "question": QUESTION, "question_length": len(QUESTION),
        "question_sha256": hashlib.sha256(QUESTION.encode()).hexdigest(),
        "answer_excerpt": "Sorry.", "signal": "empty_retrieval", "visit_session_id": "visit-1",
        "detection_method": "answer_status", "turn_index": 2, "no_docs": True,
    }  # fmt: skip


def test_with_query_text_off_only_the_hash_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_STORE_QUERY_TEXT=false: no question and no answer excerpt leave the process;
    the hash does. A blank turn id gets a fresh one."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    with capture_events() as events:
        emit_out_of_scope_query(context=CTX, turn_id=" ", signal="soft_refusal",
                                question=QUESTION, answer_excerpt="I cannot tell your salary",
                                retrieval_query="salary")  # fmt: skip
    [event] = events
    assert event.correlation_id
    assert event.payload == {
        "question_length": len(QUESTION), "signal": "soft_refusal",
        "question_sha256": hashlib.sha256(QUESTION.encode()).hexdigest(),
    }  # fmt: skip


def test_metadata_comes_from_turn_metadata_then_metadata_json_then_metadata() -> None:
    """1.0.35's order; text that is not a JSON object is kept as it is, in the payload."""
    with capture_events() as events:
        emit_out_of_scope_query(context=CTX, turn_id="t", signal="s", turn_metadata={"a": 1},
                                metadata_json={"b": 2}, metadata={"c": 3})  # fmt: skip
        emit_out_of_scope_query(context=CTX, turn_id="t", signal="s", metadata={"c": 3})
        emit_out_of_scope_query(context=CTX, turn_id="t", signal="s", metadata_json="not json")
    assert [event.metadata for event in events] == [{"a": 1}, {"c": 3}, None]
    assert (events[2].payload or {})["metadata_json"] == "not json"
