"""The per-turn usage tracker: bound per task, joined by threads, items and totals."""

from __future__ import annotations

import threading
from types import SimpleNamespace

import pytest

from il_audit.chat import (
    ChatTurnUsage,
    ChatTurnUsageTracker,
    active_turn_usage,
    attach_chat_turn_usage,
    bind_chat_turn_usage,
    chat_turn_usage,
    clear_chat_turn_usage,
    get_active_chat_turn_usage,
)
from il_audit.publisher import AuditContext
from il_audit.schemas.envelope import MAX_USAGE_ITEMS, UsageItem

CTX = AuditContext(app="chat", actor_uid="u-1")


def test_the_tracker_is_bound_for_the_block_only() -> None:
    """chat_turn_usage binds a tracker with a fresh id; leaving the block unbinds it."""
    assert active_turn_usage() is None
    with chat_turn_usage(context=CTX) as usage:
        assert active_turn_usage() is usage
        assert usage.turn_id
    assert active_turn_usage() is None


def test_threads_join_with_attach_and_record_concurrently() -> None:
    """Worker threads do not inherit the binding; attach() joins them, and every call
    recorded from several threads at once is kept."""
    seen: list[ChatTurnUsage | None] = []
    with chat_turn_usage("turn-1", CTX) as usage:

        def worker() -> None:
            seen.append(active_turn_usage())
            with usage.attach():
                for _ in range(200):
                    usage.record_embedding(input_tokens=1)

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert seen == [None] * 4
    assert len(usage.calls) == 800
    assert usage.totals()["input_tokens"] == 800


def test_calls_become_valid_usage_items_with_their_tier() -> None:
    """Model, embedding and rerank calls each become a usage item the envelope accepts."""
    usage = ChatTurnUsage("t", CTX)
    usage.record_model_call(
        model_id="gemini-2.5-flash-lite",
        usage_metadata=SimpleNamespace(prompt_token_count=100, candidates_token_count=20,
                                       thoughts_token_count=5),
        latency_ms=812.4,
    )  # fmt: skip
    usage.record_model_call(
        model_id="gemini-2.0-flash", input_tokens=10, output_tokens=2, pricing_tier="batch",
        category="contextualizer",
    )  # fmt: skip
    usage.record_embedding(input_tokens=64)
    usage.record_rerank(record_count=250, model_id="semantic-ranker-default@latest")
    items = usage.usage_items()
    for item in items:
        UsageItem.model_validate(item)
    assert items == [
        {"service": "vertex_gemini", "operation": "generate_content",
         "model_id": "gemini-2.5-flash-lite", "category": "answer", "input_tokens": 100,
         "output_tokens": 25, "latency_ms": 812.4, "pricing_tier": "standard"},
        {"service": "vertex_gemini", "operation": "generate_content",
         "model_id": "gemini-2.0-flash", "category": "contextualizer", "input_tokens": 10,
         "output_tokens": 2, "pricing_tier": "batch"},
        {"service": "vertex_embedding", "operation": "embed_content",
         "model_id": "gemini-embedding-001", "category": "embedding", "input_tokens": 64,
         "pricing_tier": "standard"},
        {"service": "vertex_rerank", "operation": "semantic_ranker",
         "model_id": "semantic-ranker-default", "category": "rerank", "quantity": 3.0,
         "unit": "query", "pricing_tier": "standard"},
    ]  # fmt: skip
    assert usage.llm_model == "gemini-2.0-flash"  # the last generate call's model


def test_totals_roll_up_tokens_latency_and_retrieval() -> None:
    """Totals: tokens of the token calls, latency of every call, the retrieval facts."""
    usage = ChatTurnUsage("t", CTX)
    usage.record_model_call(model_id="m", input_tokens=5, output_tokens=1, latency_ms=10.4)
    usage.record_embedding(input_tokens=7, latency_ms=2.2)
    usage.record_retrieval(retrieval_hit_count=0, retrieval_query="q", latency_ms=30)
    assert usage.totals() == {
        "input_tokens": 12,
        "output_tokens": 1,
        "latency_ms_llm": 13,
        "latency_ms_retrieval": 30,
        "llm_model": "m",
        "model_calls": 2,
        "retrieval_query": "q",
        "retrieval_hit_count": 0,
        "no_docs": True,
    }
    assert ChatTurnUsage().totals() == {}


def test_more_calls_than_an_envelope_holds_are_merged_exactly() -> None:
    """Above 100 items, calls of the same kind merge: no token is lost, the envelope fits."""
    usage = ChatTurnUsage("t", CTX)
    for index in range(MAX_USAGE_ITEMS + 50):
        usage.record_model_call(model_id=f"m{index % 3}", input_tokens=index, output_tokens=1)
    items = usage.usage_items()
    assert len(items) == 3
    assert sum(item["input_tokens"] for item in items) == sum(range(MAX_USAGE_ITEMS + 50))
    assert sum(item["output_tokens"] for item in items) == MAX_USAGE_ITEMS + 50


def test_the_seed_1_0_functions_and_names() -> None:
    """bind/attach/get/clear and record_gemini_response, record_api_call work as in 1.0."""
    tracker = bind_chat_turn_usage("turn-9", CTX, conversation_id="conv-1")
    try:
        assert active_turn_usage() is tracker
        tracker.record_gemini_response(
            category="answer", usage_metadata={"promptTokenCount": 3, "candidatesTokenCount": 2}
        )
        tracker.record_api_call(category="embedding", input_tokens=4)
        tracker.record_api_call(category="rerank", model_id="semantic-ranker-default",
                                record_count=10)  # fmt: skip
        tracker.record_embedding_tokens(input_tokens=1)
        tracker.record_rerank_call(model_id="semantic-ranker-default", record_count=1)
        assert [call.category for call in tracker.calls] == [
            "answer",
            "embedding",
            "rerank",
            "embedding",
            "rerank",
        ]
        assert tracker.rollup_for_chat_turn()["input_tokens"] == 8
        clear_chat_turn_usage()
        assert active_turn_usage() is None
        attach_chat_turn_usage(tracker)
        assert active_turn_usage() is tracker
    finally:
        clear_chat_turn_usage()


def test_a_tier_is_normalized_as_emit_api_usage_does() -> None:
    """' Batch ' is batch and a blank tier is standard: one oddly cased tier must not make the
    whole turn an invalid envelope (a dead letter)."""
    usage = ChatTurnUsage("t", CTX)
    usage.record_model_call(model_id="m", input_tokens=1, output_tokens=1, pricing_tier=" Batch ")
    usage.record_embedding(input_tokens=1, pricing_tier="")
    usage.record_api_call(category="embedding", input_tokens=1, pricing_tier="BATCH")
    items = usage.usage_items()
    for item in items:
        UsageItem.model_validate(item)
    assert [item["pricing_tier"] for item in items] == ["batch", "standard", "batch"]


def test_the_seed_1_0_aliases_name_the_same_things() -> None:
    """ChatTurnUsageTracker is the tracker class, get_active_chat_turn_usage the lookup."""
    with chat_turn_usage(context=CTX) as usage:
        assert get_active_chat_turn_usage() is usage
    assert ChatTurnUsageTracker is ChatTurnUsage


def test_rerank_queries_and_retrieval_facts() -> None:
    """A rerank is ceil(records / 100) queries, at least 1, unless queries= says; retrieval
    adds no usage item, only the turn's retrieval fields."""
    usage = ChatTurnUsage("t", CTX)
    for records in (0, 100, 101):
        usage.record_rerank(record_count=records)
    usage.record_rerank(queries=5)
    usage.record_retrieval(retrieval_hit_count=2, used_attached_only=True)
    assert [item["quantity"] for item in usage.usage_items()] == [1.0, 1.0, 2.0, 5.0]
    assert usage.totals()["used_attached_only"] is True
    assert usage.totals()["no_docs"] is False


def test_a_call_recorded_after_its_turn_was_emitted_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A late call (a worker that outlived its turn) is in no event: it says so in the log."""
    from il_audit import emit_chat_turn
    from il_audit.publisher.testing import capture_events

    with capture_events() as events, chat_turn_usage("turn-late", CTX) as usage:
        usage.record_embedding(input_tokens=1)
        emit_chat_turn(question="q")
        usage.record_embedding(input_tokens=2)
    assert len(events[0].usage) == 1
    assert "turn-late after the turn was emitted" in caplog.text
