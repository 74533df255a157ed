"""record_chat_query_turn (1.0.35): the turn row from a request's outcome, never raising."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from il_audit import record_chat_query_turn, safe_call
from il_audit.chat import bind_chat_turn_usage, clear_chat_turn_usage
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")
HISTORY = [
    {"role": "user", "content": "a"},
    {"role": "assistant", "content": "b"},
    {"role": "user", "content": "c"},
    {"role": "assistant", "content": "d"},
]


def test_a_turn_from_history_sources_rollup_and_caller_fields() -> None:
    """turn_index / history_turn_count count earlier user messages; message counts add this
    question and its answer; sources and their count; the rollup, then audit_fields that
    win; the 1.0.35 keys added to turn_metadata when absent; no cost estimate sent."""
    tracker = bind_chat_turn_usage("turn-7", CTX, conversation_id="conv-1")
    try:
        tracker.record_model_call(model_id="gemini-2.5-flash-lite", input_tokens=40,
                                  output_tokens=9, latency_ms=250)  # fmt: skip
        tracker.record_retrieval(retrieval_hit_count=2, retrieval_query="budget")
        with capture_events() as events:
            record_chat_query_turn(
                context=CTX, turn_id="turn-7", question="What is the budget?", history=HISTORY,
                succeeded=True, conversation_id="conv-1", sources=[{"id": "f-1"}, {"id": "f-2"}],
                latency_ms_total=900, workflow="qa", summary_scope="document",
                include_hidden_slides=False, has_format_preference=True,
                turn_metadata={"client": "web", "summary_scope": "kept"},
                llm_model="router-1", error_class=None,
            )  # fmt: skip
    finally:
        clear_chat_turn_usage()
    [turn] = events  # a later turn: no session event
    assert (turn.event_type, turn.event_id, turn.session_id) == (
        T.CHAT_TURN_SUCCEEDED, "turn-7", "conv-1"
    )  # fmt: skip
    payload = turn.payload or {}
    assert {k: payload.get(k) for k in ("turn_index", "history_turn_count", "user_message_count",
                                        "assistant_message_count", "message_count",
                                        "sources_returned_count", "latency_ms")} == {
        "turn_index": 2, "history_turn_count": 2, "user_message_count": 3,
        "assistant_message_count": 3, "message_count": 6, "sources_returned_count": 2,
        "latency_ms": 900,
    }  # fmt: skip
    assert payload["sources"] == [{"id": "f-1"}, {"id": "f-2"}]
    assert (payload["input_tokens"], payload["retrieval_hit_count"]) == (40, 2)
    assert payload["llm_model"] == "router-1"  # the caller's field wins over the rollup
    assert "api_cost_usd" not in payload
    assert "error_class" not in payload
    assert turn.metadata == {
        "client": "web", "summary_scope": "kept", "include_hidden_slides": False,
        "has_format_preference": True,
    }  # fmt: skip


def test_a_first_successful_turn_starts_the_session_a_failed_one_does_not() -> None:
    """turn_index 0 and succeeded: chat.session.started with the counts; failed: no session,
    and the answer is not counted."""
    with capture_events() as events:
        record_chat_query_turn(context=CTX, turn_id="t-0", question="q", history=[],
                               succeeded=True, conversation_id="conv-9",
                               conversation_started_at="2026-11-24T09:59:30Z")  # fmt: skip
        record_chat_query_turn(context=CTX, turn_id="t-1", question="q", history=[],
                               succeeded=False, conversation_id="conv-8")  # fmt: skip
    turn, session, failed = events
    assert (session.event_type, session.session_id) == (T.CHAT_SESSION_STARTED, "conv-9")
    assert session.payload == {
        "started_at": "2026-11-24T09:59:30Z", "turn_count": 1, "user_message_count": 1,
        "assistant_message_count": 1, "message_count": 2,
    }  # fmt: skip
    assert (turn.event_id, failed.event_type) == ("t-0", T.CHAT_TURN_FAILED)
    assert (failed.payload or {})["assistant_message_count"] == 0


def test_it_never_raises(caplog: pytest.LogCaptureFixture) -> None:
    """A history that is not a list of mappings, or a caller field the envelope refuses, is
    logged (class name only, never the question) and swallowed."""
    with capture_events() as events:
        record_chat_query_turn(context=CTX, turn_id="t", question="secret question",
                               history=[object()], succeeded=True)  # type: ignore[list-item]  # fmt: skip
    assert events == []
    assert "record_chat_query_turn failed (AttributeError)" in caplog.text
    assert "secret question" not in caplog.text


def test_safe_call_calls_logs_and_swallows(caplog: pytest.LogCaptureFixture) -> None:
    """safe_call(fn, log_label=..., **kwargs) calls fn(**kwargs); an exception is logged with
    its class under the label, never its message, and swallowed."""
    seen: dict[str, Any] = {}

    def fails(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise RuntimeError("the question was: secret")

    with caplog.at_level(logging.WARNING):
        assert safe_call(fails, log_label="my audit", a=1) is None
    assert seen == {"a": 1}
    assert "my audit failed (RuntimeError)" in caplog.text
    assert "secret" not in caplog.text
