"""emit_chat_turn and emit_chat_session: the envelopes they produce."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from il_audit import (
    ChatTurnUsage,
    chat_turn_usage,
    emit_chat_session,
    emit_chat_turn,
    message_counts_from_history,
    question_sha256,
)
from il_audit.config.settings import reset_audit_settings_cache
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1", trace_id="trace-1", app_version="2.4.0")
QUESTION = "Wie hoch ist das Budget für Q3?"


def test_a_turn_carries_its_calls_totals_and_the_question_policy() -> None:
    """The turn's id is the tracker's; each recorded call was already published as a usage
    event correlated to it, so the turn has no items, only the rolled-up totals in its
    payload; by default the question and its SHA-256 are kept."""
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="gemini-2.5-flash-lite", input_tokens=900,
                                output_tokens=120, latency_ms=640)  # fmt: skip
        usage.record_embedding(input_tokens=12, latency_ms=40)
        turn_id = emit_chat_turn(
            question=QUESTION, conversation_session_id="conv-7", turn_index=2,
            response_type="answer", latency_ms=1532.6, time_to_first_token_ms=410,
            sources_returned_count=3, workflow="qa",
        )  # fmt: skip
    *calls, event = events
    assert turn_id == usage.turn_id == event.event_id
    assert event.event_type == T.CHAT_TURN_SUCCEEDED
    assert (event.status, event.session_id, event.app_version) == ("succeeded", "conv-7", "2.4.0")
    assert event.usage == []
    assert [(call.event_type, call.correlation_id, call.correlation_type) for call in calls] == [
        (T.API_USAGE_RECORDED, turn_id, "chat_turn")
    ] * 2
    assert [call.usage[0].model_id for call in calls] == ["gemini-2.5-flash-lite",
                                                          "gemini-embedding-001"]  # fmt: skip
    assert event.payload == {
        "question": QUESTION,
        "question_length": len(QUESTION),
        "question_sha256": hashlib.sha256(QUESTION.encode()).hexdigest(),
        "turn_index": 2,
        "response_type": "answer",
        "latency_ms": 1533,
        "time_to_first_token_ms": 410,
        "sources_returned_count": 3,
        "workflow": "qa",
        "input_tokens": 912,
        "output_tokens": 120,
        "latency_ms_llm": 680,
        "llm_model": "gemini-2.5-flash-lite",
        "model_calls": 2,
    }


def test_with_query_text_off_only_length_and_hash_leave(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_STORE_QUERY_TEXT=false: no question and no retrieval query in the envelope,
    the seed's question_sha256 (plain SHA-256, so seed-era joins work) and the length."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_retrieval(retrieval_hit_count=4, retrieval_query=QUESTION)
        emit_chat_turn(question=QUESTION)
        emit_chat_turn(question=QUESTION, succeeded=False, error_class="TimeoutError")
    for event in events:
        assert event.payload is not None
        assert "question" not in event.payload
        assert "retrieval_query" not in event.payload
        assert event.payload["question_sha256"] == question_sha256(QUESTION)
        assert event.payload["question_length"] == len(QUESTION)
        assert QUESTION not in event.model_dump_json()
    assert [event.event_type for event in events] == [T.CHAT_TURN_SUCCEEDED, T.CHAT_TURN_FAILED]


def test_with_a_hash_key_the_hash_is_an_hmac(monkeypatch: pytest.MonkeyPatch) -> None:
    """IL_AUDIT_HASH_KEY set: question_hmac (HMAC-SHA-256) and no question_sha256."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    monkeypatch.setenv("IL_AUDIT_HASH_KEY", "k3y")
    with capture_events() as events:
        emit_chat_turn(context=CTX, question=QUESTION)
    [event] = events
    expected = hmac.new(b"k3y", QUESTION.encode(), hashlib.sha256).hexdigest()
    assert event.payload == {"question_hmac": expected, "question_length": len(QUESTION)}


def test_a_plain_emit_of_a_turn_is_held_to_the_same_policy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The policy is the publisher's, not emit_chat_turn's: emit() with a question too."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    from il_audit import emit

    with capture_events() as events:
        emit(T.CHAT_TURN_SUCCEEDED, context=CTX, question=QUESTION)
    assert "question" not in (events[0].payload or {})


@pytest.mark.parametrize(
    ("arguments", "event_type", "status"),
    [
        ({}, T.CHAT_TURN_SUCCEEDED, "succeeded"),
        ({"status": "failed"}, T.CHAT_TURN_FAILED, "failed"),
        ({"status": "FAILED"}, T.CHAT_TURN_FAILED, "failed"),
        ({"succeeded": False}, T.CHAT_TURN_FAILED, "failed"),
        ({"error_class": "ValueError"}, T.CHAT_TURN_FAILED, "failed"),
        ({"succeeded": True, "error_class": "Retried"}, T.CHAT_TURN_SUCCEEDED, "succeeded"),
    ],
)
def test_status_picks_the_event_type(
    arguments: dict[str, object], event_type: str, status: str
) -> None:
    """succeeded or failed, from status, the seed's succeeded= or an error class alone."""
    with capture_events() as events:
        emit_chat_turn(context=CTX, question="q", **arguments)  # type: ignore[arg-type]
    assert (events[0].event_type, events[0].status) == (event_type, status)


def test_the_seed_1_0_keywords_are_accepted() -> None:
    """turn_id, conversation_id, latency_ms_total, turn_metadata and sources as in 1.0."""
    with capture_events() as events:
        emit_chat_turn(
            context=CTX, turn_id="turn-42", question=None, conversation_id="conv-1",
            latency_ms_total=900, turn_metadata={"summary_scope": "deck"},
            sources=[{"file": "a.pdf"}, {"file": "b.pdf"}], visit_session_id="visit-1",
        )  # fmt: skip
    [event] = events
    assert (event.event_id, event.session_id) == ("turn-42", "conv-1")
    assert event.metadata == {"summary_scope": "deck"}
    assert event.payload == {
        "latency_ms": 900,
        "sources": [{"file": "a.pdf"}, {"file": "b.pdf"}],
        "sources_returned_count": 2,
        "visit_session_id": "visit-1",
    }


def test_a_tracker_of_another_turn_is_not_borrowed() -> None:
    """An explicit turn_id that is not the bound tracker's gets none of its totals; the
    tracker's call stays correlated to its own turn."""
    with capture_events() as events, chat_turn_usage("turn-a", CTX) as usage:
        usage.record_embedding(input_tokens=5)
        emit_chat_turn(turn_id="turn-b", question="q")
    call, turn = events
    assert (turn.event_id, "input_tokens" in (turn.payload or {})) == ("turn-b", False)
    assert call.correlation_id == "turn-a"


def test_sessions_start_and_end_with_turn_counts() -> None:
    """chat.session.started / ended, the conversation id as session_id; a fresh id if none."""
    with capture_events() as events:
        emit_chat_session(context=CTX, conversation_session_id="conv-1")
        emit_chat_session(context=CTX, conversation_session_id="conv-1", started=False,
                          ended_reason="new_chat", turn_count=3, user_message_count=3)  # fmt: skip
        emit_chat_session(context=CTX)
    started, ended, fresh = events
    assert (started.event_type, started.session_id, started.payload) == (
        T.CHAT_SESSION_STARTED, "conv-1", None
    )  # fmt: skip
    assert ended.event_type == T.CHAT_SESSION_ENDED
    assert ended.payload == {"ended_reason": "new_chat", "turn_count": 3, "user_message_count": 3}
    assert fresh.session_id


def test_message_counts_from_history() -> None:
    """(user, assistant, total), with the current question and answer when flagged."""
    history = [{"role": "user"}, {"role": "assistant"}, {"role": "user"}, {"role": "system"}]
    assert message_counts_from_history(
        history, include_current_user=True, include_current_assistant=False
    ) == (3, 1, 4)


def test_a_plain_hash_is_reversed_by_guessing_a_keyed_one_is_not(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The HMAC trade-off: hashing common questions finds a short question behind its
    question_sha256, not behind its question_hmac; another key gives another HMAC, so
    hashes made before and after a key rotation do not join."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    question = "What is my salary?"

    def payload(key: str | None) -> dict[str, object]:
        if key is not None:
            monkeypatch.setenv("IL_AUDIT_HASH_KEY", key)
        reset_audit_settings_cache()
        with capture_events() as events:
            emit_chat_turn(context=CTX, question=question)
        return events[0].payload or {}

    plain, keyed, rotated = payload(None), payload("key-2026"), payload("key-2027")
    by_hash = {question_sha256(guess): guess for guess in ("hello", question, "help")}
    assert by_hash.get(str(plain["question_sha256"])) == question
    assert keyed["question_hmac"] not in by_hash
    assert "question_sha256" not in keyed
    assert rotated["question_hmac"] != keyed["question_hmac"]


def test_the_seed_conversation_names_and_explicit_keywords() -> None:
    """session_id= / conversation_id= name the conversation on turns and sessions, and a
    keyword passed to emit_chat_turn wins over the tracker's rolled-up value."""
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="gemini-2.5-flash-lite", input_tokens=5)
        emit_chat_turn(session_id="conv-1", question="q", llm_model="my-router")
        emit_chat_session(context=CTX, session_id="conv-2")
        emit_chat_session(context=CTX, conversation_id="conv-3", started=False)
    _call, turn, *sessions = events
    assert (turn.session_id, (turn.payload or {})["llm_model"]) == ("conv-1", "my-router")
    assert [event.session_id for event in sessions] == ["conv-2", "conv-3"]


def test_a_tracker_passed_as_usage_needs_no_binding() -> None:
    """usage= gives the turn that tracker's id, totals and context, outside any with block."""
    tracker = ChatTurnUsage("turn-5", CTX)
    tracker.record_embedding(input_tokens=3)
    with capture_events() as events:
        emit_chat_turn(usage=tracker, question="q")
    [turn] = events
    assert (turn.event_id, (turn.payload or {})["input_tokens"], turn.actor_uid) == (
        "turn-5", 3, "u-1"
    )  # fmt: skip


def test_our_latency_keyword_wins_over_the_seed_alias() -> None:
    """latency_ms and the seed's latency_ms_total both given: latency_ms is kept."""
    with capture_events() as events:
        emit_chat_turn(context=CTX, question="q", latency_ms=100, latency_ms_total=900)
    assert events[0].payload is not None
    assert events[0].payload["latency_ms"] == 100
