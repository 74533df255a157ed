"""chat.model_call.text: opt-in, numbered per turn, cut to keep the envelope under 1 MiB."""

from __future__ import annotations

import json

import pytest

from il_audit.chat import chat_turn_usage, emit_model_call_text
from il_audit.chat.model_call_text import MODEL_CALL_TEXT_MAX_BYTES, TRUNCATION_MARKER, cap_text
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T
from il_audit.schemas.envelope import MAX_ENVELOPE_BYTES, envelope_json

CTX = AuditContext(app="chat", actor_uid="u-1")


def test_off_by_default() -> None:
    """Without IL_AUDIT_STORE_MODEL_CALL_TEXT nothing is emitted, from either API."""
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="m", input_tokens=1, prompt="p", completion="c")
        assert emit_model_call_text(context=CTX, category="qa", operation="generate_content",
                                    model_id="m", prompt="p", completion="c") is None  # fmt: skip
    # The call itself is still recorded for pricing, as its usage event.
    assert [event.event_type for event in events] == [T.API_USAGE_RECORDED]
    assert len(usage.calls) == 1


def test_on_each_call_is_one_numbered_event_tied_to_the_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With the setting on: one event per call, sequence 1, 2..., correlated to the turn."""
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
    with (
        capture_events() as events,
        chat_turn_usage("turn-1", CTX, conversation_session_id="conv-1") as usage,
    ):
        usage.record_model_call(model_id="m", input_tokens=1, prompt="first", completion="a",
                                temperature=0.2, finish_reason="STOP")  # fmt: skip
        usage.record_model_call(model_id="m", input_tokens=1, prompt="second")
    first, second = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    assert len(events) == 4  # and each call's usage event
    assert (first.correlation_id, first.correlation_type, first.session_id) == (
        "turn-1", "chat_turn", "conv-1"
    )  # fmt: skip
    assert first.payload == {
        "sequence": 1, "category": "answer", "operation": "generate_content", "model_id": "m",
        "attempt": 1, "succeeded": True, "temperature": 0.2, "finish_reason": "STOP",
        "prompt": "first", "completion": "a", "prompt_truncated": False,
        "completion_truncated": False,
    }  # fmt: skip
    assert second.payload is not None
    assert second.payload["sequence"] == 2


@pytest.mark.parametrize("character", ["a", "é", "😀", "\n", "\x01", '"'])
def test_huge_texts_are_cut_to_keep_the_envelope_under_1_mib(
    monkeypatch: pytest.MonkeyPatch, character: str
) -> None:
    """Whatever the characters (multi-byte, escaped in JSON), both texts at 3 MB give a
    valid envelope under 1 MiB, flagged and marked as cut."""
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
    text = ("." + character) * 1_500_000  # not blank: a blank text is not recorded
    with capture_events() as events:
        emit_model_call_text(context=CTX, category="qa", operation="generate_content",
                             model_id="m", prompt=text, completion=text)  # fmt: skip
    [event] = events
    assert len(envelope_json(event)) < MAX_ENVELOPE_BYTES
    assert event.payload is not None
    assert event.payload["prompt_truncated"] is event.payload["completion_truncated"] is True
    prompt = event.payload["prompt"]
    assert prompt.endswith(TRUNCATION_MARKER)
    assert set(prompt.removesuffix(TRUNCATION_MARKER)) == {".", character}


def test_cap_text_fills_the_budget_without_splitting_an_escape() -> None:
    """The cut text is as long as the budget allows (within one escape) and valid JSON."""
    for character in ("a", "é", "\x01"):
        kept, cut = cap_text(character * 200_000, max_bytes=1000)
        size = len(json.dumps(kept, ensure_ascii=False)[1:-1].encode())
        assert cut
        assert 1000 - 6 <= size <= 1000
    assert cap_text("short") == ("short", False)
    assert cap_text("x" * MODEL_CALL_TEXT_MAX_BYTES) == ("x" * MODEL_CALL_TEXT_MAX_BYTES, False)


def test_on_it_stores_the_prompt_even_with_query_text_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """The question policy covers the turn's question, not prompts: a prompt that quotes the
    question is stored as written when model-call text is on."""
    monkeypatch.setenv("IL_AUDIT_STORE_QUERY_TEXT", "false")
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
    question = "What is my salary?"
    with capture_events() as events, chat_turn_usage(context=CTX) as usage:
        usage.record_model_call(model_id="m", input_tokens=1, prompt=f"Question: {question}")
    [event] = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    assert event.payload is not None
    assert event.payload["prompt"] == f"Question: {question}"
