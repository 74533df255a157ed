"""A 1.0.35 chat host's LLM helpers run unchanged: ``invoke_chat_llm``,
``invoke_structured_chat_llm`` and the pending LLM category.

From the facts sheet of 1.0.35 (`reference-api-facts.md` §5.1, §5.13 and
Appendix A): names, exports, signatures and defaults, and the rules §5.13 states
(one usage row and one text row per call tied by a uuid4 ``call_id``, a row per
attempt, the exception re-raised, the pending category defaulting to
``answer``). The recording itself is tested in
``tests/unit/chat/test_langchain_handler.py``.
"""

from __future__ import annotations

import contextvars
import inspect
import uuid
from typing import Any

import pytest
from langchain_core.language_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

import il_audit.chat
from il_audit.chat import bind_chat_turn_usage, clear_chat_turn_usage, llm_usage, turn_usage
from il_audit.publisher import AuditContext
from il_audit.publisher.testing import capture_events
from il_audit.schemas import taxonomy as T

CTX = AuditContext(app="chat", actor_uid="u-1")
KW = inspect.Parameter.KEYWORD_ONLY
POS = inspect.Parameter.POSITIONAL_OR_KEYWORD
EMPTY = inspect.Parameter.empty


def shape(fn: Any) -> list[tuple[str, Any, Any]]:
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


def test_il_audit_chat_exports_the_invoke_helpers() -> None:
    """§5.1: il_audit.chat exports invoke_chat_llm and invoke_structured_chat_llm (from
    il_audit.chat.llm_usage), among 1.0.35's nine names."""
    for name in ("ChatTurnUsageTracker", "bind_chat_turn_usage", "clear_chat_turn_usage",
                 "get_active_chat_turn_usage", "invoke_chat_llm", "invoke_structured_chat_llm",
                 "message_counts_from_history", "record_chat_query_turn",
                 "resolve_chat_api_usage_fields"):  # fmt: skip
        assert name in il_audit.chat.__all__, name
    assert il_audit.chat.invoke_chat_llm is llm_usage.invoke_chat_llm
    assert il_audit.chat.invoke_structured_chat_llm is llm_usage.invoke_structured_chat_llm


def test_the_signatures_and_defaults_are_1_0_35_s() -> None:
    """Appendix A and §5.13."""
    assert shape(llm_usage.invoke_chat_llm) == [
        ("runner", POS, EMPTY), ("messages", POS, EMPTY), ("category", KW, EMPTY),
        ("attempt", KW, 1),
    ]  # fmt: skip
    assert shape(llm_usage.invoke_structured_chat_llm) == [
        ("runner", POS, EMPTY), ("messages", POS, EMPTY), ("category", KW, EMPTY),
        ("label", KW, EMPTY), ("max_attempts", KW, 2),
    ]  # fmt: skip
    assert shape(turn_usage.set_pending_llm_category) == [("category", POS, EMPTY)]
    assert shape(turn_usage.reset_pending_llm_category) == [("token", POS, EMPTY)]
    assert shape(turn_usage.get_pending_llm_category) == []


def test_the_pending_category_defaults_to_answer_and_is_a_context_variable() -> None:
    """§5.13: set returns a contextvars.Token, reset undoes it, clear forgets it."""
    assert turn_usage.get_pending_llm_category() == "answer"
    token = turn_usage.set_pending_llm_category("format_preference")
    assert isinstance(token, contextvars.Token)
    assert turn_usage.get_pending_llm_category() == "format_preference"
    turn_usage.reset_pending_llm_category(token)
    assert turn_usage.get_pending_llm_category() == "answer"
    turn_usage.set_pending_llm_category("contextualizer")
    clear_chat_turn_usage()
    assert turn_usage.get_pending_llm_category() == "answer"


def test_one_usage_row_and_one_text_row_per_attempt_tied_by_a_uuid4(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """§5.13: the usage row's metadata holds call_id, thought_tokens, cached_tokens and
    finish_reason; the text row has the same call_id (a uuid4)."""
    monkeypatch.setenv("IL_AUDIT_STORE_MODEL_CALL_TEXT", "true")
    usage = {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15,
             "input_token_details": {"cache_read": 4},
             "output_token_details": {"reasoning": 2}}  # fmt: skip
    reply = AIMessage("a", usage_metadata=usage,  # type: ignore[arg-type]
                      response_metadata={"finish_reason": "STOP"})  # fmt: skip
    with capture_events() as events:
        bind_chat_turn_usage("turn-1", CTX)
        try:
            llm_usage.invoke_chat_llm(GenericFakeChatModel(messages=iter([reply])), ["q"],
                                      category="answer", attempt=2)  # fmt: skip
        finally:
            clear_chat_turn_usage()
    [row] = events.of_type(T.API_USAGE_RECORDED)
    metadata = row.metadata or {}
    assert {key: metadata[key] for key in ("thought_tokens", "cached_tokens", "finish_reason")} == {
        "thought_tokens": 2, "cached_tokens": 4, "finish_reason": "STOP"
    }  # fmt: skip
    assert uuid.UUID(metadata["call_id"]).version == 4
    [text] = events.of_type(T.CHAT_MODEL_CALL_TEXT)
    assert (text.event_id, text.payload["attempt"]) == (metadata["call_id"], 2)
